#!/usr/bin/env python3
"""Cost of heap profiling on malloc-heavy fixed-work programs
(samples/build/malloc_storm), as ratios measured side by side in one run: the
bare program, the heap probe preloaded with no agent, `perfprobe run --heap`,
heaptrack and valgrind, interleaved, several runs each; medians reported. Two
storms: blocks of 16 B to 4 KiB, and tiny ones of 16 to 256 B (glibc's
tcache, ~10 ns a pair: the cheapest allocations there are, where a probe's
fixed cost shows most). The program reports its own wall and CPU time, so the
ratios are what profiling costs the program under test. Not a test: it
prints figures and never fails on a slow machine.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile

from benchkit import PERFPROBE, ROOT, require_built

PROBE = os.path.join(ROOT, ".build/release/libperfprobe-heap.so")
STORM = os.path.join(ROOT, "samples/build/malloc_storm")


def run(command, scratch, environment=None):
    output = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=scratch, check=True,
                            env=environment).stdout.decode()
    figures = next(json.loads(line) for line in output.splitlines() if line.startswith('{"wall_seconds"'))
    return figures["wall_seconds"], figures["cpu_seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each tool (default 5)")
    parser.add_argument("--rounds", type=int, default=40000, help="malloc_storm rounds of 1000 malloc/free pairs")
    parser.add_argument("--tiny-rounds", type=int, default=400000, help="rounds of the tiny storm (16-256 B)")
    parser.add_argument("--slow-rounds", type=int, default=500,
                        help="rounds for heaptrack and valgrind, scaled up to --rounds (they are 10-100x slower)")
    args = parser.parse_args()
    require_built(PERFPROBE, PROBE, STORM)
    print(f"machine: {platform.node()} · {os.cpu_count()} CPUs · kernel {platform.release()}")
    print(f"median of {args.runs} interleaved runs; heaptrack and valgrind run fewer rounds, scaled up\n")
    storm("malloc_storm, 16 B-4 KiB", args.rounds, args.slow_rounds, 4111, args.runs)
    storm("malloc_storm, tiny: 16-256 B", args.tiny_rounds, args.slow_rounds * 10, 256, args.runs)


def storm(title, rounds, slow_rounds, max_bytes, runs):
    scratch = tempfile.mkdtemp(prefix="perfprobe-heap-bench-")
    preloaded = dict(os.environ, LD_PRELOAD=PROBE)
    tools = {
        "bare": ([STORM], rounds, None),
        "probe preloaded, no agent": ([STORM], rounds, preloaded),
        "perfprobe run --heap": ([PERFPROBE, "run", "--heap", "--output", "pp", "--", STORM], rounds, None),
    }
    if shutil.which("heaptrack"):
        tools["heaptrack"] = (["heaptrack", "-o", os.path.join(scratch, "ht"), STORM], slow_rounds, None)
    if shutil.which("valgrind"):
        tools["valgrind (memcheck)"] = (["valgrind", "-q", "--leak-check=full", STORM], slow_rounds, None)
    results = {name: [] for name in tools}
    for _ in range(runs):
        for name, (command, count, environment) in tools.items():
            wall, cpu = run(command + [str(count), "0", str(max_bytes)], scratch, environment)
            scale = rounds / count
            results[name].append((wall * scale, cpu * scale))
    shutil.rmtree(scratch, ignore_errors=True)
    bare_wall = statistics.median(w for w, _ in results["bare"])
    bare_cpu = statistics.median(c for _, c in results["bare"])
    print(f"{title}: {rounds} rounds of 1000 malloc/free pairs")
    print(f"{'tool':<28}{'wall':>10}{'CPU':>10}{'wall ratio':>12}{'CPU ratio':>11}")
    for name, runs_of_tool in results.items():
        wall = statistics.median(w for w, _ in runs_of_tool)
        cpu = statistics.median(c for _, c in runs_of_tool)
        print(f"{name:<28}{wall:>9.3f}s{cpu:>9.3f}s{wall / bare_wall:>12.2f}{cpu / bare_cpu:>11.2f}")
    print()


if __name__ == "__main__":
    main()
