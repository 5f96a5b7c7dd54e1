#!/usr/bin/env bash
# Run a command inside a private systemd user manager (DESIGN.md, "Tests").
#
# Usage: scripts/with-systemd-user.sh COMMAND [ARG...]
#    eg: scripts/with-systemd-user.sh .venv/bin/pytest -q tests/test_x.py
#
# As root, in a private mount namespace: a tmpfs on /run/systemd holding /run/systemd/system (so
# the manager believes the machine runs systemd), a private tmpfs as XDG_RUNTIME_DIR=/run/user/UID
# (so concurrent runs never share sockets), and `systemd --user` in the background. The command
# gets XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS and SYSTEMD_USER_MANAGER_LOG (the manager's output).
# The manager reads user units from $HOME/.config/systemd/user with the HOME this script was given.
#
# Exit status: the command's; 75 (EX_TEMPFAIL) when no user manager can be started here, so callers
# can tell "unavailable" from a failure; 64 on wrong usage.
set -euo pipefail

readonly UNAVAILABLE=75
readonly START_TIMEOUT=${WITH_SYSTEMD_USER_TIMEOUT:-30}
readonly MANAGER=/lib/systemd/systemd

unavailable() {
    echo "with-systemd-user: no systemd user manager: $*" >&2
    exit "$UNAVAILABLE"
}

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 64
fi

if [[ -z ${_WITH_SYSTEMD_USER_NAMESPACE:-} ]]; then
    [[ $(id -u) -eq 0 ]] || unavailable "must run as root (it mounts tmpfs over /run/systemd)"
    [[ -x $MANAGER ]] || unavailable "$MANAGER is missing (Debian package 'systemd')"
    command -v unshare >/dev/null || unavailable "unshare is missing (Debian package 'util-linux')"
    # Probe first: once exec'd, a failing unshare would look like a failing command.
    probe=$(unshare -m --propagation private true 2>&1) \
        || unavailable "cannot create a mount namespace (needs CAP_SYS_ADMIN): $probe"
    export _WITH_SYSTEMD_USER_NAMESPACE=1
    exec unshare -m --propagation private -- "$BASH" "$0" "$@"
fi
unset _WITH_SYSTEMD_USER_NAMESPACE

# From here on we are inside the private mount namespace: mounts vanish with it.
mount -t tmpfs -o mode=0755 tmpfs /run/systemd 2>/dev/null \
    || unavailable "cannot mount a tmpfs on /run/systemd"
mkdir -p /run/systemd/system
uid=$(id -u)
export XDG_RUNTIME_DIR=/run/user/$uid
mkdir -p "$XDG_RUNTIME_DIR"
mount -t tmpfs -o "mode=0700,uid=$uid" tmpfs "$XDG_RUNTIME_DIR" \
    || unavailable "cannot mount a tmpfs on $XDG_RUNTIME_DIR"

workdir=$(mktemp -d -t with-systemd-user.XXXXXX)
export SYSTEMD_USER_MANAGER_LOG=$workdir/manager.log
manager_pid=
console_pid=
console=$SYSTEMD_USER_MANAGER_LOG

# A user manager logs only to /dev/console, which it reopens for every message and which must be
# a terminal. Here /dev/console is a pseudo-terminal that `script` copies into the log file, so
# the messages are kept and never reach the machine's console (else /dev/null stands in).
capture_console() {
    local terminal=
    if command -v script >/dev/null && [[ -e /dev/console ]]; then
        script -q -f -c 'tty; exec sleep infinity' "$SYSTEMD_USER_MANAGER_LOG" \
            </dev/null >/dev/null 2>&1 &
        console_pid=$!
        for _ in $(seq 50); do
            terminal=$(grep -o -m1 '/dev/pts/[0-9]*' "$SYSTEMD_USER_MANAGER_LOG" 2>/dev/null) && break
            sleep 0.05
        done
    fi
    if [[ -n $terminal ]] && mount --bind "$terminal" /dev/console; then
        console=$terminal
    else
        mount --bind /dev/null /dev/console 2>/dev/null || true
    fi
}

stop_manager() {
    if [[ -n $manager_pid ]]; then
        kill -TERM "$manager_pid" 2>/dev/null || true
        # SIGTERM makes the manager stop its units and exit; give it a moment, then insist.
        for _ in $(seq 50); do
            kill -0 "$manager_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$manager_pid" 2>/dev/null || true
        wait "$manager_pid" 2>/dev/null || true
        manager_pid=
    fi
    if [[ -n $console_pid ]]; then
        kill -TERM "$console_pid" 2>/dev/null || true
        wait "$console_pid" 2>/dev/null || true
        console_pid=
    fi
}
trap stop_manager EXIT

capture_console
# No journald here: services inherit the console too, so their output lands in the log.
"$MANAGER" --user --log-target=console --default-standard-output=inherit \
    --default-standard-error=inherit >>"$console" 2>&1 &
manager_pid=$!

deadline=$((SECONDS + START_TIMEOUT))
state=
until [[ $state == running || $state == degraded ]]; do
    if ! kill -0 "$manager_pid" 2>/dev/null; then
        wait "$manager_pid" 2>/dev/null || true
        manager_pid=
        tail -n 20 "$SYSTEMD_USER_MANAGER_LOG" >&2 || true
        unavailable "systemd --user exited during start-up (log above, in $SYSTEMD_USER_MANAGER_LOG)"
    fi
    if ((SECONDS >= deadline)); then
        tail -n 20 "$SYSTEMD_USER_MANAGER_LOG" >&2 || true
        unavailable "systemd --user did not come up within ${START_TIMEOUT}s (last state:" \
            "'${state:-no answer}'; log above, in $SYSTEMD_USER_MANAGER_LOG)"
    fi
    sleep 0.1
    state=$(systemctl --user is-system-running 2>/dev/null) || true
done

if [[ -S $XDG_RUNTIME_DIR/bus ]]; then
    export DBUS_SESSION_BUS_ADDRESS=unix:path=$XDG_RUNTIME_DIR/bus
fi

status=0
"$@" || status=$?
stop_manager
if ((status == 0)); then
    rm -rf "$workdir"
else
    echo "with-systemd-user: the manager's log is in $SYSTEMD_USER_MANAGER_LOG" >&2
fi
exit "$status"
