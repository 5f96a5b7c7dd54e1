#!/usr/bin/env bash
# Run the whole test suite: the real-daemon tests start Debian's cron daemon when none runs, and the
# systemd tests run inside a private systemd user manager (scripts/with-systemd-user.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pytest ] || { python3 -m venv .venv && .venv/bin/pip install --quiet '.[test]'; }
exec .venv/bin/pytest "$@"
