# client_restart: SIGTERM hpplaced and start it again: the service lives on with its workers and buffers
# while the daemon is away, reconnects, registers its workload again and keeps the same threads (same
# thread ids, same CPUs) and buffers.
hp_load || die "insmod hpnotify.ko failed"
hpplaced_start
service_start
wait_until 30 service_settled || die "the service is not settled at the start"
out_lines service_pid "$(service_pid)"
snapshot before
connects_before=$(grep -c '^hpplaced connected' "$SERVICE_LOG")
hpplaced_stop || die "hpplaced did not exit within 10 s of SIGTERM"
wait_until 10 grep -q '^hpplaced disconnected' "$SERVICE_LOG" || die "the service did not notice the daemon left"
sleep 1
threads > /tmp/threads_away
out away_threads /tmp/threads_away
hpplaced_start
reconnected() {
	[ "$(grep -c '^hpplaced connected' "$SERVICE_LOG")" -gt "$connects_before" ]
}
wait_until 30 reconnected || die "the service did not reconnect within 30 s"
wait_until 30 registered || die "the new hpplaced has no plan for workload svc within 30 s"
wait_until 30 plan_settled || die "the service did not settle after the restart"
out_lines service_pid_after "$(service_pid)"
snapshot after
service_log
hpplaced_log
