# Guest helpers of the client-library scenarios (tests/vm/scenarios_client.py prepends them to each
# tests/vm/scenarios/client_*.sh) and of the demo (tests/vm/demo.py). Builds on /hp/lib.sh.
#
# One hpplaced (config: auto_online = "online_movable", so that hot-added memory can be removed again,
# max_memory_share = 0.1, no workload of its own) and one
# hpplace-example-service per boot, started by whichever section needs them first, so that the
# scenarios also run alone (--isolate). The service registers workload "svc" (one thread per CPU, 96 MiB
# of buffer per CPU); node buffers are capped at a tenth of the node's memory, so memory arriving on a
# node grows the node's buffers.

CLIENT_CONF=/etc/hpplaced/client.conf
HPPLACED_LOG=/tmp/client-hpplaced.log
HPPLACED_PID_FILE=/tmp/client-hpplaced.pid
SERVICE_LOG=/tmp/service.log
SERVICE_PID_FILE=/tmp/service.pid
SERVICE_BUFFER_PER_CPU=$((96 << 20))
PAGE_SIZE=4096

client_config() {
	mkdir -p /etc/hpplaced
	cat > "$CLIENT_CONF" <<-CONF
	auto_online = "online_movable"
	max_memory_share = 0.1
	CONF
}

# alive PID: the process exists and is not a zombie (kill -0 succeeds on zombies, whose parent, /init,
# reaps them only now and then).
alive() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

hpplaced_pid() {
	[ -f "$HPPLACED_PID_FILE" ] && alive "$(cat "$HPPLACED_PID_FILE")" && cat "$HPPLACED_PID_FILE"
}

hpplaced_answers() {
	hpctl status --json > /dev/null 2>&1
}

# hpplaced_start: starts hpplaced with the client config unless it runs; waits until it answers (30 s).
# Restricted as dist/hpplaced.service runs it (uid and gid 990, capabilities CAP_NET_ADMIN and
# CAP_DAC_OVERRIDE only, no_new_privs, umask 0077), through util-linux setpriv when the image has it
# (/hp/host/setpriv; as daemon_guest.sh does).
hpplaced_start() {
	hpplaced_pid > /dev/null && return 0
	client_config
	setpriv=
	if [ -x /hp/host/setpriv ]; then
		setpriv="/hp/host/setpriv --reuid=990 --regid=990 --clear-groups"
		setpriv="$setpriv --bounding-set=-all,+net_admin,+dac_override --inh-caps=-all,+net_admin,+dac_override"
		setpriv="$setpriv --ambient-caps=-all,+net_admin,+dac_override --no-new-privs"
	fi
	# The subshell execs (setpriv, which execs) hpplaced: $! is the daemon's pid.
	# shellcheck disable=SC2086
	(umask 0077 && exec $setpriv hpplaced --config "$CLIENT_CONF") >> "$HPPLACED_LOG" 2>&1 &
	echo $! > "$HPPLACED_PID_FILE"
	wait_until 30 hpplaced_answers || die "hpplaced did not answer within 30 s: $(tail -5 "$HPPLACED_LOG")"
}

# hpplaced_stop: SIGTERM; 0 when it is gone within 10 s.
hpplaced_stop() {
	pid=$(hpplaced_pid) || return 0
	kill -TERM "$pid"
	wait_until 10 eval '! alive '"$pid" || return 1
	rm -f "$HPPLACED_PID_FILE"
}

service_pid() {
	[ -f "$SERVICE_PID_FILE" ] && alive "$(cat "$SERVICE_PID_FILE")" && cat "$SERVICE_PID_FILE"
}

# workers: the number of the service's worker threads (named worker<index>).
workers() {
	grep -l '^worker' /proc/"$(service_pid)"/task/*/comm 2>/dev/null | wc -l
}

# workers_at_least N
workers_at_least() {
	[ "$(workers)" -ge "$1" ]
}

# service_start: starts hpplace-example-service (workload "svc") unless it runs; waits until its workers
# run on every online CPU and its buffers are ready (30 s).
service_start() {
	service_pid > /dev/null && return 0
	hpplace-example-service --name svc --buffer-per-cpu "$SERVICE_BUFFER_PER_CPU" > "$SERVICE_LOG" 2>&1 &
	echo $! > "$SERVICE_PID_FILE"
	wait_until 30 service_settled || die "the service did not settle within 30 s: $(tail -5 "$SERVICE_LOG")"
}

# threads: one line per thread of the service: "TID PROCESSOR CPUS_ALLOWED_LIST COMM", PROCESSOR being
# field 39 of /proc/PID/task/TID/stat (the CPU the thread last ran on).
threads() {
	pid=$(service_pid) || return 1
	for task in /proc/"$pid"/task/*; do
		stat=$(cat "$task/stat" 2>/dev/null) || continue
		processor=$(echo "${stat##*) }" | cut -d' ' -f37)
		allowed=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$task/status" 2>/dev/null)
		echo "${task##*/} $processor $allowed $(cat "$task/comm" 2>/dev/null)"
	done
}

# worker_on CPU: a worker thread is pinned to CPU alone and last ran there.
worker_on() {
	threads | awk -v cpu="$1" '$4 ~ /^worker/ && $2 == cpu && $3 == cpu { found = 1 } END { exit !found }'
}

# no_worker_on CPU: no worker thread is allowed on CPU alone.
no_worker_on() {
	threads | awk -v cpu="$1" '$4 ~ /^worker/ && $3 == cpu { found = 1 } END { exit found }'
}

# bind_bytes NODE: bytes of the service's memory bound to NODE (mbind, i.e. its node buffers) that are
# resident there, from /proc/PID/numa_maps: N<node>=pages x kernelpagesize_kB of the "bind:" mappings.
bind_bytes() {
	awk -v node="$1" '
		$2 ~ /^bind:/ {
			pages = 0; kib = 4
			for (i = 3; i <= NF; i++) {
				split($i, kv, "=")
				if (kv[1] == "N" node) pages = kv[2]
				if (kv[1] == "kernelpagesize_kB") kib = kv[2]
			}
			total += pages * kib * 1024
		}
		END { printf "%d\n", total }' /proc/"$(service_pid)"/numa_maps
}

# plan_buffer_bytes NODE: the bytes the daemon's plan gives workload svc on NODE (0 when none).
plan_buffer_bytes() {
	bytes=$(hpctl plan --json 2>/dev/null | tr -d ' \n' | grep -o '{[^{}]*"node":'"$1"'[,}][^{}]*}' \
		| grep '"bytes"' | sed -n 's/.*"bytes":\([0-9]*\).*/\1/p' | head -1)
	echo "${bytes:-0}"
}

# buffers_match NODE: the service's bound memory on NODE is what the plan asks (rounded up to pages).
buffers_match() {
	want=$(plan_buffer_bytes "$1")
	want=$(( (want + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE ))
	[ "$(bind_bytes "$1")" -eq "$want" ]
}

# online_cpus_served: one worker per online CPU, each pinned there.
online_cpus_served() {
	for cpu in $(online_cpu_numbers); do
		worker_on "$cpu" || return 1
	done
	[ "$(workers)" -eq "$(online_cpu_numbers | wc -l)" ]
}

online_cpu_numbers() {
	tr ',' '\n' < "$CPU_SYS/online" | while IFS=- read -r low high; do
		[ -n "$low" ] && seq "$low" "${high:-$low}"
	done
}

# service_settled: workers on every online CPU and every node's buffers as planned.
service_settled() {
	service_pid > /dev/null || return 1
	online_cpus_served || return 1
	for node in "$NODE_SYS"/node[0-9]*; do
		buffers_match "${node##*/node}" || return 1
	done
}

# snapshot PREFIX: reports threads as PREFIX_threads, /proc/PID/numa_maps as PREFIX_numa_maps and
# `hpctl plan --json` as PREFIX_plan.
snapshot() {
	threads > "/tmp/$SCENARIO.$1_threads"
	out "$1_threads" "/tmp/$SCENARIO.$1_threads"
	cat /proc/"$(service_pid)"/numa_maps > "/tmp/$SCENARIO.$1_numa_maps" 2>/dev/null
	out "$1_numa_maps" "/tmp/$SCENARIO.$1_numa_maps"
	hpctl plan --json 2>&1 | tr -d '\n' > "/tmp/$SCENARIO.$1_plan"
	echo >> "/tmp/$SCENARIO.$1_plan"
	out "$1_plan" "/tmp/$SCENARIO.$1_plan"
}

# service_log / hpplaced_log: report the logs as outputs service_log / hpplaced_log.
service_log() {
	out service_log "$SERVICE_LOG"
}
hpplaced_log() {
	out hpplaced_log "$HPPLACED_LOG"
}

# need_cpu2: cpu2 (node 1) is present and online, with a worker on it; hot-adds it when the scenario
# runs alone.
need_cpu2() {
	if [ ! -e "$CPU_SYS/cpu2" ]; then
		host hotadd_cpu socket=2 || die "vCPU hot-add refused"
	fi
	wait_until 30 cpu_is_online 2 || die "cpu2 is not online"
	wait_until 30 worker_on 2 || die "no worker on cpu2"
}

# events_counted TYPE: hpplaced's hpplaced_events_total for event TYPE (hpctl metrics).
events_counted() {
	count=$(hpctl metrics 2>/dev/null | sed -n 's/^hpplaced_events_total{type="'"$1"'"} //p')
	echo "${count:-0}"
}

# pin_probe_start / pin_probe_stop [N]: hpvm-pin-probe, which pins itself to each CPU the moment its
# cpu_online arrives, in the background; stop waits (10 s) for N lines and reports them as pin_probe.
pin_probe_start() {
	hpvm-pin-probe > /tmp/pin_probe.out 2> /tmp/pin_probe.err &
	PIN_PROBE_PID=$!
	wait_until 10 grep -q listening /tmp/pin_probe.err || die "hpvm-pin-probe did not start: $(cat /tmp/pin_probe.err)"
}
pin_probe_stop() {
	wait_until 10 lines_at_least "${1:-0}" /tmp/pin_probe.out
	kill "$PIN_PROBE_PID" 2>/dev/null
	wait "$PIN_PROBE_PID" 2>/dev/null
	out pin_probe /tmp/pin_probe.out
	out pin_probe.stderr /tmp/pin_probe.err
}

# client_ready: hpplaced and the service run, cpu2 has its worker, plan and service are settled.
client_ready() {
	hpplaced_start
	service_start
	need_cpu2
	wait_until 30 plan_settled || die "plan and service did not settle at the start"
}

# registered: the daemon's plan has workload svc.
registered() {
	hpctl plan --json 2>/dev/null | tr -d ' \n' | grep -q '"name":"svc"'
}

# plan_settled: the plan stays the same for a second and the service matches it (a DIMM's blocks come
# online one by one, each a replan).
plan_settled() {
	hpctl plan --json > /tmp/plan_a 2>&1 || return 1
	sleep 1
	hpctl plan --json > /tmp/plan_b 2>&1 || return 1
	cmp -s /tmp/plan_a /tmp/plan_b && service_settled
}

# status_json NAME: reports `hpctl status --json` (one line) as output NAME.
status_json() {
	hpctl status --json 2>&1 | tr -d '\n' > "/tmp/$SCENARIO.$1.json"
	echo >> "/tmp/$SCENARIO.$1.json"
	out "$1" "/tmp/$SCENARIO.$1.json"
}
