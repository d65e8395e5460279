# client_python_cpu_hotadd: the Python package (python/hpplace) in the guest. A client registered with
# add_existing=True gets every active CPU and each node's memory replayed, then the events of a vCPU hot-added into node 1 (QMP
# socket 3) and onlined by hpplaced (auto_online); `python3 -m hpplace watch` prints, for the same events,
# the lines `hpctl watch` prints. The kernel numbers the new CPU with the first free id (cpu2 in its own
# boot, client_python).
PY_CLIENT_LOG=/tmp/python_client.log
PY_WATCH=/tmp/python_watch.txt
HP_WATCH=/tmp/hpctl_watch.txt

cpu_ids() {
	for dir in "$CPU_SYS"/cpu[0-9]*; do
		echo "${dir##*/cpu}"
	done
}
# new_cpu: the id of a CPU device that was not there at the start.
new_cpu() {
	for id in $(cpu_ids); do
		case " $cpus_at_start " in
			*" $id "*) ;;
			*) echo "$id"; return 0 ;;
		esac
	done
	return 1
}

hp_load || die "insmod hpnotify.ko failed"
hpplaced_start
cpus_at_start=$(cpu_ids | tr '\n' ' ')
out_lines cpus_before "$(cat "$CPU_SYS/online")"
out_lines status_before "$(hpctl status --json)"
started=$(uptime_cs)
python3 /hp/python_client.py > "$PY_CLIENT_LOG" 2>&1 &
py_client=$!
wait_until 60 grep -q '^connected' "$PY_CLIENT_LOG" || die "the Python client did not connect within 60 s: $(tail -3 "$PY_CLIENT_LOG")"
out_lines python_connect_cs $(($(uptime_cs) - started))
python3 -m hpplace watch > "$PY_WATCH" 2> "$PY_WATCH.err" &
py_watch=$!
hpctl watch > "$HP_WATCH" 2> "$HP_WATCH.err" &
hp_watch=$!
wait_until 60 grep -q 'subscribed to hpplaced' "$PY_WATCH.err" || die "python3 -m hpplace watch did not subscribe: $(cat "$PY_WATCH.err")"
wait_until 5 netlink_subscribed "$hp_watch" || echo "hpctl watch (pid $hp_watch) joined no group within 5 s; going on"

host hotadd_cpu socket=3 || die "vCPU hot-add refused"
wait_until 30 new_cpu > /dev/null || die "no new CPU device within 30 s"
cpu=$(new_cpu)
out_lines new_cpu "$cpu"
wait_until 30 cpu_is_online "$cpu" || die "hpplaced did not online cpu$cpu within 30 s"
out_lines new_cpu_node "$(cpu_node "$cpu")"
wait_until 30 grep -q "^add_complete cpu $cpu .* event" "$PY_CLIENT_LOG" || echo "no add_complete event for cpu$cpu within 30 s"
wait_until 30 grep -q "cpu_online \[kernel\] cpu $cpu " "$PY_WATCH" || echo "python watch printed no cpu_online for cpu$cpu within 30 s"
wait_until 10 grep -q "cpu_online \[kernel\] cpu $cpu " "$HP_WATCH" || echo "hpctl watch printed no cpu_online for cpu$cpu within 10 s"
kill -TERM "$py_client" "$py_watch" "$hp_watch"
wait_until 10 eval '! alive '"$py_client" || echo "the Python client did not stop on SIGTERM within 10 s"
out python_client "$PY_CLIENT_LOG"
out python_watch "$PY_WATCH"
out python_watch.stderr "$PY_WATCH.err"
out hpctl_watch "$HP_WATCH"
out hpctl_watch.stderr "$HP_WATCH.err"
