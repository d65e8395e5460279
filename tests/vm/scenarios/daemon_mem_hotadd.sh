# daemon_mem_hotadd: a 256 MiB pc-dimm into node 1 arrives offline (memhp_default_state=offline); the
# daemon onlines its blocks (auto_online = "online") and node 1's memory in `hpctl status` grows.
hp_load || die "insmod hpnotify.ko failed"
daemon_up
status before
memory_blocks > /tmp/blocks_before
host hotadd_dimm mib=256 node=1 id=dimm_daemon || die "DIMM hot-add refused"
new_blocks() {
	memory_blocks | grep -vxF -f /tmp/blocks_before
}
wait_until 30 sh -c '[ "$(ls -d /sys/devices/system/memory/memory[0-9]* | wc -l)" -ge $(( $(wc -l < /tmp/blocks_before) + 2 )) ]' \
	|| die "the DIMM's blocks did not appear within 30 s"
all_online() {
	for block in $(new_blocks); do
		grep -qx online "$MEM_SYS/memory$block/state" || return 1
	done
}
wait_until 30 all_online || die "the daemon did not online the new blocks within 30 s"
for block in $(new_blocks); do
	echo "$block $(cat "$MEM_SYS/memory$block/state") $(block_node "$block")"
done > /tmp/new_blocks
out new_blocks /tmp/new_blocks
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
