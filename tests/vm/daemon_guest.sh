# Guest helpers of the daemon scenarios (tests/vm/scenarios_daemon.py prepends them to each
# tests/vm/scenarios/daemon_*.sh). Builds on /hp/lib.sh. One daemon per boot: a scenario starts it
# when it is not running yet, so scenarios also run alone (--isolate).

CGROUP=/sys/fs/cgroup/work
DAEMON_LOG=/tmp/hpplaced.log
DAEMON_PID_FILE=/tmp/hpplaced.pid

daemon_config() {
	mkdir -p /etc/hpplaced
	cat > /etc/hpplaced/hpplaced.conf <<-CONF
	auto_online = "online_movable"
	[[workload]]
	name = "work"
	threads_per_cpu = 1
	nodes = "all"
	buffer_per_cpu = "8MiB"
	cgroup = "$CGROUP"
	CONF
	mkdir -p "$CGROUP"
}

daemon_pid() {
	[ -f "$DAEMON_PID_FILE" ] && kill -0 "$(cat "$DAEMON_PID_FILE")" 2>/dev/null && cat "$DAEMON_PID_FILE"
}

daemon_answers() {
	hpctl status --json > /dev/null 2>&1
}

# daemon_started: it answers; dies at once, with its log, when it has exited.
daemon_started() {
	daemon_pid > /dev/null || die "hpplaced exited at start: $(tail -5 "$DAEMON_LOG")"
	daemon_answers
}

# daemon_up [hpplaced args]: starts hpplaced unless running; waits until it answers (30 s).
# It runs with what dist/hpplaced.service restricts and a busybox initramfs can do: its own uid and gid
# (DAEMON_UID, no supplementary groups), the capability bounding, permitted, effective, inheritable and
# ambient sets only CAP_NET_ADMIN and CAP_DAC_OVERRIDE, no_new_privs, umask 0077. (Not the unit's mount and
# syscall sandboxing: ProtectSystem=, PrivateTmp=, SystemCallFilter= ... need systemd;
# tests/unit/daemon_unit_file_test.cpp verifies those.)
# util-linux setpriv by its path: a bare "setpriv" is busybox's applet, which lacks these options.
DAEMON_UID=990
DAEMON_SETPRIV="/hp/host/setpriv --reuid=$DAEMON_UID --regid=$DAEMON_UID --clear-groups \
--bounding-set=-all,+net_admin,+dac_override --inh-caps=-all,+net_admin,+dac_override \
--ambient-caps=-all,+net_admin,+dac_override --no-new-privs"
daemon_up() {
	if daemon_pid > /dev/null; then
		return 0
	fi
	[ -x /hp/host/setpriv ] || die "no /hp/host/setpriv in the guest (vmlib.GUEST_HOST_TOOLS)"
	daemon_config
	# The subshell execs setpriv, which execs hpplaced: $! is the daemon's pid.
	# shellcheck disable=SC2086
	(umask 0077 && exec $DAEMON_SETPRIV hpplaced "$@") >> "$DAEMON_LOG" 2>&1 &
	echo $! > "$DAEMON_PID_FILE"
	wait_until 30 daemon_started || die "hpplaced did not answer within 30 s: $(tail -5 "$DAEMON_LOG")"
}

# daemon_privileges: reports the running daemon's Cap*, NoNewPrivs and Umask lines of
# /proc/PID/status as output daemon_privileges.
daemon_privileges() {
	pid=$(daemon_pid) || die "daemon_privileges: hpplaced is not running"
	grep -E '^(Uid|Gid|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Umask):' "/proc/$pid/status" > /tmp/hpplaced.privileges
	out daemon_privileges /tmp/hpplaced.privileges
}

# daemon_down: SIGTERM and wait for the exit (10 s); reports rc daemon_exit.
daemon_down() {
	pid=$(daemon_pid) || return 0
	kill -TERM "$pid"
	wait_until 10 eval "! kill -0 $pid 2>/dev/null"
	wait "$pid" 2>/dev/null
	rc daemon_exit $?
	rm -f "$DAEMON_PID_FILE"
}

# status_has PATTERN: `hpctl status --json` matches the extended regex PATTERN.
status_has() {
	hpctl status --json 2>/dev/null | tr -d ' \n' | grep -Eq "$1"
}

# status NAME: reports `hpctl status --json` (one line) as output NAME.
status() {
	hpctl status --json 2>&1 | tr -d '\n' > "/tmp/$SCENARIO.$1.json"
	echo >> "/tmp/$SCENARIO.$1.json"
	out "$1" "/tmp/$SCENARIO.$1.json"
}

plan() {
	hpctl plan --json 2>&1 | tr -d '\n' > "/tmp/$SCENARIO.$1.json"
	echo >> "/tmp/$SCENARIO.$1.json"
	out "$1" "/tmp/$SCENARIO.$1.json"
}

# cpuset_has CPU / cpuset_lacks CPU: the workload cgroup's cpuset.cpus (a cpulist) holds CPU or not.
cpulist_has() {
	echo "$1" | tr ',' '\n' | while IFS=- read -r low high; do
		[ -n "$low" ] || continue
		[ "$2" -ge "$low" ] && [ "$2" -le "${high:-$low}" ] && echo yes
	done | grep -q yes
}
cpuset_has() {
	cpulist_has "$(cat "$CGROUP/cpuset.cpus")" "$1"
}
cpuset_lacks() {
	! cpuset_has "$1"
}

# daemon_log: reports the daemon's log as output daemon_log.
daemon_log() {
	out daemon_log "$DAEMON_LOG"
}
