import Foundation
import PerfProbeCore
import Testing

/// CPU profiles of the samples, checked against the split each was written to have.
extension BinaryTests {
@Suite struct CPUProfileTests {
    /// cpu_split spends 70% in heavy_path and 30% in light_path, both in
    /// shared_leaf; the ±3-point checks want the ~5,000 samples of 5 s at
    /// 999 Hz (see ReportFormatTests.cpuSplit).
    static func expectSplit(_ outcome: Harness.Outcome) throws {
        let report = try outcome.report
        #expect(report.samples.total >= 4500)
        let heavy = Harness.inclusive(report, "heavy_path")
        let light = Harness.inclusive(report, "light_path")
        #expect(Double(heavy + light) >= 0.95 * Double(report.profile.totalSamples))
        let heavyShare = Double(heavy) * 100 / Double(heavy + light)
        #expect(abs(heavyShare - 70) <= 3, "heavy_path share \(heavyShare)%")
        let leaf = try #require(report.hotspots.first)
        #expect(leaf.function == "shared_leaf" && leaf.module == "cpu_split" && leaf.selfPercent >= 90)
        let folded = try outcome.folded
        #expect(folded.contains("main;heavy_path;shared_leaf "))
        #expect(folded.contains("main;light_path;shared_leaf "))

        let results = try Self.cpuResults(outcome.directory)
        #expect(results.success && results.samples == report.profile.totalSamples)
        let top = try #require(results.hotspots.first)
        #expect(top.functionName == "shared_leaf" && top.module == "cpu_split" && top.percentageOfTotal >= 90)
        #expect(top.callCount == nil && top.optimizationPotential == "high")
        let heavyPath = try #require(results.hotspots.first { $0.functionName == "heavy_path" })
        #expect(abs(heavyPath.inclusivePercentage - 70) <= 5, "\(heavyPath.inclusivePercentage)")
        // Each sample stands for one sampling interval of CPU.
        #expect(abs(heavyPath.totalTime - Double(heavy) / Double(report.sampling.frequencyHz)) < 0.01)
        #expect(results.bottlenecks.contains { $0.hasPrefix("shared_leaf [cpu_split]") })
        #expect(results.optimizationOpportunities.contains { $0.hasPrefix("shared_leaf [cpu_split]") })
        // One busy thread: about one core.
        #expect(results.cpuUsage.average > 80 && results.cpuUsage.average < 110, "\(results.cpuUsage)")
        #expect(results.cpuUsage.min <= results.cpuUsage.average && results.cpuUsage.average <= results.cpuUsage.max)
        let text = try String(contentsOfFile: outcome.directory + "/test-performance-cpu-results.json", encoding: .utf8)
        #expect(text.contains("\"call_count\" : null"))
    }

    static func cpuResults(_ directory: String) throws -> CPUResultsFormat.Results {
        try CPUResultsFormat.decode(Data(contentsOf: URL(fileURLWithPath: directory + "/test-performance-cpu-results.json")))
    }

    /// A target that failed fails the CPU results file too; --results-dir gets a copy.
    @Test func cpuResultsOfAFailedTarget() throws {
        let resultsDir = Harness.scratch()
        let outcome = try Harness.perfprobe(["run", "--results-dir", resultsDir, "--", Harness.samples + "/crash", "0.3"])
        #expect(outcome.status == 1)
        #expect(try Self.cpuResults(outcome.directory).success == false)
        #expect(try Self.cpuResults(resultsDir).hotspots.contains { $0.functionName == "doomed_work" })
    }

    /// report.json follows docs/report.schema.json (every report a test
    /// reads is checked against it), and the check fails where it must: a
    /// key the schema does not know, a required key missing, a wrong type.
    @Test func reportFollowsTheSchemaAndTheCheckBites() throws {
        let outcome = try Harness.perfprobe(["run", "--", Harness.samples + "/crash", "0.3"])
        let data = try Data(contentsOf: URL(fileURLWithPath: outcome.directory + "/report.json"))
        #expect(ReportSchema.violations(of: data).isEmpty, "\(ReportSchema.violations(of: data))")
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["unknown_field"] = 1
        object.removeValue(forKey: "samples")
        object["duration_seconds"] = "long"
        let found = ReportSchema.violations(of: try JSONSerialization.data(withJSONObject: object))
        #expect(Set(found) == ["$: unknown_field is not in the schema", "$: no samples", "$.duration_seconds: not number"], "\(found)")
    }

    @Test func runFindsTheSplit() throws {
        let outcome = try Harness.perfprobe(["run", "--frequency", "999", "--", Harness.samples + "/cpu_split", "5"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        try Self.expectSplit(outcome)
        let report = try outcome.report
        #expect(report.target.outcome == TargetOutcome(state: "exited", exitCode: 0, signal: nil))
        #expect(outcome.stderr.contains("shared_leaf  [cpu_split]"))
        #expect(outcome.stderr.contains("   SELF%                 TOTAL%               FUNCTION  [MODULE]"))
        #expect(outcome.stdout.isEmpty, "stdout is the command's: \(outcome.stdout)")
        // The 70/30 lies in the callers: the list by total time shows it, heavy before light.
        let byTotal = try #require(report.hotspotsByTotal)
        let heavy = try #require(byTotal.firstIndex { $0.function == "heavy_path" })
        let light = try #require(byTotal.firstIndex { $0.function == "light_path" })
        #expect(heavy < light && light < 10 && abs(byTotal[heavy].totalPercent - 70) <= 3, "\(byTotal.prefix(10))")
        let listed = outcome.stderr.components(separatedBy: "by total time (callers included):\n").last ?? ""
        #expect(listed.split(separator: "\n").prefix(12).contains { $0.hasSuffix("heavy_path  [cpu_split]") }, "\(listed)")
    }

    /// stdout belongs to the wrapped command (issue 13): xz's archive made
    /// through perfprobe is byte for byte xz's own, and the summary goes to
    /// stderr or to --summary FILE.
    @Test func theCommandsOutputIsItsOwn() throws {
        let scratch = Harness.scratch()
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let input = scratch + "/data"
        // Text of pseudo-random numbers: compressible, and work for xz (~2 MiB).
        var seed: UInt64 = 7
        let lines = (0..<100_000).map { index -> String in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return "line \(index): \(seed >> 40)\n"
        }
        try Data(lines.joined().utf8).write(to: URL(fileURLWithPath: input))
        let xz = Process()
        xz.executableURL = URL(fileURLWithPath: "/usr/bin/xz")
        xz.arguments = ["-6", "-c", input]
        let pipe = Pipe()
        xz.standardOutput = pipe
        try xz.run()
        let own = pipe.fileHandleForReading.readDataToEndOfFile()
        xz.waitUntilExit()
        let profiled = try Harness.perfprobe(["run", "--", "/usr/bin/xz", "-6", "-c", input])
        #expect(profiled.status == 0 && xz.terminationStatus == 0, "\(profiled.stderr)")
        #expect(own.count > 1000 && profiled.stdoutBytes == own, "\(profiled.stdoutBytes.count) bytes through perfprobe, \(own.count) bare")
        #expect(profiled.stderr.contains("top functions of"))

        // In a folder not made yet: the options' check accepts a path that can be made.
        let summary = scratch + "/new/summary.txt"
        let echoed = try Harness.perfprobe(["run", "--summary", summary, "--", "/bin/sh", "-c", "echo data"])
        #expect(echoed.stdout == "data\n")
        #expect(!echoed.stderr.contains("top functions of"))
        #expect(try String(contentsOfFile: summary, encoding: .utf8).contains("top functions of"))
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["run", "--summary", scratch, "--", "true"]), mentioning: "--summary")
    }

    @Test func attachFindsTheSplit() throws {
        let target = try Harness.launch("cpu_split", ["0"])
        defer { Harness.stop(target) }
        let outcome = try Harness.perfprobe(["attach", "--frequency", "999", "--duration", "5", String(target.processIdentifier)])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        try Self.expectSplit(outcome)
        #expect(try outcome.report.target.outcome.state == "running")
        #expect(target.isRunning, "attaching must not disturb the target")
    }

    /// threads: alpha, beta and gamma use 4/7, 2/7 and 1/7 of the CPU time.
    static func expectThreadShares(_ report: ProfileReport) throws {
        let expected = ["alpha": 400.0 / 7, "beta": 200.0 / 7, "gamma": 100.0 / 7]
        for (name, share) in expected {
            let thread = try #require(report.threads.first { $0.name == name }, "thread \(name)")
            #expect(abs(thread.percent - share) <= 4, "\(name): \(thread.percent)% vs \(share)%")
            let own = try #require(report.threadHotspots.first { $0.tid == thread.tid }?.hotspots.first)
            #expect(own.function == "\(name)_work")
        }
    }

    @Test func runFollowsEveryThread() throws {
        let outcome = try Harness.perfprobe(["run", "--frequency", "999", "--per-thread", "--", Harness.samples + "/threads", "3"])
        #expect(outcome.status == 0)
        try Self.expectThreadShares(try outcome.report)
        #expect(outcome.stderr.contains("thread alpha"))
    }

    @Test func attachFollowsThreadsCreatedLater() throws {
        let target = try Harness.launch("threads", ["3", "1"]) // threads start after 1 s
        let outcome = try Harness.perfprobe(["attach", "--frequency", "999", "--per-thread", String(target.processIdentifier)])
        target.waitUntilExit()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        try Self.expectThreadShares(report)
        #expect(report.target.outcome.state == "gone")
        // Each thread sampled once, not once per event it inherited: 1.05 cores for 3 s.
        let seconds = Double(report.samples.total) / 999
        #expect(abs(seconds - 3.15) < 0.5, "\(seconds) CPU-seconds of samples")
    }

    /// fork_exec: parent_work, forked_work (forked, no exec) and child_work
    /// (exec'd child_worker) use CPU in the ratio 1 : 1 : 2.
    @Test func runFollowsForkedAndExecdChildren() throws {
        let outcome = try Harness.perfprobe(["run", "--frequency", "999", "--", Harness.samples + "/fork_exec", "0.5"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        let child = try #require(report.hotspots.first { $0.function == "child_work" })
        #expect(child.module == "child_worker")
        let counts = ["parent_work", "forked_work", "child_work"].map { Double(Harness.inclusive(report, $0)) }
        let total = counts.reduce(0, +)
        #expect(total >= 0.9 * Double(report.profile.totalSamples))
        for (count, share) in zip(counts, [25.0, 25.0, 50.0]) {
            #expect(abs(count * 100 / total - share) <= 5, "\(counts)")
        }
        #expect(report.processes.count == 3)
        #expect(report.processes.contains { $0.name == "child_worker" })
    }

    @Test func libraryLoadedWithDlopenIsSymbolized() throws {
        let outcome = try Harness.perfprobe(["run", "--frequency", "999", "--", Harness.samples + "/dlopen_host", "1"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        let plugin = try #require(report.hotspots.first { $0.function == "plugin_work" })
        #expect(plugin.module == "libplugin.so")
        let host = Harness.inclusive(report, "host_work")
        #expect(abs(Double(plugin.totalSamples - host)) <= 0.1 * Double(plugin.totalSamples + host))
    }

    @Test func userOnlyStacksHaveNoKernelFrames() throws {
        let outcome = try Harness.perfprobe(["run", "--no-kernel", "--frequency", "499", "--", Harness.samples + "/fork_exec", "0.3"])
        #expect(outcome.status == 0)
        let report = try outcome.report
        #expect(!report.profile.functions.contains { $0.kernel })
        #expect(try !outcome.folded.contains("_[k]"))
        #expect(report.sampling.includeKernel == false)
    }

    @Test func countersAndTimeline() throws {
        let outcome = try Harness.perfprobe(["run", "--", Harness.samples + "/cpu_split", "2"])
        #expect(outcome.status == 0)
        let report = try outcome.report
        let taskClock = try #require(report.counters.first { $0.name == "task-clock" }?.value)
        #expect(abs(Double(taskClock) / 1e9 - 2) < 0.2, "task-clock \(taskClock) ns for 2 CPU-seconds")
        for name in ["context-switches", "cpu-migrations", "page-faults"] {
            #expect(report.counters.first { $0.name == name }?.supported == true)
        }
        // Hardware counters: reported as unsupported (nil), never as zero, on machines without a PMU.
        for name in ["cycles", "instructions", "cache-misses"] {
            let counter = try #require(report.counters.first { $0.name == name })
            #expect(counter.supported == Harness.hasHardwarePMU)
            #expect((counter.value == nil) == !Harness.hasHardwarePMU)
        }
        #expect(outcome.stderr.contains(Harness.hasHardwarePMU ? "cycles " : "cycles not supported"))
        // /proc every 100 ms, as a timeline.
        #expect(report.timeline.count >= 15)
        let busy = report.timeline.dropFirst(2).dropLast(2)
        let userMean = busy.map(\.cpuUserPercent).reduce(0, +) / Double(max(busy.count, 1))
        #expect(abs(userMean - 100) <= 15, "user CPU \(userMean)%")
        #expect(report.timeline.allSatisfy { $0.rssBytes > 0 && $0.threads == 1 })
        #expect(abs((report.cpu.utilisationPercent ?? 0) - 100) <= 15)
    }
}
}
