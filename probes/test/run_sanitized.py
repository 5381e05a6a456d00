#!/usr/bin/env python3
"""Runs probes/test/stress (the heap probe linked in, under ASan and UBSan)
with a heap channel of its own, as perfprobe run --heap would, and checks
that it exits 0 and that what the probe sent is well-formed records."""
import os, socket, struct, subprocess, sys

binary = sys.argv[1]
agent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
env = dict(os.environ, PERFPROBE_HEAP_FD=str(child.fileno()), PERFPROBE_HEAP_SAMPLE_BYTES="65536",
           ASAN_OPTIONS="detect_leaks=0:abort_on_error=0", UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
process = subprocess.Popen([binary], env=env, pass_fds=[child.fileno()])
child.close()
agent.settimeout(1.0)
messages = allocations = frees = 0
while True:
    try:
        data = agent.recv(1 << 20)
    except socket.timeout:
        if process.poll() is not None:
            break
        continue
    if not data:
        break
    messages += 1
    offset = 0
    while offset + 16 <= len(data):
        kind, = struct.unpack_from("<I", data, offset)
        if kind == 1:
            stack, = struct.unpack_from("<I", data, offset + 12)
            offset += 16 + 8 * 5 + 8 * 24 + stack
            allocations += 1
        elif kind == 2:
            count, = struct.unpack_from("<I", data, offset + 8)
            offset += 16 + 16 * count
            frees += count
        else:
            sys.exit(f"malformed record type {kind} at {offset} of a {len(data)}-byte message")
    if offset != len(data):
        sys.exit(f"a record overran its {len(data)}-byte message")
status = process.wait()
print(f"heap probe under ASan+UBSan: exit {status}, {messages} messages, {allocations} sampled allocations, {frees} frees")
sys.exit(0 if status == 0 and allocations > 0 else 1)
