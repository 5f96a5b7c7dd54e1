#!/usr/bin/env bash
# Set up orchestration on a fresh Debian or Ubuntu machine and run the example:
# a virtual environment in .venv with the package, a cron daemon (installed and started when run
# as root and none is present), then the example tasks installed, `crontab -l`, and the first run.
# It ends by saying how to put `orchestration` on your PATH; with --link it also links the
# command into ~/.local/bin.
#
# Usage: scripts/setup.sh [--link]
set -euo pipefail
cd "$(dirname "$0")/.."
link=no
case "${1:-}" in
  --link) link=yes ;;
  "") ;;
  *) echo "usage: $0 [--link]" >&2; exit 64 ;;
esac

on_path() {
  # How to call `orchestration` from now on: activate .venv, or a link in a folder on PATH.
  local bin="$HOME/.local/bin"
  echo
  if [ "$link" = yes ]; then
    mkdir -p "$bin"
    ln -sfn "$PWD/.venv/bin/orchestration" "$bin/orchestration"
    echo "Linked $bin/orchestration -> $PWD/.venv/bin/orchestration."
    case ":$PATH:" in
      *":$bin:"*) echo "$bin is on your PATH: run \`orchestration list\`." ;;
      *) echo "Add $bin to your PATH (for example in ~/.profile: export PATH=\"\$HOME/.local/bin:\$PATH\"), then run \`orchestration list\`." ;;
    esac
  else
    echo "To put \`orchestration\` on your PATH, activate the environment in each shell:"
    echo "  source $PWD/.venv/bin/activate"
    echo "or link the command into a folder on your PATH once (or run this script with --link):"
    echo "  mkdir -p ~/.local/bin && ln -s $PWD/.venv/bin/orchestration ~/.local/bin/"
  fi
}

if [ "$(id -u)" = 0 ]; then
  missing=()
  command -v crontab >/dev/null 2>&1 || missing+=(cron)
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing ${missing[*]} with apt-get..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if ! pgrep -x cron >/dev/null 2>&1; then
    echo "Starting the cron daemon..."
    service cron start >/dev/null 2>&1 || /usr/sbin/cron
  fi
elif ! pgrep -x cron >/dev/null 2>&1; then
  echo "No cron daemon runs; ask an administrator to install and start 'cron' (apt-get install cron)." >&2
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'

echo
echo "\$ orchestration install scripts/example/tasks.py"
installed_at=$(date +%Y-%m-%dT%H:%M:%S%:z)  # runs recorded before this one (an earlier setup) do not count
.venv/bin/orchestration install scripts/example/tasks.py
echo
echo "\$ crontab -l"
crontab -l
echo
echo "Waiting for cron to fire example/greet at the start of the next minute..."
for _ in $(seq 1 150); do
  if [ -n "$(.venv/bin/orchestration history example/greet --status ok --since "$installed_at" --limit 1 --json | grep run_id)" ]; then
    echo
    echo "\$ orchestration history example --since $installed_at"
    .venv/bin/orchestration history example --since "$installed_at"
    echo
    echo "\$ orchestration logs example/greet"
    .venv/bin/orchestration logs example/greet
    echo
    echo "The example stays installed; remove it with: .venv/bin/orchestration uninstall scripts/example/tasks.py"
    on_path
    exit 0
  fi
  sleep 1
done
echo "No run was recorded within 150 seconds; check that the cron daemon runs (pgrep -x cron)." >&2
on_path
exit 1
