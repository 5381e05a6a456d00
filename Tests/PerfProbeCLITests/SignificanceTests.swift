import Foundation
import PerfProbeCore
import Testing

extension BinaryTests {
@Suite struct SignificanceTests {
    /// A short, mostly idle run: cpu_split's 0.15 s of CPU inside 1.2 s at
    /// 99 Hz gives ~15 samples, all in shared_leaf — which the hot-leaf rule
    /// (≥ 20%) claimed before. Now nothing is claimed, and the summary, the
    /// results file and report.html say once that there were too few.
    @Test func idleShortRunClaimsNothing() throws {
        let outcome = try Harness.perfprobe(["run", "--", "/bin/sh", "-c", Harness.samples + "/cpu_split 0.15; sleep 1"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        let samples = report.profile.totalSamples
        #expect(samples > 0 && samples < 100, "\(samples)")
        let line = "too few samples (\(samples)) for conclusions about where the CPU time goes"
        #expect(outcome.stderr.components(separatedBy: line).count == 2, "\(outcome.stderr)")
        let results = try CPUProfileTests.cpuResults(outcome.directory)
        #expect(results.bottlenecks.isEmpty && results.optimizationOpportunities.isEmpty, "\(results.bottlenecks) \(results.optimizationOpportunities)")
        #expect(results.caveats?.first?.hasPrefix(line) == true)
        #expect(results.hotspots.allSatisfy { $0.optimizationPotential == "unknown" })
        let html = try String(contentsOfFile: outcome.directory + "/report.html", encoding: .utf8)
        #expect(html.contains(line))
    }

    /// The shares of a real 70/30 run carry their 95% Wilson intervals in
    /// report.json, the results file, the summary and report.html, each the
    /// interval of its own counts (recomputed here from the formula).
    @Test func everyShareCarriesItsInterval() throws {
        let outcome = try Harness.perfprobe(["run", "--frequency", "999", "--", Harness.samples + "/cpu_split", "2"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        let n = Double(report.profile.totalSamples), z = 1.959963984540054
        func wilson(_ count: Int) -> (Double, Double) {
            let p = Double(count) / n, denominator = 1 + z * z / n
            let centre = (p + z * z / (2 * n)) / denominator, half = z * (p * (1 - p) / n + z * z / (4 * n * n)).squareRoot() / denominator
            return ((centre - half) * 100, (centre + half) * 100)
        }
        for hotspot in report.hotspots.prefix(10) {
            let expected = wilson(hotspot.totalSamples), interval = try #require(hotspot.totalInterval)
            #expect(abs(interval.low - expected.0) < 1e-9 && abs(interval.high - expected.1) < 1e-9, "\(hotspot.function)")
            #expect(interval.low <= hotspot.totalPercent && hotspot.totalPercent <= interval.high)
        }
        let heavy = try #require(report.hotspots.first { $0.function == "heavy_path" })
        let width = try #require(heavy.totalInterval).high - heavy.totalInterval!.low
        #expect(width > 2 && width < 5, "~2,000 samples: ±2 points; \(width)")
        let thread = try #require(report.threads.first)
        #expect(thread.interval.map { $0.high >= thread.percent && $0.low <= thread.percent } == true)
        let results = try CPUProfileTests.cpuResults(outcome.directory)
        let row = try #require(results.hotspots.first { $0.functionName == "heavy_path" })
        #expect(row.inclusiveInterval == heavy.totalInterval && results.caveats == [])
        let cited = String(format: "[%5.1f–%5.1f]", heavy.totalInterval!.low, heavy.totalInterval!.high)
        #expect(outcome.stderr.split(separator: "\n").contains { $0.hasSuffix("heavy_path  [cpu_split]") && $0.contains(cited) }, "\(outcome.stderr)")
        let html = try String(contentsOfFile: outcome.directory + "/report.html", encoding: .utf8)
        #expect(html.contains(String(format: "%.2f (%.1f–%.1f)", heavy.totalPercent, heavy.totalInterval!.low, heavy.totalInterval!.high)))
    }

    /// `run --repeat 3`: three runs' directories and a merged report whose
    /// samples are theirs added up, with each run's task-clock. Against it,
    /// the same work does not trip `--max-regression 5`, 30% more does —
    /// by Welch's test over the runs, named with its p-value — and `diff`
    /// says which changes are significant and greys the rest in diff.svg.
    @Test func repeatedRunsGateOnSignificance() throws {
        let work = Harness.samples + "/fixed_work"
        let base = try Harness.perfprobe(["run", "--repeat", "3", "--", work, "1500"])
        #expect(base.status == 0, "\(base.stderr)")
        let merged = try base.report
        let runs = try (1...3).map { number in
            let data = try Data(contentsOf: URL(fileURLWithPath: base.directory + "/run-\(number)/report.json"))
            return try JSONReportFormat.decode(data)
        }
        #expect(merged.profile.totalSamples == runs.reduce(0) { $0 + $1.profile.totalSamples })
        let repeats = try #require(merged.repeats)
        let taskClock = runs.map { Double($0.counters.first { $0.name == "task-clock" }?.value ?? 0) / 1e9 }
        #expect(repeats.runs == 3 && repeats.cpuSeconds.values == taskClock, "\(repeats.cpuSeconds.values) \(taskClock)")
        #expect(try CPUProfileTests.cpuResults(base.directory).repeatStatistics?.cpuSeconds.values == taskClock)
        #expect(base.stderr.contains("3 runs: CPU time ") && base.stderr.contains("run 3 of 3: target exited with status 0"), "\(base.stderr)")
        let html = try String(contentsOfFile: base.directory + "/report.html", encoding: .utf8)
        #expect(html.contains("<h2>Runs</h2>") && html.contains("<p>3 runs: CPU time "), "\(html.prefix(3000))")

        let same = try Harness.perfprobe(["run", "--repeat", "3", "--baseline", base.directory, "--max-regression", "5", "--", work, "1500"])
        #expect(same.status == 0, "\(same.stderr)")
        let slower = try Harness.perfprobe(["run", "--repeat", "3", "--baseline", base.directory, "--max-regression", "5", "--", work, "1950"])
        #expect(slower.status == 1)
        #expect(slower.stderr.contains("gate --max-regression 5%: total CPU time grew ") && slower.stderr.contains("Welch's t-test over 3 and 3 runs, p = "),
                "\(slower.stderr)")
        #expect(try CPUProfileTests.cpuResults(slower.directory).failedGates.count == 1)

        let diff = try Harness.perfprobe(["diff", base.directory, same.directory])
        #expect(diff.status == 0)
        #expect(diff.stdout.hasPrefix("CPU time ") && diff.stdout.contains("not significant at 0.01"), "\(diff.stdout)")
        let svg = try #require(try ReportFormatTests.Titles.read(diff.directory), "diff.svg is not well-formed")
        // The same program's 70/30 in both: no frame's change is significant.
        #expect(svg.titles.filter { $0.contains("points:") }.allSatisfy { $0.contains("not significant") }, "\(svg.titles.prefix(5))")
        #expect(!svg.fills.contains { $0.hasPrefix("rgb(240,") || $0.hasSuffix(",240)") }, "\(Set(svg.fills))")
        let worse = try Harness.perfprobe(["diff", base.directory, slower.directory])
        #expect(worse.stdout.contains("Welch's t-test over 3 and 3 runs") && worse.stdout.contains(": significant at 0.01"), "\(worse.stdout)")
    }

    @Test func repeatAndSignificanceUsageErrors() throws {
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["run", "--repeat", "0", "--", "true"]), mentioning: "--repeat must be 1 to 1000")
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["diff", "/tmp", "/tmp", "--significance", "2"]), mentioning: "--significance must be")
    }
}
}
