"""Fixed CPU work for profiling Debian's python3: ROUNDS rounds of pure
Python arithmetic, dictionary churn and sorting, so the interpreter's own
native functions (the eval loop, dict and list code, the allocator) carry the
time. Deterministic: the same rounds do the same work.
Usage: python3 interpreter_work.py ROUNDS"""
import sys


def arithmetic(n):
    total = 0
    for i in range(n):
        total = (total * 31 + i) % 1000003
    return total


def dictionaries(n):
    table = {}
    for i in range(n):
        table[f"k{i % 997}"] = table.get(f"k{(i * 7) % 997}", 0) + i
    return len(table)


def sorting(n):
    values = [(i * 7919) % n for i in range(n)]
    return sorted(values, key=lambda v: -v)[0]


rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
sink = 0
for _ in range(rounds):
    sink += arithmetic(200000) + dictionaries(100000) + sorting(50000)
print(sink % 10)
