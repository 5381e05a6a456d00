#!/usr/bin/env python3
"""What tracking a running process's allocations costs it, per allocator call:
samples/build/malloc_storm (ROUNDS rounds of 1000 malloc/free pairs) started
with a delay, attached to, and timed by itself; bare, under
`perfprobe attach --heap`, and under bpftrace uprobes doing the same tracking
(size at malloc's entry, address at its return, free by address); then bare
and under `attach --heap` with each of Debian's jemalloc, tcmalloc and
mimalloc preloaded. Interleaved, several runs each; medians reported. Not a
test: it prints figures and never fails on a slow machine.

cost per call = (probed wall - bare wall) / (2 x pairs): a malloc and a free
are two tracked calls.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile

from benchkit import PERFPROBE, PRELOADED_ALLOCATORS, SAMPLES, require_built

STORM = os.path.join(SAMPLES, "malloc_storm")
DELAY = 3.0


def libc_path():
    maps = open("/proc/self/maps").read().splitlines()
    return next(line.split()[-1] for line in maps if line.split()[-1].endswith("/libc.so.6"))


def bpftrace_script(pid):
    libc = libc_path()
    return (f"uprobe:{libc}:malloc /pid == {pid}/ {{ @size[tid] = arg0; }}\n"
            f"uretprobe:{libc}:malloc /pid == {pid}/ {{ @live[retval] = @size[tid]; delete(@size[tid]); }}\n"
            f"uprobe:{libc}:free /pid == {pid}/ {{ delete(@live[arg0]); }}\n")


def timed(tool, rounds, scratch, library=None):
    """Starts the storm (with `library` preloaded), attaches `tool` during its
    delay, returns (wall seconds, perfprobe report or None)."""
    environment = dict(os.environ, LD_PRELOAD=library) if library else None
    storm = subprocess.Popen([STORM, str(rounds), str(DELAY)], stdout=subprocess.PIPE, env=environment)
    agent = None
    output = os.path.join(scratch, f"pp-{storm.pid}")
    if tool == "perfprobe attach --heap":
        agent = subprocess.Popen([PERFPROBE, "attach", "--heap", "--output", output, str(storm.pid)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elif tool == "bpftrace":
        agent = subprocess.Popen(["bpftrace", "-p", str(storm.pid), "-e", bpftrace_script(storm.pid)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out, _ = storm.communicate()
    figures = json.loads(out.decode().strip().splitlines()[-1])
    report = None
    if agent:
        try:
            agent.wait(timeout=60)
        except subprocess.TimeoutExpired:
            agent.terminate()
            agent.wait()
        path = os.path.join(output, "report.json")
        if os.path.exists(path):
            report = json.load(open(path))
    return figures["wall_seconds"], report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each tool (default 5)")
    parser.add_argument("--rounds", type=int, default=300, help="malloc_storm rounds of 1000 malloc/free pairs")
    args = parser.parse_args()
    require_built(PERFPROBE, STORM)
    tools = ["bare", "perfprobe attach --heap"] + (["bpftrace"] if shutil.which("bpftrace") else [])
    preloaded = PRELOADED_ALLOCATORS
    scratch = tempfile.mkdtemp(prefix="perfprobe-attach-bench-")
    walls = {tool: [] for tool in tools}
    allocator_walls = {(name, tool): [] for name in preloaded for tool in tools[:2]}
    calibrations = []
    for _ in range(args.runs):
        for tool in tools:
            wall, report = timed(tool, args.rounds, scratch)
            walls[tool].append(wall)
            probes = (report or {}).get("heap", {}).get("probes") or {}
            if probes.get("calibration"):
                calibrations.append(probes["calibration"])
        for (name, tool), values in allocator_walls.items():
            values.append(timed(tool, args.rounds, scratch, preloaded[name])[0])
    shutil.rmtree(scratch, ignore_errors=True)
    calls = 2 * 1000 * args.rounds
    bare = statistics.median(walls["bare"])
    print(f"machine: {platform.node()} · {os.cpu_count()} CPUs · kernel {platform.release()}")
    print(f"malloc_storm, {args.rounds} rounds of 1000 malloc/free pairs ({calls} tracked calls) attached after "
          f"{DELAY:.0f} s · median of {args.runs} interleaved runs\n")
    print(f"{'tool':<26}{'wall':>10}{'ratio':>9}{'µs per call':>13}")
    for tool in tools:
        wall = statistics.median(walls[tool])
        per_call = (wall - bare) / calls * 1e6
        print(f"{tool:<26}{wall:>9.3f}s{wall / bare:>9.1f}{per_call:>13.2f}")
    if preloaded:
        print(f"\nother allocators, preloaded: µs per tracked call under attach --heap")
        for name in preloaded:
            bare_wall = statistics.median(allocator_walls[(name, "bare")])
            probed = statistics.median(allocator_walls[(name, "perfprobe attach --heap")])
            print(f"{name:<26}{bare_wall:>9.3f}s{probed:>9.3f}s{(probed - bare_wall) / calls * 1e6:>13.2f}")
    if calibrations:
        median = lambda key: statistics.median(c[key] for c in calibrations if c.get(key) is not None) / 1000
        print(f"\nperfprobe's own measurement at attach (median): malloc {median('malloc_nanoseconds'):.2f} µs, "
              f"free {median('free_nanoseconds'):.2f} µs placed past its first instruction, "
              f"{median('free_at_entry_nanoseconds'):.2f} µs on it")


if __name__ == "__main__":
    main()
