#!/usr/bin/env bash
# The whole test suite under AddressSanitizer, then under ThreadSanitizer,
# each in a build folder of its own (.build-asan, .build-tsan: the perfprobe
# binary the tests run is built with the same sanitizer), and the heap probe's
# C under ASan and UBSan (probes/Makefile `sanitize`). Unit tests first, then
# the binary's tests, as `make test` runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
swift=${SWIFT:-swift}
for sanitizer in address thread; do
  scratch=.build-${sanitizer/address/asan}
  scratch=${scratch/thread/tsan}
  echo "== the test suite under -sanitize=$sanitizer ($scratch)"
  flags=(--scratch-path "$scratch" -Xswiftc "-sanitize=$sanitizer" -Xcc "-fsanitize=$sanitizer")
  "$swift" build --build-tests "${flags[@]}"
  make -s -C probes OUT="$PWD/$scratch/debug"
  # Swift's runtime keeps some allocations to process exit on purpose: leaks are not what this run looks for.
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  "$swift" test --skip-build "${flags[@]}" --filter PerfProbeCoreTests
  # HeapEstimateTests (probes firing ~90,000 times a second) and the attached
  # churner (~400,000) need an agent that keeps up with every allocator call:
  # the release agent does; a sanitized debug agent does not (the kernel drops
  # its records: estimates read 0.25x, 930,965 records dropped on the churner,
  # whose missing frees then read as a leak — which the report says). Their
  # code paths run under the sanitizers in MemoryTests and HeapProbeTests.
  "$swift" test --skip-build "${flags[@]}" --filter PerfProbeCLITests --skip "HeapEstimateTests|attachedChurnerHasNoLeakingStack"
  unset ASAN_OPTIONS TSAN_OPTIONS
done
echo "== the heap probe under ASan and UBSan"
make -s -C probes sanitize OUT="$PWD/.build-asan/probes"
