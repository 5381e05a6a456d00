"""A CPU-bound JSON workload for a fixed CPU time: encodes and decodes a
nested document until SECONDS (default 2.7) of this process's CPU are spent.
Run under Debian's debug interpreter (python3.11d) it is the workload of
the source-line benchmark: a big C program with full DWARF."""
import json
import sys
import time

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.7
document = {"items": [{"id": i, "name": "item-%d" % i, "tags": ["a", "b", "c"], "price": i * 0.5,
                       "nested": {"x": i, "y": [i, i + 1, i + 2]}} for i in range(200)]}
rounds = 0
end = time.process_time() + seconds
while time.process_time() < end:
    text = json.dumps(document)
    assert json.loads(text) == document
    rounds += 1
print(rounds, "rounds")
