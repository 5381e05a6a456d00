#!/usr/bin/env python3
"""Overhead of perfprobe on a fixed-work program, as ratios measured side by
side in one run: the bare program, `perfprobe run`, and `perf record` at the
same frequency, interleaved, several runs each; medians reported.

--unwind fp compares with `perf record -g` (frame pointers, default 99 Hz);
--unwind dwarf compares perfprobe's DWARF unwinding with
`perf record --call-graph dwarf` (default 999 Hz), on the build of fixed_work
without frame pointers.

The target (samples/build/fixed_work) reports its own wall and CPU time, so
"target" ratios are what profiling costs the program under test; "command"
CPU adds the profiler's own CPU (agent or perf) on top. Not a test: it prints
figures and never fails on a slow machine.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile

from benchkit import PERFPROBE, ROOT, require_built, run

FIXED_WORK = {"fp": os.path.join(ROOT, "samples/build/fixed_work"),
              "dwarf": os.path.join(ROOT, "samples/build/fixed_work_nofp")}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="runs of each mode (default 7)")
    parser.add_argument("--unwind", choices=["fp", "dwarf"], default="fp", help="what to compare (default fp)")
    parser.add_argument("--frequency", type=int, help="sampling frequency in Hz (default 99 for fp, 999 for dwarf)")
    parser.add_argument("--rounds", type=int, help="fixed_work rounds (default: about 3 s of work)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    frequency = args.frequency or (99 if args.unwind == "fp" else 999)
    fixed_work = FIXED_WORK[args.unwind]
    # The GCC build runs the loop about 8 times slower per round than clang's.
    rounds = args.rounds or (18000 if args.unwind == "fp" else 2300)
    require_built(PERFPROBE, fixed_work)
    perf = shutil.which("perf")

    scratch = tempfile.mkdtemp(prefix="perfprobe-bench-")
    target = [fixed_work, str(rounds)]
    perfprobe = [PERFPROBE, "run", "--unwind", "fp" if args.unwind == "fp" else "auto",
                 "--frequency", str(frequency), "--output", "pp", "--"] + target
    modes = {"bare": target, "perfprobe": perfprobe}
    if perf:
        call_graph = ["-g"] if args.unwind == "fp" else ["--call-graph", "dwarf"]
        modes["perf record " + " ".join(call_graph)] = [perf, "record", "-q"] + call_graph + [
            "-F", str(frequency), "-o", "perf.data", "--"] + target
    results = {mode: [] for mode in modes}
    run(target, scratch)  # warm the page cache
    for _ in range(args.runs):
        for mode, command in modes.items():
            results[mode].append(run(command, scratch, "pp/report.json" if mode == "perfprobe" else None))
    shutil.rmtree(scratch, ignore_errors=True)

    medians = {mode: {key: statistics.median(r[key] for r in runs) for key in runs[0]} for mode, runs in results.items()}
    bare = medians["bare"]
    print(f"machine: {platform.node()} · {os.cpu_count()} CPUs · kernel {platform.release()}")
    print(f"{os.path.basename(fixed_work)} {rounds} rounds · {frequency} Hz · {args.unwind} · "
          f"median of {args.runs} interleaved runs\n")
    header = f"{'mode':<28}{'target wall':>12}{'target CPU':>12}{'cmd wall':>10}{'cmd CPU':>10}"
    print(header)
    print("-" * len(header))
    for mode, m in medians.items():
        print(f"{mode:<28}{m['target_wall']:>11.3f}s{m['target_cpu']:>11.3f}s{m['command_wall']:>9.3f}s{m['command_cpu']:>9.3f}s")
    p = medians["perfprobe"]
    print(f"\nperfprobe itself: {p['agent_cpu']:.3f} s CPU, {p['agent_peak_rss_mib']:.1f} MiB peak RSS, "
          f"{p['samples']:.0f} samples")
    print("\nratios to bare (median):")
    ratios = {}
    for mode, m in medians.items():
        if mode == "bare":
            continue
        ratios[mode] = {key: m[key] / bare[key] for key in ("target_wall", "target_cpu", "command_wall", "command_cpu")}
        r = ratios[mode]
        print(f"  {mode:<28} target wall {r['target_wall']:.3f} · target CPU {r['target_cpu']:.3f}"
              f" · command wall {r['command_wall']:.3f} · command CPU {r['command_cpu']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"medians": medians, "ratios": ratios, "runs": results, "frequency": frequency,
                       "unwind": args.unwind}, f, indent=2)


if __name__ == "__main__":
    main()
