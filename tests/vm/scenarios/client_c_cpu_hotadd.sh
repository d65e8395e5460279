# client_c_cpu_hotadd: hpplace-example-c-arrival, the C99 program of examples/c/ (hpplace.h only),
# registers its processor and memory callbacks with HPP_ADD_EXISTING: the online CPUs and each node's
# memory arrive first as existing. A vCPU hot-added into node 1 (QMP socket 2, onlined by hpplaced)
# then arrives as add_start and add_complete with cpu2 in the active set, and the example's pool starts
# a thread on cpu2. hpctl watch records the module's events to compare sequence numbers.
C_LOG=/tmp/c_arrival.log

# c_replayed: an existing add_complete for every online CPU, and the replay's memory lines.
c_replayed() {
	for cpu in $(online_cpu_numbers); do
		grep -q "^processor $cpu (node [0-9]*): add_complete (existing)" "$C_LOG" || return 1
	done
	grep -q "^memory online on node [0-9]*: .* (existing)" "$C_LOG"
}

c_saw_cpu2() {
	grep -q "^processor 2 (node 1): add_complete, " "$C_LOG" && grep -q "^thread for CPU 2 " "$C_LOG"
}

hp_load || die "insmod hpnotify.ko failed"
hpplaced_start
out_lines online_before "$(cat "$CPU_SYS/online")"
hpplace-example-c-arrival > "$C_LOG" 2>&1 &
C_PID=$!
wait_until 30 c_replayed || die "no replay of the online CPUs within 30 s: $(tr '\n' ';' < "$C_LOG")"
watch_start watch
host hotadd_cpu socket=2 || die "vCPU hot-add refused"
wait_until 30 cpu_is_online 2 || die "hpplaced did not online cpu2 within 30 s"
out_lines cpu2_node "$(cpu_node 2)"
wait_until 30 c_saw_cpu2 || die "the C example did not report cpu2 within 30 s: $(tr '\n' ';' < "$C_LOG")"
watch_stop
kill "$C_PID"
wait "$C_PID"
out c_arrival "$C_LOG"
