# stress: one loop toggles cpu1 offline/online while the other unloads and reloads hpnotify
# $HPVM_STRESS_ROUNDS times (default 300). After each insmod a fresh `hpctl watch --json` listens
# until the rmmod; its lines are reported prefixed with the load number, so the host can check that
# the events each listener saw within one load have consecutive sequence numbers. How the watcher
# ends after the rmmod is tallied in watcher_exits. The host also greps this section's kernel log.
. /hp/params.sh
rounds=${HPVM_STRESS_ROUNDS:-300}
out_lines rounds "$rounds"
rm -f /tmp/stress.stop
: > /tmp/stress.watch
: > /tmp/stress.exits
: > /tmp/stress.stderr
online=$CPU_SYS/cpu1/online

(
	ok=0
	failed=0
	while [ ! -e /tmp/stress.stop ]; do
		if echo 0 > "$online" && echo 1 > "$online"; then
			ok=$((ok + 1))
		else
			failed=$((failed + 1))
			echo 1 > "$online"
		fi
	done 2>/dev/null
	printf 'ok %s\nfailed %s\n' "$ok" "$failed" > /tmp/stress.toggles
) &
toggler=$!

not_running() {
	! kill -0 "$1" 2>/dev/null
}

insmod_failed=0
rmmod_refused=0
start=$(date +%s)
load=1
while [ $load -le "$rounds" ]; do
	hp_loaded || insmod /hp/hpnotify.ko || insmod_failed=$((insmod_failed + 1))
	hpctl watch --json > /tmp/stress.w 2> /tmp/stress.we &
	watcher=$!
	wait_until 5 netlink_subscribed $watcher
	case $((load % 3)) in
	1) sleep 0.2 ;;
	2) sleep 0.05 ;;
	esac
	tries=0
	until rmmod hpnotify 2>/dev/null; do
		rmmod_refused=$((rmmod_refused + 1))
		tries=$((tries + 1))
		[ $tries -lt 100 ] || die "rmmod hpnotify refused 100 times in a row (load $load)"
		sleep 0.05
	done
	if wait_until 2 not_running $watcher; then
		wait $watcher
		echo "exited-$?" >> /tmp/stress.exits
	else
		kill $watcher
		wait $watcher
		echo "still-running" >> /tmp/stress.exits
	fi
	sed "s/^/$load /" /tmp/stress.w >> /tmp/stress.watch
	sed "s/^/$load /" /tmp/stress.we >> /tmp/stress.stderr
	load=$((load + 1))
done
echo "stress: $rounds loads in $(($(date +%s) - start)) s"
touch /tmp/stress.stop
wait $toggler
hp_load
out toggles /tmp/stress.toggles
printf 'insmod %s\nrmmod %s\n' "$insmod_failed" "$rmmod_refused" > /tmp/stress.failures
out failures /tmp/stress.failures
sort /tmp/stress.exits | uniq -c | sed 's/^ *//' > /tmp/stress.exit_counts
out watcher_exits /tmp/stress.exit_counts
tail -n 5 /tmp/stress.stderr > /tmp/stress.stderr_tail
out watcher_stderr_tail /tmp/stress.stderr_tail
out watch /tmp/stress.watch
