#!/usr/bin/env python3
"""Whether the 95% intervals perfprobe puts on shares hold the truth as
often as they claim, on real profiles (not a test): --runs profiles of
samples/build/cpu_split (70% of its CPU in heavy_path, 30% in light_path, by
construction) at --frequency for --seconds each. For each, heavy_path's
share of the heavy_path + light_path samples and its Wilson interval,
computed here from report.json's counts; counted: the runs whose interval
holds 70. A correct 95% interval holds it in about 95 of 100 (93 or more
with 90% probability); sampling that is not the independent draws the
interval assumes (a timer phase-locked to the program) would show here as
fewer.
"""
import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile

from benchkit import PERFPROBE, SAMPLES, require_built

CPU_SPLIT = os.path.join(SAMPLES, "cpu_split")
Z = 1.959963984540054


def wilson(count, trials):
    p = count / trials
    denominator = 1 + Z * Z / trials
    centre = (p + Z * Z / (2 * trials)) / denominator
    half = Z * math.sqrt(p * (1 - p) / trials + Z * Z / (4 * trials * trials)) / denominator
    return (centre - half) * 100, (centre + half) * 100


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--frequency", type=int, default=999)
    args = parser.parse_args()
    require_built(PERFPROBE, CPU_SPLIT)
    scratch = tempfile.mkdtemp(prefix="perfprobe-coverage-")
    covered, shares, sizes = 0, [], []
    try:
        for run in range(args.runs):
            directory = os.path.join(scratch, str(run))
            subprocess.run([PERFPROBE, "run", "--frequency", str(args.frequency), "--output", directory, "--",
                            CPU_SPLIT, str(args.seconds)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(os.path.join(directory, "report.json")) as f:
                hotspots = {h["function"]: h for h in json.load(f)["hotspots"]}
            heavy, light = hotspots["heavy_path"]["total_samples"], hotspots["light_path"]["total_samples"]
            low, high = wilson(heavy, heavy + light)
            covered += low <= 70 <= high
            shares.append(heavy * 100 / (heavy + light))
            sizes.append(heavy + light)
            shutil.rmtree(directory)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    mean = sum(shares) / len(shares)
    spread = math.sqrt(sum((s - mean) ** 2 for s in shares) / (len(shares) - 1))
    binomial = math.sqrt(0.21 / (sum(sizes) / len(sizes))) * 100
    print(f"{platform.node()}, {os.cpu_count()} CPUs; cpu_split {args.seconds} s at {args.frequency} Hz, {args.runs} runs, "
          f"{sum(sizes) / len(sizes):.0f} samples each on average")
    print(f"heavy_path's 95% interval held 70 in {covered} of {args.runs} runs")
    print(f"its share: mean {mean:.2f}%, run-to-run sd {spread:.2f} points (binomial sd at that count {binomial:.2f})")


if __name__ == "__main__":
    main()
