# client_cpu_hotadd: a vCPU hot-added into node 1 (QMP socket 2) is onlined by hpplaced (auto_online);
# the daemon's new plan reaches hpplace-example-service through libhpplace, whose WorkerPool starts a
# worker pinned to the new CPU, and that worker runs there. The other workers are left alone.
hp_load || die "insmod hpnotify.ko failed"
hpplaced_start
service_start
snapshot before
host hotadd_cpu socket=2 || die "vCPU hot-add refused"
wait_until 30 cpu_is_online 2 || die "hpplaced did not online cpu2 within 30 s"
out_lines cpu2_node "$(cpu_node 2)"
wait_until 30 worker_on 2 || die "no worker pinned to and running on cpu2 within 30 s: $(threads | tr '\n' ';')"
wait_until 30 service_settled || die "the service did not settle after the hot-add"
snapshot after
service_log
