#!/usr/bin/env python3
"""Attaching to a process with many threads (not a test): samples/many_threads
with N threads, each wanting 10% of a core (past 20 threads they saturate two
cores), profiled for 2 s by `perfprobe attach --duration 2` and by `perf record
-p PID -g -- sleep 2`, interleaved, RUNS times each; medians of wall time from
the profiler's start to its exit, samples, lost records, and perfprobe's own
CPU and peak RSS (its report.json). perf record raises no priority of
its own (without `--realtime`) and perfprobe raises its priority in its
launcher; `--chrt` starts each under `chrt -f 1` to compare them both
real-time."""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

from benchkit import PERFPROBE, SAMPLES, require_built


def perfprobe(pid, prefix):
    out = tempfile.mkdtemp(prefix="bench-threads-")
    start = time.monotonic()
    subprocess.run(prefix + [PERFPROBE, "attach", "--duration", "2", "--output", out, str(pid)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.monotonic() - start
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    shutil.rmtree(out)
    return {"wall": wall, "samples": report["samples"]["total"], "lost": report["samples"]["lost_records"],
            "cpu": report["agent"]["cpu_seconds"], "rss": report["agent"]["peak_rss_bytes"] / 1048576,
            "attach": report.get("attach_seconds") or 0}


def perf_record(pid, prefix):
    out = tempfile.mkdtemp(prefix="bench-threads-perf-")
    start = time.monotonic()
    result = subprocess.run(prefix + ["perf", "record", "-q", "-F", "99", "-g", "-o", out + "/perf.data", "-p", str(pid), "--", "sleep", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - start
    samples = subprocess.run(["perf", "report", "-i", out + "/perf.data", "--stdio", "--header-only"],
                             capture_output=True, text=True).stdout
    report = subprocess.run(["perf", "script", "-i", out + "/perf.data", "-F", "tid"], capture_output=True, text=True).stdout
    lost = sum(int(n) for n in re.findall(r"lost (\d+) chunks", result.stderr))
    shutil.rmtree(out)
    return {"wall": wall, "samples": len(report.splitlines()), "lost": lost}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, nargs="+", default=[10, 100, 500, 2000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chrt", action="store_true", help="start each profiler under chrt -f 1")
    parser.add_argument("--no-perf", action="store_true", help="perfprobe only (perf record -p takes minutes past 1,000 threads)")
    args = parser.parse_args()
    require_built(PERFPROBE, SAMPLES + "/many_threads")
    prefix = ["chrt", "-f", "1"] if args.chrt else []
    print(f"{'threads':>7}  {'profiler':<12} {'wall s':>7} {'attach s':>8} {'samples':>8} {'lost':>6} {'agent CPU s':>11} {'agent RSS MiB':>13}")
    for count in args.threads:
        rows = {"perfprobe": [], "perf record": []}
        for _ in range(args.runs):
            target = subprocess.Popen([SAMPLES + "/many_threads", str(count), "3600"], stdout=subprocess.PIPE)
            assert target.stdout.readline() == b"ready\n"
            time.sleep(0.5)
            rows["perfprobe"].append(perfprobe(target.pid, prefix))
            if not args.no_perf:
                rows["perf record"].append(perf_record(target.pid, prefix))
            target.kill()
            target.wait()
        for name, runs in rows.items():
            if not runs:
                continue
            median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            print(f"{count:>7}  {name:<12} {median['wall']:>7.1f} {median.get('attach', float('nan')):>8.2f} {median['samples']:>8.0f} "
                  f"{median['lost']:>6.0f} {median.get('cpu', float('nan')):>11.2f} {median.get('rss', float('nan')):>13.1f}")


if __name__ == "__main__":
    main()
