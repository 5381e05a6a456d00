# The README's two commands: `make demo` and `make test`. Both install what
# they need first (scripts/install-deps.sh), so a fresh machine needs nothing else.
SWIFT ?= swift

.PHONY: deps demo test bench clean

deps:
	scripts/install-deps.sh

# Builds perfprobe and profiles the bundled 70/30 sample.
demo: deps
	$(SWIFT) build -c release
	$(MAKE) -s -C probes OUT=$(CURDIR)/.build/release
	$(MAKE) -s -C samples
	.build/release/perfprobe run --frequency 999 --output perfprobe-demo -- samples/build/cpu_split 3

# Unit tests against fixtures, integration tests of the binary against samples/;
# the pprof files are read back with the real pprof (golang-go's go tool pprof),
# report.html is opened in headless Chromium, the sidecar's endpoints are read
# with curl and its metrics checked by promtool (Debian's prometheus), and the
# sample server is driven through load phases by wrk.
test: deps
	scripts/install-deps.sh golang-go chromium curl prometheus wrk
	$(MAKE) -s -C samples
	$(SWIFT) build --build-tests
	$(MAKE) -s -C probes OUT=$(CURDIR)/.build/debug
	# The binary's tests after the unit tests, not beside them: the samples'
	# ground truth needs the machine's two CPUs (a 12-s symbol test running
	# alongside moved cpu_split's 70/30 by 3.5 points).
	$(SWIFT) test --skip-build --filter PerfProbeCoreTests
	$(SWIFT) test --skip-build --filter PerfProbeCLITests

# Overhead ratios against the bare program and perf record (not a test).
bench:
	scripts/install-deps.sh linux-perf
	$(SWIFT) build -c release
	$(MAKE) -s -C probes OUT=$(CURDIR)/.build/release
	$(MAKE) -s -C samples
	python3 scripts/bench-overhead.py --unwind fp
	python3 scripts/bench-overhead.py --unwind dwarf
	scripts/install-deps.sh heaptrack valgrind bpftrace
	python3 scripts/bench-heap.py
	python3 scripts/bench-attach-heap.py

clean:
	$(MAKE) -C samples clean
	rm -rf .build perfprobe-demo
