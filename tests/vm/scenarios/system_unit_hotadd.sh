# system_unit_hotadd: the daemon (user hpplaced, allowed by the package's polkit rule) has set
# web.service's AllowedCPUs=/AllowedMemoryNodes= through systemd to its plan; a vCPU hot-added over QMP
# (socket 2, node 1) is onlined by the daemon and AllowedCPUs follow. The cgroup's cpuset follows too.
wait_until 60 web_allowed_set || fail "web.service's AllowedCPUs were not set within 60 s"
run plan_before hpctl plan --json
allowed allowed_before
before=$(web_allowed_cpus)
host hotadd_cpu socket=2 || fail "vCPU hot-add refused"
wait_until 30 test -e "$CPU_SYS/cpu2/online" || fail "cpu2 did not appear within 30 s"
wait_until 30 cpu_is_online 2 || fail "cpu2 was not onlined by the daemon within 30 s"
wait_until 30 web_allowed_changed "$before" || fail "web.service's AllowedCPUs stayed $before for 30 s"
run plan_after hpctl plan --json
allowed allowed_after
unit_report
