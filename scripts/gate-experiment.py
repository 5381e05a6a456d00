#!/usr/bin/env python3
"""How often the --max-regression gate is wrong (not a test): a false-alarm
and a power experiment on this machine, --trials times each.

Each trial profiles samples/build/fixed_work (the same instructions every
run, 70/30 in heavy_path/light_path) --repeat times as a baseline, then
--repeat times again with the same work against it (any trip is a false
alarm), and --repeat times with --more times the work (a trip is a true
detection). Three gates judge each pair:

- `repeat`: perfprobe's gate on the --repeat runs (Welch's t-test of the
  runs' CPU time, two-proportion z-tests of the shares, Holm-corrected);
- `single`: perfprobe's gate on the first run of each side alone
  (`perfprobe diff --max-regression`: the samples' error only);
- `threshold`: the gate perfprobe had before significance (issue 20): a trip
  whenever total CPU time grows by more than P %, or a function's inclusive
  share by more than P points, on single runs — computed here from the same
  first runs' report.json.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile

from benchkit import PERFPROBE, SAMPLES, require_built

FIXED_WORK = os.path.join(SAMPLES, "fixed_work")


def profile(directory, rounds, repeats, gate):
    """`perfprobe run --repeat`; whether its gate tripped (exit 1)."""
    command = [PERFPROBE, "run", "--repeat", str(repeats), "--output", directory, *gate, "--", FIXED_WORK, str(rounds)]
    status = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).returncode
    if status not in (0, 1) or (status == 1 and not gate):
        sys.exit(f"perfprobe failed ({status}): {' '.join(command)}")
    return status == 1


def report(directory):
    with open(os.path.join(directory, "report.json")) as f:
        return json.load(f)


def cpu_seconds(run):
    task_clock = next((c["value"] for c in run["counters"] if c["name"] == "task-clock" and c.get("value") is not None), None)
    if task_clock is not None:
        return task_clock / 1e9
    return run["samples"]["total"] / run["sampling"]["frequency_hz"]


def threshold_gate(base, new, limit):
    """The pre-significance rule on two single runs."""
    if (cpu_seconds(new) - cpu_seconds(base)) / cpu_seconds(base) * 100 > limit:
        return True
    before = {(h["function"], h["module"]): h["total_percent"] for h in base["hotspots"]}
    return any(h["total_percent"] - before.get((h["function"], h["module"]), 0) > limit for h in new["hotspots"])


def single_gate(base, new, limit, level):
    command = [PERFPROBE, "diff", base, new, "--max-regression", str(limit), "--significance", str(level),
               "--output", os.path.join(new, "diff-single.svg")]
    status = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    if status not in (0, 1):
        sys.exit(f"perfprobe diff failed ({status})")
    return status == 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=4000, help="fixed_work's rounds: 0.6 s of CPU here")
    parser.add_argument("--more", type=float, default=1.10, help="the regressed program's work, as a multiple")
    parser.add_argument("--max-regression", type=float, default=5)
    parser.add_argument("--significance", type=float, default=0.01)
    parser.add_argument("--json", help="also write the counts here")
    args = parser.parse_args()
    require_built(PERFPROBE, FIXED_WORK)
    gate = ["--max-regression", str(args.max_regression), "--significance", str(args.significance)]
    counts = {kind: {"repeat": 0, "single": 0, "threshold": 0} for kind in ("false_alarms", "detections")}
    scratch = tempfile.mkdtemp(prefix="perfprobe-gates-")
    try:
        for trial in range(args.trials):
            base = os.path.join(scratch, f"base-{trial}")
            profile(base, args.rounds, args.repeat, [])
            for kind, rounds in (("false_alarms", args.rounds), ("detections", round(args.rounds * args.more))):
                new = os.path.join(scratch, f"{kind}-{trial}")
                tripped = profile(new, rounds, args.repeat, ["--baseline", base, *gate])
                counts[kind]["repeat"] += tripped
                counts[kind]["single"] += single_gate(base + "/run-1", new + "/run-1", args.max_regression, args.significance)
                counts[kind]["threshold"] += threshold_gate(report(base + "/run-1"), report(new + "/run-1"), args.max_regression)
                shutil.rmtree(new)
            shutil.rmtree(base)
            print(f"trial {trial + 1}/{args.trials}: {json.dumps(counts)}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    samples = "default 99 Hz"
    print(f"{platform.node()}, {os.cpu_count()} CPUs; fixed_work {args.rounds} rounds (×{args.more} for the regression), "
          f"{samples}; --max-regression {args.max_regression} at {args.significance}; {args.trials} trials")
    print(f"{'gate':<44} {'false alarms':>14} {'detections':>12}")
    names = {"repeat": f"--repeat {args.repeat} against --repeat {args.repeat}", "single": "one run against one (significance)",
             "threshold": "one run against one (threshold only, before)"}
    for gate_name, label in names.items():
        print(f"{label:<44} {counts['false_alarms'][gate_name]:>9} of {args.trials:<3} {counts['detections'][gate_name]:>6} of {args.trials}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"trials": args.trials, "repeat": args.repeat, "rounds": args.rounds, "more": args.more,
                       "max_regression": args.max_regression, "significance": args.significance, **counts}, f, indent=2)


if __name__ == "__main__":
    main()
