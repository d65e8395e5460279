# daemon_cpu_hotremove: QMP device_del of the hot-added vCPU of socket 2 (node 1): the guest offlines and
# ejects cpu2; hpplaced drops it from its status (present, online, node 1) and the workload cgroup's
# cpuset.cpus loses it.
hp_load || die "insmod hpnotify.ko failed"
daemon_up
need_present_cpu2
wait_until 30 cpuset_has 2 || die "cpuset.cpus $(cat $CGROUP/cpuset.cpus) lacks cpu2 to begin with"
out cpuset_before "$CGROUP/cpuset.cpus"
host remove_cpu socket=2 || die "device_del refused"
wait_until 60 eval '[ ! -e "$CPU_SYS/cpu2" ]' || die "cpu2 still exists 60 s after device_del"
wait_until 30 cpuset_lacks 2 || die "cpuset.cpus $(cat $CGROUP/cpuset.cpus) still has cpu2 30 s after its removal"
no_cpu2_in_status() {
	! status_has '"present":\[[0-9,]*2[],]'
}
wait_until 30 no_cpu2_in_status || die "hpplaced's status still has cpu2 present 30 s after its removal"
out cpuset_after "$CGROUP/cpuset.cpus"
out present "$CPU_SYS/present"
status after
