#!/usr/bin/env bash
# Fuzzes every parser of untrusted input with libFuzzer, SECONDS each
# (default 20), from the committed seeds in Fuzz/corpus/TARGET plus what
# earlier runs found (kept in .build-fuzz/corpus, not committed). A crash,
# a leak, an input slower than 10 s or over 2 GiB fails the run; its input
# is left in .build-fuzz/findings/TARGET/ and belongs in Fuzz/crashes/TARGET
# once fixed. Prints one line a target: runs, runs a second, coverage.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
binary=.build-fuzz/debug/perfprobe-fuzz
targets=(elf perf-records proc perf-map http demangle allocator report heap-message call-frames dwarf inline-tree)
failed=0
for target in "${targets[@]}"; do
  work=.build-fuzz/corpus/$target findings=.build-fuzz/findings/$target
  mkdir -p "$work" "$findings"
  log=.build-fuzz/$target.log
  # No Swift backtracer: its reads of the crashed stack are what ASan would report.
  PERFPROBE_FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=1 SWIFT_BACKTRACE=enable=no "$binary" "$work" "Fuzz/corpus/$target" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$findings/" >"$log" 2>&1
  status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
  coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  if [ "$status" -ne 0 ]; then
    failed=1
    echo "$target: FAILED (exit $status) after ${runs:-?} runs; see $log and $findings/"
    grep -m 3 -E 'ERROR|SUMMARY|Test unit written' "$log" | sed 's/^/    /'
  else
    echo "$target: ${runs:-?} runs, ${rate:-?}/s, ${coverage:-cov: ?}, no crash"
  fi
done
exit $failed
