# mem_online_vetoed: memory-notifier-error-inject (priority -1: after hpnotify in the chain) vetoes
# the next MEM_GOING_ONLINE with -ENOMEM; onlining a hot-added block fails. Host expects
# mem_going_online then mem_online_canceled for that block.
hp_load || die "insmod hpnotify.ko failed"
out_lines block_size "$(block_size)"
memory_blocks > /tmp/mem_vetoed.before
new_block() {
	memory_blocks | grep -vxF -f /tmp/mem_vetoed.before | head -n 1
}
has_new_block() {
	[ -n "$(new_block)" ]
}
host hotadd_dimm mib=128 node=1 id=mem_vetoed || die "DIMM hot-add refused"
wait_until 20 has_new_block || die "no new memory block within 20 s"
block=$(new_block)
out_lines block "$block"
modprobe memory-notifier-error-inject priority=-1 || die "modprobe memory-notifier-error-inject failed"
actions=/sys/kernel/debug/notifier-error-inject/memory/actions
write inject -12 "$actions/MEM_GOING_ONLINE/error"
watch_start watch
write online online "$MEM_SYS/memory$block/state"
watch_stop 2
echo 0 > "$actions/MEM_GOING_ONLINE/error"
rmmod memory_notifier_error_inject
out state_after "$MEM_SYS/memory$block/state"
