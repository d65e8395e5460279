# client_cpu_offline: echo 0 > cpu2/online: the daemon's plan drops cpu2, the service's worker there is
# stopped (and node 1's buffers, which served cpu2 alone, are given back). cpu2 stays offline: onlining
# a hot-added vCPU a second time stalled this TCG guest once (see tests/vm/README.md).
hp_load || die "insmod hpnotify.ko failed"
hpplaced_start
service_start
need_cpu2
wait_until 30 service_settled || die "the service is not settled at the start"
snapshot before
write offline 0 "$CPU_SYS/cpu2/online" || die "echo 0 > cpu2/online failed"
wait_until 30 no_worker_on 2 || die "a worker is still pinned to offline cpu2 after 30 s"
wait_until 30 service_settled || die "the service did not settle with cpu2 offline"
snapshot offline
service_log
