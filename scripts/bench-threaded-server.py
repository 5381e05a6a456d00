#!/usr/bin/env python3
"""What profiling costs a thread-per-request server: Debian's python3
`http.server` (a thread per request) under wrk (1 thread, 4 connections,
3 s), bare, beside `perfprobe sidecar`, beside `perfprobe sidecar --heap`,
and beside bpftrace uprobes on the same allocator functions (malloc, calloc,
realloc and their returns, free on its first instruction: bpftrace will not
probe past a function's entry). Alternated, several runs each; medians of
requests a second and their ratio to bare. Not a test: it prints figures.
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time

from benchkit import PERFPROBE, require_built

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


def bpftrace_program():
    entries = "".join(f"uprobe:{LIBC}:{f} {{ @calls[probe] = count(); }} " for f in ["malloc", "calloc", "realloc", "free"])
    returns = "".join(f"uretprobe:{LIBC}:{f} {{ @returns[probe] = count(); }} " for f in ["malloc", "calloc", "realloc"])
    return entries + returns


def requests_per_second(output):
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return float(rate.group(1)) if rate else 0.0, sum(map(int, errors.groups())) if errors else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    require_built(PERFPROBE)
    site = tempfile.mkdtemp()
    with open(os.path.join(site, "index.html"), "w") as page:
        page.write("hello\n")
    server = subprocess.Popen(["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", site, "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={"PYTHONUNBUFFERED": "1"})
    port = re.search(r"port (\d+)", server.stdout.readline().decode()).group(1)
    wrk = ["wrk", "-t1", "-c4", "-d3s", f"http://127.0.0.1:{port}/index.html"]
    output = os.path.join(site, "profile")

    def bare():
        return subprocess.run(wrk, capture_output=True, text=True).stdout

    def sidecar(*options):
        return lambda: subprocess.run([PERFPROBE, "sidecar", "--pid", str(server.pid), *options, "--output", output, "--", *wrk],
                                      capture_output=True, text=True).stdout

    def bpftrace():
        tracer = subprocess.Popen(["bpftrace", "-p", str(server.pid), "-e", bpftrace_program()],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        while "Attaching" not in tracer.stdout.readline():
            pass
        time.sleep(0.5)  # bpftrace prints before its last probe is placed
        result = bare()
        tracer.send_signal(2)
        tracer.communicate()
        return result

    cases = {"bare": bare, "perfprobe sidecar": sidecar(), "perfprobe sidecar --heap": sidecar("--heap"), "bpftrace": bpftrace}
    rates = {name: [] for name in cases}
    errors = {name: 0 for name in cases}
    try:
        for _ in range(arguments.runs):
            for name, run in cases.items():
                rate, failed = requests_per_second(run())
                rates[name].append(rate)
                errors[name] += failed
    finally:
        server.kill()
    base = statistics.median(rates["bare"])
    print(f"python3 http.server, wrk -t1 -c4 -d3s; medians of {arguments.runs} alternated runs")
    print("| case | requests/s | ratio to bare | runs | socket errors |")
    print("| --- | --- | --- | --- | --- |")
    for name, values in rates.items():
        print(f"| {name} | {statistics.median(values):.0f} | {statistics.median(values) / base:.2f} | "
              f"{', '.join(f'{v:.0f}' for v in values)} | {errors[name]} |")


if __name__ == "__main__":
    main()
