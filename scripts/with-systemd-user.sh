#!/usr/bin/env bash
# Run a command inside a private systemd user manager (DESIGN.md, "Tests").
#
# Usage: scripts/with-systemd-user.sh COMMAND [ARG...]
#    eg: scripts/with-systemd-user.sh .venv/bin/pytest -q tests/test_x.py
#
# As root, in a private mount namespace: a tmpfs on /run/systemd holding /run/systemd/system (so
# the manager believes the machine runs systemd), a private tmpfs as XDG_RUNTIME_DIR=/run/user/UID,
# its own cgroup subtree, and `systemd --user` in the background. Concurrent runs share nothing
# but HOME. The command gets XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS and
# SYSTEMD_USER_MANAGER_LOG (the manager's messages and its services' output).
#
# The manager starts with a login-like environment, not the caller's: HOME, USER, LOGNAME, SHELL,
# LANG, TZ (if set), XDG_RUNTIME_DIR and systemd's default PATH. It reads user units from
# $HOME/.config/systemd/user for the HOME given to this script; a HOME changed later by the
# command is not seen by the manager.
#
# Exit status: the command's; 75 (EX_TEMPFAIL) when no user manager can be started here, so
# callers can tell "unavailable" from a failure; 64 on wrong usage.
set -euo pipefail

readonly UNAVAILABLE=75
readonly START_TIMEOUT=${WITH_SYSTEMD_USER_TIMEOUT:-30}
readonly MANAGER=/lib/systemd/systemd
readonly DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

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

# From here on we are inside the private mount namespace: the mounts vanish with it.
mount -t tmpfs -o mode=0755 tmpfs /run/systemd 2>/dev/null \
    || unavailable "cannot mount a tmpfs on /run/systemd"
mkdir -p /run/systemd/system
uid=$(id -u)
export XDG_RUNTIME_DIR=/run/user/$uid
mkdir -p "$XDG_RUNTIME_DIR"
mount -t tmpfs -o "mode=0700,uid=$uid" tmpfs "$XDG_RUNTIME_DIR" \
    || unavailable "cannot mount a tmpfs on $XDG_RUNTIME_DIR"
export HOME=${HOME:-$(getent passwd "$uid" | cut -d: -f6)}

workdir=$(mktemp -d -t with-systemd-user.XXXXXX)
export SYSTEMD_USER_MANAGER_LOG=$workdir/manager.log
: >"$SYSTEMD_USER_MANAGER_LOG"
console=$SYSTEMD_USER_MANAGER_LOG
console_child=
cgroups=()
manager_pid=

# A user manager logs only to /dev/console, which it reopens for every message and which must be
# a terminal. Here /dev/console is a pseudo-terminal that `script` copies into the log file, so
# the messages are kept and never reach the machine's console (else /dev/null stands in).
capture_console() {
    local line='' terminal=''
    if command -v script >/dev/null && [[ -e /dev/console ]]; then
        script -q -f -c 'echo "console $(tty) $$"; exec sleep infinity' \
            "$SYSTEMD_USER_MANAGER_LOG" </dev/null >/dev/null 2>&1 &
        for _ in $(seq 50); do
            line=$(grep -a -m1 -E '^console /dev/pts/[0-9]+ [0-9]+' "$SYSTEMD_USER_MANAGER_LOG" \
                2>/dev/null | tr -d '\r') && break
            sleep 0.05
        done
        read -r _ terminal console_child <<<"$line" || true
    fi
    if [[ -n $terminal ]] && mount --bind "$terminal" /dev/console; then
        console=$terminal
    else
        mount --bind /dev/null /dev/console 2>/dev/null || true
    fi
}

# Managers sharing a cgroup root would put same-named units into the same cgroup and stop each
# other's processes, so each manager gets a subtree of its own (v2, or hybrid/v1 name=systemd).
make_cgroups() {
    local hierarchy
    for hierarchy in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
        if [[ -f $hierarchy/cgroup.procs ]] && mkdir "$hierarchy/with-systemd-user.$$" 2>/dev/null
        then
            cgroups+=("$hierarchy/with-systemd-user.$$")
        fi
    done
}

# Kill what the manager left behind (only possible after SIGKILL) and remove its cgroups.
remove_cgroups() {
    local cgroup pid
    for cgroup in "${cgroups[@]}"; do
        for pid in $(find "$cgroup" -name cgroup.procs -exec cat {} + 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
        find "$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    cgroups=()
}

start_manager() {
    local environment=(HOME="$HOME" USER="$(id -un)" LOGNAME="$(id -un)" PATH="$DEFAULT_PATH"
        SHELL="$(getent passwd "$uid" | cut -d: -f7)" LANG="${LANG:-C.UTF-8}"
        XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR")
    [[ -n ${TZ:-} ]] && environment+=(TZ="$TZ")
    (
        for cgroup in "${cgroups[@]}"; do
            echo "$BASHPID" >"$cgroup/cgroup.procs"
        done
        # No journald here: services inherit the console too, so their output lands in the log.
        exec env -i "${environment[@]}" "$MANAGER" --user --log-target=console \
            --default-standard-output=inherit --default-standard-error=inherit
    ) >>"$console" 2>&1 &
    manager_pid=$!
}

stop_manager() {
    if [[ -n $manager_pid ]]; then
        # SIGTERM makes the manager stop its units and exit; give it a moment, then insist.
        kill -TERM "$manager_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$manager_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$manager_pid" 2>/dev/null || true
        wait "$manager_pid" 2>/dev/null || true
        manager_pid=
    fi
    remove_cgroups
    if [[ -n $console_child ]]; then
        # `script` exits at once when its child does (after a SIGTERM of its own it lingers 2 s).
        kill -TERM "$console_child" 2>/dev/null || true
        wait 2>/dev/null || true
        console_child=
    fi
}

wait_until_running() {
    local deadline=$((SECONDS + START_TIMEOUT)) state=''
    until [[ $state == running || $state == degraded ]]; do
        if ! kill -0 "$manager_pid" 2>/dev/null; then
            tail -n 20 "$SYSTEMD_USER_MANAGER_LOG" >&2 || true
            unavailable "systemd --user exited during start-up (log: $SYSTEMD_USER_MANAGER_LOG)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 20 "$SYSTEMD_USER_MANAGER_LOG" >&2 || true
            unavailable "systemd --user did not come up within ${START_TIMEOUT}s (last state:" \
                "'${state:-no answer}'; log: $SYSTEMD_USER_MANAGER_LOG)"
        fi
        sleep 0.1
        state=$(systemctl --user is-system-running 2>/dev/null) || true
    done
}

trap stop_manager EXIT
capture_console
make_cgroups
start_manager
wait_until_running
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
