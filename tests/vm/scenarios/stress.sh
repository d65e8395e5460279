# stress: one loop toggles cpu1 offline/online and another a hot-added memory block offline/online
# (movable, so that offlining is not refused) while a third unloads and reloads hpnotify
# $HPVM_STRESS_ROUNDS times (default 250: 0.45-0.6 s each under TCG on two busy cores), pausing
# 0, 50 or 200 ms between insmod and rmmod.
# Two kinds of listener:
#  - one `hpctl watch --json --follow` for the whole run (stdout and stderr into one file, so its
#    "module unloaded" / "module is loaded" notes mark the loads among the events): output follow;
#  - every 10th load, a fresh `hpctl watch --json` started after the insmod and left alone across the
#    rmmod: its events are reported as "<load> <json>" lines (output watch), how it ended as a tally
#    (watcher_exits) and its stderr (watcher_stderr).
# The host checks that each listener saw consecutive sequence numbers within each load, and greps
# this section's kernel log for warnings and oopses.
# On a kernel with kmemleak (tests/vm/debug_kernel.py) the leaks suspected at the start are reported
# as output kmemleak_before and cleared; after the run and a last rmmod, those found then are output
# kmemleak (the host wants none).
rounds=${HPVM_STRESS_ROUNDS:-250}
out_lines rounds "$rounds"
rm -f /tmp/stress.stop
: > /tmp/stress.watch
: > /tmp/stress.exits
: > /tmp/stress.stderr
online=$CPU_SYS/cpu1/online
kmemleak=/sys/kernel/debug/kmemleak

hotadd_dimm 128 1 stress
block_state=$MEM_SYS/memory$DIMM_BLOCKS/state
if [ -e "$kmemleak" ]; then
	echo scan > "$kmemleak"
	out kmemleak_before "$kmemleak"
	echo clear > "$kmemleak"
fi

hp_load || die "insmod hpnotify.ko failed"
hpctl watch --json --follow > /tmp/stress.follow 2>&1 &
follower=$!
wait_until 5 netlink_subscribed $follower || echo "stress: the --follow watcher did not subscribe within 5 s"

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

(
	ok=0
	failed=0
	while [ ! -e /tmp/stress.stop ]; do
		if echo online_movable > "$block_state" && echo offline > "$block_state"; then
			ok=$((ok + 1))
		else
			failed=$((failed + 1))
			echo offline > "$block_state"
		fi
	done 2>/dev/null
	printf 'ok %s\nfailed %s\n' "$ok" "$failed" > /tmp/stress.mem_toggles
) &
mem_toggler=$!

not_running() {
	! kill -0 "$1" 2>/dev/null
}

insmod_failed=0
rmmod_refused=0
start=$(date +%s)
load=1
while [ $load -le "$rounds" ]; do
	hp_loaded || insmod /hp/hpnotify.ko || insmod_failed=$((insmod_failed + 1))
	watcher=
	if [ $((load % 10)) -eq 0 ]; then
		hpctl watch --json > /tmp/stress.w 2> /tmp/stress.we &
		watcher=$!
		wait_until 5 netlink_subscribed $watcher
	fi
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
	if [ -n "$watcher" ]; then
		if wait_until 2 not_running $watcher; then
			wait $watcher
			echo "exited-$?" >> /tmp/stress.exits
		else
			kill $watcher
			wait $watcher
			echo "still-running-2s-after-rmmod" >> /tmp/stress.exits
		fi
		sed "s/^/$load /" /tmp/stress.w >> /tmp/stress.watch
		sed "s/^/$load /" /tmp/stress.we >> /tmp/stress.stderr
	fi
	load=$((load + 1))
done
echo "stress: $rounds loads in $(($(date +%s) - start)) s"
touch /tmp/stress.stop
wait $toggler
wait $mem_toggler
hp_load || die "insmod hpnotify.ko failed after the loop"
sleep 0.5
if kill -0 $follower 2>/dev/null; then
	kill $follower
	follower_exited=0
else
	follower_exited=1
fi
wait $follower
rc follow.exited $follower_exited
out follow /tmp/stress.follow
out toggles /tmp/stress.toggles
out mem_toggles /tmp/stress.mem_toggles
printf 'insmod %s\nrmmod %s\n' "$insmod_failed" "$rmmod_refused" > /tmp/stress.failures
out failures /tmp/stress.failures
sort /tmp/stress.exits | uniq -c | sed 's/^ *//' > /tmp/stress.exit_counts
out watcher_exits /tmp/stress.exit_counts
out watcher_stderr /tmp/stress.stderr
out watch /tmp/stress.watch

if [ -e "$kmemleak" ]; then
	rmmod hpnotify || die "rmmod hpnotify failed after the run"
	unloaded=$(uptime_cs)
	# kmemleak reports only objects older than 5 s (its fixed minimum age): scan once the last load's
	# are, twice, as its documentation advises against transient false positives.
	old_enough() {
		[ "$(uptime_cs)" -ge $((unloaded + 600)) ]
	}
	wait_until 10 old_enough
	echo scan > "$kmemleak"
	echo scan > "$kmemleak"
	out kmemleak "$kmemleak"
	rc kmemleak.checked 0
fi
