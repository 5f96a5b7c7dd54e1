#!/usr/bin/env bash
# Run the whole test suite (arguments go to pytest). The cron tests start Debian's cron daemon
# when none runs; the systemd tests need a user manager, so the suite runs inside a private one
# (scripts/with-systemd-user.sh) whose HOME is a temporary folder, keeping your own
# ~/.config/systemd/user untouched. Where no manager can start, the suite runs without one and
# the systemd tests say why they skip (or fail, with ORCHESTRATION_REQUIRE_DAEMONS=1).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/pytest ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check '.[test]'
fi
manager_home=$(mktemp -d -t orchestration-test-home.XXXXXX)
trap 'rm -rf "$manager_home"' EXIT
status=0
HOME=$manager_home scripts/with-systemd-user.sh .venv/bin/pytest "$@" || status=$?
if [ "$status" = 75 ]; then
  echo "test.sh: no systemd user manager here; running the tests without one" >&2
  status=0
  .venv/bin/pytest "$@" || status=$?
fi
exit "$status"
