# mem_hotremove_vetoed: memory-notifier-error-inject (after hpnotify in the chain) vetoes
# MEM_GOING_OFFLINE with -EBUSY while QMP asks to eject a 128 MiB DIMM of node 1: the guest refuses the
# removal, the block stays online (mem_going_offline, mem_offline_canceled). With the veto disarmed, a
# second device_del removes it (mem_going_offline, mem_offline).
hp_load || die "insmod hpnotify.ko failed"
out_lines block_size "$(block_size)"
hotadd_dimm 128 1 dimm_vetoed
block=$DIMM_BLOCKS
out_lines block "$block"
write online online_movable "$MEM_SYS/memory$block/state" || die "memory$block: online_movable failed"
grep -q '^memory_notifier_error_inject ' /proc/modules ||
	modprobe memory-notifier-error-inject priority=-1 || die "modprobe memory-notifier-error-inject failed"
actions=/sys/kernel/debug/notifier-error-inject/memory/actions
write inject -16 "$actions/MEM_GOING_OFFLINE/error"
watch_start watch
host remove_dimm id=dimm_vetoed || die "device_del refused"
wait_until 60 lines_at_least 2 "$WATCH_FILE" || die "no offline attempt seen within 60 s of device_del"
watch_stop 2
out state_vetoed "$MEM_SYS/memory$block/state"
echo 0 > "$actions/MEM_GOING_OFFLINE/error"
rmmod memory_notifier_error_inject
watch_start watch_again
host remove_dimm id=dimm_vetoed
rc remove_again $?
wait_until 60 dimm_blocks_gone || echo "memory$block still exists 60 s after the second device_del"
watch_stop 2
out_lines exists_after "$([ -e "$MEM_SYS/memory$block" ] && echo yes || echo no)"
