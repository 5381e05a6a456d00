"""Starts and joins a threading.Thread every 10 ms for SECONDS and counts the
starts that failed ("can't start new thread"): a profiler attached to it
must make none fail. Prints "ready" once running (to attach then), and at the
end its count as JSON.
Usage: python3 thread_starts.py SECONDS"""
import json
import sys
import threading
import time

seconds = float(sys.argv[1])
started = failed = 0
print("ready", flush=True)
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:
        thread = threading.Thread(target=lambda: sum(range(1000)))
        thread.start()
        thread.join()
        started += 1
    except RuntimeError:
        failed += 1
    time.sleep(0.01)
print(json.dumps({"started": started, "failed": failed}), flush=True)
