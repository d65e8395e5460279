# client_virtio_mem: the boot's virtio-mem-pci device on node 1 (128 MiB device blocks) asked to grow
# to 256 MiB (QMP qom-set requested-size) and back to 0. Growing, the virtio_mem driver adds two
# memory blocks that arrive offline and hpplaced onlines them (movable); shrinking, the driver offlines
# and removes them. hpnotify's events carry node 1 and the blocks' ranges; hpplaced's status and the
# service's node-1 buffers follow both ways.
hp_load || die "insmod hpnotify.ko failed"
modprobe virtio_pci || die "modprobe virtio_pci failed"
modprobe virtio_mem || die "modprobe virtio_mem failed"
virtio_mem_bound() {
	ls /sys/bus/virtio/drivers/virtio_mem/ 2>/dev/null | grep -q '^virtio'
}
wait_until 30 virtio_mem_bound || die "the virtio_mem driver did not bind the device within 30 s"
hpplaced_start
service_start
need_cpu2
wait_until 30 plan_settled || die "plan and service did not settle at the start"
status_json before_status
snapshot before
out_lines block_size "$(block_size)"
memory_blocks > /tmp/virtio_mem.before
watch_start grow_watch
host virtio_mem mib=256 || die "requested-size 256 MiB refused"
virtio_blocks() {
	memory_blocks | grep -vxF -f /tmp/virtio_mem.before
}
virtio_blocks_online() {
	[ "$(virtio_blocks | wc -l)" -eq 2 ] || return 1
	for block in $(virtio_blocks); do
		grep -qx online "$MEM_SYS/memory$block/state" || return 1
	done
}
wait_until 60 virtio_blocks_online || die "virtio-mem: 2 online blocks expected within 60 s, got: $(virtio_blocks | tr '\n' ' ')"
watch_stop 4
DIMM_BLOCKS=$(virtio_blocks)
out_dimm_blocks grown_blocks
wait_until 30 plan_settled || die "plan and service did not settle after the growth"
status_json grown_status
snapshot grown
watch_start shrink_watch
host virtio_mem mib=0 || die "requested-size 0 refused"
wait_until 60 dimm_blocks_gone || die "virtio-mem: blocks $(echo $DIMM_BLOCKS) still exist 60 s after shrinking to 0"
watch_stop 4
wait_until 30 plan_settled || die "plan and service did not settle after the shrink"
status_json shrunk_status
snapshot shrunk
out_lines virtio_mem_sysfs "$(cat /sys/bus/virtio/drivers/virtio_mem/virtio*/device 2>/dev/null)"
service_log
