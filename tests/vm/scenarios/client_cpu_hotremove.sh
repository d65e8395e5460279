# client_cpu_hotremove: QMP device_del of the hot-added vCPU of socket 2: the guest offlines and ejects
# cpu2; hpplaced drops it from its status (present and online) and its plan, and the service's worker on
# cpu2 is gone.
hp_load || die "insmod hpnotify.ko failed"
client_ready
snapshot before
status_json before_status
host remove_cpu socket=2 || die "device_del refused"
wait_until 60 eval '[ ! -e "$CPU_SYS/cpu2" ]' || die "cpu2 still exists 60 s after device_del"
wait_until 30 no_worker_on 2 || die "a worker is still pinned to removed cpu2 after 30 s"
wait_until 30 service_settled || die "the service did not settle without cpu2"
snapshot after
status_json after_status
out present "$CPU_SYS/present"
service_log
