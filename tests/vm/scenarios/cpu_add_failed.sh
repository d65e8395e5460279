# cpu_add_failed: hpnotify_failonline.ko cpu=1, loaded before hpnotify.ko, fails cpu1's online step
# (its CPUHP_AP_ONLINE_DYN state runs before hpnotify's). Offline then online cpu1: the online write
# fails; host expects cpu_going_offline, cpu_offline, cpu_add_start, cpu_add_failed, no cpu_online.
hp_unload || die "rmmod hpnotify failed"
run load_failonline insmod /hp/test/hpnotify_failonline.ko cpu=1 || die "insmod hpnotify_failonline.ko failed"
hp_load || die "insmod hpnotify.ko failed"
watch_start watch
write offline 0 "$CPU_SYS/cpu1/online"
write online 1 "$CPU_SYS/cpu1/online"
watch_stop 4
# Leave the CPU online for the scenarios after this one.
rmmod hpnotify_failonline || die "rmmod hpnotify_failonline failed"
echo 1 > "$CPU_SYS/cpu1/online"
out cpus_online_after "$CPU_SYS/online"
