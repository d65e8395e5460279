# daemon_restart: stopping the daemon (SIGTERM) and starting it again on the same machine and config
# gives the same plan.
hp_load || die "insmod hpnotify.ko failed"
daemon_up
wait_until 20 cpuset_has 1 || die "cpuset.cpus $(cat $CGROUP/cpuset.cpus) lacks cpu1"
sleep 1
plan plan_before
daemon_down
daemon_up
daemon_privileges
sleep 1
plan plan_after
status after
daemon_log
daemon_down
