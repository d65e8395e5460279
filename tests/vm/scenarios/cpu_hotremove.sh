# cpu_hotremove: QMP device_del of the hot-added vCPU of socket 2 (node 1, online): the guest offlines
# cpu2 and ejects it. Host expects cpu_going_offline, cpu_offline, cpu_removed for cpu 2 and cpu2 gone
# from sysfs.
hp_load || die "insmod hpnotify.ko failed"
need_present_cpu2
watch_start watch
host remove_cpu socket=2 || die "device_del refused"
wait_until 60 eval '[ ! -e "$CPU_SYS/cpu2" ]' || die "cpu2 still exists 60 s after device_del"
watch_stop 3
out present "$CPU_SYS/present"
out online "$CPU_SYS/online"
