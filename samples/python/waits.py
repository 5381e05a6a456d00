"""Off-CPU ground truth in Debian's python3, a program perfprobe's authors did
not write the runtime of: threads that block where they say, each timing its
own blocking calls with time.perf_counter. The sleeper sleeps in time.sleep;
the holder keeps a threading.Lock 80% of the time (sleeping while it holds
it); the waiter blocks on that lock; the reader blocks in os.read on a pipe
a feeder writes to every 10 ms. Prints "ready", then after SECONDS one JSON
line: per thread its native tid, its life and the seconds blocked in its
call."""
import json
import os
import sys
import threading
import time

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
deadline = time.perf_counter() + seconds
lock = threading.Lock()
reading, writing = os.pipe()
truths = {}


def thread(name, body):
    def run():
        start = time.perf_counter()
        blocked = body()
        truths[name] = {"tid": threading.get_native_id(), "life": time.perf_counter() - start, "blocked": blocked}
    return threading.Thread(target=run, name=name)


def timed(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def sleeper():
    blocked = 0.0
    while time.perf_counter() < deadline:
        blocked += timed(lambda: time.sleep(0.01))
    return blocked


def holder():
    while time.perf_counter() < deadline:
        with lock:
            time.sleep(0.008)
        time.sleep(0.002)
    return 0.0


def waiter():
    blocked = 0.0
    time.sleep(0.001)
    while time.perf_counter() < deadline:
        blocked += timed(lock.acquire)
        lock.release()
        time.sleep(0.0005)
    return blocked


def feeder():
    while time.perf_counter() < deadline:
        time.sleep(0.01)
        os.write(writing, b"x")
    os.write(writing, b"q")
    return 0.0


def reader():
    blocked = 0.0
    while True:
        start = time.perf_counter()
        byte = os.read(reading, 1)
        blocked += time.perf_counter() - start
        if byte == b"q":
            return blocked


threads = [thread(name, body) for name, body in
           [("sleeper", sleeper), ("holder", holder), ("waiter", waiter), ("feeder", feeder), ("reader", reader)]]
for t in threads:
    t.start()
print("ready", flush=True)
for t in threads:
    t.join()
print(json.dumps(truths), flush=True)
