"""What the benchmark scripts share: the repository's built files and
Debian's allocator libraries."""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# PERFPROBE_BINARY: another build to measure (an earlier commit's, for before/after figures).
PERFPROBE = os.environ.get("PERFPROBE_BINARY") or os.path.join(ROOT, ".build/release/perfprobe")
SAMPLES = os.path.join(ROOT, "samples/build")
_LIBRARIES = "/usr/lib/x86_64-linux-gnu"
# Debian's other allocators, preloaded into a sample; those not installed are left out.
PRELOADED_ALLOCATORS = {name: path for name, path in {
    "jemalloc": f"{_LIBRARIES}/libjemalloc.so.2",
    "tcmalloc": f"{_LIBRARIES}/libtcmalloc_minimal.so.4",
    "mimalloc": f"{_LIBRARIES}/libmimalloc.so.2",
}.items() if os.path.exists(path)}


def require_built(*paths):
    """Exits with the way to build them when any of `paths` is missing."""
    for path in paths:
        if not os.path.exists(path):
            sys.exit(f"missing {path}: run `make bench`, which builds it")


def run(command, scratch, agent_report=None):
    """Runs `command`; returns the target's own figures and the command's
    (and, for perfprobe, its own CPU and peak RSS from its report)."""
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=scratch)
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - start
    if status != 0:
        sys.exit(f"failed ({status}): {' '.join(command)}")
    target = next(json.loads(line) for line in output.splitlines() if line.startswith('{"wall_seconds"'))
    figures = {
        "target_wall": target["wall_seconds"],
        "target_cpu": target["cpu_seconds"],
        "command_wall": wall,
        "command_cpu": usage.ru_utime + usage.ru_stime,
    }
    if agent_report:
        with open(os.path.join(scratch, agent_report)) as f:
            report = json.load(f)
        figures["agent_cpu"] = report["agent"]["cpu_seconds"]
        figures["agent_peak_rss_mib"] = report["agent"]["peak_rss_bytes"] / 1048576
        figures["samples"] = report["samples"]["total"]
    return figures
