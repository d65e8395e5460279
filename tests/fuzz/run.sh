#!/bin/sh
# Runs every fuzz harness in turn and prints one table (also written to
# BUILD_DIR/fuzz-report.txt):
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [RUNS] [HARNESS...]
#
# Each harness runs for SECONDS (0: no time limit) or RUNS executions (when
# given and not 0), whichever comes first, with -timeout=2 -rss_limit_mb=512
# -max_len=4096 (the regressions hold longer inputs; longer mutations only slow
# the search down), or the -max_len=N on the harness's line in CMakeLists.txt.
# Seeds come from tests/fuzz/corpus/NAME and regressions/NAME; new inputs go to
# BUILD_DIR/fuzz/NAME/corpus (kept: the next run goes on from there), findings
# to BUILD_DIR/fuzz/NAME/ (crash-*, leak-*, timeout-*, oom-*), the log to
# BUILD_DIR/fuzz/NAME/log.
# Exit status 1 when any harness found something.
set -eu

build=$1
seconds=$2
runs=${3:-0}
[ $# -ge 3 ] && shift 3 || shift $#
here=$(cd "$(dirname "$0")" && pwd)
harnesses=${*:-$(sed -n '/^set(HPPLACE_FUZZ_HARNESSES/,/)/{s/^  \([a-z_]*\).*/\1/p}' "$here/CMakeLists.txt")}

# ASan records the stack of every allocation and free for its reports; that
# was an eighth to a sixth of the control and client harnesses' time. It finds
# the same errors with one frame of each: a report then lacks the callers, and
# running its input alone (bin/fuzz_NAME crash-...) prints them. The caller's
# ASAN_OPTIONS come after, so they win.
ASAN_OPTIONS="malloc_context_size=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export ASAN_OPTIONS

report="$build/fuzz-report.txt"
# load: /proc/loadavg's 1-minute figure when the harness started and ended.
printf '%-16s %10s %8s %7s %6s %6s %8s %11s %s\n' harness execs exec/s seconds cov ft crashes load log > "$report"
failed=0
for name in $harnesses; do
	work="$build/fuzz/$name"
	mkdir -p "$work/corpus"
	rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
	max_len=$(sed -n "/^set(HPPLACE_FUZZ_HARNESSES/,/)/{s/^  $name .*-max_len=\([0-9]*\).*/\1/p}" "$here/CMakeLists.txt")
	set -- -max_total_time="$seconds" -timeout=2 -rss_limit_mb=512 -max_len="${max_len:-4096}" -print_final_stats=1 \
		-artifact_prefix="$work/"
	[ "$runs" != 0 ] && set -- "$@" -runs="$runs"
	[ -f "$here/$name.dict" ] && set -- "$@" -dict="$here/$name.dict"
	set -- "$@" "$work/corpus" "$here/corpus/$name"
	[ -d "$here/regressions/$name" ] && set -- "$@" "$here/regressions/$name"
	echo "fuzz: $name (-max_total_time=$seconds -runs=$runs -max_len=${max_len:-4096})" >&2
	status=0
	load_start=$(cut -d' ' -f1 /proc/loadavg)
	start=$(date +%s)
	"$build/bin/fuzz_$name" "$@" > "$work/log" 2>&1 || status=$?
	seconds_run=$(($(date +%s) - start))
	load_end=$(cut -d' ' -f1 /proc/loadavg)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -n 1)
	# The last status line ("#123 DONE cov: 456 ft: 789 corp: ...") has the final coverage.
	cov=$(sed -n 's/^#[0-9]*[^c]*cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \2/p' "$work/log" | tail -n 1)
	cov=${cov:-? ?}
	crashes=$(find "$work" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
	if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
		crashes=1  # died without an artifact (see its log)
	fi
	[ "$crashes" -ne 0 ] && failed=1
	printf '%-16s %10s %8s %7s %6s %6s %8s %11s %s\n' "$name" "${execs:-?}" "${rate:-?}" "$seconds_run" "${cov% *}" \
		"${cov#* }" "$crashes" "$load_start-$load_end" "$work/log" >> "$report"
done
cat "$report"
exit $failed
