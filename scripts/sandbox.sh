#!/usr/bin/env bash
# Run a command in a private test sandbox (docs/development.md, "Tests"):
#
#   - a mount namespace of its own, with a private /run;
#   - an empty crontab spool on tmpfs (/var/spool/cron/crontabs), and the machine's own system
#     crontabs (/etc/crontab, /etc/cron.d) hidden;
#   - Debian's cron daemon started on that spool (when the package is installed);
#   - a systemd user manager of its own (scripts/with-systemd-user.sh), when one can start.
#
# Nothing the command does to crontabs or user units reaches the machine's own: the mounts go
# with the namespace, also when the command is killed, and the daemon and manager are stopped.
#
# Usage: scripts/sandbox.sh COMMAND [ARG...]
# The command gets ORCHESTRATION_TEST_SANDBOX=1, and ORCHESTRATION_TEST_CRON_PID when cron runs.
# Exit status: the command's; 75 (EX_TEMPFAIL) when no sandbox can be made here (not root, no
# unshare); 64 on wrong usage.
set -euo pipefail

readonly UNAVAILABLE=75
readonly CRON=/usr/sbin/cron
readonly SPOOL=/var/spool/cron/crontabs
here=$(cd "$(dirname "$0")" && pwd)

unavailable() {
    echo "sandbox: no private test sandbox: $*" >&2
    exit "$UNAVAILABLE"
}

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 64
fi

if [[ -z ${_ORCHESTRATION_SANDBOX_NAMESPACE:-} ]]; then
    [[ $(id -u) -eq 0 ]] || unavailable "must run as root (it mounts a private crontab spool)"
    command -v unshare >/dev/null || unavailable "unshare is missing (Debian package 'util-linux')"
    probe=$(unshare -m --propagation private true 2>&1) \
        || unavailable "cannot create a mount namespace (needs CAP_SYS_ADMIN): $probe"
    export _ORCHESTRATION_SANDBOX_NAMESPACE=1
    exec unshare -m --propagation private -- "$BASH" "$0" "$@"
fi
unset _ORCHESTRATION_SANDBOX_NAMESPACE

# From here on we are inside the private mount namespace.
mount -t tmpfs -o mode=0755 tmpfs /run || unavailable "cannot mount a tmpfs on /run"
mkdir -p /run/lock /run/systemd /run/user
mkdir -p "$SPOOL"
mount -t tmpfs -o mode=1730 tmpfs "$SPOOL" || unavailable "cannot mount a tmpfs on $SPOOL"
chgrp crontab "$SPOOL" 2>/dev/null || true
# cron reads the spool again when the folder's time (in whole seconds) changes: an old time makes
# a crontab written in the daemon's first second a change it sees.
touch -d @0 "$SPOOL"
empty=$(mktemp -t sandbox-crontab.XXXXXX)
[[ -f /etc/crontab ]] && mount --bind "$empty" /etc/crontab
[[ -d /etc/cron.d ]] && mount -t tmpfs -o mode=0755 tmpfs /etc/cron.d

cron_pid=
stop_cron() {
    if [[ -f /run/crond.pid ]]; then
        cron_pid=$(cat /run/crond.pid 2>/dev/null || true)
        [[ -n $cron_pid ]] && kill -TERM "$cron_pid" 2>/dev/null || true
    fi
    rm -f "$empty"
}
trap stop_cron EXIT

if [[ -x $CRON ]]; then
    # In the foreground, in our process group: a kill of the whole run takes the daemon with it.
    "$CRON" -f </dev/null >/dev/null 2>&1 &
    for _ in $(seq 50); do
        [[ -s /run/crond.pid ]] && break
        sleep 0.1
    done
    ORCHESTRATION_TEST_CRON_PID=$(cat /run/crond.pid 2>/dev/null || true)
    export ORCHESTRATION_TEST_CRON_PID
fi
export ORCHESTRATION_TEST_SANDBOX=1

status=0
"$here/with-systemd-user.sh" "$@" || status=$?
if [[ $status == "$UNAVAILABLE" ]]; then
    echo "sandbox: no systemd user manager here; running without one" >&2
    status=0
    "$@" || status=$?
fi
exit "$status"
