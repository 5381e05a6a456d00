#!/usr/bin/env python3
"""Soak of `perfprobe sidecar` (not a test): samples/http_server with 8 worker
threads kept busy by wrk (GET /hash, 8 connections), the sidecar attached at
99 Hz with its endpoints up, for --minutes; every 30 s the agent's resident
memory and CPU time are read from /proc and one GET /metrics is timed. Prints
the series and whether memory stayed flat after the first minutes. Never
fails on a slow machine.
"""
import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERFPROBE = os.path.join(ROOT, ".build/release/perfprobe")
SERVER = os.path.join(ROOT, "samples/build/http_server")
PORT = 18081
LISTEN = 18091


def agent_figures(pid):
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) * 1024
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, cpu


def metrics_latency():
    """Seconds for one GET /metrics of the sidecar."""
    start = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{LISTEN}/metrics", timeout=10) as response:
        response.read()
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--every", type=float, default=30, help="seconds between readings")
    args = parser.parse_args()
    for path in (PERFPROBE, SERVER):
        if not os.path.exists(path):
            sys.exit(f"missing {path}: build with `make demo` (or `swift build -c release --static-swift-stdlib --product perfprobe`) and `make -C samples`")
    scratch = tempfile.mkdtemp(prefix="perfprobe-soak-")
    server = subprocess.Popen([SERVER, str(PORT), "8"])
    time.sleep(0.3)
    sidecar = subprocess.Popen([PERFPROBE, "sidecar", "--pid", str(server.pid), "--frequency", "99",
                                "--listen", f"127.0.0.1:{LISTEN}",
                                "--output", os.path.join(scratch, "out")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    load = subprocess.Popen(["wrk", "-t2", "-c8", f"-d{int(args.minutes * 60) + 30}s", f"http://127.0.0.1:{PORT}/hash"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"machine: {platform.node()} · {os.cpu_count()} CPUs · kernel {platform.release()}")
    print(f"sidecar at 99 Hz on http_server (8 threads) under wrk -c8 GET /hash for {args.minutes:g} min\n")
    print(f"{'minute':>7}{'agent RSS':>12}{'agent CPU':>12}{'CPU % of a core':>17}{'/metrics':>11}")
    start = time.monotonic()
    readings = []
    latencies = []
    previous = None
    try:
        while time.monotonic() - start < args.minutes * 60:
            time.sleep(args.every)
            t = time.monotonic() - start
            rss, cpu = agent_figures(sidecar.pid)
            rate = (cpu - previous[1]) / (t - previous[0]) * 100 if previous else cpu / t * 100
            previous = (t, cpu)
            readings.append((t, rss, cpu))
            latency = metrics_latency()
            latencies.append(latency)
            print(f"{t / 60:7.1f}{rss / 1048576:10.1f} MiB{cpu:10.2f} s{rate:15.2f}%{latency * 1000:8.1f} ms", flush=True)
    finally:
        load.terminate()
        sidecar.send_signal(signal.SIGINT)
        sidecar.wait(timeout=120)
        server.terminate()
    after_first = [r for r in readings if r[0] >= 180] or readings
    total_cpu = readings[-1][2] / readings[-1][0] * 100
    print(f"\nagent RSS after 3 min: {after_first[0][1] / 1048576:.1f} MiB · at the end: {readings[-1][1] / 1048576:.1f} MiB "
          f"· peak {max(r[1] for r in readings) / 1048576:.1f} MiB")
    print(f"agent CPU over the run: {total_cpu:.2f}% of one core")
    latencies.sort()
    print(f"/metrics under load: median {latencies[len(latencies) // 2] * 1000:.1f} ms, slowest {latencies[-1] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
