"""Ground truth for a leak the program frees at exit: a Python service loop
that keeps a 4 KiB bytearray per request in a module-level list (the leak)
and makes ten short-lived 2 KiB bytearrays per request (churn), 450 requests
a second. Both go through PyByteArray_Resize -> realloc: one native stack
that leaks and churns. Interpreter teardown frees the list after the loop
ends. Prints the leak rate it made: kept payload bytes over its run time.
Usage: python3 py_leak_service.py SECONDS"""
import sys
import time

KEPT = []


def handle():
    for _ in range(10):
        scratch = bytearray(2048)
        scratch[0] = 1
    KEPT.append(bytearray(4096))


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5
    start = time.monotonic()
    done = 0
    while True:
        now = time.monotonic() - start
        if now >= seconds:
            break
        while done < now * 450:
            handle()
            done += 1
        time.sleep(0.002)
    elapsed = time.monotonic() - start
    print(f"leaked {len(KEPT) * 4096 / elapsed:.0f} B/s over {elapsed:.2f} s")


main()
