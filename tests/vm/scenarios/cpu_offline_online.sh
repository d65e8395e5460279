# cpu_offline_online: `echo 0` then `echo 1` > cpu1/online under `hpctl watch --json`.
# Host expects exactly cpu_going_offline, cpu_offline, cpu_add_start, cpu_online for cpu 1 on node 0.
hp_load || die "insmod hpnotify.ko failed"
watch_start watch
write offline 0 "$CPU_SYS/cpu1/online"
write online 1 "$CPU_SYS/cpu1/online"
watch_stop 4
