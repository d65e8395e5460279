# client_mem_hotadd: a 256 MiB DIMM hot-added into node 1 arrives offline (memhp_default_state=offline);
# hpplaced onlines it, node 1's memory grows, so does the cap on node 1's buffers (max_memory_share), and
# the service's NodeBuffers grow: more of its memory is bound to and resident on node 1.
hp_load || die "insmod hpnotify.ko failed"
hpplaced_start
service_start
need_cpu2
snapshot before
memory_blocks > /tmp/blocks_before
host hotadd_dimm mib=256 node=1 id=dimm_client || die "DIMM hot-add refused"
new_blocks() {
	memory_blocks | grep -vxF -f /tmp/blocks_before
}
blocks_online() {
	[ "$(new_blocks | wc -l)" -eq 2 ] || return 1
	for block in $(new_blocks); do
		grep -qx online "$MEM_SYS/memory$block/state" || return 1
	done
}
wait_until 30 blocks_online || die "the DIMM's two blocks were not both online within 30 s"
for block in $(new_blocks); do
	echo "$block $(cat "$MEM_SYS/memory$block/state") $(block_node "$block")"
done > /tmp/new_blocks
out new_blocks /tmp/new_blocks
wait_until 30 plan_settled || die "plan and service did not settle after the DIMM"
snapshot after
status_json after_status
service_log
