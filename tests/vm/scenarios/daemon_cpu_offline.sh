# daemon_cpu_offline: taking a CPU offline shrinks the workload's cpuset; onlining it grows it again.
hp_load || die "insmod hpnotify.ko failed"
daemon_up
wait_until 20 cpuset_has 1 || die "cpuset.cpus $(cat $CGROUP/cpuset.cpus) lacks cpu1 to begin with"
out cpuset_before "$CGROUP/cpuset.cpus"
write offline 0 "$CPU_SYS/cpu1/online"
wait_until 20 cpuset_lacks 1 || die "cpuset.cpus $(cat $CGROUP/cpuset.cpus) still has cpu1 20 s after offline"
out cpuset_offline "$CGROUP/cpuset.cpus"
status offline_status
write online 1 "$CPU_SYS/cpu1/online"
wait_until 20 cpuset_has 1 || die "cpuset.cpus $(cat $CGROUP/cpuset.cpus) did not get cpu1 back"
out cpuset_online "$CGROUP/cpuset.cpus"
