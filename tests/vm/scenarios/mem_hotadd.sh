# mem_hotadd: QMP hot-adds a 256 MiB DIMM into node 1 (memhp_default_state=offline: two offline
# 128 MiB blocks), onlines both and offlines the second. The second is onlined movable so that
# offlining it cannot be refused because of unmovable kernel allocations.
hp_load || die "insmod hpnotify.ko failed"
out_lines block_size "$(block_size)"
hotadd_dimm 256 1 mem_hotadd
for block in $DIMM_BLOCKS; do
	echo "$block $(cat "$MEM_SYS/memory$block/phys_index") $(block_node "$block")"
done > /tmp/mem_hotadd.new
out new_blocks /tmp/mem_hotadd.new
set -- $DIMM_BLOCKS
watch_start watch
write online_first online "$MEM_SYS/memory$1/state"
write online_second online_movable "$MEM_SYS/memory$2/state"
write offline_second offline "$MEM_SYS/memory$2/state"
watch_stop 6
