# client_cpu_reonline: the hot-added cpu2 taken offline and onlined again by hand (echo 1, as an
# operator, a udev rule or cloud-init would; not the daemon) HPVM_REONLINE_ROUNDS times (default 5):
# each time the service has a worker pinned to and running on cpu2 within 10 s, and hpvm-pin-probe,
# pinning itself to cpu2 the moment cpu_online arrives, succeeds.
hp_load || die "insmod hpnotify.ko failed"
client_ready
pin_probe_start
rounds=${HPVM_REONLINE_ROUNDS:-5}
round=1
while [ "$round" -le "$rounds" ]; do
	write "offline_$round" 0 "$CPU_SYS/cpu2/online" || die "round $round: echo 0 > cpu2/online failed"
	wait_until 30 no_worker_on 2 || die "round $round: a worker is still pinned to cpu2 30 s after echo 0"
	start=$(uptime_cs)
	write "online_$round" 1 "$CPU_SYS/cpu2/online" || die "round $round: echo 1 > cpu2/online failed"
	wait_until 10 worker_on 2 ||
		die "round $round: no worker pinned to and running on cpu2 within 10 s of echo 1: $(threads | tr '\n' ';')"
	out_lines "worker_cs_$round" $(($(uptime_cs) - start))
	round=$((round + 1))
done
out_lines rounds "$rounds"
pin_probe_stop "$rounds"
wait_until 30 service_settled || die "the service did not settle after the rounds"
snapshot after
service_log
