#!/usr/bin/env python3
"""Source lines and inlined frames, and what they cost: Debian's debug-build
Python (python3.11d, 24 MB with full DWARF) runs samples/python/json_work.py
(2.7 s of CPU) at 999 Hz under

  lines     perfprobe run (lines and inlined frames: the default)
  function  perfprobe run --no-inline --no-lines (frames by function)
  perf      perf record --call-graph dwarf, then perf report --sort sym,srcline

interleaved, --runs times each. For each: seconds from the target's exit
until every report file is written (perf: until perf report has printed),
and the profiler's peak RSS. Medians, as a Markdown table."""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

from benchkit import PERFPROBE, ROOT, require_built

PYTHON = "/usr/bin/python3.11d"
WORKLOAD = os.path.join(ROOT, "samples/python/json_work.py")


def target(exit_file):
    """The workload, then the wall-clock time it ended, written to `exit_file`."""
    return ["/bin/sh", "-c", f'"{PYTHON}" "{WORKLOAD}" 2.7 >/dev/null && date +%s.%N > "{exit_file}"']


def timed(command, cwd):
    """Runs `command`, its output to a file (perf report dies of SIGPIPE
    writing to /dev/null); its end (wall-clock) and its peak RSS in MiB."""
    with open(os.path.join(cwd, "output"), "w") as output:
        process = subprocess.Popen(command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command)}")
    return time.time(), usage.ru_maxrss / 1024


def run_perfprobe(flags, scratch):
    exit_file = os.path.join(scratch, "exit")
    end, _ = timed([PERFPROBE, "run", "--frequency", "999", "--output", "out"] + flags + ["--"] + target(exit_file), scratch)
    with open(os.path.join(scratch, "out/report.json")) as f:
        report = json.load(f)
    return end - float(open(exit_file).read()), report["agent"]["peak_rss_bytes"] / 1048576


def run_perf(scratch):
    exit_file = os.path.join(scratch, "exit")
    recorded, record_rss = timed(["perf", "record", "-F", "999", "--call-graph", "dwarf", "-o", "perf.data", "--"] + target(exit_file), scratch)
    start = time.time()
    end, report_rss = timed(["perf", "report", "-i", "perf.data", "--sort", "sym,srcline", "--stdio"], scratch)
    return recorded - float(open(exit_file).read()) + (end - start), max(record_rss, report_rss)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-perf", action="store_true", help="leave perf out")
    options = parser.parse_args()
    require_built(PERFPROBE, PYTHON)
    profilers = {"lines": lambda s: run_perfprobe([], s), "function": lambda s: run_perfprobe(["--no-inline", "--no-lines"], s)}
    if not options.no_perf:
        profilers["perf"] = run_perf
    figures = {name: [] for name in profilers}
    for _ in range(options.runs):
        for name, measure in profilers.items():
            with tempfile.TemporaryDirectory() as scratch:
                figures[name].append(measure(scratch))
    print("| profiler | report ready after exit, s (median) | range | peak RSS MiB (median) |")
    print("|---|---|---|---|")
    for name, runs in figures.items():
        ready = [r[0] for r in runs]
        print(f"| {name} | {statistics.median(ready):.2f} | {min(ready):.2f}–{max(ready):.2f} | {statistics.median(r[1] for r in runs):.1f} |")


if __name__ == "__main__":
    main()
