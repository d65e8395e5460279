# harness_wait: the guest's waits are bounded by guest time and say what they waited for. A wait for
# something that never happens, whose every try takes 0.3 s, must give up after its 3 s (not after 30
# tries), naming the command. Its own limit, whatever the run's HPVM_TIMEOUT_SCALE.
HPVM_TIMEOUT_SCALE=1
slow_false() {
	sleep 0.3
	return 1
}
start=$(uptime_cs)
wait_until 3 slow_false never-true > /tmp/harness_wait.out
rc gave_up $?
out_lines waited_cs $(($(uptime_cs) - start))
out said /tmp/harness_wait.out
wait_until 3 true
rc immediate $?
