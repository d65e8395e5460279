# client_virtio_mem: the boot's virtio-mem-pci device on node 1 (128 MiB device blocks) asked to grow
# to 256 MiB (QMP qom-set requested-size) and back to 0. Growing, the virtio_mem driver adds two
# memory blocks that arrive offline and hpplaced onlines them (movable); shrinking, the driver offlines
# and removes them. hpnotify's events carry node 1 and the blocks' ranges; hpplaced's status and the
# service's node-1 buffers follow both ways. A first shrink is vetoed on purpose: refused, logged, status
# still equal to sysfs.
hp_load || die "insmod hpnotify.ko failed"
modprobe virtio_pci || die "modprobe virtio_pci failed"
modprobe virtio_mem || die "modprobe virtio_mem failed"
virtio_mem_bound() {
	ls /sys/bus/virtio/drivers/virtio_mem/ 2>/dev/null | grep -q '^virtio'
}
wait_until 30 virtio_mem_bound || die "the virtio_mem driver did not bind the device within 30 s"
client_ready
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
# A shrink the kernel cannot satisfy: offlining is vetoed (memory-notifier-error-inject), the driver
# keeps its memory; hpplaced logs the refusal and its status stays equal to sysfs.
grep -q '^memory_notifier_error_inject ' /proc/modules ||
	modprobe memory-notifier-error-inject priority=-1 || die "modprobe memory-notifier-error-inject failed"
actions=/sys/kernel/debug/notifier-error-inject/memory/actions
# One watcher from here on: the driver retries on its own, so the shrink may complete any time after
# the veto is lifted, before or after it is asked again.
watch_start shrink_watch
write inject -16 "$actions/MEM_GOING_OFFLINE/error"
host virtio_mem mib=0 || die "requested-size 0 refused"
wait_until 60 grep -q 'refused to offline memory' "$HPPLACED_LOG" || die "hpplaced logged no refused offline within 60 s of the vetoed shrink"
wait_until 30 status_memory_is_sysfs 1 || die "status node 1 memory is not sysfs's $(node_online_bytes 1) after the refusal"
status_json refused_status
out_lines refused_sysfs "$(node_online_bytes 1)"
echo 0 > "$actions/MEM_GOING_OFFLINE/error"
rmmod memory_notifier_error_inject
# Asked again (a new requested size is a new request), in case the driver's own retry is slow.
host virtio_mem mib=128 || die "requested-size 128 MiB refused"
host virtio_mem mib=0 || die "requested-size 0 refused"
wait_until 60 dimm_blocks_gone || die "virtio-mem: blocks $(echo $DIMM_BLOCKS) still exist 60 s after shrinking to 0"
watch_stop 6
wait_until 30 plan_settled || die "plan and service did not settle after the shrink"
status_json shrunk_status
snapshot shrunk
service_log
hpplaced_log
