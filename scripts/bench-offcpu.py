#!/usr/bin/env python3
"""What --off-cpu costs on a context-switch storm (not a test): samples/
switch_storm bounces a byte between two threads over pipes (WORK_US of work
per bounce sets the rate), both threads on one CPU, run bare, under `perfprobe run --off-cpu`, and
under `perf record -e context-switches -c 1 --call-graph dwarf`, interleaved,
RUNS times each; medians of the program's own wall and CPU time, and of the
command's (the profiler's CPU included), as ratios to the bare run, with the
switches per second and what the profiler lost."""
import argparse
import json
import os
import shutil
import statistics
import tempfile

from benchkit import PERFPROBE, SAMPLES, require_built, run


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=60000, help="round trips (two switches each)")
    parser.add_argument("--cpu", type=int, default=1, help="the CPU both threads run on")
    parser.add_argument("--work-us", type=float, default=22, help="work per bounce in µs (22: about 40k switches/s here)")
    args = parser.parse_args()
    storm = SAMPLES + "/switch_storm"
    require_built(PERFPROBE, storm)
    scratch = tempfile.mkdtemp(prefix="bench-offcpu-")
    # Both threads on one CPU: each switch goes straight to the other
    # thread. Spread over two, every switch waits for an idle CPU to wake
    # (slow in a VM), and a profiler keeping CPUs busy made the bare program
    # look 2.3x slower than the profiled one.
    target = ["taskset", "-c", str(args.cpu), storm, str(args.rounds), str(args.work_us)]
    modes = {
        "bare": target,
        "perfprobe --off-cpu": [PERFPROBE, "run", "--off-cpu", "--output", "pp", "--"] + target,
        # Its CPU samples alone: what --off-cpu adds is the difference.
        "perfprobe (CPU samples only)": [PERFPROBE, "run", "--output", "pp-cpu", "--"] + target,
        "perf record -e cs -c1 dwarf": ["perf", "record", "-q", "-e", "context-switches", "-c", "1", "--call-graph", "dwarf",
                                        "-o", "perf.data", "--"] + target,
        # perf with what perfprobe's first --off-cpu design opened: CPU samples
        # (a per-task timer, started and stopped at every switch) beside the
        # switches, and switch records.
        "perf record cs + cpu-clock": ["perf", "record", "-q", "--switch-events", "-e", "context-switches/period=1/",
                                       "-e", "cpu-clock/freq=99/", "--call-graph", "dwarf", "-o", "perf2.data", "--"] + target,
    }
    results = {mode: [] for mode in modes}
    lost = []
    for _ in range(args.runs):
        for mode, command in modes.items():
            figures = run(command, scratch, "pp/report.json" if mode == "perfprobe --off-cpu" else None)
            results[mode].append(figures)
            if mode == "perfprobe --off-cpu":
                with open(os.path.join(scratch, "pp/report.json")) as f:
                    report = json.load(f)
                off = report.get("off_cpu") or {}
                lost.append((report["samples"]["lost_records"], off.get("without_stack", 0), off.get("switch_outs", 0)))
    shutil.rmtree(scratch, ignore_errors=True)
    medians = {mode: {key: statistics.median(r[key] for r in runs) for key in ("target_wall", "target_cpu", "command_wall", "command_cpu")}
               for mode, runs in results.items()}
    bare = medians["bare"]
    switches = 2 * args.rounds / bare["target_wall"]
    print(f"switch_storm {args.rounds} round trips, {args.work_us} µs per bounce: {switches:,.0f} switches/s bare; "
          f"median of {args.runs} interleaved runs")
    print(f"{'mode':<30}{'target wall':>12}{'target CPU':>11}{'cmd wall':>10}{'cmd CPU':>9}   ratios wall / CPU / cmd CPU")
    for mode, m in medians.items():
        print(f"{mode:<30}{m['target_wall']:>11.3f}s{m['target_cpu']:>10.3f}s{m['command_wall']:>9.3f}s{m['command_cpu']:>8.3f}s"
              f"   {m['target_wall'] / bare['target_wall']:.3f} / {m['target_cpu'] / bare['target_cpu']:.3f} / "
              f"{m['command_cpu'] / bare['command_cpu']:.3f}")
    records, without, outs = (statistics.median(x) for x in zip(*lost))
    print(f"perfprobe: {outs:.0f} switch-outs with stacks, {without:.0f} intervals without a stack, {records:.0f} records lost (medians)")


if __name__ == "__main__":
    main()
