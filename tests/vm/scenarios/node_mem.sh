# node_mem: node 2 has neither CPUs nor memory (boot "memoryless"). A 128 MiB DIMM into node 2 is
# onlined movable (so that it can be offlined again) and offlined: the host expects
# mem_going_online, mem_online, node_mem_added, mem_going_offline, mem_offline, node_mem_removed.
hp_load || die "insmod hpnotify.ko failed"
out_lines block_size "$(block_size)"
out has_memory_before "$NODE_SYS/has_memory"
hotadd_dimm 128 2 node_mem
block=$DIMM_BLOCKS
out_lines block "$block"
watch_start watch
write online online_movable "$MEM_SYS/memory$block/state"
write offline offline "$MEM_SYS/memory$block/state"
watch_stop 6
