#!/usr/bin/env python3
"""What per-CPU sampling costs the rest of the machine (not a test). A target
(samples/many_threads, 8 threads at 10% of a core each) is profiled by
`perfprobe attach --tree --frequency 999` (per CPU) while a bystander,
samples/fixed_work, does a fixed amount of work on the other core. Three
modes, interleaved, RUNS times each: no profiler; the target in the root
cgroup (events over every task: the kernel copies the bystander's stacks
too and the agent discards them); the target in a cgroup of its own (the
kernel samples only that cgroup). Medians of the bystander's wall time (and
its ratio to the bare run), of the samples discarded and of the agent's
CPU. Needs a writable cgroup2 mount."""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile

from benchkit import PERFPROBE, SAMPLES, require_built


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            dash = fields.index("-")
            if fields[dash + 1] == "cgroup2" and os.access(fields[4], os.W_OK):
                return fields[4]
    return None


def bystander(rounds):
    out = subprocess.run([SAMPLES + "/fixed_work", str(rounds)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["wall_seconds"]


def profiled(target, rounds):
    out = tempfile.mkdtemp(prefix="bench-bystander-")
    agent = subprocess.Popen([PERFPROBE, "attach", "--tree", "--frequency", "999", "--output", out, str(target)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # Sampling runs once the per-CPU announcement is out.
    for line in agent.stderr:
        if "sampling per CPU" in line:
            break
    wall = bystander(rounds)
    agent.send_signal(signal.SIGINT)
    agent.communicate()
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    shutil.rmtree(out)
    return {"wall": wall, "discarded": report["samples"].get("other_processes") or 0,
            "samples": report["samples"]["total"], "cpu": report["agent"]["cpu_seconds"],
            "events": report["sampling"]["events"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=18000, help="fixed_work rounds (about 3 s here)")
    args = parser.parse_args()
    require_built(PERFPROBE, SAMPLES + "/many_threads", SAMPLES + "/fixed_work")
    mount = cgroup2_mount()
    if mount is None:
        raise SystemExit("no writable cgroup2 mount: the cgroup mode cannot be measured here")
    own = os.path.join(mount, f"perfprobe-bench-{os.getpid()}")
    os.mkdir(own)
    target = subprocess.Popen([SAMPLES + "/many_threads", "8", "3600"], stdout=subprocess.PIPE)
    try:
        assert target.stdout.readline() == b"ready\n"
        rows = {"no profiler": [], "every task": [], "own cgroup": []}
        for _ in range(args.runs):
            rows["no profiler"].append({"wall": bystander(args.rounds)})
            with open(os.path.join(mount, "cgroup.procs"), "w") as f:
                f.write(str(target.pid))
            rows["every task"].append(profiled(target.pid, args.rounds))
            with open(os.path.join(own, "cgroup.procs"), "w") as f:
                f.write(str(target.pid))
            rows["own cgroup"].append(profiled(target.pid, args.rounds))
        bare = statistics.median(run["wall"] for run in rows["no profiler"])
        print(f"{'target sampled':<14} {'bystander wall s':>16} {'ratio':>6} {'discarded':>9} {'target samples':>14} {'agent CPU s':>11}")
        for name, runs in rows.items():
            median = {key: statistics.median(run[key] for run in runs) for key in runs[0] if key != "events"}
            print(f"{name:<14} {median['wall']:>16.3f} {median['wall'] / bare:>6.3f} {median.get('discarded', 0):>9.0f} "
                  f"{median.get('samples', 0):>14.0f} {median.get('cpu', 0):>11.2f}")
    finally:
        target.kill()
        target.wait()
        os.rmdir(own)


if __name__ == "__main__":
    main()
