#!/usr/bin/env python3
"""Runs probes/test/stress (the heap probe linked in, under ASan and UBSan)
with a heap ring of its own, made and drained as perfprobe run --heap does
(a sealed memfd: the header page, then the records), and checks that it
exits 0 and that every record the probe wrote is well-formed."""
import fcntl, mmap, os, struct, subprocess, sys, time

MAGIC, HEADER, CAPACITY = 0x32706870, 4096, 1 << 24  # perfprobe's own size
RESERVED, CONSUMED, DROPPED = 64, 128, 192  # offsets of the header's counters
ALLOC, FREE, PAD = 1, 2, 3
ALLOC_HEADER = 8 + 16 + 8 * 4 + 8 * 24

binary = sys.argv[1]
fd = os.memfd_create("perfprobe-heap", os.MFD_ALLOW_SEALING)
os.ftruncate(fd, HEADER + CAPACITY)
fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
ring = mmap.mmap(fd, HEADER + CAPACITY)
struct.pack_into("<IIQ", ring, 0, MAGIC, HEADER, CAPACITY)
env = dict(os.environ, PERFPROBE_HEAP_FD=str(fd), PERFPROBE_HEAP_SAMPLE_BYTES="65536",
           ASAN_OPTIONS="detect_leaks=0:abort_on_error=0", UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
process = subprocess.Popen([binary], env=env, pass_fds=[fd])
consumed = allocations = frees = 0


def drain():
    """Reads what is written; x86's stores are seen in order, so a non-zero
    leading word means its record is whole."""
    global consumed, allocations, frees
    reserved, = struct.unpack_from("<Q", ring, RESERVED)
    while consumed < reserved:
        offset = HEADER + consumed % CAPACITY
        word, = struct.unpack_from("<Q", ring, offset)
        if word == 0:
            return
        length, kind = word & 0xFFFFFFFF, word >> 32
        if length < 8 or length % 8 or (consumed % CAPACITY) + length > CAPACITY:
            sys.exit(f"malformed record length {length} at {consumed}")
        if kind == ALLOC:
            stack, = struct.unpack_from("<I", ring, offset + 16)
            if length < ALLOC_HEADER or stack > length - ALLOC_HEADER:
                sys.exit(f"allocation record of {length} bytes claims a {stack}-byte stack")
            allocations += 1
        elif kind == FREE:
            if length != 32:
                sys.exit(f"free record of {length} bytes")
            frees += 1
        elif kind != PAD:
            sys.exit(f"record of unknown type {kind} at {consumed}")
        ring[offset:offset + length] = bytes(length)
        consumed += length
        struct.pack_into("<Q", ring, CONSUMED, consumed)


while process.poll() is None:
    drain()
    time.sleep(0.005)  # the agent's own pace: it drains a hundred times a second
drain()
dropped = struct.unpack_from("<QQQ", ring, DROPPED)
status = process.returncode
print(f"heap probe under ASan+UBSan: exit {status}, {allocations} sampled allocations, {frees} frees, "
      f"dropped (ring full: allocations, frees; table full) {dropped}")
sys.exit(0 if status == 0 and allocations > 0 and frees > 0 else 1)
