# client_cpu_offline: echo 0 > cpu2/online: the daemon's plan drops cpu2, the service's worker there is
# stopped (and node 1's buffers, which served cpu2 alone, are given back). Then echo 1 (by hand, not the
# daemon): a new worker is pinned to cpu2 again.
hp_load || die "insmod hpnotify.ko failed"
client_ready
snapshot before
write offline 0 "$CPU_SYS/cpu2/online" || die "echo 0 > cpu2/online failed"
wait_until 30 no_worker_on 2 || die "a worker is still pinned to offline cpu2 after 30 s"
wait_until 30 service_settled || die "the service did not settle with cpu2 offline"
snapshot offline
write online 1 "$CPU_SYS/cpu2/online" || die "echo 1 > cpu2/online failed"
wait_until 10 worker_on 2 || die "no worker pinned to and running on cpu2 within 10 s of echo 1: $(threads | tr '\n' ';')"
wait_until 30 service_settled || die "the service did not settle with cpu2 back"
snapshot online
service_log
