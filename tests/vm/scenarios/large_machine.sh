# large_machine: the large layout (vmlib.Vm large=True): 288 possible vCPUs in 8 nodes, 257 present, 2
# online. With hpplaced running, QMP hot-adds the highest slot (socket 287, node 7); the kernel numbers it
# cpu257, the lowest id not present, and the daemon onlines it. Reports the events as hpctl watch saw them,
# the module's state dump and the daemon's status, each with CPU ids above 255.
hp_load || die "insmod hpnotify.ko failed"
out possible "$CPU_SYS/possible"
out present_before "$CPU_SYS/present"
daemon_up
wait_until 60 status_has '"source":"kernel"' || die "daemon source is not kernel"
watch_start watch
host hotadd_cpu socket=287 || die "vCPU hot-add refused"
wait_until 60 test -e "$CPU_SYS/cpu257/online" || die "cpu257 did not appear within 60 s"
wait_until 60 grep -q 1 "$CPU_SYS/cpu257/online" || die "cpu257 was not onlined by the daemon within 60 s"
wait_until 60 status_has '"online":\[0,1,257\]' || die "status did not show cpu257 online within 60 s"
watch_stop 3
out present_after "$CPU_SYS/present"
out node7_cpus "$NODE_SYS/node7/cpulist"
run state hpctl kernel-state --json
status after
daemon_log
