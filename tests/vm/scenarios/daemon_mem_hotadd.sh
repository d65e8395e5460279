# daemon_mem_hotadd: a 256 MiB pc-dimm into node 1 arrives offline (memhp_default_state=offline); the
# daemon onlines its blocks (auto_online = "online_movable") and node 1's memory in `hpctl status` grows.
hp_load || die "insmod hpnotify.ko failed"
daemon_up
status before
hotadd_dimm 256 1 dimm_daemon
wait_until 30 dimm_blocks_online || die "the daemon did not online the new blocks within 30 s"
out_dimm_blocks new_blocks
out block_size_hex "$MEM_SYS/block_size_bytes"
node1_memory_grew() {
	hpctl status --json | tr -d ' \n' > /tmp/status_now
	! cmp -s /tmp/status_now "/tmp/$SCENARIO.before.json.flat"
}
tr -d ' \n' < "/tmp/$SCENARIO.before.json" > "/tmp/$SCENARIO.before.json.flat"
wait_until 20 node1_memory_grew || die "status did not change after onlining"
sleep 1
status after
daemon_log
