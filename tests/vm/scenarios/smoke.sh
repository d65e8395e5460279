# smoke: the guest boots in the two-node layout and a QMP DIMM hot-add shows up (no module needed).
out possible "$CPU_SYS/possible"
out present "$CPU_SYS/present"
out online "$CPU_SYS/online"
for node in "$NODE_SYS"/node[0-9]*; do
	echo "${node##*/node} $(cat "$node/cpulist")"
done > /tmp/smoke.nodes
out nodes /tmp/smoke.nodes
out_lines block_size "$(block_size)"

list_blocks() {
	for block in $(memory_blocks); do
		echo "$block $(cat "$MEM_SYS/memory$block/state") $(block_node "$block")"
	done
}
list_blocks > /tmp/smoke.before
out blocks_before /tmp/smoke.before
count=$(wc -l < /tmp/smoke.before)
more_blocks() {
	[ "$(memory_blocks | wc -l)" -gt "$count" ]
}
host hotadd_dimm mib=128 node=1 id=smoke || die "DIMM hot-add refused"
wait_until 20 more_blocks || die "no new memory block within 20 s"
list_blocks > /tmp/smoke.after
out blocks_after /tmp/smoke.after
