# Guest steps of `make bench-vm` (bench/vm/bench_vm.py puts tests/vm's daemon_guest.sh and
# client_guest.sh in front of this file; each step runs as a section). hpplaced runs as the daemon
# scenarios run it (daemon_up: auto_online, workload "work" with cgroup $CGROUP), and
# hpplace-example-service registers workload "svc" as in the client scenarios (service_start). The
# measurements are hpvm-bench-probe's (CLOCK_BOOTTIME, nanoseconds); BENCH_* come from the host.

PROBE=hpvm-bench-probe
SOCKET=/run/hpplaced.sock
BASELINE_SOCKET=/run/bench-baseline.sock
# The service's buffers are not measured here: 8 MiB per CPU instead of the client scenarios' 96 keeps
# their pre-faulting (service_start's 30 s) short on a loaded host.
SERVICE_BUFFER_PER_CPU=$((8 << 20))
. /hp/params.sh

# daemon_caught_up: the daemon has taken in the module's last event (status last_seq = the module's).
daemon_caught_up() {
	kernel_seq=$(hpctl kernel-stats --json 2>/dev/null | tr -d ' \n' | sed -n 's/.*"last_seq":\([0-9]*\).*/\1/p')
	daemon_seq=$(hpctl status --json 2>/dev/null | tr -d ' \n' | sed -n 's/.*"last_seq":\([0-9]*\).*/\1/p')
	[ -n "$kernel_seq" ] && [ "$kernel_seq" = "$daemon_seq" ]
}

# settled: the daemon caught up, the cgroup has every online CPU, the plan stands and the service
# follows it.
settled() {
	daemon_caught_up || return 1
	for cpu in $(online_cpu_numbers); do
		cpuset_has "$cpu" || return 1
	done
	plan_settled
}

# probe NAME ARGS...: runs hpvm-bench-probe ARGS, reports its output as NAME (run); dies with its
# error when it fails.
probe() {
	name=$1
	shift
	run "$name" "$PROBE" "$@" || die "hpvm-bench-probe $*: $(cat "/tmp/$SCENARIO.$name.err")"
}

metrics() {
	hpctl metrics > "/tmp/$SCENARIO.$1" 2>&1 || die "hpctl metrics failed: $(cat "/tmp/$SCENARIO.$1")"
	out "$1" "/tmp/$SCENARIO.$1"
}

bench_setup() {
	hp_load || die "insmod hpnotify.ko failed"
	daemon_up
	wait_until 20 status_has '"source":"kernel"' || die "daemon source is not kernel"
	service_start
	wait_until 60 settled || die "daemon, cgroup and service did not settle: cpuset $(cat "$CGROUP/cpuset.cpus")"
	out config /etc/hpplaced/hpplaced.conf
	out_lines versions "kernel $(uname -r)" "cpus $(cat "$CPU_SYS/online")"
}

bench_rest() {
	wait_until 60 settled || die "not settled before the rest window"
	probe rest rest "$(daemon_pid)" "$BENCH_REST_SECONDS"
}

# baseline_up: hpvm-bench-probe answer serves the daemon's status answer on $BASELINE_SOCKET (baseline_pid).
baseline_up() {
	"$PROBE" answer "$SOCKET" "$BASELINE_SOCKET" 2> /tmp/baseline.err &
	baseline_pid=$!
	wait_until 10 grep -q listening /tmp/baseline.err || die "hpvm-bench-probe answer did not start: $(cat /tmp/baseline.err)"
}

baseline_down() {
	kill "$baseline_pid" 2> /dev/null
	wait "$baseline_pid" 2> /dev/null
	rm -f "$BASELINE_SOCKET"
}

# cpu_times NAME: "who tid utime stime" (clock ticks) for every thread of hpplaced (who=daemon; its main
# thread, the event loop, is the one whose tid is its pid), the service and the baseline server.
cpu_times() {
	for who in daemon:$(daemon_pid) service:$(service_pid) baseline:$baseline_pid; do
		for task in /proc/${who#*:}/task/*; do
			# A thread that ended after the glob has no stat left: it is left out.
			times=$(cut -d' ' -f14,15 "$task/stat" 2>/dev/null) && [ -n "$times" ] &&
				echo "${who%%:*} ${task##*/} $times"
		done
	done > "/tmp/$1"
	out "$1" "/tmp/$1"
}

bench_status_rest() {
	wait_until 60 settled || die "not settled before the status requests"
	baseline_up
	probe status_rest status "$BENCH_STATUS_COUNT" "$SOCKET" "$BASELINE_SOCKET" "$BENCH_STATUS_INTERVAL_MS"
	baseline_down
}

bench_toggles() {
	wait_until 60 settled || die "not settled before the toggles"
	probe toggles toggles 1 "$BENCH_TOGGLE_ROUNDS" "$CGROUP/cpuset.cpus"
}

bench_storm() {
	wait_until 60 settled || die "not settled before the storm"
	metrics metrics_before
	baseline_up
	cpu_times cpu_before
	probe storm storm 1 "$BENCH_STORM_TOGGLES" "$SOCKET" "$BASELINE_SOCKET" "$BENCH_STATUS_INTERVAL_MS"
	cpu_times cpu_after
	baseline_down
	wait_until 120 settled || die "not settled 120 s after the storm: cpuset $(cat "$CGROUP/cpuset.cpus"), $(hpctl status 2>&1 | tr '\n' ' '); service pid $(service_pid || echo gone), threads (tid cpu allowed name): $(threads | tr '\n' ';'); plan: $(hpctl plan 2>&1 | tr '\n' ' ')"
	metrics metrics_after
	daemon_pid > /dev/null || die "hpplaced exited during the storm: $(tail -5 "$DAEMON_LOG")"
}

# bench_hotadd: the vCPUs of sockets 2 and 3 (cpu2, cpu3; node 1), one after the other. (hot_cpu: settled
# loops over cpu.)
bench_hotadd() {
	for hot_cpu in 2 3; do
		wait_until 60 settled || die "not settled before the hot-add of cpu$hot_cpu"
		"$PROBE" hotadd "$hot_cpu" "$(service_pid)" > "/tmp/hotadd_$hot_cpu.out" 2> "/tmp/hotadd_$hot_cpu.err" &
		probe_pid=$!
		wait_until 10 grep -q listening "/tmp/hotadd_$hot_cpu.err" ||
			die "hpvm-bench-probe hotadd did not start: $(cat "/tmp/hotadd_$hot_cpu.err")"
		requested=$("$PROBE" now)
		host hotadd_cpu "socket=$hot_cpu" || die "vCPU hot-add (socket $hot_cpu) refused"
		answered=$("$PROBE" now)
		wait "$probe_pid"
		status=$?
		out "hotadd_$hot_cpu" "/tmp/hotadd_$hot_cpu.out"
		[ "$status" -eq 0 ] || die "hpvm-bench-probe hotadd $hot_cpu: $(cat "/tmp/hotadd_$hot_cpu.err")"
		out_lines "hotadd_request_$hot_cpu" "requested=$requested answered=$answered"
	done
	wait_until 60 settled || die "not settled after the hot-adds"
	daemon_log
}
