#!/usr/bin/env python3
"""Overhead of perfprobe on a fixed-work program, as ratios measured side by
side in one run: the bare program, `perfprobe run`, and `perf record` at the
same frequency, interleaved, several runs each; medians reported.

The target (samples/build/fixed_work) reports its own wall and CPU time, so
"target" ratios are what profiling costs the program under test; "command"
CPU adds the profiler's own CPU (agent or perf) on top. Not a test: it prints
figures and never fails on a slow machine.
"""
import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERFPROBE = os.path.join(ROOT, ".build/release/perfprobe")
FIXED_WORK = os.path.join(ROOT, "samples/build/fixed_work")


def run(command, scratch):
    """Runs `command`; returns the target's own figures and the command's."""
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=scratch)
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - start
    if status != 0:
        sys.exit(f"failed ({status}): {' '.join(command)}")
    target = next(json.loads(line) for line in output.splitlines() if line.startswith('{"wall_seconds"'))
    return {
        "target_wall": target["wall_seconds"],
        "target_cpu": target["cpu_seconds"],
        "command_wall": wall,
        "command_cpu": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="runs of each mode (default 7)")
    parser.add_argument("--frequency", type=int, default=99, help="sampling frequency in Hz (default 99)")
    parser.add_argument("--rounds", type=int, default=18000, help="fixed_work rounds (default 18000, about 3 s)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    for path in (PERFPROBE, FIXED_WORK):
        if not os.path.exists(path):
            sys.exit(f"missing {path}: run `make bench`, which builds it")
    perf = shutil.which("perf")

    scratch = tempfile.mkdtemp(prefix="perfprobe-bench-")
    target = [FIXED_WORK, str(args.rounds)]
    modes = {
        "bare": target,
        "perfprobe": [PERFPROBE, "run", "--frequency", str(args.frequency), "--output", "pp", "--"] + target,
    }
    if perf:
        modes["perf record -g"] = [perf, "record", "-q", "-g", "-F", str(args.frequency), "-o", "perf.data", "--"] + target
    results = {mode: [] for mode in modes}
    run(target, scratch)  # warm the page cache
    for _ in range(args.runs):
        for mode, command in modes.items():
            results[mode].append(run(command, scratch))
    shutil.rmtree(scratch, ignore_errors=True)

    medians = {mode: {key: statistics.median(r[key] for r in runs) for key in runs[0]} for mode, runs in results.items()}
    bare = medians["bare"]
    print(f"machine: {platform.node()} · {os.cpu_count()} CPUs · kernel {platform.release()}")
    print(f"fixed_work {args.rounds} rounds · {args.frequency} Hz · median of {args.runs} interleaved runs\n")
    header = f"{'mode':<16}{'target wall':>12}{'target CPU':>12}{'cmd wall':>10}{'cmd CPU':>10}{'peak RSS':>10}"
    print(header)
    print("-" * len(header))
    for mode, m in medians.items():
        print(f"{mode:<16}{m['target_wall']:>11.3f}s{m['target_cpu']:>11.3f}s{m['command_wall']:>9.3f}s"
              f"{m['command_cpu']:>9.3f}s{m['peak_rss_mib']:>8.1f}Mi")
    print("\nratios to bare (median):")
    ratios = {}
    for mode, m in medians.items():
        if mode == "bare":
            continue
        ratios[mode] = {key: m[key] / bare[key] for key in ("target_wall", "target_cpu", "command_wall", "command_cpu")}
        r = ratios[mode]
        print(f"  {mode:<16} target wall {r['target_wall']:.3f} · target CPU {r['target_cpu']:.3f}"
              f" · command wall {r['command_wall']:.3f} · command CPU {r['command_cpu']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"medians": medians, "ratios": ratios, "runs": results, "frequency": args.frequency}, f, indent=2)


if __name__ == "__main__":
    main()
