"""What the benchmark scripts share: the repository's built files and
Debian's allocator libraries."""
import os
import sys

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
