#!/usr/bin/env python3
"""What `perfprobe top` costs (not a test), beside `attach` in the same run:

1. The agent's own CPU, in % of one core, over a steady window (after
   --settle seconds, for --window seconds), read from /proc/PID/stat as the
   sidecar soak reads it, while it watches samples/build/cpu_split (the 70/30
   sample, one busy thread) at the default 99 Hz: `attach`, `top` piped
   (plain snapshots) and `top` full screen in a real terminal (tmux).
2. The target's cost: samples/build/fixed_work's own wall time bare, under
   `attach` and under `top` (full screen), as ratios to bare.

Each mode --runs times, interleaved; medians.
"""
import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

from benchkit import PERFPROBE, SAMPLES, require_built

CPU_SPLIT = os.path.join(SAMPLES, "cpu_split")
FIXED_WORK = os.path.join(SAMPLES, "fixed_work")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tmux(*arguments):
    return subprocess.run(["tmux", "-L", "perfprobe-bench", *arguments], capture_output=True, text=True, check=False).stdout


def start_in_terminal(command, scratch):
    """Starts `command` in a detached tmux terminal; returns its pid."""
    tmux("kill-server")
    pidfile = os.path.join(scratch, "agent.pid")
    script = f"echo $$ > {pidfile}; exec {' '.join(shlex.quote(a) for a in command)}"
    tmux("new-session", "-d", "-x", "160", "-y", "45", "sh", "-c", script)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.path.exists(pidfile) and open(pidfile).read().strip():
            return int(open(pidfile).read())
        time.sleep(0.05)
    sys.exit("tmux did not start the command")


def agent_cpu(mode, settle, window, scratch):
    """The agent's CPU in % of a core over the window, watching cpu_split."""
    target = subprocess.Popen([CPU_SPLIT, "0"])
    time.sleep(0.3)
    command = [PERFPROBE, "attach" if mode == "attach" else "top", "--output", os.path.join(scratch, mode), str(target.pid)]
    try:
        if mode == "top (terminal)":
            pid = start_in_terminal(command, scratch)
            agent = None
        else:
            agent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            pid = agent.pid
        time.sleep(settle)
        before = cpu_seconds(pid)
        time.sleep(window)
        used = cpu_seconds(pid) - before
        if agent:
            agent.send_signal(2)
            agent.wait(timeout=60)
        else:
            tmux("send-keys", "q")
            while os.path.exists(f"/proc/{pid}"):
                time.sleep(0.05)
        return used / window * 100
    finally:
        target.kill()
        target.wait()
        tmux("kill-server")


def target_wall(mode, rounds, scratch):
    """fixed_work's own wall seconds, bare or watched."""
    if mode == "bare":
        output = subprocess.run([FIXED_WORK, str(rounds)], capture_output=True, text=True, check=True).stdout
        return json.loads(output)["wall_seconds"]
    # The work starts once the agent samples: a shell that waits for a line first.
    fifo = os.path.join(scratch, "go")
    if os.path.exists(fifo):
        os.remove(fifo)
    os.mkfifo(fifo)
    work = subprocess.Popen(["sh", "-c", f"read line < {fifo}; exec {FIXED_WORK} {rounds}"], stdout=subprocess.PIPE, text=True)
    command = [PERFPROBE, "attach" if mode == "attach" else "top", "--output", os.path.join(scratch, mode), str(work.pid)]
    if mode == "top (terminal)":
        start_in_terminal(command, scratch)
    else:
        agent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    with open(fifo, "w") as go:
        go.write("go\n")
    output = work.stdout.read()
    work.wait()
    if mode == "top (terminal)":
        tmux("kill-server")
    else:
        agent.send_signal(2)
        agent.wait(timeout=60)
    return json.loads(output)["wall_seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--settle", type=float, default=3)
    parser.add_argument("--window", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=12000, help="fixed_work rounds (about 2 s)")
    args = parser.parse_args()
    require_built(PERFPROBE, CPU_SPLIT, FIXED_WORK)
    scratch = tempfile.mkdtemp(prefix="perfprobe-bench-top-")
    print(f"machine: {platform.node()} · {os.cpu_count()} CPUs · kernel {platform.release()} · {args.runs} runs, medians\n")
    modes = ["attach", "top (piped)", "top (terminal)"]
    cpu = {mode: [] for mode in modes}
    for _ in range(args.runs):
        for mode in modes:
            cpu[mode].append(agent_cpu(mode, args.settle, args.window, scratch))
    print(f"agent CPU watching cpu_split at 99 Hz, {args.window:g} s after {args.settle:g} s, % of one core:")
    for mode in modes:
        values = cpu[mode]
        print(f"  {mode:16} {statistics.median(values):6.2f}%   (runs: {', '.join(f'{v:.2f}' for v in values)})")
    walls = {mode: [] for mode in ["bare", "attach", "top (terminal)"]}
    for _ in range(args.runs):
        for mode in walls:
            walls[mode].append(target_wall(mode, args.rounds, scratch))
    bare = statistics.median(walls["bare"])
    print(f"\nfixed_work {args.rounds} rounds, its own wall time (median of {args.runs}):")
    for mode, values in walls.items():
        print(f"  {mode:16} {statistics.median(values):6.3f} s   ratio to bare {statistics.median(values) / bare:5.3f}")


if __name__ == "__main__":
    main()
