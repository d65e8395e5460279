# mem_online_vetoed: memory-notifier-error-inject (priority -1: after hpnotify in the chain) vetoes
# the next MEM_GOING_ONLINE with -ENOMEM; onlining a hot-added block fails. Host expects
# mem_going_online then mem_online_canceled for that block.
hp_load || die "insmod hpnotify.ko failed"
out_lines block_size "$(block_size)"
hotadd_dimm 128 1 mem_vetoed
block=$DIMM_BLOCKS
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
