# Shell functions for the test guest's setup, sourced by stage2 (busybox sh, pid 1) and by
# suite-guest (bash). POSIX sh only. Everything here runs as root inside the guest, which has
# no system manager: these functions do, by hand, what systemd as pid 1 would do
# (docs/GUEST.md, "Desktop mode").
#
#   tj_user NAME                   make sure NAME exists; sets tj_uid, tj_gid, tj_home
#   tj_delegate DIR UID GID        hand a cgroup over to a user, as Delegate=yes does
#   tj_desktop_start               user@UID.service with the real `systemd --user` in it
#   tj_desktop_run [-p PROP=VALUE]... UNIT CWD [NAME=VALUE...] COMMAND [ARG...]
#                                  COMMAND as the user in app.slice/UNIT.scope
#   tj_desktop_stop                stop the user manager as `systemctl stop user@UID` would
#
# The desktop functions work on the user of the last tj_user call. Their messages go to
# stderr, prefixed "desktop:"; they return non-zero on failure.

TJ_CG=/sys/fs/cgroup
TJ_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

tj_log() { echo "desktop: $*" >&2; }

# Seconds since boot, with hundredths.
tj_uptime() { cut -d' ' -f1 /proc/uptime; }

# tj_user NAME: the host's uid if NAME exists there, else the first free uid >= 1000, with a
# group, /etc/subuid and /etc/subgid ranges (as useradd makes them) and a home (0700) in the
# guest's tmpfs. Sets tj_uid, tj_gid, tj_home and tj_name. For root: 0, 0, /root.
tj_user() {
    tj_name=$1
    if [ "$tj_name" = root ]; then
        tj_uid=0 tj_gid=0 tj_home=/root
        return 0
    fi
    _entry=$(grep "^$tj_name:" /etc/passwd | head -n1)
    if [ -n "$_entry" ]; then
        tj_uid=$(echo "$_entry" | cut -d: -f3)
        tj_gid=$(echo "$_entry" | cut -d: -f4)
    else
        tj_uid=1000
        while cut -d: -f3 /etc/passwd | grep -qx "$tj_uid"; do tj_uid=$((tj_uid + 1)); done
        tj_gid=$tj_uid
        while cut -d: -f3 /etc/group | grep -qx "$tj_gid"; do tj_gid=$((tj_gid + 1)); done
        echo "$tj_name:x:$tj_uid:$tj_gid::/home/$tj_name:/bin/sh" >>/etc/passwd &&
            echo "$tj_name:x:$tj_gid:" >>/etc/group &&
            echo "$tj_name:!:19000:0:99999:7:::" >>/etc/shadow || return 1
        # As useradd does: 65536 subordinate ids per user, for newuidmap.
        _sub=$((100000 + (tj_uid - 1000) * 65536))
        echo "$tj_name:$_sub:65536" >>/etc/subuid
        echo "$tj_name:$_sub:65536" >>/etc/subgid
    fi
    # The home is in the overlay, so its contents live in the guest's tmpfs.
    tj_home=/home/$tj_name
    mkdir -p "$tj_home" && chown "$tj_uid:$tj_gid" "$tj_home" && chmod 0700 "$tj_home"
}

# tj_delegate DIR UID GID: what systemd does for Delegate=yes: the directory and the files that
# let the owner build a subtree (cgroup.procs, cgroup.subtree_control, cgroup.threads) are the
# user's; the limits (memory.*, pids.*, cpu.*) stay with the delegator.
tj_delegate() {
    chown "$2:$3" "$1" "$1/cgroup.procs" "$1/cgroup.subtree_control" "$1/cgroup.threads"
}

# --- desktop mode: a real systemd user manager ---------------------------------------------
#
# /sys/fs/cgroup/user.slice/                      subtree_control: memory pids cpu
#   user-UID.slice/                               pids.max 33% of the system (TasksMax=33%)
#     user@UID.service/                           delegated to UID (Delegate=pids memory cpu)
#       init.scope/                               systemd --user moves itself here
#       app.slice/UNIT.scope                      the command (tj_desktop_run)
#       session.slice/tjguest-session-UNIT.service  the launcher that asked for that scope

# tj_desktop_start: the user's slice and service cgroup, /run/user/UID, and `systemd --user`
# running in user@UID.service; returns when its private socket answers and start-up is done.
# Sets tj_manager_pid. The manager's stdout and stderr (its generators' messages) go to
# /run/tjguest/user-manager-UID.log; its own log is lost: with no journald it writes to
# /dev/console, which a user cannot open. `systemctl --user status` shows what units did.
tj_desktop_start() {
    tj_service=$TJ_CG/user.slice/user-$tj_uid.slice/user@$tj_uid.service
    tj_runtime=/run/user/$tj_uid
    tj_manager_log=/run/tjguest/user-manager-$tj_uid.log
    _slice=$TJ_CG/user.slice/user-$tj_uid.slice
    grep -qw memory $TJ_CG/cgroup.subtree_control ||
        echo "+cpu +memory +pids" >$TJ_CG/cgroup.subtree_control ||
        { tj_log "cannot enable cpu, memory and pids at the root"; return 1; }
    mkdir -p "$tj_service" &&
        echo "+memory +pids +cpu" >$TJ_CG/user.slice/cgroup.subtree_control &&
        echo "+memory +pids +cpu" >"$_slice/cgroup.subtree_control" ||
        { tj_log "cannot create $tj_service with memory, pids and cpu"; return 1; }
    # user-.slice.d: TasksMax=33%, of the smaller of kernel.pid_max and kernel.threads-max.
    _max=$(cat /proc/sys/kernel/pid_max)
    _threads=$(cat /proc/sys/kernel/threads-max)
    [ "$_threads" -lt "$_max" ] && _max=$_threads
    echo $((_max * 33 / 100)) >"$_slice/pids.max"
    tj_delegate "$tj_service" "$tj_uid" "$tj_gid" ||
        { tj_log "cannot delegate $tj_service to $tj_name"; return 1; }
    # systemd 251+ marks a delegated cgroup so that tools can tell (trusted.* needs root).
    python3 -c 'import os, sys; os.setxattr(sys.argv[1], "trusted.delegate", b"1")' \
        "$tj_service" 2>/dev/null || true

    # logind (user-runtime-dir@UID.service): a tmpfs of 10% of RAM at /run/user/UID, 0700.
    _mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
    mkdir -p /run/user /run/tjguest && mkdir -m 0700 "$tj_runtime" &&
        mount -t tmpfs -o "mode=0700,uid=$tj_uid,gid=$tj_gid,size=$((_mem_kb / 10))k,nosuid,nodev" \
            tmpfs "$tj_runtime" ||
        { tj_log "cannot make $tj_runtime"; return 1; }
    # sd_booted(): systemd --user refuses to start unless the system looks booted by systemd.
    mkdir -p /run/systemd/system

    # user@.service: User=UID, KillMode=mixed, OOMScoreAdjust=100, the environment that
    # pam_systemd and the service manager give it; born in its cgroup.
    /bin/sh -c 'echo $$ >"$0/cgroup.procs" && echo 100 >/proc/self/oom_score_adj && exec "$@"' \
        "$tj_service" /usr/bin/setpriv --reuid="$tj_uid" --regid="$tj_gid" --init-groups \
        /usr/bin/env -i -C "$tj_home" "PATH=$TJ_PATH" "HOME=$tj_home" "USER=$tj_name" \
        "LOGNAME=$tj_name" "SHELL=/bin/sh" "XDG_RUNTIME_DIR=$tj_runtime" LANG=C.UTF-8 \
        /lib/systemd/systemd --user \
        </dev/null >"$tj_manager_log" 2>&1 &
    tj_manager_pid=$!

    # Type=notify would wait for READY=1; here: the private socket, then the start-up job.
    _t=0
    until [ -S "$tj_runtime/systemd/private" ]; do
        if ! kill -0 "$tj_manager_pid" 2>/dev/null; then
            tj_log "systemd --user exited during start-up; its log:"
            sed 's/^/  /' "$tj_manager_log" >&2
            return 1
        fi
        _t=$((_t + 1))
        [ $_t -lt 1200 ] || { tj_log "no $tj_runtime/systemd/private after 120 s"; return 1; }
        sleep 0.1
    done
    _state=$(tj_as_user timeout 120 systemctl --user is-system-running --wait 2>&1)
    case "$_state" in
        running) ;;
        *) tj_log "the user manager is '$_state', not running; its units:"
           tj_as_user systemctl --user --no-pager --failed >&2
           sed 's/^/  /' "$tj_manager_log" >&2
           return 1 ;;
    esac
}

# tj_as_user COMMAND...: COMMAND as the user with the session's XDG_RUNTIME_DIR (a client of
# the user manager, run from wherever the caller is).
tj_as_user() {
    /usr/bin/setpriv --reuid="$tj_uid" --regid="$tj_gid" --init-groups \
        /usr/bin/env -i "PATH=$TJ_PATH" "HOME=$tj_home" "USER=$tj_name" "LOGNAME=$tj_name" \
        "XDG_RUNTIME_DIR=$tj_runtime" "$@"
}

# tj_desktop_run [-p PROP=VALUE]... UNIT CWD [NAME=VALUE...] COMMAND [ARG...]: runs COMMAND as
# the user in user@UID.service/app.slice/UNIT.scope (with the scope properties given, e.g.
# -p Delegate=yes; no spaces in them) the way a desktop launches an app: a launcher service
# of the user manager (session.slice/tjguest-session-UNIT.service, standing in for the desktop
# shell) asks that manager for a transient scope, `systemd-run --user --scope`, so that the
# manager itself moves the process (both groups are in its delegated subtree, so it needs no
# system manager). COMMAND gets only PATH, HOME, USER, LOGNAME, SHELL, XDG_RUNTIME_DIR,
# DBUS_SESSION_BUS_ADDRESS (when the session bus socket exists) and the NAME=VALUE words.
# stdin, stdout and stderr are the caller's (--pipe); returns COMMAND's status (128+N for a
# signal).
tj_desktop_run() {
    _props=""
    while [ "$1" = -p ]; do
        _props="$_props -p $2"
        shift 2
    done
    _unit=$1 _cwd=$2
    shift 2
    _bus=""
    [ -S "$tj_runtime/bus" ] && _bus="DBUS_SESSION_BUS_ADDRESS=unix:path=$tj_runtime/bus"
    tj_as_user systemd-run --user --wait --pipe --quiet --collect --slice=session.slice \
        --unit="tjguest-session-$_unit" --description="tjguest launcher of $_unit.scope" -- \
        /bin/sh -c 'unit=$1 props=$2
            shift 2
            # $props unquoted: "-p" "NAME=VALUE" words.
            /usr/bin/systemd-run --user --scope --collect --quiet --unit="$unit" $props -- "$@"
            exit $?' sh "$_unit" "$_props" \
        /usr/bin/env -i -C "$_cwd" "PATH=$TJ_PATH" "HOME=$tj_home" "USER=$tj_name" \
        "LOGNAME=$tj_name" "SHELL=/bin/sh" "XDG_RUNTIME_DIR=$tj_runtime" ${_bus:+"$_bus"} "$@"
}

# tj_desktop_stop: what stopping user@UID.service does: SIGTERM to the manager, which starts
# exit.target, stops its units and exits; after 30 s (TimeoutStopSec is 120 s on a real host)
# everything left in the service is killed (KillMode=mixed). Then the cgroups and the runtime
# directory go, as systemd and logind remove them. Returns 1 unless the manager stopped by
# itself with status 0.
tj_desktop_stop() {
    [ -n "${tj_manager_pid:-}" ] || return 0
    _t0=$(tj_uptime) _rc=0 _t=0
    kill -TERM "$tj_manager_pid" 2>/dev/null
    # A dead child stays a zombie until waited for; kill -0 succeeds on a zombie.
    while [ -e "/proc/$tj_manager_pid" ] &&
        [ "$(cut -d' ' -f3 "/proc/$tj_manager_pid/stat" 2>/dev/null)" != Z ]; do
        _t=$((_t + 1))
        if [ $_t -ge 300 ]; then
            tj_log "systemd --user did not exit within 30 s of SIGTERM; killing user@$tj_uid.service"
            _rc=1
            break
        fi
        sleep 0.1
    done
    echo 1 >"$tj_service/cgroup.kill" 2>/dev/null
    wait "$tj_manager_pid"
    _status=$?
    if [ $_rc -eq 0 ] && [ $_status -ne 0 ]; then
        tj_log "systemd --user exited with status $_status; its log:"
        tail -n 20 "$tj_manager_log" | sed 's/^/  /' >&2
        _rc=1
    fi
    tj_manager_pid=""
    # Removing waits for the killed members to be gone.
    _t=0
    while [ -d "$tj_service" ]; do
        echo 1 >"$tj_service/cgroup.kill" 2>/dev/null
        find "$tj_service" -depth -type d -exec rmdir {} + 2>/dev/null
        _t=$((_t + 1))
        if [ $_t -ge 200 ]; then
            tj_log "cannot remove $tj_service after 20 s; what is left:"
            find "$tj_service" -name cgroup.procs | while read -r _procs; do
                for _pid in $(cat "$_procs"); do
                    echo "  ${_procs%/cgroup.procs}: $_pid $(tr '\0' ' ' <"/proc/$_pid/cmdline" 2>/dev/null | cut -c1-100) ($(cut -d' ' -f3 "/proc/$_pid/stat" 2>/dev/null))"
                done
            done >&2
            _rc=1
            break
        fi
        [ -d "$tj_service" ] && sleep 0.1
    done
    # The user's slice goes when its last unit has gone (StopWhenUnneeded=yes); user.slice stays.
    rmdir "$TJ_CG/user.slice/user-$tj_uid.slice" 2>/dev/null
    umount "$tj_runtime" 2>/dev/null && rmdir "$tj_runtime"
    [ $_rc -eq 0 ] && tj_log "user manager stopped in $(awk -v a="$_t0" -v b="$(tj_uptime)" \
        'BEGIN { printf "%.1f", b - a }') s"
    return $_rc
}
