# daemon_mem_hotremove_vetoed: memory-notifier-error-inject vetoes MEM_GOING_OFFLINE while a DIMM that
# hpplaced onlined is ejected over QMP: the kernel refuses the removal, hpplaced logs that the kernel
# refused to offline the memory, and its status equals sysfs (node 1 keeps the DIMM's memory). Disarmed,
# a second device_del removes the DIMM and the status follows.
hp_load || die "insmod hpnotify.ko failed"
daemon_up
hotadd_dimm 128 1 dimm_daemon_vetoed
wait_until 30 dimm_blocks_online || die "the daemon did not online the new block within 30 s"
wait_until 30 status_memory_is_sysfs 1 || die "status node 1 memory is not sysfs's $(node_online_bytes 1) after the hot-add"
grep -q '^memory_notifier_error_inject ' /proc/modules ||
	modprobe memory-notifier-error-inject priority=-1 || die "modprobe memory-notifier-error-inject failed"
actions=/sys/kernel/debug/notifier-error-inject/memory/actions
write inject -16 "$actions/MEM_GOING_OFFLINE/error"
host remove_dimm id=dimm_daemon_vetoed || die "device_del refused"
wait_until 60 grep -q 'refused to offline memory' "$DAEMON_LOG" || die "hpplaced logged no refused offline within 60 s of the vetoed removal"
# ACPI tries twice before it gives up: the block is online again once both attempts are over.
refused_and_online() {
	[ "$(grep -c 'refused to offline memory' "$DAEMON_LOG")" -ge 2 ] && grep -qx online "$MEM_SYS/memory$DIMM_BLOCKS/state"
}
wait_until 30 refused_and_online || echo "after 30 s: $(grep -c 'refused to offline memory' "$DAEMON_LOG") refusals logged, memory$DIMM_BLOCKS $(cat "$MEM_SYS/memory$DIMM_BLOCKS/state")"
out_lines state_vetoed "$(cat "$MEM_SYS/memory$DIMM_BLOCKS/state")"
out_lines sysfs_vetoed "$(node_online_bytes 1)"
wait_until 30 status_memory_is_sysfs 1 || die "status node 1 memory is not sysfs's $(node_online_bytes 1) after the refusal"
status vetoed
echo 0 > "$actions/MEM_GOING_OFFLINE/error"
rmmod memory_notifier_error_inject
host remove_dimm id=dimm_daemon_vetoed || die "second device_del refused"
wait_until 60 dimm_blocks_gone || die "memory$DIMM_BLOCKS still exists 60 s after the second device_del"
wait_until 30 status_memory_is_sysfs 1 || die "status node 1 memory is not sysfs's $(node_online_bytes 1) after the removal"
out_lines sysfs_removed "$(node_online_bytes 1)"
status removed
daemon_log
