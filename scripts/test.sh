#!/usr/bin/env bash
# Run the whole test suite (arguments go to pytest) against the working tree: the package is
# installed in .venv in editable mode, so every edit is what the tests see.
#
# As root, the suite runs in a private sandbox (scripts/sandbox.sh): its own crontab spool and
# cron daemon, its own systemd user manager whose HOME is a temporary folder. Your crontab and
# your units are never read or written, also when the suite is killed. Elsewhere the tests that
# need the sandbox say why they skip (or fail, with ORCHESTRATION_REQUIRE_DAEMONS=1).
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests must import this working tree: (re)install in editable mode unless that is what .venv has.
installed=$(.venv/bin/python -c 'import orchestration, os; print(os.path.dirname(orchestration.__file__))' 2>/dev/null || true)
if [ ! -x .venv/bin/pytest ] || [ "$installed" != "$PWD/src/orchestration" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
fi
manager_home=$(mktemp -d -t orchestration-test-home.XXXXXX)
trap 'rm -rf "$manager_home"' EXIT
status=0
HOME=$manager_home scripts/sandbox.sh .venv/bin/pytest "$@" || status=$?
if [ "$status" = 75 ]; then
  echo "test.sh: no private sandbox here; running the tests that need none" >&2
  status=0
  .venv/bin/pytest "$@" || status=$?
fi
exit "$status"
