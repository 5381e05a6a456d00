import Foundation
import PerfProbeCore
import Testing

/// Source lines and inlined frames from DWARF: a sample whose hot loop is an
/// always_inline function inlined into two callers in a known split, and
/// addr2line's answers on the sampled addresses of it and of Debian's
/// debug-build Python.
extension BinaryTests {
@Suite struct SourceLineTests {
    /// The line of samples/inline_split.c that is the whole hot loop.
    static let hotLine: Int = {
        let source = (try? String(contentsOf: Harness.repository.appendingPathComponent("samples/inline_split.c"), encoding: .utf8)) ?? ""
        return (source.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("/* HOT-LINE */") } ?? -1) + 1
    }()

    /// inline_split for 5 s of CPU at 999 Hz: about 5,000 samples, so ±3
    /// points is over 4 standard deviations of a 70% share.
    static func inlineSplit(_ program: String = "inline_split", _ extra: [String] = []) throws -> Harness.Outcome {
        let outcome = try Harness.perfprobe(["run", "--frequency", "999"] + extra + ["--", Harness.samples + "/" + program, "5"])
        try #require(outcome.status == 0, "\(outcome.stderr)")
        return outcome
    }

    /// The samples of each caller's copy of the inlined loop, from cpu.folded.
    static func callerSplit(_ folded: String) -> (heavy: Int, light: Int) {
        var heavy = 0, light = 0
        for line in folded.split(separator: "\n") {
            let count = Int(line.split(separator: " ").last ?? "") ?? 0
            if line.contains(";heavy_caller;mix_round") { heavy += count }
            if line.contains(";light_caller;mix_round") { light += count }
        }
        return (heavy, light)
    }

    @Test func inlinedLoopIsItsOwnFrameUnderEachCaller() throws {
        let outcome = try Self.inlineSplit()
        let split = Self.callerSplit(try outcome.folded)
        let share = Double(split.heavy) * 100 / Double(max(split.heavy + split.light, 1))
        #expect(split.heavy + split.light > 4000 && abs(share - 70) <= 3, "\(split)")
        let report = try outcome.report
        let loop = try #require(report.hotspots.first)
        #expect(loop.function == "mix_round" && loop.selfPercent >= 90, "\(report.hotspots.prefix(3))")

        // The flame graph draws the inlined frame dashed, and says so.
        let svg = try String(contentsOfFile: outcome.directory + "/flamegraph.svg", encoding: .utf8)
        #expect(svg.contains("mix_round [inline_split] (inlined)"))
        #expect(svg.contains("class=\"inlined\""))
        #expect(!svg.contains("heavy_caller [inline_split] (inlined)"))

        // The report's hottest line is the loop's, with its source text.
        let hot = try #require(report.hotLines?.first)
        #expect(hot.function == "mix_round")
        let line = try #require(hot.lines.first)
        #expect(line.file.hasSuffix("/samples/inline_split.c") && line.line == Self.hotLine && line.selfPercent >= 80, "\(hot)")
        #expect(line.text?.contains("HOT-LINE") == true)
        let dom = try ReportFormatTests.chromium(["--dump-dom", "file://" + outcome.directory + "/report.html"])
        #expect(dom.contains("Hot source lines") && dom.contains("inline_split.c:\(Self.hotLine)</td>") && dom.contains("HOT-LINE"))
    }

    /// pprof reads the lines and inlines the pprof way.
    @Test func pprofShowsLinesInlinesSourceAndInstructions() throws {
        let outcome = try Self.inlineSplit()
        let path = outcome.directory + "/cpu.pb.gz"
        let lines = try ReportFormatTests.pprof(["-lines", "-top", path])
        let first = try #require(lines.split(separator: "\n").first { $0.hasSuffix("(inline)") || $0.contains("inline_split.c:") })
        #expect(first.contains("mix_round") && first.contains("inline_split.c:\(Self.hotLine) (inline)"), "\(lines)")
        let top = try ReportFormatTests.pprof(["-top", path])
        let heavy = try #require(ReportFormatTests.topRow(top, "heavy_caller")), light = try #require(ReportFormatTests.topRow(top, "light_caller"))
        #expect(abs(heavy.cumulative / (heavy.cumulative + light.cumulative) * 100 - 70) <= 3, "\(top)")
        // Without inlines the loop's time is its callers' own.
        let folded = try ReportFormatTests.pprof(["-noinlines", "-top", path])
        #expect((ReportFormatTests.topRow(folded, "heavy_caller")?.flat ?? 0) >= 60, "\(folded)")
        let listing = try ReportFormatTests.pprof(["-list", "^mix_round$", path])
        let listed = try #require(listing.split(separator: "\n").first { $0.contains("HOT-LINE") })
        #expect(!listed.trimmingCharacters(in: .whitespaces).hasPrefix("."), "no samples on the hot line: \(listing)")
        let disassembly = try ReportFormatTests.pprof(["-disasm", "heavy_caller", path])
        #expect(disassembly.contains("ROUTINE") && disassembly.contains("inline_split.c:"), "\(disassembly.prefix(1500))")
    }

    /// A location of `go tool pprof -raw`: its module, address and lines
    /// (function, file, line), innermost first.
    struct RawLocation {
        var module: String
        var address: UInt64
        var lines: [(function: String, file: String, line: Int)]
    }

    /// The leaf locations of cpu.pb.gz with their samples, read back by pprof.
    static func leafLocations(_ path: String) throws -> [(location: RawLocation, samples: Int)] {
        let raw = try ReportFormatTests.pprof(["-raw", path]).split(separator: "\n").map(String.init)
        var section = ""
        var leaves: [Int: Int] = [:]
        var locations: [Int: (mapping: Int, address: UInt64, lines: [(String, String, Int)])] = [:]
        var mappings: [Int: String] = [:]
        var current: Int?
        func parseLine(_ text: Substring) -> (String, String, Int)? {
            // "function file:line s=0": the file is the last word but "s=…" (function names may hold spaces).
            var words = text.split(separator: " ")
            if words.last?.hasPrefix("s=") == true { words.removeLast() }
            guard let place = words.popLast(), let colon = place.lastIndex(of: ":") else { return nil }
            return (words.joined(separator: " "), String(place[..<colon]), Int(place[place.index(after: colon)...]) ?? 0)
        }
        for line in raw {
            if ["Samples:", "Locations", "Mappings"].contains(line) { section = line; continue }
            let trimmed = line.drop { $0 == " " }
            switch section {
            case "Samples:":
                guard let colon = trimmed.firstIndex(of: ":"), let count = Int(trimmed.split(separator: " ").first ?? ""),
                      let leaf = Int(trimmed[trimmed.index(after: colon)...].split(separator: " ").first ?? "") else { continue }
                leaves[leaf, default: 0] += count
            case "Locations":
                let words = trimmed.split(separator: " ", maxSplits: 3)
                if words.count == 4, words[0].hasSuffix(":"), let id = Int(words[0].dropLast()), words[1].hasPrefix("0x"),
                   let address = UInt64(words[1].dropFirst(2), radix: 16), let mapping = Int(words[2].dropFirst(2)) {
                    current = id
                    locations[id] = (mapping, address, parseLine(words[3]).map { [$0] } ?? [])
                } else if let current, let inlined = parseLine(trimmed) {
                    locations[current]?.lines.append(inlined)
                }
            case "Mappings":
                let words = trimmed.split(separator: " ")
                if words.count >= 3, words[0].hasSuffix(":"), let id = Int(words[0].dropLast()) { mappings[id] = String(words[2]) }
            default:
                continue
            }
        }
        return leaves.compactMap { id, samples in
            guard let location = locations[id] else { return nil }
            return (RawLocation(module: mappings[location.mapping] ?? "?", address: location.address,
                                lines: location.lines.map { ($0.0, $0.1, $0.2) }), samples)
        }
    }

    /// addr2line's inline chain at each address of `module`: (function,
    /// file, line) innermost first.
    static func addr2line(_ module: String, _ addresses: [UInt64]) throws -> [UInt64: [(function: String, file: String, line: Int)]] {
        let output = try Harness.output(of: "/usr/bin/addr2line", ["-i", "-f", "-a", "-e", module] + addresses.map { "0x" + String($0, radix: 16) })
        var chains: [UInt64: [(String, String, Int)]] = [:]
        var address: UInt64?
        var function: String?
        for line in output.split(separator: "\n").map(String.init) {
            if line.hasPrefix("0x"), function == nil, let value = UInt64(line.dropFirst(2), radix: 16) {
                address = value
                chains[value] = []
            } else if let name = function {
                let place = line.split(separator: " ").first.map(String.init) ?? line
                let colon = place.lastIndex(of: ":") ?? place.endIndex
                let number = colon < place.endIndex ? Int(place[place.index(after: colon)...]) ?? 0 : 0
                if let address { chains[address]?.append((name, String(place[..<colon]), number)) }
                function = nil
            } else {
                function = line
            }
        }
        return chains
    }

    /// GCC's clone suffixes (`.constprop.0`, `.isra.0`, `.part.0`, `.cold`):
    /// the symbol table names the clone, DWARF the function it was cut from.
    static func baseName(_ function: String) -> String {
        guard let dot = function.firstIndex(of: "."), function.first != "." else { return function }
        return String(function[..<dot])
    }

    /// For the sampled leaf addresses of a program, the inline chain and the
    /// innermost line perfprobe wrote into cpu.pb.gz are addr2line's, for
    /// at least 98% of the samples in that program.
    @Test(arguments: [
        ["inline_split", "5"],
        ["/usr/bin/python3.11d", "samples/python/json_work.py", "2.7"],
    ])
    func addr2lineAgreesOnSampledAddresses(_ command: [String]) throws {
        let program = command[0].hasPrefix("/") ? command[0] : Harness.samples + "/" + command[0]
        let arguments = command.dropFirst().map { $0.hasPrefix("samples/") ? Harness.repository.appendingPathComponent($0).path : $0 }
        let outcome = try Harness.perfprobe(["run", "--frequency", "999", "--", program] + arguments)
        try #require(outcome.status == 0, "\(outcome.stderr)")
        let leaves = try Self.leafLocations(outcome.directory + "/cpu.pb.gz").filter { $0.location.module == program }
        let total = leaves.reduce(0) { $0 + $1.samples }
        try #require(total >= 1000, "only \(total) samples in \(program)")
        let reference = try Self.addr2line(program, leaves.map(\.location.address))
        var agreeing = 0
        var disagreements: [String] = []
        for (location, samples) in leaves {
            let theirs = reference[location.address] ?? []
            let sameChain = theirs.map { Self.baseName($0.function) } == location.lines.map { Self.baseName($0.function) }
            let ours = location.lines.first, innermost = theirs.first
            let sameLine = ours.map { ($0.file as NSString).lastPathComponent } == innermost.map { ($0.file as NSString).lastPathComponent }
                && ours?.line == innermost?.line
            if sameChain && sameLine {
                agreeing += samples
            } else if disagreements.count < 8 {
                disagreements.append("0x\(String(location.address, radix: 16)) ×\(samples): perfprobe \(location.lines) addr2line \(theirs)")
            }
        }
        #expect(Double(agreeing) >= 0.98 * Double(total), "\(agreeing) of \(total) samples agree: \(disagreements.joined(separator: "; "))")
    }

    /// A stripped binary's lines and inlines come from its debug file, found
    /// by build-id under /usr/lib/debug; DWARF compressed with zlib or zstd
    /// reads the same.
    @Test(arguments: ["inline_split_stripped", "inline_split_zlib", "inline_split_zstd"])
    func linesFromADebugFileOrCompressedSections(_ program: String) throws {
        var installed: String?
        defer { if let installed { try? FileManager.default.removeItem(atPath: installed) } }
        if program == "inline_split_stripped" {
            let notes = try Harness.output(of: "/usr/bin/readelf", ["-n", Harness.samples + "/inline_split.debug"])
            let line = try #require(notes.split(separator: "\n").first { $0.contains("Build ID:") })
            let id = String(try #require(line.split(separator: " ").last))
            let directory = "/usr/lib/debug/.build-id/" + id.prefix(2)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            installed = directory + "/" + id.dropFirst(2) + ".debug"
            try? FileManager.default.removeItem(atPath: installed!)
            try FileManager.default.copyItem(atPath: Harness.samples + "/inline_split.debug", toPath: installed!)
        }
        let outcome = try Self.inlineSplit(program)
        let split = Self.callerSplit(try outcome.folded)
        #expect(abs(Double(split.heavy) * 100 / Double(max(split.heavy + split.light, 1)) - 70) <= 3, "\(split)")
        let line = try #require(try outcome.report.hotLines?.first?.lines.first)
        #expect(line.file.hasSuffix("inline_split.c") && line.line == Self.hotLine, "\(line)")
    }

    /// --no-inline keeps frames by function (the loop is its callers'),
    /// --no-lines keeps the inlined frames without files and lines; a module
    /// without DWARF or symbols keeps its frames by function start, no error.
    @Test func flagsAndModulesWithoutDWARF() throws {
        let byFunction = try Self.inlineSplit("inline_split", ["--no-inline"])
        let folded = try byFunction.folded
        #expect(!folded.contains("mix_round") && folded.contains(";heavy_caller "), "\(folded.prefix(600))")
        let report = try byFunction.report
        #expect(report.profile.locations?.allSatisfy { $0.lines.count == 1 } == true)
        #expect(report.hotLines?.first?.function == "heavy_caller")

        let withoutLines = try Self.inlineSplit("inline_split", ["--no-lines"])
        #expect(try withoutLines.folded.contains(";heavy_caller;mix_round "))
        let plain = try withoutLines.report
        #expect(plain.profile.locations?.allSatisfy { $0.lines.allSatisfy { $0.file == nil && $0.line == nil } } == true)
        #expect(plain.hotLines == nil)

        let stripped = try Harness.perfprobe(["run", "--frequency", "999", "--", Harness.samples + "/cpu_split_stripped", "1"])
        #expect(stripped.status == 0, "\(stripped.stderr)")
        let unnamed = try stripped.report
        #expect(unnamed.unreadableModules.isEmpty, "\(unnamed.unreadableModules)")
        let own = unnamed.profile.locations?.filter { $0.module == "cpu_split_stripped" } ?? []
        #expect(!own.isEmpty && own.allSatisfy { $0.lines.count == 1 && $0.lines[0].file == nil })
        #expect(unnamed.hotspots.first?.function.hasPrefix("cpu_split_stripped+0x") == true)
    }
}
}
