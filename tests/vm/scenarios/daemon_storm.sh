# daemon_storm: the daemon with a small receive buffer is stopped (SIGSTOP) while cpu1 is toggled a
# few hundred times, then continued: its sockets overran, it must detect the loss, resync from sysfs
# and end with a status equal to sysfs.
hp_load || die "insmod hpnotify.ko failed"
daemon_down
daemon_up --rcvbuf 2048
wait_until 20 status_has '"source":"kernel"' || die "daemon source is not kernel"
status before
hpctl metrics > "/tmp/$SCENARIO.metrics_before" 2>&1
out metrics_before "/tmp/$SCENARIO.metrics_before"
pid=$(daemon_pid)
kill -STOP "$pid"
ok=0
failed=0
i=0
while [ $i -lt ${HPVM_STORM_TOGGLES:-150} ]; do
	if echo 0 > "$CPU_SYS/cpu1/online" && echo 1 > "$CPU_SYS/cpu1/online"; then
		ok=$((ok + 1))
	else
		failed=$((failed + 1))
	fi
	i=$((i + 1))
done
kill -CONT "$pid"
out_lines toggles "ok $ok" "failed $failed"
wait_until 30 status_has '"resyncs":[1-9]' || die "no resync within 30 s after the storm"
# The next kernel event shows the sequence gap the overrun left; end on a state that differs from
# the start, so that a daemon that missed it is caught.
write final_offline 0 "$CPU_SYS/cpu1/online"
wait_until 30 cpuset_lacks 1 || die "cpuset.cpus $(cat $CGROUP/cpuset.cpus) still has cpu1 after the storm"
sleep 1
status after
hpctl metrics > "/tmp/$SCENARIO.metrics_after" 2>&1
out metrics_after "/tmp/$SCENARIO.metrics_after"
out sysfs_online "$CPU_SYS/online"
out sysfs_present "$CPU_SYS/present"
for node in "$NODE_SYS"/node[0-9]*; do
	echo "${node##*/node} $(cat "$node/cpulist")"
done > /tmp/sysfs_nodes
out sysfs_nodes /tmp/sysfs_nodes
write restore 1 "$CPU_SYS/cpu1/online"
daemon_log
daemon_down
