# mem_hotremove: a 256 MiB DIMM into node 1, both blocks onlined movable, then QMP device_del: the
# guest offlines both blocks and ejects the DIMM. Host expects mem_going_offline, mem_offline for each
# block (node 1, the block's range), the blocks gone and node 1's online memory back where it was.
hp_load || die "insmod hpnotify.ko failed"
out_lines block_size "$(block_size)"
out_lines node1_before "$(node_online_bytes 1)"
hotadd_dimm 256 1 dimm_remove
for block in $DIMM_BLOCKS; do
	write "online_$block" online_movable "$MEM_SYS/memory$block/state" || die "memory$block: online_movable failed"
done
out_lines blocks $DIMM_BLOCKS
out_lines node1_with_dimm "$(node_online_bytes 1)"
watch_start watch
host remove_dimm id=dimm_remove || die "device_del refused"
wait_until 60 dimm_blocks_gone || die "the DIMM's blocks ($DIMM_BLOCKS) still exist 60 s after device_del"
watch_stop 4
out_lines node1_after "$(node_online_bytes 1)"
