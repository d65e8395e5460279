# cpu_hotadd: QMP hot-adds the vCPU of socket 2 (node 1), which becomes cpu2, then onlines it.
# Host expects cpu_arrived, cpu_add_start, cpu_online for cpu 2 on node 1.
hp_load || die "insmod hpnotify.ko failed"
[ ! -e "$CPU_SYS/cpu2" ] || die "cpu2 exists before the hot-add"
watch_start watch
host hotadd_cpu socket=2 || die "vCPU hot-add refused"
wait_until 20 test -e "$CPU_SYS/cpu2/online" || die "cpu2 did not appear within 20 s"
write online 1 "$CPU_SYS/cpu2/online"
watch_stop 3
out cpus_online "$CPU_SYS/online"
