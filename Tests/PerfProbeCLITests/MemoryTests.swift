import Foundation
import PerfProbeCore
import Testing

/// Memory growth against the samples' known leak rates and working sets.
extension BinaryTests {
@Suite struct MemoryTests {
    static func results(_ directory: String) throws -> MemoryResultsFormat.Results {
        try MemoryResultsFormat.decode(Data(contentsOf: URL(fileURLWithPath: directory + "/test-performance-memory-results.json")))
    }

    /// leaker leaks 1 MiB/s.
    static func expectLeak(_ outcome: Harness.Outcome) throws {
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let memory = try #require(try outcome.report.memory)
        #expect(memory.growth.verdict == .growing)
        #expect(abs(memory.growth.slopeBytesPerSecond / 1_048_576 - 1) <= 0.3, "\(memory.growth)")
        let results = try Self.results(outcome.directory)
        #expect(results.success == false)
        #expect(results.memoryLeaksDetected == 1)
        let leak = try #require(results.memoryLeaks.first)
        #expect(abs(leak.growthRate / 1_048_576 - 1) <= 0.3)
        #expect(leak.severity == "high")
        #expect(results.heapUsage.max > results.heapUsage.min + 2 * 1_048_576)
        #expect(results.peakMemoryUsage >= results.heapUsage.max)
        #expect(outcome.stderr.contains("leak suspected"))
    }

    @Test func runFindsTheLeakRate() throws {
        let resultsDir = Harness.scratch()
        // 16 KiB sampling: at the default 512 KiB a 5 s run holds ~8 samples of this leak.
        let outcome = try Harness.perfprobe(["run", "--heap", "--heap-sample-bytes", "16384", "--results-dir", resultsDir, "--",
                                             Harness.samples + "/leaker", "5"])
        try Self.expectLeak(outcome)
        // The results file also lands in --results-dir.
        #expect(try Self.results(resultsDir).memoryLeaksDetected == 1)
        #expect(!FileManager.default.fileExists(atPath: resultsDir + "/report.json"))
    }

    @Test func attachFindsTheLeakRate() throws {
        let target = try Harness.launch("leaker", ["0"])
        defer { Harness.stop(target) }
        try Self.expectLeak(try Harness.perfprobe(["attach", "--heap", "--duration", "4.5", String(target.processIdentifier)]))
    }

    @Test func boundedChurnIsNotALeak() throws {
        let outcome = try Harness.perfprobe(["run", "--heap", "--", Harness.samples + "/churner", "4"])
        #expect(try outcome.report.memory?.growth.verdict == .stable)
        let results = try Self.results(outcome.directory)
        #expect(results.success && results.memoryLeaksDetected == 0 && results.memoryLeaks.isEmpty)
    }

    /// The churner of issue 12 (4096 fixed-size slots, ~190k pairs a second):
    /// flat bare, it grew 2 MiB under `run --heap` and was called a leak,
    /// because the probe's 8 MiB table (calloc'd from the target's own heap)
    /// was faulted in page by page as sampled addresses landed in new slots.
    /// Now: stable, no leak, and within 10% of the bare run's anonymous memory.
    @Test func ringChurnerKeepsItsMemoryUnderTheProbe() throws {
        let bare = try Harness.launch("ring_churner", ["4"])
        Thread.sleep(forTimeInterval: 2) // past its first fill; its memory is flat from there
        let status = try String(contentsOfFile: "/proc/\(bare.processIdentifier)/status", encoding: .utf8)
        Harness.stop(bare)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") })
        let bareBytes = try #require(Double(line.split(separator: " ").dropFirst().first ?? "")) * 1024

        let outcome = try Harness.perfprobe(["run", "--heap", "--", Harness.samples + "/ring_churner", "8"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let memory = try #require(try outcome.report.memory)
        #expect(memory.growth.verdict == .stable, "\(memory.growth)")
        let peak = Double(memory.timeline.map(\.anonymousBytes).max() ?? 0)
        #expect(peak <= bareBytes * 1.1, "anonymous \(peak) B under the probe, \(bareBytes) B bare")
        let results = try Self.results(outcome.directory)
        #expect(results.success && results.memoryLeaksDetected == 0)
        #expect(try outcome.report.heap?.stacks.allSatisfy { $0.kind != .leak } == true)
        // The probe's own memory, said in the report: what the bound above allows for.
        let footprint = try #require(try outcome.report.heap?.probeMemory)
        #expect(Double(footprint.privateBytes) <= bareBytes * 0.1 && footprint.sharedRingBytes > 0)

        let target = try Harness.launch("ring_churner", ["30"])
        defer { Harness.stop(target) }
        let attached = try Harness.perfprobe(["attach", "--heap", "--duration", "4", String(target.processIdentifier)])
        #expect(try attached.report.memory?.growth.verdict == .stable)
    }

    /// Leaks a program frees as it ends (issue 12): an atexit handler freeing
    /// a C program's global list, and Debian's python3 tearing down a
    /// module-level list whose stack also churns ten short-lived buffers per
    /// kept one. Teardown frees erased the leak (`transient`, `churn … 0 B
    /// outstanding`); now each is a leak at its printed rate ±15%, in
    /// `run --heap` and `attach --heap`, with what it held freed at exit.
    @Test(arguments: [("exit_freed_leak", "remember_request"), ("python3", "PyByteArray_Resize")])
    func leaksFreedAtExitAreStillLeaks(program: String, function: String) throws {
        let command = program == "python3"
            ? ["/usr/bin/python3", Harness.repository.appendingPathComponent("samples/py_leak_service.py").path, "5"]
            : [Harness.samples + "/" + program, "5"]
        let run = try Harness.perfprobe(["run", "--heap", "--heap-sample-bytes", "16384", "--"] + command)
        #expect(run.status == 0, "\(run.stderr)")
        try Self.expectLeakFreedAtExit(try run.report, printed: run.stdout, function: function, by: "run --heap")

        let target = Process()
        target.executableURL = URL(fileURLWithPath: command[0])
        target.arguments = Array(command.dropFirst())
        let output = Pipe()
        target.standardOutput = output
        try target.run()
        try Harness.waitUntilLoaded(target)
        // Until the process exits: its teardown is part of what the probes see.
        // Every allocating call sampled (~4,800 a second): at the default
        // 1,000 stacks a second ~320 kept blocks are sampled and the rate's
        // sampling error alone is ~10% (0.82x-1.20x in 8 runs), which is not
        // what this test is about; sampled every call, 1.000x in 5 of 5.
        let attached = try Harness.perfprobe(["attach", "--heap", "--heap-frequency", "20000", String(target.processIdentifier)])
        target.waitUntilExit()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        try Self.expectLeakFreedAtExit(try attached.report, printed: printed, function: function, by: "attach --heap")
    }

    static func expectLeakFreedAtExit(_ report: ProfileReport, printed: String, function: String, by mode: String) throws {
        // "leaked N B/s": the program's own count of what it kept.
        let truth = try #require(printed.split(separator: " ").dropFirst().first.flatMap { Double($0) }, "\(printed)")
        let heap = try #require(report.heap)
        let leak = try #require(heap.stacks.first { $0.functions.contains(function) && $0.kind == .leak },
                                "\(heap.stacks.map { ($0.kind, $0.functions.suffix(3)) })")
        #expect(abs(leak.growthBytesPerSecond / truth - 1) <= 0.15, "\(mode): \(leak.growthBytesPerSecond) B/s for \(truth) B/s")
        #expect((leak.freedAtExitBytes ?? 0) > 0)
    }

    /// Frees by a thread that then sits idle, and an exit with threads still
    /// alive (issue 12): a probe that batched frees per thread held the idle
    /// freer's and lost them at exit, and called hand_over's blocks a leak.
    /// All 2,000 are freed before exit: each sampled one has its free.
    @Test func blocksFreedByAnIdleThreadBeforeExitAreNotOutstanding() throws {
        let outcome = try Harness.perfprobe(["run", "--heap", "--heap-sample-bytes", "16384", "--", Harness.samples + "/idle_freer"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("made 2000 freed 2000"))
        let heap = try #require(try outcome.report.heap)
        let handed = try #require(heap.stacks.first { $0.functions.contains("hand_over") })
        // 16 KiB blocks sampled every 16 KiB on average: 1 - 1/e of 2,000.
        #expect(abs(Double(handed.allocations) / (2000 * (1 - exp(-1))) - 1) <= 0.1, "\(handed.allocations)")
        #expect(handed.frees == handed.allocations && handed.outstandingBytes == 0 && handed.kind != .leak)
        #expect(heap.droppedSamples == 0 && heap.droppedFrees == 0)
    }

    /// A SIGALRM handler freeing 20,000 times a second while the main loop
    /// allocates, so that it lands inside the probe's own calls (issue 12):
    /// the target exits 0 and every handed block's sample has its free —
    /// the counts agree with what the program says it handed and freed.
    @Test func freesInASignalHandlerInsideTheProbeAreAllCounted() throws {
        let outcome = try Harness.perfprobe(["run", "--heap", "--", Harness.samples + "/signal_free", "2"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let printed = outcome.stdout.split(separator: "\n").first { $0.hasPrefix("handed ") }?.split(separator: " ") ?? []
        let handed = try #require(printed.count == 6 ? Int(printed[1]) : nil, "\(outcome.stdout)")
        #expect(printed[3] == printed[1] && (Int(printed[5]) ?? 0) > handed / 2, "\(printed)")
        let heap = try #require(try outcome.report.heap)
        // 33 MiB blocks at a 512 KiB mean: every one sampled.
        let stack = try #require(heap.stacks.first { $0.functions.last == "hand_block" })
        #expect(stack.allocations == handed && stack.frees == handed && stack.outstandingBytes == 0, "\(stack.allocations) \(stack.frees)")
        #expect(heap.droppedSamples == 0 && heap.droppedFrees == 0)
    }

    @Test func plateauIsNotALeak() throws {
        let outcome = try Harness.perfprobe(["run", "--heap", "--", Harness.samples + "/plateau", "6", "3"])
        #expect(try outcome.report.memory?.growth.verdict == .plateau)
        let results = try Self.results(outcome.directory)
        #expect(results.success && results.memoryLeaksDetected == 0, "\(results.memoryLeaks.map(\.description))")
        #expect(results.optimizationOpportunities.count == 1)
    }

    /// Allocations on a 3-page sigaltstack and a ucontext fiber, each stack's
    /// mapping ending at an unmapped page (issue 12): the probe's 16 KiB
    /// stack copy read past it and killed the target with SIGSEGV. Now the
    /// target exits 0 and both allocating functions head their stacks, each
    /// with its share of the 200 allocations sampled (256 KiB blocks at the
    /// default 512 KiB mean: p = 1 - e^-0.5 ≈ 0.39, so 79 expected).
    @Test func allocationsOnSmallSignalAndFiberStacksAreTraced() throws {
        let outcome = try Harness.perfprobe(["run", "--heap", "--", Harness.samples + "/odd_stacks", "200"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("rounds 200"))
        let heap = try #require(try outcome.report.heap)
        for function in ["alloc_in_handler", "alloc_in_fiber"] {
            let stack = try #require(heap.stacks.first { $0.functions.suffix(2) == [function, "touched_malloc"] }, "\(function)")
            // Binomial(200, 0.39): 79 ± 7 (one sd); 40...120 fails only if sampling is broken.
            #expect((40...120).contains(stack.allocations), "\(function): \(stack.allocations)")
        }
        let handler = heap.stacks.first { $0.functions.contains("alloc_in_handler") }
        #expect(handler?.functions.contains("on_signal") == true, "\(handler?.functions ?? [])")
    }

    /// With the allocation probe (sampling every 16 KiB so a 4 s run has
    /// plenty of samples): the leak is pinned on leaky_cache_insert at 1 MiB/s,
    /// churn_requests' 512 allocations a second are churn, not a leak.
    @Test func runAttributesTheLeakToItsStack() throws {
        let outcome = try Harness.perfprobe(["run", "--heap", "--heap-sample-bytes", "16384", "--",
                                             Harness.samples + "/leaker", "4"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let heap = try #require(try outcome.report.heap)
        let leaks = heap.stacks.filter { $0.kind == .leak }
        #expect(leaks.count == 1)
        let leak = try #require(leaks.first)
        #expect(leak.functions.suffix(2) == ["leaky_cache_insert", "touched_malloc"], "\(leak.functions)")
        #expect(leak.functions.first == "_start")
        #expect(abs(leak.growthBytesPerSecond / 1_048_576 - 1) <= 0.3, "\(leak.growthBytesPerSecond)")
        #expect(leak.frees == 0)
        let churn = try #require(heap.stacks.first { $0.functions.contains("churn_requests") })
        #expect(churn.kind == .churn)
        #expect(abs(churn.allocationsPerSecond / 512 - 1) <= 0.3, "\(churn.allocationsPerSecond)")
        // Each verdict's evidence is its interval's lower bound: growth past 32 KiB/s, churn past 100 allocations a second.
        let growth = try #require(leak.growthInterval), rate = try #require(churn.allocationsPerSecondInterval)
        #expect(growth.low >= 32 * 1024 && growth.contains(leak.growthBytesPerSecond), "\(growth)")
        #expect(rate.low >= 100 && rate.contains(churn.allocationsPerSecond), "\(rate)")
        #expect(heap.droppedSamples == 0)
        // No frame of the probe itself in any stack.
        #expect(!heap.stacks.contains { $0.modules.contains("libperfprobe-heap.so") })

        let results = try Self.results(outcome.directory)
        #expect(results.success == false && results.memoryLeaksDetected == 1)
        let reported = try #require(results.memoryLeaks.first)
        #expect(reported.type == "heap_allocation_leak")
        #expect(reported.description.contains("leaky_cache_insert"))
        #expect(results.optimizationOpportunities.contains { $0.contains("churn_requests") })
        #expect(outcome.stderr.contains("leak      "))
    }

    /// attach --heap through uprobes on glibc: every call counted, the leak
    /// pinned on leaky_cache_insert at 1 MiB/s, churn_requests' 512
    /// allocations a second reported as churn.
    @Test func attachAttributesTheLeakToItsStack() throws {
        let target = try Harness.launch("leaker", ["0"])
        defer { Harness.stop(target) }
        let outcome = try Harness.perfprobe(["attach", "--heap", "--duration", "4", String(target.processIdentifier)])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("probing glibc"), "\(outcome.stderr)")
        let heap = try #require(try outcome.report.heap)
        let probes = try #require(heap.probes)
        #expect(probes.allocator == "glibc" && probes.library.hasSuffix("/libc.so.6"))
        // 16 + 512 mallocs a second, 512 frees.
        let calls = Dictionary(uniqueKeysWithValues: probes.functions.map { ($0.symbol, $0.calls) })
        #expect(abs(Double(calls["malloc"] ?? 0) / (528 * 4) - 1) <= 0.3, "\(calls)")
        #expect(abs(Double(calls["free"] ?? 0) / (512 * 4) - 1) <= 0.3, "\(calls)")
        #expect(probes.calibration.map { $0.mallocNanoseconds > 0 && $0.freeNanoseconds > 0 } == true)
        let leaks = heap.stacks.filter { $0.kind == .leak }
        #expect(leaks.count == 1)
        let leak = try #require(leaks.first)
        #expect(leak.functions.suffix(2) == ["leaky_cache_insert", "touched_malloc"], "\(leak.functions)")
        #expect(abs(leak.growthBytesPerSecond / 1_048_576 - 1) <= 0.3, "\(leak.growthBytesPerSecond)")
        #expect(leak.frees == 0)
        let churn = try #require(heap.stacks.first { $0.functions.contains("churn_requests") })
        #expect(churn.kind == .churn && churn.outstandingBytes == 0)
        #expect(abs(churn.allocationsPerSecond / 512 - 1) <= 0.3, "\(churn.allocationsPerSecond)")
        #expect(try Self.results(outcome.directory).memoryLeaks.first?.description.contains("leaky_cache_insert") == true)
    }

    /// A static binary has no allocator library to probe: perfprobe says so
    /// and still measures its growth (1 MiB/s).
    @Test func attachToAStaticBinaryMeasuresGrowthOnly() throws {
        let target = try Harness.launch("leaker_static", ["0"])
        defer { Harness.stop(target) }
        let outcome = try Harness.perfprobe(["attach", "--heap", "--duration", "4.5", String(target.processIdentifier)])
        #expect(outcome.stderr.contains("allocations not traced, memory growth only"), "\(outcome.stderr)")
        #expect(try outcome.report.heap == nil)
        try Self.expectLeak(outcome)
    }

    @Test func attachedChurnerHasNoLeakingStack() throws {
        let target = try Harness.launch("churner", ["0"])
        defer { Harness.stop(target) }
        let outcome = try Harness.perfprobe(["attach", "--heap", "--duration", "3", String(target.processIdentifier)])
        let heap = try #require(try outcome.report.heap)
        #expect(heap.probes != nil && !heap.stacks.contains { $0.kind == .leak })
        #expect(heap.stacks.first { $0.functions.contains("replace_buffer") }?.kind == .churn)
        #expect(try Self.results(outcome.directory).success)
    }

    /// A heap window traces allocations for its length only; frees go on.
    /// Reads the first byte of malloc's and free's probed instructions in
    /// `pid`'s copy of its allocator library (0xcc while a uprobe is there),
    /// found by a first short attach.
    static func probedBytes(of pid: pid_t) throws -> () throws -> [UInt8] {
        let first = try Harness.perfprobe(["attach", "--heap", "--duration", "0.5", String(pid)])
        let probes = try #require(try first.report.heap?.probes)
        let maps = try String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)
        let text = try #require(MemoryMapping.parseProcMaps(Substring(maps)).first { $0.executable && $0.path == probes.library })
        let probed = ["malloc", "free"].compactMap { symbol in probes.functions.first { $0.symbol == symbol } }
            .map { text.start - text.fileOffset + $0.fileOffset + UInt64($0.probeOffset) }
        try #require(probed.count == 2)
        let memory = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/mem"))
        return {
            try probed.map { address in
                try memory.seek(toOffset: address)
                return try memory.read(upToCount: 1)?.first ?? 0
            }
        }
    }

    /// Polls `bytes` every 50 ms for up to 10 s until `wanted` holds.
    static func await(_ bytes: () throws -> [UInt8], _ wanted: ([UInt8]) -> Bool) throws -> Bool {
        for _ in 0..<200 {
            if wanted(try bytes()) { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    /// After the window, allocations are no longer traced and no longer
    /// cost the target a trap: malloc's breakpoint is gone (a disabled
    /// uprobe event still trapped at every call), free's stays.
    @Test func heapWindowStopsTracingAllocations() throws {
        let target = try Harness.launch("leaker", ["0"])
        defer { Harness.stop(target) }
        let bytes = try Self.probedBytes(of: target.processIdentifier)
        let original = try bytes()
        let agent = try Harness.start(["attach", "--heap", "--heap-window", "1.5", "--duration", "3.5",
                                       String(target.processIdentifier)])
        #expect(try Self.await(bytes) { $0 == [0xcc, 0xcc] }, "the breakpoints never appeared")
        #expect(try Self.await(bytes) { $0 == [original[0], 0xcc] }, "malloc's breakpoint stayed after the window")
        let outcome = try Harness.finish(agent)
        let probes = try #require(try outcome.report.heap?.probes)
        let disarmed = try #require(probes.disarmedAtSeconds)
        #expect(disarmed >= 1.5 && disarmed < 2.5)
        let calls = Dictionary(uniqueKeysWithValues: probes.functions.map { ($0.symbol, $0.calls) })
        // malloc counted for ~1.5 s of the 3.5, free for all of it (every
        // free is counted; only those of sampled blocks are recorded).
        let frees = try #require(probes.freeCalls)
        #expect(Double(calls["malloc"] ?? 0) < 0.7 * Double(frees), "\(calls), \(frees) frees")
        #expect(try bytes() == original)
    }

    /// Uprobes live in the target's copy of libc as int3 bytes; they must go
    /// when perfprobe goes, even by SIGKILL.
    @Test func probesVanishWithTheAgent() throws {
        let target = try Harness.launch("churner", ["0"])
        defer { Harness.stop(target) }
        let bytes = try Self.probedBytes(of: target.processIdentifier)
        let original = try bytes()
        #expect(!original.contains(0xcc))
        let agent = try Harness.start(["attach", "--heap", String(target.processIdentifier)])
        #expect(try Self.await(bytes) { $0 == [0xcc, 0xcc] }, "the breakpoints never appeared")
        kill(agent.0.processIdentifier, SIGKILL)
        agent.0.waitUntilExit()
        #expect(try bytes() == original)
    }

    /// Under the default sampling (every 512 KiB), a bounded churner has no
    /// leaking stack however many allocations it makes.
    @Test func churnerHasNoLeakingStack() throws {
        let outcome = try Harness.perfprobe(["run", "--heap", "--", Harness.samples + "/churner", "3"])
        let heap = try #require(try outcome.report.heap)
        #expect(!heap.stacks.contains { $0.kind == .leak })
        let replace = try #require(heap.stacks.first { $0.functions.contains("replace_buffer") })
        #expect(replace.kind == .churn)
        #expect(try Self.results(outcome.directory).success)
    }

    /// The probe leaves the target's behaviour alone: C++ exception handling
    /// (shapes fails unless every throw is caught; its exceptions are
    /// allocated, and seen), forked and exec'd children (fork_exec fails
    /// unless both succeed; the 64 KiB block each allocates is seen in its
    /// own stack: the probe went with them), and a crash stays a crash.
    /// Every allocation is sampled (a 4-KiB mean sampled none of a slow
    /// machine's few hundred exceptions once: 12–24 records a run).
    @Test func probeLeavesTargetsBehaviourAlone() throws {
        let run = { (sample: String, arguments: [String]) in
            try Harness.perfprobe(["run", "--heap", "--heap-sample-bytes", "1", "--", Harness.samples + "/" + sample] + arguments)
        }
        let shapes = try run("shapes", ["1"])
        #expect(shapes.status == 0, "\(shapes.stderr)")
        let thrown = try #require(try shapes.report.heap).stacks.filter { $0.functions.contains("__cxa_allocate_exception") }
        #expect(!thrown.isEmpty && thrown.allSatisfy { $0.outstandingBytes == 0 }, "\(thrown.map(\.functions))")

        let forked = try run("fork_exec", ["0.3"])
        #expect(forked.status == 0, "\(forked.stderr)")
        let stacks = try #require(try forked.report.heap).stacks
        for function in ["forked_work", "child_work"] {
            #expect(stacks.contains { $0.functions.last == function && $0.allocatedBytes >= 65536 }, "\(function): \(stacks.map(\.functions))")
        }

        let crash = try run("crash", ["0.2"])
        #expect(crash.status == 1 && crash.stderr.contains("SIGABRT"), "\(crash.stderr)")
    }

    @Test func missingProbeIsASetupError() throws {
        let started = try Harness.start(["run", "--heap", "--", "true"], environment: ["PERFPROBE_HEAP_PROBE": "/nonexistent/probe.so"])
        ExitStatusTests.expectSetupError(try Harness.finish(started), mentioning: "heap probe library is missing")
    }

    @Test func noMemoryFileWithoutHeap() throws {
        let outcome = try Harness.perfprobe(["run", "--", Harness.samples + "/leaker", "0.5"])
        #expect(try outcome.report.memory == nil)
        #expect(!FileManager.default.fileExists(atPath: outcome.directory + "/test-performance-memory-results.json"))
    }
}
}
