# client_mem_hotadd: a 256 MiB DIMM hot-added into node 1 arrives offline (memhp_default_state=offline);
# hpplaced onlines it, node 1's memory grows, so does the cap on node 1's buffers (max_memory_share), and
# the service's NodeBuffers grow: more of its memory is bound to and resident on node 1.
hp_load || die "insmod hpnotify.ko failed"
hpplaced_start
service_start
need_cpu2
snapshot before
hotadd_dimm 256 1 dimm_client
wait_until 30 dimm_blocks_online || die "the DIMM's blocks ($DIMM_BLOCKS) were not all online within 30 s"
out_dimm_blocks new_blocks
wait_until 30 plan_settled || die "plan and service did not settle after the DIMM"
snapshot after
status_json after_status
service_log
