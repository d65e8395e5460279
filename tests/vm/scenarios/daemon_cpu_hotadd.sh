# daemon_cpu_hotadd: with hpplaced running (auto_online = "online_movable", a cgroup workload), QMP hot-adds
# the vCPU of socket 2 (node 1). The daemon onlines cpu2 and the cgroup's cpuset.cpus gains it,
# running as uid 990 with only CAP_NET_ADMIN and CAP_DAC_OVERRIDE (daemon_up starts it as dist/hpplaced.service restricts it).
hp_load || die "insmod hpnotify.ko failed"
daemon_up
wait_until 20 status_has '"source":"kernel"' || die "daemon source is not kernel"
daemon_privileges
out cmdline /proc/cmdline
out cpuset_before "$CGROUP/cpuset.cpus"
status before
host hotadd_cpu socket=2 || die "vCPU hot-add refused"
wait_until 30 test -e "$CPU_SYS/cpu2/online" || die "cpu2 did not appear within 30 s"
wait_until 30 grep -q 1 "$CPU_SYS/cpu2/online" || die "cpu2 was not onlined by the daemon within 30 s"
wait_until 30 cpuset_has 2 || die "cpuset.cpus $(cat $CGROUP/cpuset.cpus) did not gain cpu2 within 30 s"
out cpu2_online "$CPU_SYS/cpu2/online"
out cpuset_after "$CGROUP/cpuset.cpus"
status after
daemon_log
