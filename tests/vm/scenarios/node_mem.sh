# node_mem: node 2 has neither CPUs nor memory (boot "memoryless"). A 128 MiB DIMM into node 2 is
# onlined movable (so that it can be offlined again) and offlined: the host expects
# mem_going_online, mem_online, node_mem_added, mem_going_offline, mem_offline, node_mem_removed.
hp_load || die "insmod hpnotify.ko failed"
out_lines block_size "$(block_size)"
out has_memory_before "$NODE_SYS/has_memory"
memory_blocks > /tmp/node_mem.before
new_block() {
	memory_blocks | grep -vxF -f /tmp/node_mem.before | head -n 1
}
has_new_block() {
	[ -n "$(new_block)" ]
}
host hotadd_dimm mib=128 node=2 id=node_mem || die "DIMM hot-add refused"
wait_until 20 has_new_block || die "no new memory block within 20 s"
block=$(new_block)
out_lines block "$block"
watch_start watch
write online online_movable "$MEM_SYS/memory$block/state"
write offline offline "$MEM_SYS/memory$block/state"
watch_stop 6
