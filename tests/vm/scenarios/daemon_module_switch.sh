# daemon_module_switch: `rmmod hpnotify` mid-run -> status source "udev" and CPU events still handled
# (from udev); `insmod` again -> source "kernel", and events handled from the kernel again.
hp_load || die "insmod hpnotify.ko failed"
daemon_up
wait_until 20 status_has '"source":"kernel"' || die "daemon source is not kernel to begin with"
status with_module
run rmmod rmmod hpnotify
wait_until 20 status_has '"source":"udev"' || die "source did not switch to udev within 20 s"
status after_rmmod
write offline 0 "$CPU_SYS/cpu1/online"
wait_until 20 cpuset_lacks 1 || die "udev: cpuset.cpus $(cat $CGROUP/cpuset.cpus) still has cpu1"
out cpuset_udev_offline "$CGROUP/cpuset.cpus"
write online 1 "$CPU_SYS/cpu1/online"
wait_until 20 cpuset_has 1 || die "udev: cpuset.cpus $(cat $CGROUP/cpuset.cpus) did not get cpu1 back"
status udev_events
run insmod insmod /hp/hpnotify.ko
wait_until 20 status_has '"source":"kernel"' || die "source did not switch back to kernel within 20 s"
write offline_again 0 "$CPU_SYS/cpu1/online"
wait_until 20 cpuset_lacks 1 || die "kernel again: cpuset.cpus $(cat $CGROUP/cpuset.cpus) still has cpu1"
write online_again 1 "$CPU_SYS/cpu1/online"
wait_until 20 cpuset_has 1 || die "kernel again: cpuset.cpus did not get cpu1 back"
wait_until 10 status_has '"last_seq":[1-9]' || die "no kernel event counted after insmod"
status after_insmod
daemon_log
