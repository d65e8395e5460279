# client_mem_hotremove: a 256 MiB DIMM hot-added into node 1 (onlined movable by hpplaced), then
# ejected over QMP device_del: the guest offlines its blocks (migrating the service's node-1 buffer
# pages off them) and removes them; hpplaced counts a mem_block_removed per block, node 1's memory in
# its status returns to the value before the hot-add, and the service's node-1 buffers shrink back.
hp_load || die "insmod hpnotify.ko failed"
client_ready
status_json before_status
snapshot before
hotadd_dimm 256 1 dimm_client_remove
wait_until 30 dimm_blocks_online || die "the DIMM's blocks ($DIMM_BLOCKS) were not all online within 30 s"
out_dimm_blocks new_blocks
wait_until 30 plan_settled || die "plan and service did not settle after the DIMM"
status_json with_status
snapshot with
removed_before=$(events_counted mem_block_removed)
out_lines removed_before "$removed_before"
watch_start watch
host remove_dimm id=dimm_client_remove || die "device_del refused"
wait_until 60 dimm_blocks_gone || die "the DIMM's blocks ($DIMM_BLOCKS) still exist 60 s after device_del"
watch_stop 4
removed_counted() {
	[ "$(events_counted mem_block_removed)" -ge "$1" ]
}
wait_until 30 removed_counted $((removed_before + 2))
wait_until 30 plan_settled || die "plan and service did not settle after the removal"
out_lines removed_after "$(events_counted mem_block_removed)"
status_json after_status
snapshot after
service_log
