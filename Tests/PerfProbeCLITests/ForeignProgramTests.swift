import Foundation
import PerfProbeCore
import Testing

/// Programs nobody here wrote — from Debian's packages and toolchains —
/// profiled and checked against an independent reference: Go's own
/// runtime/pprof, readelf's FDEs, perf record on the same workload.
extension BinaryTests {
@Suite struct ForeignProgramTests {
    /// The thread entries as the README defines them, recomputed here from
    /// the folded stacks: the report's figure must be what the stacks show.
    static let threadEntries: Set<String> = [
        "_start", "_dl_start", "_dl_start_user", "__libc_start_main", "__libc_start_call_main", "clone", "__clone",
        "clone3", "__clone3", "start_thread", "runtime.goexit", "runtime.mstart", "runtime.clone", "runtime.rt0_go",
    ]

    static func expectRootShareMatchesFolded(_ outcome: Harness.Outcome) throws {
        var rooted = 0, total = 0
        for line in try outcome.folded.split(separator: "\n") {
            guard let space = line.lastIndex(of: " "), let count = Int(line[line.index(after: space)...]) else { continue }
            let frames = line[..<space].split(separator: ";", omittingEmptySubsequences: false)
            total += count
            // The thread's name comes first, then the frames, outermost first.
            guard frames.count > 1 else { continue }
            var outermost = String(frames[1])
            if outermost.hasSuffix(".abi0") { outermost.removeLast(5) }
            if Self.threadEntries.contains(outermost) { rooted += count }
        }
        let report = try outcome.report
        let recomputed = Double(rooted) * 100 / Double(max(total, 1))
        #expect(total == report.samples.total)
        #expect(abs(report.stackQuality.unwoundToRootPercent - recomputed) < 0.01,
                "report \(report.stackQuality.unwoundToRootPercent)%, folded stacks \(recomputed)%")
    }

    /// gohot's time is in crypto/sha256's assembly (BP used as data, CFI only
    /// in .debug_frame) under main.hashLoop, and in main.mixLoop; the process
    /// profiles itself with runtime/pprof while perfprobe samples it.
    @Test func goHotPathsAgreeWithRuntimePprof() throws {
        let profile = Harness.scratch() + ".pprof"
        let outcome = try Harness.perfprobe(["run", "--frequency", "999", "--", Harness.samples + "/gohot", "3", profile])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        let top = try ReportFormatTests.pprof(["-top", "-cum", profile])
        for function in ["main.hashLoop", "main.mixLoop"] {
            let reference = try #require(ReportFormatTests.topRow(top, function), "\(top)").cumulative
            let share = Double(Harness.inclusive(report, function)) * 100 / Double(max(report.samples.total, 1))
            #expect(abs(share - reference) <= 4, "\(function): perfprobe \(share)%, runtime/pprof \(reference)%")
        }
        #expect(!report.stackQuality.modulesWithoutUnwindInfo.contains("gohot"))
        #expect(report.stackQuality.unwoundToRootPercent >= 95, "\(report.stackQuality)")
        try Self.expectRootShareMatchesFolded(outcome)
    }

    /// Debian's liblzma has no symbol table: its frames are named by the
    /// start of their FDE, and per-function self shares agree with perf
    /// record's samples of the same workload, grouped by readelf's FDEs.
    @Test func strippedLibraryFramesAreFunctionsByTheirFDEs() throws {
        let input = Harness.scratch()
        try Self.text(bytes: 3_000_000).write(toFile: input, atomically: true, encoding: .utf8)
        let command = ["/usr/bin/xz", "-6", "-T1", "-c", input]
        let outcome = try Harness.perfprobe(["run", "--frequency", "999", "--"] + command)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        let library = try #require(report.modules?.first { $0.name.hasPrefix("liblzma.so") }, "no liblzma in \(report.modules ?? [])")
        let functions = try Self.functions(of: library.path)
        let starts = Set(functions.map(\.start))
        let unnamed = report.profile.functions.filter { $0.module == library.name && !$0.symbolized }
        #expect(!unnamed.isEmpty)
        for function in unnamed {
            let offset = UInt64(function.function.dropFirst(library.name.count + 3), radix: 16)
            #expect(offset.map(starts.contains) == true, "\(function.function) is not an FDE start of \(library.path)")
        }
        try Self.expectRootShareMatchesFolded(outcome)

        let reference = try Self.perfSelfShares(command, library: library.path, functions: functions)
        #expect(reference.values.reduce(0, +) >= 50, "perf saw liblzma in \(reference)")
        let ours = Dictionary(report.hotspots.filter { $0.module == library.name }.map {
            (UInt64($0.function.dropFirst(library.name.count + 3), radix: 16) ?? 0, $0.selfPercent)
        }, uniquingKeysWith: +)
        for (start, share) in reference.sorted(by: { $0.value > $1.value }).prefix(4) {
            #expect(abs((ours[start] ?? 0) - share) <= 3,
                    "liblzma+0x\(String(start, radix: 16)): perfprobe \(ours[start] ?? 0)%, perf \(share)%")
        }
    }

    /// Deterministic text xz compresses at a few MB/s: words from a fixed generator.
    static func text(bytes: Int) -> String {
        var state: UInt64 = 7
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        let words = (0..<5000).map { _ in String((0..<(2 + next() % 8)).map { _ in Character(UnicodeScalar(UInt8(97 + next() % 26))) }) }
        var text = ""
        while text.utf8.count < bytes { text += words[Int(next() % 5000)] + " " }
        return text
    }

    struct FunctionRange { var start: UInt64; var end: UInt64 }

    /// A virtual address of `file` as a file offset, by readelf's LOAD segments.
    static func fileOffsets(of file: String) throws -> (UInt64) -> UInt64 {
        var segments: [(offset: UInt64, address: UInt64, size: UInt64)] = []
        for line in try Harness.output(of: "/usr/bin/readelf", ["-lW", file]).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.first == "LOAD", fields.count >= 6, let offset = UInt64(fields[1].dropFirst(2), radix: 16),
                  let address = UInt64(fields[2].dropFirst(2), radix: 16), let size = UInt64(fields[4].dropFirst(2), radix: 16) else { continue }
            segments.append((offset, address, size))
        }
        return { address in
            let segment = segments.first { address >= $0.address && address - $0.address < $0.size }
            return segment.map { address - $0.address + $0.offset } ?? address
        }
    }

    /// Every FDE of a module, as readelf prints them, in file offsets.
    static func functions(of file: String) throws -> [FunctionRange] {
        let fileOffset = try fileOffsets(of: file)
        var ranges: [FunctionRange] = []
        for line in try Harness.output(of: "/usr/bin/readelf", ["--debug-dump=frames", file]).split(separator: "\n") {
            guard let pc = line.range(of: "pc=") else { continue }
            let bounds = line[pc.upperBound...].split(separator: ".", omittingEmptySubsequences: true)
            guard bounds.count == 2, let start = UInt64(bounds[0], radix: 16), let end = UInt64(bounds[1], radix: 16) else { continue }
            ranges.append(FunctionRange(start: fileOffset(start), end: fileOffset(end)))
        }
        return ranges.sorted { $0.start < $1.start }
    }

    /// perf record's self shares of `library`'s functions (by FDE start) for `command`.
    static func perfSelfShares(_ command: [String], library: String, functions: [FunctionRange]) throws -> [UInt64: Double] {
        let data = Harness.scratch()
        _ = try Harness.output(of: "/usr/bin/perf", ["record", "-q", "-e", "cpu-clock", "-F", "999", "-o", data, "--"] + command)
        let script = try Harness.output(of: "/usr/bin/perf", ["script", "-i", data, "-F", "ip,dso", "--show-mmap-events"])
        var text: (start: UInt64, offset: UInt64)?
        var counts: [UInt64: Int] = [:]
        var total = 0
        for line in script.split(separator: "\n") {
            if line.contains("PERF_RECORD_MMAP"), line.hasSuffix(" " + library) || line.hasSuffix(" " + URL(fileURLWithPath: library).resolvingSymlinksInPath().path),
               line.contains("r-xp"), let open = line.range(of: "[0x"), let at = line.range(of: " @ 0x") {
                let start = line[open.upperBound...].prefix { $0.isHexDigit }
                let offset = line[at.upperBound...].prefix { $0.isHexDigit }
                if let start = UInt64(start, radix: 16), let offset = UInt64(offset, radix: 16) { text = (start, offset) }
                continue
            }
            let fields = line.split(separator: " ")
            guard fields.count == 2, let ip = UInt64(fields[0], radix: 16) else { continue }
            total += 1
            guard let text, fields[1].contains(URL(fileURLWithPath: library).lastPathComponent), ip >= text.start else { continue }
            let offset = ip - text.start + text.offset
            if let function = functions.last(where: { $0.start <= offset }), offset < function.end { counts[function.start, default: 0] += 1 }
        }
        return counts.mapValues { Double($0) * 100 / Double(max(total, 1)) }
    }
}
}
