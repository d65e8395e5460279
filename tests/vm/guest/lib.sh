# Guest helpers for VM scenarios, sourced by /hp/scenario.sh (installed as /hp/lib.sh).
# The markers they print are described in tests/vm/vmlib.py. Every output goes to ttyS1.

SCENARIO=main
# The host's $HPVM_* (run_tests.py), e.g. HPVM_TIMEOUT_SCALE, which wait_until obeys.
if [ -f /hp/params.sh ]; then
	. /hp/params.sh
fi
CPU_SYS=/sys/devices/system/cpu
MEM_SYS=/sys/devices/system/memory
NODE_SYS=/sys/devices/system/node

# section NAME SCRIPT: runs SCRIPT in a subshell as scenario section NAME. Marks the section in the
# kernel log too ("hpvm: begin NAME"), so the host can check the kernel log of each section.
section() {
	SCENARIO=$1
	echo "@@BEGIN $1"
	echo "hpvm: begin $1" > /dev/kmsg
	( . "$2"; exit 0 )
	status=$?
	echo "hpvm: end $1" > /dev/kmsg
	echo "@@END $1 $status"
	SCENARIO=main
	return 0
}

# out NAME FILE: reports every line of FILE as output NAME (a missing file reports no lines).
out() {
	if [ -f "$2" ]; then
		sed "s|^|@@OUT $SCENARIO/$1: |" "$2"
	fi
	echo "@@OUTEND $SCENARIO/$1"
}

# out_lines NAME LINE...: reports the given lines as output NAME.
out_lines() {
	name=$1
	shift
	printf '%s\n' "$@" | sed "s|^|@@OUT $SCENARIO/$name: |"
	echo "@@OUTEND $SCENARIO/$name"
}

# rc NAME STATUS: reports the exit status of step NAME.
rc() {
	echo "@@RC $SCENARIO/$1 $2"
}

# run NAME COMMAND...: runs COMMAND, reports its stdout as NAME, its stderr as NAME.stderr and its
# exit status as rc NAME; returns that status.
run() {
	name=$1
	shift
	"$@" > "/tmp/$SCENARIO.$name.out" 2> "/tmp/$SCENARIO.$name.err"
	status=$?
	out "$name" "/tmp/$SCENARIO.$name.out"
	out "$name.stderr" "/tmp/$SCENARIO.$name.err"
	rc "$name" "$status"
	return $status
}

# write NAME VALUE FILE: run NAME for `echo VALUE > FILE` (a sysfs write).
write() {
	run "$1" sh -c "echo $2 > $3"
}

# host ACTION [k=v ...]: asks the host to act (QMP) and waits for its answer; 0 when it said ok.
host() {
	echo "@@HOST $*"
	reply=
	read -r -t 60 reply < /dev/ttyS1
	if [ "$reply" = ok ]; then
		return 0
	fi
	echo "host $1: ${reply:-no answer within 60 s}"
	return 1
}

# uptime_cs: the guest's CLOCK_BOOTTIME in centiseconds (/proc/uptime), the clock every wait uses: a
# count of tries would stretch with the time each try takes on a loaded TCG host.
uptime_cs() {
	read -r up _ < /proc/uptime
	echo $((${up%.*} * 100 + 1${up#*.} - 100))
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds; 1 once SECONDS (times
# $HPVM_TIMEOUT_SCALE) of guest time have passed, after saying what it waited for and how long (a wait
# that gives up is not a stall).
wait_until() {
	wait_limit=$(($1 * ${HPVM_TIMEOUT_SCALE:-1}))
	shift
	wait_deadline=$(($(uptime_cs) + wait_limit * 100))
	while ! "$@"; do
		wait_now=$(uptime_cs)
		if [ "$wait_now" -ge "$wait_deadline" ]; then
			echo "wait_until: gave up after ${wait_limit} s waiting for: $*"
			return 1
		fi
		sleep 0.1
	done
	return 0
}

# die MESSAGE: prints MESSAGE and ends the section with status 1.
die() {
	echo "FAIL: $*"
	exit 1
}

hp_loaded() {
	grep -q '^hpnotify ' /proc/modules
}

# hp_load: loads /hp/hpnotify.ko unless loaded.
hp_load() {
	hp_loaded || insmod /hp/hpnotify.ko
}

# hp_unload: unloads hpnotify if loaded.
hp_unload() {
	! hp_loaded || rmmod hpnotify
}

# memory_blocks: the memory block numbers, one per line, sorted.
memory_blocks() {
	for block in "$MEM_SYS"/memory[0-9]*; do
		echo "${block##*/memory}"
	done | sort -n
}

# hotadd_dimm MIB NODE ID: asks the host to hot-add a MIB MiB pc-dimm with id ID into NODE, waits (20 s)
# until all its memory blocks appear and sets DIMM_BLOCKS to their numbers (sorted); dies otherwise.
hotadd_dimm() {
	memory_blocks > "/tmp/dimm.$3.before"
	dimm_want=$(( ($1 << 20) / $(block_size) ))
	host hotadd_dimm "mib=$1" "node=$2" "id=$3" || die "DIMM $3 hot-add refused"
	wait_until 20 dimm_blocks_appeared "$3" "$dimm_want" ||
		die "DIMM $3: $dimm_want new memory blocks expected within 20 s, got: $(dimm_new_blocks "$3")"
	DIMM_BLOCKS=$(dimm_new_blocks "$3")
}
# dimm_blocks_online: every block of DIMM_BLOCKS is online.
dimm_blocks_online() {
	for block in $DIMM_BLOCKS; do
		grep -qx online "$MEM_SYS/memory$block/state" || return 1
	done
}
# out_dimm_blocks NAME: reports "block state node" of each block of DIMM_BLOCKS as output NAME.
out_dimm_blocks() {
	for block in $DIMM_BLOCKS; do
		echo "$block $(cat "$MEM_SYS/memory$block/state") $(block_node "$block")"
	done > "/tmp/dimm_blocks.$1"
	out "$1" "/tmp/dimm_blocks.$1"
}
dimm_new_blocks() {
	memory_blocks | grep -vxF -f "/tmp/dimm.$1.before"
}
dimm_blocks_appeared() {
	[ "$(dimm_new_blocks "$1" | wc -l)" -ge "$2" ]
}

# dimm_blocks_gone: no block of DIMM_BLOCKS exists any more (the DIMM was ejected).
dimm_blocks_gone() {
	for block in $DIMM_BLOCKS; do
		[ ! -e "$MEM_SYS/memory$block" ] || return 1
	done
}

# node_online_bytes NODE: bytes of the online memory blocks of NODE, from sysfs. A block reads
# "going-offline" while an offline is tried (virtio-mem retries a vetoed one on its own) and stays
# online if it fails: it counts as online, as the daemon counts it.
node_online_bytes() {
	node_blocks=0
	for block in "$NODE_SYS/node$1"/memory[0-9]*; do
		[ -e "$block/state" ] && grep -qx -e online -e going-offline "$block/state" &&
			node_blocks=$((node_blocks + 1))
	done
	echo $((node_blocks * $(block_size)))
}

# status_memory_is_sysfs NODE: the daemon's status (hpctl, JSON keys sorted: a node is
# {"cpus":[...],"id":N,"memory_bytes":N}) has NODE's online memory as sysfs counts it.
status_memory_is_sysfs() {
	hpctl status --json 2>/dev/null | tr -d ' \n' | grep -q '"id":'"$1"',"memory_bytes":'"$(node_online_bytes "$1")"'[,}]'
}

# cpu_is_online CPU / cpu_node CPU (the node of CPU, from its nodeN link in sysfs)
cpu_is_online() {
	[ "$(cat "$CPU_SYS/cpu$1/online" 2>/dev/null)" = 1 ]
}
cpu_node() {
	for link in "$CPU_SYS/cpu$1"/node[0-9]*; do
		[ -e "$link" ] && echo "${link##*/node}"
	done
}

# need_present_cpu2: cpu2 (socket 2, node 1) present and online; hot-adds and onlines it when a
# scenario runs alone.
need_present_cpu2() {
	if [ ! -e "$CPU_SYS/cpu2" ]; then
		host hotadd_cpu socket=2 || die "vCPU hot-add refused"
		wait_until 30 test -e "$CPU_SYS/cpu2/online" || die "cpu2 did not appear within 30 s"
	fi
	cpu_is_online 2 || echo 1 > "$CPU_SYS/cpu2/online" 2>/dev/null
	wait_until 30 cpu_is_online 2 || die "cpu2 is not online"
}

# block_size: bytes per memory block (decimal).
block_size() {
	echo $((0x$(cat "$MEM_SYS/block_size_bytes")))
}

# block_node N: the node memory block N belongs to.
block_node() {
	for link in "$MEM_SYS/memory$1"/node[0-9]*; do
		echo "${link##*/node}"
		return
	done
}

# netlink_subscribed PID: PID has exited, or owns a generic netlink socket that joined a multicast
# group (a nonzero Groups word in /proc/net/netlink, which shows groups 0-31).
netlink_subscribed() {
	kill -0 "$1" 2>/dev/null || return 0
	ls -l /proc/"$1"/fd 2>/dev/null | awk '
		NR == FNR { if (match($0, /socket:\[[0-9]+\]/)) sockets[substr($0, RSTART + 8, RLENGTH - 9)] = 1; next }
		$2 == 16 && $4 != "00000000" && $4 != "00008000" && ($10 in sockets) { found = 1 }
		END { exit !found }' - /proc/net/netlink
}

# watch_start NAME [hpctl args]: starts `hpctl watch --json` in the background (output in a file) and
# waits until it has joined the events group (at most 5 s).
watch_start() {
	WATCH_NAME=$1
	shift
	WATCH_FILE=/tmp/$SCENARIO.$WATCH_NAME.json
	hpctl watch --json "$@" > "$WATCH_FILE" 2> "$WATCH_FILE.err" &
	WATCH_PID=$!
	if ! wait_until 5 netlink_subscribed "$WATCH_PID"; then
		echo "watch_start: hpctl watch (pid $WATCH_PID) joined no group 0-31 within 5 s; going on"
	fi
}

# lines_at_least N FILE
lines_at_least() {
	[ "$(wc -l < "$2")" -ge "$1" ]
}

# watch_stop [N]: waits (at most 10 s) until the watcher printed N lines, gives it 0.3 s more, stops
# it and reports its output as NAME, its stderr as NAME.stderr, rc NAME (143 when we stopped it) and
# rc NAME.exited (1 when it had already exited on its own).
watch_stop() {
	wait_until 10 lines_at_least "${1:-0}" "$WATCH_FILE"
	sleep 0.3
	if kill -0 "$WATCH_PID" 2>/dev/null; then
		kill "$WATCH_PID"
		exited=0
	else
		exited=1
	fi
	wait "$WATCH_PID"
	status=$?
	out "$WATCH_NAME" "$WATCH_FILE"
	out "$WATCH_NAME.stderr" "$WATCH_FILE.err"
	rc "$WATCH_NAME" "$status"
	rc "$WATCH_NAME.exited" "$exited"
}
