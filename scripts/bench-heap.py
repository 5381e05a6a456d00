#!/usr/bin/env python3
"""Cost of heap profiling on a malloc-heavy fixed-work program
(samples/build/malloc_storm), as ratios measured side by side in one run: the
bare program, `perfprobe run --heap`, heaptrack and valgrind, interleaved,
several runs each; medians reported. The program reports its own wall and CPU
time, so the ratios are what profiling costs the program under test. Not a
test: it prints figures and never fails on a slow machine.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERFPROBE = os.path.join(ROOT, ".build/release/perfprobe")
STORM = os.path.join(ROOT, "samples/build/malloc_storm")


def run(command, scratch):
    output = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=scratch, check=True).stdout.decode()
    figures = next(json.loads(line) for line in output.splitlines() if line.startswith('{"wall_seconds"'))
    return figures["wall_seconds"], figures["cpu_seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each tool (default 5)")
    parser.add_argument("--rounds", type=int, default=5000, help="malloc_storm rounds of 1000 malloc/free pairs")
    parser.add_argument("--slow-rounds", type=int, default=500,
                        help="rounds for heaptrack and valgrind, scaled up to --rounds (they are 10-100x slower)")
    args = parser.parse_args()
    for path in (PERFPROBE, STORM):
        if not os.path.exists(path):
            sys.exit(f"missing {path}: run `make bench`, which builds it")
    scratch = tempfile.mkdtemp(prefix="perfprobe-heap-bench-")
    tools = {
        "bare": ([STORM], args.rounds),
        "perfprobe run --heap": ([PERFPROBE, "run", "--heap", "--output", "pp", "--", STORM], args.rounds),
    }
    if shutil.which("heaptrack"):
        tools["heaptrack"] = (["heaptrack", "-o", os.path.join(scratch, "ht"), STORM], args.slow_rounds)
    if shutil.which("valgrind"):
        tools["valgrind (memcheck)"] = (["valgrind", "-q", "--leak-check=full", STORM], args.slow_rounds)
    results = {name: [] for name in tools}
    for _ in range(args.runs):
        for name, (command, rounds) in tools.items():
            wall, cpu = run(command + [str(rounds)], scratch)
            scale = args.rounds / rounds
            results[name].append((wall * scale, cpu * scale))
    shutil.rmtree(scratch, ignore_errors=True)
    bare_wall = statistics.median(w for w, _ in results["bare"])
    bare_cpu = statistics.median(c for _, c in results["bare"])
    print(f"machine: {platform.node()} · {os.cpu_count()} CPUs · kernel {platform.release()}")
    print(f"malloc_storm, {args.rounds} rounds of 1000 malloc/free pairs · median of {args.runs} interleaved runs")
    print("(heaptrack and valgrind run --slow-rounds and are scaled up)\n")
    print(f"{'tool':<24}{'wall':>10}{'CPU':>10}{'wall ratio':>12}{'CPU ratio':>11}")
    for name, runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:<24}{wall:>9.3f}s{cpu:>9.3f}s{wall / bare_wall:>12.2f}{cpu / bare_cpu:>11.2f}")


if __name__ == "__main__":
    main()
