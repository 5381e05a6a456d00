#!/usr/bin/env python3
"""How right `perfprobe attach --heap` and `run --heap` are per stack on a
program whose allocations repeat in a fixed cycle (samples/build/request_loop:
per request 50 short-lived blocks of 64-832 B from parse_fields, then one
2 KiB block kept forever from remember_session, 900 requests a second): each
estimate as a ratio to the truth the program prints (leaked bytes a second;
parse_fields' allocations a second), for glibc and Debian's jemalloc,
tcmalloc and mimalloc preloaded, and with a thread per request (glibc),
several runs each; median and spread (min-max) reported. Not a test: it
prints figures and never fails.
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import tempfile
import time

from benchkit import PERFPROBE, PRELOADED_ALLOCATORS, SAMPLES, require_built

LOOP = os.path.join(SAMPLES, "request_loop")
ALLOCATORS = {"glibc": None, **PRELOADED_ALLOCATORS}
TRUTH = re.compile(r"remember_session leaks (\d+) B/s, parse_fields ([\d.]+) allocations/s")


def estimates(report):
    """(leaking stack's growth B/s, parse_fields' stack allocations/s) from report.json."""
    stacks = report.get("heap", {}).get("stacks", [])
    leak = sum(s["growth_bytes_per_second"] for s in stacks if "remember_session" in s["functions"])
    churn = sum(s["allocations_per_second"] for s in stacks if "parse_fields" in s["functions"])
    return leak, churn


def once(mode, library, threads, attach_seconds, scratch):
    environment = dict(os.environ)
    if library:
        environment["LD_PRELOAD"] = library
    output = tempfile.mkdtemp(dir=scratch)
    if mode == "run --heap":
        command = [PERFPROBE, "run", "--heap", "--output", output, "--", LOOP, str(attach_seconds), "900"] + threads
        out = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=environment).stdout
    else:
        loop = subprocess.Popen([LOOP, str(attach_seconds + 2), "900"] + threads, stdout=subprocess.PIPE, env=environment)
        time.sleep(1)
        subprocess.run([PERFPROBE, "attach", "--heap", "--duration", str(attach_seconds), "--output", output,
                        str(loop.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out, _ = loop.communicate()
    truth = TRUTH.search(out.decode())
    report = json.load(open(os.path.join(output, "report.json")))
    leak, churn = estimates(report)
    return leak / float(truth.group(1)), churn / float(truth.group(2))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each case (default 5)")
    parser.add_argument("--seconds", type=float, default=6, help="seconds attached (default 6)")
    args = parser.parse_args()
    require_built(PERFPROBE, LOOP)
    cases = [("attach --heap", name, False) for name in ALLOCATORS]
    cases += [("attach --heap", "glibc", True), ("run --heap", "glibc", False), ("run --heap", "glibc", True)]
    scratch = tempfile.mkdtemp(prefix="perfprobe-estimates-")
    results = {case: [] for case in cases}
    for _ in range(args.runs):
        for case in cases:
            results[case].append(once(case[0], ALLOCATORS[case[1]], ["threads"] if case[2] else [], args.seconds, scratch))
    subprocess.run(["rm", "-rf", scratch])
    print(f"machine: {platform.node()} · {os.cpu_count()} CPUs · kernel {platform.release()}")
    print(f"request_loop at 900 requests/s, {args.seconds:g} s profiled, default settings · "
          f"{args.runs} runs each: median (min-max) of estimate / truth\n")
    print(f"{'case':<44}{'leaking stack growth':>26}{'churn allocations/s':>26}")
    spread = lambda values: f"{statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"
    for (mode, name, threads), values in results.items():
        case = f"{mode}, {name}" + (", thread per request" if threads else "")
        print(f"{case:<44}{spread([v[0] for v in values]):>26}{spread([v[1] for v in values]):>26}")


if __name__ == "__main__":
    main()
