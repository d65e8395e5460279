# state_dump: `hpctl kernel-state --json` against sysfs, after the scenarios before it changed CPUs
# and memory. Per node: its cpulist and its online memory blocks (x block_size_bytes).
hp_load || die "insmod hpnotify.ko failed"
out_lines block_size "$(block_size)"
for kind in possible present online; do
	echo "$kind $(cat "$CPU_SYS/$kind")"
done > /tmp/state_dump.cpus
out sysfs_cpus /tmp/state_dump.cpus
for node in "$NODE_SYS"/node[0-9]*; do
	online=0
	for block in "$node"/memory[0-9]*; do
		[ -e "$block/state" ] && [ "$(cat "$block/state")" = online ] && online=$((online + 1))
	done
	cpus=$(cat "$node/cpulist")
	echo "${node##*/node} ${cpus:--} $online"
done > /tmp/state_dump.nodes
out sysfs_nodes /tmp/state_dump.nodes
run state hpctl kernel-state --json
