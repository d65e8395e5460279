# The guest part of `make demo` (tests/vm/demo.py puts client_guest.sh in front of it and runs each
# demo_* function as a section). The host prints the pictures; this only does the steps and reports.

DEMO_EVENTS=/tmp/demo.events.json

# uptime_now: seconds since boot (centiseconds), for the host's timings.
uptime_now() {
	cut -d' ' -f1 /proc/uptime
}

# picture: what the host draws a picture from.
picture() {
	status_json status
	hpctl plan > /tmp/demo.plan.txt 2>&1
	out plan_text /tmp/demo.plan.txt
	snapshot now
	out_lines service_pid "$(service_pid)"
	service_log
}

demo_setup() {
	hp_load || die "insmod hpnotify.ko failed"
	hpplaced_start
	service_start
	hpctl watch --json > "$DEMO_EVENTS" 2> "$DEMO_EVENTS.err" &
	echo $! > /tmp/demo.watch.pid
	wait_until 5 netlink_subscribed "$(cat /tmp/demo.watch.pid)" || die "hpctl watch did not subscribe"
}

demo_before() {
	out config "$CLIENT_CONF"
	picture
}

demo_hotadd() {
	out_lines t_cpu_request "$(uptime_now)"
	host hotadd_cpu socket=2 || die "vCPU hot-add refused"
	wait_until 30 cpu_is_online 2 || die "hpplaced did not online cpu2 within 30 s"
	out_lines t_cpu_online "$(uptime_now)"
	wait_until 30 worker_on 2 || die "no worker of the service pinned to and running on cpu2 within 30 s"
	out_lines t_cpu_worker "$(uptime_now)"
	wait_until 30 service_settled || die "the service did not settle after the vCPU"
	cpu_node1_bytes=$(bind_bytes 1)
	out_lines cpu_node1_bytes "$cpu_node1_bytes"
	out_lines t_dimm_request "$(uptime_now)"
	hotadd_dimm 256 1 dimm_demo
	wait_until 30 dimm_blocks_online || die "hpplaced did not online the DIMM's blocks ($DIMM_BLOCKS) within 30 s"
	out_lines t_dimm_online "$(uptime_now)"
	out_dimm_blocks new_blocks
	node1_grew() {
		[ "$(bind_bytes 1)" -gt "$cpu_node1_bytes" ]
	}
	wait_until 30 node1_grew || die "the service's node-1 buffers did not grow within 30 s of the DIMM"
	out_lines t_dimm_buffers "$(uptime_now)"
	wait_until 30 plan_settled || die "the plan and the service did not settle after the DIMM"
}

demo_after() {
	kill "$(cat /tmp/demo.watch.pid)" 2>/dev/null
	sleep 0.2
	out events "$DEMO_EVENTS"
	out events.stderr "$DEMO_EVENTS.err"
	picture
	kill -TERM "$(service_pid)" 2>/dev/null
	hpplaced_stop
}
