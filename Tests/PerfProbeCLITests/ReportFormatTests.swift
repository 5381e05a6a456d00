import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import PerfProbeCore
import Testing

/// The formats other tools read, read back the way those tools read them,
/// and the CI gates, on samples with known splits.
extension BinaryTests {
@Suite struct ReportFormatTests {
    /// cpu_split at HEAVY units of 10 in heavy_path (default 7: 70%), about
    /// 5,000 samples for the ±3-point checks: one standard deviation of a 70%
    /// share is 0.65 points at this count (0.9 at the 2,500 of a 2.5-s run,
    /// where one CI run met 66.9% and another 73.5%), so 3 points is 4.6 σ.
    static func cpuSplit(_ heavy: Int = 7, _ extra: [String] = []) throws -> Harness.Outcome {
        try Harness.perfprobe(["run", "--frequency", "999"] + extra + ["--", Harness.samples + "/cpu_split", "5", String(heavy)])
    }

    /// Each `<title>` of a flame graph SVG, as a well-formed XML parser sees it.
    final class Titles: NSObject, XMLParserDelegate {
        var titles: [String] = []
        var fills: [String] = []
        private var text: String?

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if name == "title" { text = "" }
            if name == "rect", let fill = attributes["fill"] { fills.append(fill) }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text? += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "title", let text { titles.append(text) }
            text = nil
        }

        /// Parses `path`; nil when it is not well-formed XML.
        static func read(_ path: String) throws -> Titles? {
            let parser = XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: path)))
            let titles = Titles()
            parser.delegate = titles
            return parser.parse() ? titles : nil
        }

        /// The shares in "name [module] — N samples, X%" of every frame named
        /// `function` (one per path it is on), added up; nil when none.
        func share(of function: String) -> Double? {
            let shares = titles.filter { $0.hasPrefix(function + " [") }.compactMap { title in
                title.split(separator: ",").last?.split(separator: "%").first.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            }
            return shares.isEmpty ? nil : shares.reduce(0, +)
        }
    }

    @Test func flameGraphIsWellFormedAndShowsTheSplit() throws {
        let outcome = try Self.cpuSplit()
        let svg = try #require(try Titles.read(outcome.directory + "/flamegraph.svg"), "not well-formed XML")
        let heavy = try #require(svg.share(of: "heavy_path")), light = try #require(svg.share(of: "light_path"))
        #expect(abs(heavy / (heavy + light) * 100 - 70) <= 3, "\(heavy) / \(light)")
        #expect(try #require(svg.share(of: "shared_leaf")) >= 90)
        let text = try String(contentsOfFile: outcome.directory + "/flamegraph.svg", encoding: .utf8)
        // Self-contained: zoom and search in the file, nothing fetched.
        #expect(text.contains("function zoom(") && text.contains("function search("))
        #expect(!text.contains("href=\"http"))
    }

    /// `go tool pprof ARGUMENTS` (Debian's golang-go, installed by make test).
    static func pprof(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/go")
        process.arguments = ["tool", "pprof"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "go tool pprof \(arguments): \(output)")
        return output
    }

    /// The flat and cumulative % pprof -top gives `function`.
    static func topRow(_ output: String, _ function: String) -> (flat: Double, cumulative: Double)? {
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.last.map(String.init) == function, fields.count >= 6 else { continue }
            let percent = { (field: Substring) in Double(field.dropLast()) }
            guard let flat = percent(fields[1]), let cumulative = percent(fields[4]) else { continue }
            return (flat, cumulative)
        }
        return nil
    }

    /// The real pprof reads cpu.pb.gz: shared_leaf is the flat hotspot, and
    /// focusing on heavy_path keeps 70% of the samples.
    @Test func pprofReadsTheCPUProfile() throws {
        let outcome = try Self.cpuSplit()
        let path = outcome.directory + "/cpu.pb.gz"
        let top = try Self.pprof(["-top", path])
        #expect(top.contains("Type: cpu"))
        let leaf = try #require(Self.topRow(top, "shared_leaf"), "\(top)")
        #expect(leaf.flat >= 90)
        let heavy = try #require(Self.topRow(top, "heavy_path")), light = try #require(Self.topRow(top, "light_path"))
        #expect(abs(heavy.cumulative / (heavy.cumulative + light.cumulative) * 100 - 70) <= 3, "\(top)")
        let samples = try Self.pprof(["-top", "-sample_index=samples", "-focus=heavy_path", path])
        #expect(samples.contains("Type: samples"))
        let kept = try #require(samples.split(separator: "\n").first { $0.hasPrefix("Showing nodes accounting for") })
        let share = try #require(Double(kept.split(separator: ",")[1].split(separator: "%")[0].trimmingCharacters(in: .whitespaces)))
        #expect(abs(share - 70) <= 3, "\(kept)")
    }

    /// heap.pb.gz of the leaker (1 MiB/s from leaky_cache_insert, 4 s): in-use
    /// space under leaky_cache_insert, within 30% of 4 MiB.
    @Test func pprofReadsTheHeapProfile() throws {
        let outcome = try Harness.perfprobe(["run", "--heap", "--heap-sample-bytes", "16384", "--", Harness.samples + "/leaker", "4"])
        let path = outcome.directory + "/heap.pb.gz"
        let inuse = try Self.pprof(["-top", "-sample_index=inuse_space", "-unit=bytes", path])
        #expect(inuse.contains("Type: inuse_space"))
        let total = try #require(inuse.split(separator: "\n").first { $0.contains("Total samples = ") })
        let bytes = try #require(Double(total.components(separatedBy: "Total samples = ")[1].filter(\.isNumber)))
        #expect(abs(bytes / (4 * 1_048_576) - 1) <= 0.3, "\(total)")
        #expect(Self.topRow(inuse, "leaky_cache_insert")?.cumulative == 100, "\(inuse)")
        // The main mapping carries the binary's GNU build-id, as readelf reads it.
        let readelf = Process()
        readelf.executableURL = URL(fileURLWithPath: "/usr/bin/readelf")
        readelf.arguments = ["-n", Harness.samples + "/leaker"]
        let pipe = Pipe()
        readelf.standardOutput = pipe
        try readelf.run()
        let notes = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        readelf.waitUntilExit()
        let buildID = try #require(notes.components(separatedBy: "Build ID: ").dropFirst().first?.prefix(40))
        #expect(inuse.contains("Build ID: \(buildID)"), "\(inuse)")
        // Every allocation is counted: 16 + 512 a second.
        let objects = try Self.pprof(["-top", "-sample_index=alloc_objects", path])
        let count = try #require(objects.split(separator: "\n").first { $0.contains("Total samples = ") })
        let allocations = try #require(Double(count.components(separatedBy: "Total samples = ")[1].filter(\.isNumber)))
        #expect(abs(allocations / (528 * 4) - 1) <= 0.3, "\(count)")
    }

    /// Headless Chromium (Debian's, installed by make test) with `arguments`; its stdout.
    static func chromium(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/chromium")
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + Harness.scratch()] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "chromium \(arguments)")
        return output
    }

    /// report.html in a real browser: the hotspots are in the DOM, the flame
    /// graph's script ran (it names every frame), the page draws something.
    @Test func htmlReportRendersInABrowser() throws {
        let outcome = try Self.cpuSplit()
        let page = "file://" + outcome.directory + "/report.html"
        let dom = try Self.chromium(["--dump-dom", page])
        #expect(dom.contains("<td>shared_leaf</td><td>cpu_split</td>"), "\(dom.prefix(2000))")
        #expect(dom.contains("<td>heavy_path</td>") && dom.contains("<td>light_path</td>"))
        #expect(dom.contains("data-name=\"heavy_path\""), "the flame graph script did not run")
        #expect(dom.contains("CPU over time") && dom.contains("<polyline"))
        #expect(!dom.contains("src=\"http") && !dom.contains("href=\"http"))
        let shot = Harness.scratch() + ".png"
        _ = try Self.chromium(["--screenshot=" + shot, "--window-size=1280,1600", page])
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        #expect(png.starts(with: [0x89, 0x50, 0x4e, 0x47]))
        // A blank page compresses to a few KiB; tables, plots and the flame graph do not.
        #expect(png.count > 40_000, "\(png.count) bytes")
    }

    @Test func speedscopeFollowsItsFileFormat() throws {
        let outcome = try Self.cpuSplit()
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: outcome.directory + "/speedscope.json"))) as? [String: Any])
        #expect(json["$schema"] as? String == "https://www.speedscope.app/file-format-schema.json")
        let frames = try #require((json["shared"] as? [String: Any])?["frames"] as? [[String: Any]])
        let names = frames.map { $0["name"] as? String ?? "" }
        let profiles = try #require(json["profiles"] as? [[String: Any]])
        #expect(profiles.count == 2) // all threads, and the one thread
        for profile in profiles {
            let samples = try #require(profile["samples"] as? [[Int]]), weights = try #require(profile["weights"] as? [Int])
            #expect(profile["type"] as? String == "sampled")
            #expect(samples.count == weights.count)
            #expect(samples.allSatisfy { $0.allSatisfy { frames.indices.contains($0) } })
            #expect(profile["endValue"] as? Int == weights.reduce(0, +))
        }
        // Stacks root first: heavy_path comes before shared_leaf, 70% of the weight.
        let samples = profiles[0]["samples"] as! [[Int]], weights = profiles[0]["weights"] as! [Int]
        let weight = { (function: String) in zip(samples, weights).filter { $0.0.contains { names[$0] == function } }.reduce(0) { $0 + $1.1 } }
        let heavy = Double(weight("heavy_path")), light = Double(weight("light_path"))
        #expect(abs(heavy / (heavy + light) * 100 - 70) <= 3)
        #expect(samples.filter { $0.contains { names[$0] == "heavy_path" } }.allSatisfy { stack in
            stack.firstIndex { names[$0] == "heavy_path" }! < (stack.firstIndex { names[$0] == "shared_leaf" } ?? .max)
        })
    }

    @Test func cpuGateTripsOnlyAboveItsThreshold() throws {
        let tripped = try Self.cpuSplit(7, ["--max-cpu", "50"])
        #expect(tripped.status == 1)
        #expect(tripped.stderr.contains("gate --max-cpu 50%: the target used"), "\(tripped.stderr)")
        let results = try CPUProfileTests.cpuResults(tripped.directory)
        #expect(!results.success && results.failedGates.count == 1)
        let passed = try Self.cpuSplit(7, ["--max-cpu", "150", "--max-rss", "1G"])
        #expect(passed.status == 0, "\(passed.stderr)")
        #expect(try CPUProfileTests.cpuResults(passed.directory).success)
        let rss = try Self.cpuSplit(7, ["--max-rss", "64K"])
        #expect(rss.status == 1 && rss.stderr.contains("gate --max-rss 65536: peak RSS was"), "\(rss.stderr)")
    }

    @Test func leakGate() throws {
        let leaking = try Harness.perfprobe(["run", "--heap", "--heap-sample-bytes", "16384", "--fail-on", "leak", "--",
                                             Harness.samples + "/leaker", "4"])
        #expect(leaking.status == 1)
        #expect(leaking.stderr.contains("gate --fail-on leak: 1 leaking stack(s), the first touched_malloc ← leaky_cache_insert"), "\(leaking.stderr)")
        #expect(try MemoryTests.results(leaking.directory).failedGates.count == 1)
        let bounded = try Harness.perfprobe(["run", "--heap", "--fail-on", "leak", "--", Harness.samples + "/churner", "2"])
        #expect(bounded.status == 0, "\(bounded.stderr)")
    }

    /// 70/30 against 90/10: heavy_path's inclusive share grows 20 points.
    @Test func regressionAgainstABaseline() throws {
        let base = try Self.cpuSplit(7)
        let worse = try Self.cpuSplit(9, ["--baseline", base.directory, "--max-regression", "10"])
        #expect(worse.status == 1)
        #expect(worse.stderr.contains("gate --max-regression 10%: heavy_path [cpu_split] went from"), "\(worse.stderr)")
        #expect(!worse.stderr.contains("total CPU time")) // the same CPU seconds both times
        let same = try Self.cpuSplit(7, ["--baseline", base.directory, "--max-regression", "10"])
        #expect(same.status == 0, "\(same.stderr)")

        let diff = try Harness.perfprobe(["diff", base.directory, worse.directory, "--max-regression", "10"])
        #expect(diff.status == 1)
        let rows = diff.stdout.split(separator: "\n").filter { $0.contains("[cpu_split]") }
        // Most impact first: heavy_path and light_path, +20 and -20 points inclusive.
        #expect(Set(rows.prefix(2).compactMap { $0.split(separator: " ").last(where: { $0.hasSuffix("_path") }) }) == ["heavy_path", "light_path"], "\(diff.stdout)")
        let svg = try #require(try Titles.read(diff.directory), "diff.svg is not well-formed")
        let heavy = try #require(svg.titles.first { $0.hasPrefix("heavy_path [") })
        #expect(heavy.contains("(+") && heavy.contains("points"), "\(heavy)")
        #expect(svg.fills.contains { $0.hasPrefix("rgb(240,") } && svg.fills.contains { $0.hasSuffix(",240)") }) // grew and shrank
    }

    @Test func reportRendersASavedRunAgain() throws {
        let outcome = try Self.cpuSplit()
        try FileManager.default.removeItem(atPath: outcome.directory + "/flamegraph.svg")
        let again = try Harness.perfprobe(["report", outcome.directory, "--format", "flamegraph", "cpu-results"])
        #expect(again.status == 0, "\(again.stderr)")
        let written = try FileManager.default.contentsOfDirectory(atPath: again.directory).sorted()
        #expect(written == ["flamegraph.svg", "test-performance-cpu-results.json"])
        #expect(try Titles.read(again.directory + "/flamegraph.svg")?.share(of: "shared_leaf") ?? 0 >= 90)
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["report", "/nonexistent"]), mentioning: "/nonexistent does not exist")
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["report", outcome.directory, "--format", "png"]), mentioning: "unknown format 'png'")
    }

    /// Each rule fires on the sample written to trip it, citing its figures,
    /// and not on the others.
    @Test func opportunitiesComeFromEvidence() throws {
        let split = try CPUProfileTests.cpuResults(try Self.cpuSplit().directory).optimizationOpportunities
        #expect(split.count == 1 && split[0].hasPrefix("shared_leaf [cpu_split] takes"), "\(split)")

        // malloc_storm does nothing but malloc and free.
        let storm = try Harness.perfprobe(["run", "--frequency", "999", "--", Harness.samples + "/malloc_storm", "5000"])
        let churn = try CPUProfileTests.cpuResults(storm.directory).optimizationOpportunities
        let allocator = try #require(churn.first { $0.hasPrefix("the allocator takes ") }, "\(churn)")
        #expect((Double(allocator.dropFirst("the allocator takes ".count).prefix { $0.isNumber || $0 == "." }) ?? 0) >= 50, "\(allocator)")
        #expect(!split.contains { $0.hasPrefix("the allocator") })

        let contention = try Harness.perfprobe(["run", "--frequency", "499", "--", Harness.samples + "/contention", "1.5"])
        let handOffs = try CPUProfileTests.cpuResults(contention.directory).optimizationOpportunities
        #expect(handOffs.contains { $0.contains("context switches a second (≥ 1000)") }, "\(handOffs)")
        #expect(handOffs.contains { $0.contains("in futex calls (lower bound ≥ 5%): lock contention") }, "\(handOffs)")
        #expect(!handOffs.contains { $0.contains("major page faults") || $0.contains("storage I/O") })

        // pagein faults in 16,384 pages of a file it dropped from the page cache, per round.
        let directory = "/var/tmp/perfprobe-pagein-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pagein = try Harness.perfprobe(["run", "--", Harness.samples + "/pagein", "1.5", directory])
        let disk = try CPUProfileTests.cpuResults(pagein.directory).optimizationOpportunities
        let faults = try #require(disk.first { $0.contains("major page faults (≥ 100)") }, "\(disk)")
        #expect((Int(faults.prefix { $0.isNumber }) ?? 0) >= 16_384, "\(faults)")
        #expect(disk.contains { $0.hasPrefix("storage I/O of ") }, "\(disk)")
        #expect(!disk.contains { $0.contains("futex") })
    }

    @Test func badGateValuesAreUsageErrors() throws {
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["run", "--max-cpu", "abc", "--", "true"]), mentioning: "--max-cpu")
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["run", "--max-regression", "5", "--", "true"]), mentioning: "needs --baseline")
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["run", "--baseline", "/nonexistent", "--", "true"]), mentioning: "holds no report.json")
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["run", "--fail-on", "slowness", "--", "true"]), mentioning: "--fail-on")
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["run", "--frequency", "abc", "--", "true"]), mentioning: "--frequency")
    }
}
}
