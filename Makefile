# The README's two commands: `make demo` and `make test`. Both install what
# they need first (scripts/install-deps.sh), so a fresh machine needs nothing else.
SWIFT ?= swift

.PHONY: deps demo test fuzz sanitize bench clean

# The agent; the `perfprobe` command beside it is the launcher that probes/
# builds (it raises attach's priority before the agent loads). The Swift
# runtime linked in: with its shared libraries the agent's loading was
# 1.4-1.8 s longer beside 500 busy threads (run at normal priority, as
# perfprobe-agent run directly is until its start-up constructor).
RELEASE_BUILD = $(SWIFT) build -c release --static-swift-stdlib --product perfprobe-agent

deps:
	scripts/install-deps.sh

# Builds perfprobe (agent and launcher) and profiles the bundled 70/30 sample. The product alone:
# the fuzz target reaches into PerfProbeCore's internals (@testable), which a
# release build of PerfProbeCore does not open.
demo: deps
	$(RELEASE_BUILD)
	$(MAKE) -s -C probes OUT=$(CURDIR)/.build/release
	$(MAKE) -s -C samples
	.build/release/perfprobe run --frequency 999 --output perfprobe-demo -- samples/build/cpu_split 3

# Unit tests against fixtures, integration tests of the binary against samples/;
# the pprof files are read back with the real pprof (golang-go's go tool pprof),
# report.html is opened in headless Chromium, the sidecar's endpoints are read
# with curl and its metrics checked by promtool (Debian's prometheus), the
# sample server is driven through load phases by wrk, and the source lines of
# Debian's debug-build Python (python3.11-dbg) are checked against addr2line,
# and the kernel's struct layout (BTF) against bpftool's.
test: deps
	scripts/install-deps.sh chromium curl tmux prometheus wrk python3 python3.11-dbg linux-perf bpftool xz-utils nodejs libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0
	$(MAKE) -s -C samples
	$(SWIFT) build --build-tests
	$(RELEASE_BUILD)
	$(MAKE) -s -C probes OUT=$(CURDIR)/.build/debug
	$(MAKE) -s -C probes OUT=$(CURDIR)/.build/release
	# The binary's tests after the unit tests, not beside them: the samples'
	# ground truth needs the machine's two CPUs (a 12-s symbol test running
	# alongside moved cpu_split's 70/30 by 3.5 points). They run the release
	# build, as users do: the debug build's agent falls behind an allocator
	# probed 300,000 times a second (churner: two thirds of the records lost).
	$(SWIFT) test --skip-build --filter PerfProbeCoreTests
	PERFPROBE_BINARY=$(CURDIR)/.build/release/perfprobe $(SWIFT) test --skip-build --filter PerfProbeCLITests

# Every parser of untrusted input under libFuzzer with AddressSanitizer,
# FUZZ_SECONDS each (scripts/fuzz.sh); the committed corpora and crash inputs
# are replayed by `make test` too.
FUZZ_SECONDS ?= 20
FUZZ_BUILD = $(SWIFT) build --scratch-path .build-fuzz --product perfprobe-fuzz \
	-Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xcc -fsanitize=fuzzer-no-link,address
fuzz: deps
	$(FUZZ_BUILD)
	scripts/fuzz.sh $(FUZZ_SECONDS)

# The whole test suite under AddressSanitizer, then ThreadSanitizer (each in a
# build folder of its own), and the heap probe's C under ASan and UBSan.
sanitize: deps
	scripts/install-deps.sh chromium curl tmux prometheus wrk python3 linux-perf xz-utils nodejs libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0
	$(MAKE) -s -C samples
	scripts/sanitize.sh

# Overhead ratios against the bare program and perf record (not a test).
bench:
	scripts/install-deps.sh linux-perf
	$(RELEASE_BUILD)
	$(MAKE) -s -C probes OUT=$(CURDIR)/.build/release
	$(MAKE) -s -C samples
	python3 scripts/bench-overhead.py --unwind fp
	python3 scripts/bench-overhead.py --unwind dwarf
	scripts/install-deps.sh heaptrack valgrind bpftrace wrk python3
	python3 scripts/bench-heap.py
	python3 scripts/bench-attach-heap.py
	python3 scripts/bench-heap-estimates.py
	python3 scripts/bench-threaded-server.py
	python3 scripts/bench-threads.py
	python3 scripts/bench-bystander.py
	python3 scripts/bench-offcpu.py
	scripts/install-deps.sh python3.11-dbg
	python3 scripts/bench-lines.py
	scripts/install-deps.sh tmux
	python3 scripts/bench-top.py
	python3 scripts/interval-coverage.py
	python3 scripts/gate-experiment.py

clean:
	$(MAKE) -C samples clean
	rm -rf .build perfprobe-demo
