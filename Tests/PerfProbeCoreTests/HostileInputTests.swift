import Foundation
import Testing
@testable import PerfProbeCore

/// Inputs an adversary controls — symbol names, HTTP requests, report.json —
/// each of which crashed or fooled perfprobe before (issue 11).
@Suite struct HostileInputTests {
    /// Crashed `perfprobe run` with SIGILL: the backref offset overflowed Int.
    @Test func malformedRustV0NamesStayMangled() {
        for name in ["_RBc0000000000_", "_RBzzzzzzzzzzzzzzzzzz_", "_RNvGzzzzzzzzzzzzzzzzzz_3foo", "_RINvC3foo3barFGzzzzzzzzzzzz_E",
                     "_R" + String(repeating: "R", count: 100_000) + "u"] {
            #expect(Demangler.demangle(name) == name)
        }
    }

    /// Each backref level doubles or triples the output: ~90 bytes would
    /// expand to megabytes. Past the step or output limit, the name stays mangled.
    @Test func backrefExpansionIsBounded() {
        // A tuple type whose elements refer back to the previous tuple, 30 levels deep.
        var mangled = "_RINvC3foo3barTuuuE"
        var previous = mangled.utf8.count - 2 - 5  // offset of the first "T" after "_R"
        for _ in 0..<30 {
            let offset = mangled.utf8.count - 2
            mangled += "T" + String(repeating: "B" + base62(previous), count: 3) + "E"
            previous = offset
        }
        mangled += "E"
        let started = ContinuousClock.now
        let result = Demangler.demangle(mangled)
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(result == mangled)
        #expect(RustV0Demangler.demangle(mangled) == nil)
    }

    private func base62(_ value: Int) -> String {
        if value == 0 { return "_" }
        let digits = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        var n = value - 1, text = ""
        repeat { text = String(digits[n % 62]) + text; n /= 62 } while n > 0
        return text + "_"
    }

    @Test func namesAreSanitizedByScalar() {
        // "\r\n" is one Character: a per-Character filter let it through.
        let forged = "evil\r\nmain;fake_frame 999999\r\n"
        let clean = SymbolName.sanitized(forged)
        #expect(!clean.unicodeScalars.contains { $0.value < 0x20 })
        #expect(clean == "evil\\x0D\\x0Amain;fake_frame 999999\\x0D\\x0A")
        #expect(SymbolName.sanitized("\u{1B}[31mred\u{07}") == "\\x1B[31mred\\x07")
        #expect(SymbolName.sanitized("a\u{202E}b\u{2028}c") == "a\\u{202E}b\\u{2028}c")
        #expect(SymbolName.sanitized("std::vector<int>::push_back") == "std::vector<int>::push_back")
        #expect(SymbolName.sanitized(clean) == clean)
        let huge = SymbolName.sanitized(String(repeating: "x", count: 10_000_000))
        #expect(huge.utf8.count <= SymbolName.maxBytes)
        #expect(huge.hasSuffix(SymbolName.truncationMark))
        let escapes = SymbolName.sanitized(String(repeating: "\u{1}", count: 5000))
        #expect(escapes.utf8.count <= SymbolName.maxBytes && SymbolName.sanitized(escapes) == escapes)
        // Symbolized frames sanitize on the way in.
        #expect(SymbolizedFrame(function: "a\nb", module: "m\u{1B}", kernel: false, symbolized: true).function == "a\\x0Ab")
    }

    @Test func foldedLinesCannotBeForged() throws {
        var report = try FixtureReport.make(functions: ["main", "evil\r\nmain;fake_frame 999999\r\n"])
        report.threads[0].name = "thr;ead\n"
        let text = String(decoding: try #require(try FoldedStacksFormat().render(report)), as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 1)
        #expect(lines.allSatisfy { $0.split(separator: ";").count == 3 && $0.hasSuffix(" 7") })
    }

    @Test func flameGraphWithHostileNamesIsWellFormedXML() throws {
        let report = try FixtureReport.make(functions: ["main", "<script>alert(1)</script>&\u{1B}\u{0}\"'"])
        let svg = try #require(try FlameGraphFormat().render(report))
        // An independent XML parser (Python's expat) must accept it.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID()).svg").path
        defer { unlink(path) }
        try svg.write(to: URL(fileURLWithPath: path))
        let parser = Process()
        parser.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        parser.arguments = ["-c", "import sys, xml.etree.ElementTree as E; print(E.parse(sys.argv[1]).getroot().tag)", path]
        let out = Pipe()
        parser.standardOutput = out
        try parser.run()
        parser.waitUntilExit()
        #expect(parser.terminationStatus == 0)
        #expect(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "{http://www.w3.org/2000/svg}svg\n")
        let html = String(decoding: try #require(try HTMLReportFormat().render(report)), as: UTF8.self)
        #expect(!html.contains("<script>alert"))
    }

    /// Every other writer, with names built to forge lines, break JSON or
    /// drive a terminal: valid output, no raw control character.
    @Test func everyWriterTakesHostileNames() throws {
        let hostile = ["main", "evil\r\nmain;fake 999\r\n", "\u{1B}]0;title\u{07}\u{1B}[2J", "q\"uote\\back", "\u{202E}rtl"]
        let report = try FixtureReport.make(functions: hostile)
        let speedscope = try #require(try SpeedscopeFormat().render(report))
        let json = try JSONSerialization.jsonObject(with: speedscope) as? [String: Any]
        let frames = (json?["shared"] as? [String: Any])?["frames"] as? [[String: Any]]
        #expect(frames?.compactMap { $0["name"] as? String }.contains("evil\\x0D\\x0Amain;fake 999\\x0D\\x0A") == true)
        let summary = SummaryText.render(report, outputDirectory: "out")
        #expect(!summary.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x0D || $0 == "\u{202E}" })
        #expect(summary.contains("\\x1B]0;title\\x07"))
        for format in ReportFormats.all {
            guard let data = try format.render(report), format.name != "pprof" && format.name != "pprof-heap" else { continue }
            let text = String(decoding: data, as: UTF8.self)
            #expect(!text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0 == "\u{202E}" }, "\(format.name)")
        }
    }

    @Test func hugeContentLengthIsRefused() {
        let request = Array("POST /phase HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n{}".utf8)
        #expect(HTTPRequest.parse(request) == .tooLarge)
        let big = Array("POST /phase HTTP/1.1\r\nContent-Length: \(HTTPRequest.maxBodyBytes + 1)\r\n\r\n".utf8)
        #expect(HTTPRequest.parse(big) == .tooLarge)
    }

    @Test func bearerTokens() throws {
        let token = BearerToken(bytes: Array("s3cret".utf8))
        #expect(token.accepts(authorization: "Bearer s3cret"))
        #expect(token.accepts(authorization: "bearer s3cret"))
        #expect(!token.accepts(authorization: "Bearer s3cre"))
        #expect(!token.accepts(authorization: "Bearer s3cret0"))
        #expect(!token.accepts(authorization: "Basic s3cret"))
        #expect(!token.accepts(authorization: nil))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID())").path
        defer { unlink(path) }
        FileManager.default.createFile(atPath: path, contents: Data(" s3cret \n".utf8), attributes: [.posixPermissions: 0o644])
        #expect(throws: BearerToken.LoadError.self) { try BearerToken(file: path) }
        chmod(path, 0o600)
        #expect(try BearerToken(file: path).bytes == Array("s3cret".utf8))
    }

    @Test func inconsistentReportsAreRefusedNamingTheField() throws {
        let good = try FixtureReport.make(functions: ["main", "work"])
        _ = try good.validated()
        var badIndex = good
        badIndex.profile.stacks[0].frames = [0, 99]
        #expect(throws: ReportValidationError.self) { try badIndex.validated() }
        do { _ = try badIndex.validated() } catch { #expect(error.field == "profile.stacks[0].frames[1]") }
        var hugeCount = good
        hugeCount.profile.stacks[0].count = Int.max - 1
        do { _ = try hugeCount.validated(); Issue.record("accepted") } catch { #expect(error.field.hasPrefix("profile.stacks[0].count")) }
        var nan = good
        nan.durationSeconds = .infinity
        do { _ = try nan.validated(); Issue.record("accepted") } catch { #expect(error.field == "duration_seconds") }
        var frequency = good
        frequency.sampling.frequencyHz = 0
        do { _ = try frequency.validated(); Issue.record("accepted") } catch { #expect(error.field == "sampling.frequency_hz") }
        var names = good
        names.profile.functions[1].function = "x\u{1B}]0;pwned\u{07}"
        #expect(try names.validated().profile.functions[1].function == "x\\x1B]0;pwned\\x07")
    }
}

/// A small report built in code: one thread, one stack of `functions` (root first), 7 samples.
enum FixtureReport {
    static func make(functions: [String]) throws -> ProfileReport {
        let frames = functions.map { SymbolizedFrame(function: $0, module: "app", kernel: false, symbolized: true) }
        let json = """
        {"version":1,"target":{"mode":"run","pid":10,"command":["app"],"name":"app","outcome":{"state":"exited","exit_code":0}},
         "sampling":{"event":"cpu-clock","frequency_hz":99,"include_kernel":false,"unwind":"dwarf","stack_size_bytes":16384},
         "started_at":"2026-12-01T00:00:00Z","duration_seconds":1,
         "samples":{"total":7,"lost_records":0,"lost_samples":0,"throttle_events":0},
         "cpu":{"utilisation_percent":50,"user_percent":50,"system_percent":0},
         "processes":[{"pid":10,"tid":10,"name":"app","samples":7,"percent":100}],
         "threads":[{"pid":10,"tid":10,"name":"app","samples":7,"percent":100}],
         "hotspots":[],"thread_hotspots":[],"timeline":[],"counters":[],
         "stack_quality":{"unwound_to_root_percent":100,"spliced_percent":0,"truncated_percent":0,"unwind_error_percent":0,
           "frame_pointer_percent":0,"unsymbolized_frames_percent":0,"lost_samples":0,"mean_unwind_microseconds":1,
           "modules_without_unwind_info":[],"modules_without_symbols":[]},
         "agent":{"cpu_seconds":0.1,"peak_rss_bytes":1000},"unreadable_modules":{},
         "profile":{"functions":[],"stacks":[{"pid":10,"tid":10,"frames":[],"count":7}]}}
        """
        var report = try JSONReportFormat.decode(Data(json.utf8))
        report.profile.functions = frames
        report.profile.stacks[0].frames = Array(frames.indices.reversed())
        report.hotspots = Hotspot.rank(report.profile)
        return report
    }
}

/// /tmp/perf-PID.map is written by the target (issue 11): read like perf
/// does, and safer.
/// The heap probe's ring records (probes/heapprobe/include/heapprobe.h),
/// written by the target: decoded exactly when well-formed, and a claim
/// larger than what follows, a stack longer than its record or an unknown
/// type ends the batch there.
@Suite struct HeapRecordTests {
    static func allocation(stack: [UInt8], claimed: Int? = nil, type: UInt64 = 1) -> [UInt8] {
        var body = [UInt8]()
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { body += $0 } }
        put(Int32(1234)); put(Int32(1235)); put(UInt32(stack.count)); put(UInt32(0))
        put(UInt64(0x7f00_0000_1000)); put(UInt64(4096)); put(UInt64(8192)); put(UInt64(123_456_700))
        for index in 0..<24 { put(UInt64(index == 8 ? 0x401000 : index)) }
        body += stack
        let length = UInt64(claimed ?? (8 + body.count))
        return withUnsafeBytes(of: (length | type << 32).littleEndian) { Array($0) } + body
    }

    static let free: [UInt8] = {
        var bytes = [UInt8]()
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        put(UInt64(32 | 2 << 32)); put(Int32(1234)); put(UInt32(0)); put(UInt64(0x7f00_0000_1000)); put(UInt64(99))
        return bytes
    }()

    static func parse(_ bytes: [UInt8]) -> [HeapRecord] {
        bytes.withUnsafeBytes { HeapRecord.parseBatch($0) }
    }

    @Test func wellFormedRecordsDecode() throws {
        // A claim of a whole 64-byte stack copy of which 40 bytes were copied.
        var record = Self.allocation(stack: Array(0..<40))
        record += [UInt8](repeating: 0, count: 24)
        record.replaceSubrange(0..<4, with: withUnsafeBytes(of: UInt32(record.count).littleEndian) { Array($0) })
        let records = Self.parse(record + Self.free)
        #expect(records.count == 2)
        guard case .allocation(let allocation) = records.first, case .free(let pid, let address, let time) = records.last else {
            Issue.record("\(records)")
            return
        }
        #expect(allocation.pid == ProcessID(1234) && allocation.tid == ThreadID(1235))
        #expect(allocation.size == 4096 && allocation.weight == 8192 && allocation.registers[8] == 0x401000)
        #expect(allocation.stack == Array(0..<40))
        #expect(pid == ProcessID(1234) && address == 0x7f00_0000_1000 && time == 99)
    }

    @Test func malformedRecordsEndTheBatch() {
        #expect(Self.parse(Self.free + Self.allocation(stack: [1, 2], claimed: 4096)).count == 1, "a claim past the end")
        #expect(Self.parse(Self.allocation(stack: [], claimed: 64)).isEmpty, "shorter than its header")
        #expect(Self.parse(Self.allocation(stack: [1], type: 9) + Self.free).isEmpty, "an unknown type")
        var long = Self.allocation(stack: [1, 2, 3])
        long.replaceSubrange(16..<20, with: [0xff, 0xff, 0, 0]) // a stack longer than the record
        #expect(Self.parse(long).isEmpty)
        var zero = Self.free
        zero.replaceSubrange(0..<8, with: [UInt8](repeating: 0, count: 8))
        #expect(Self.parse(zero).isEmpty, "a length of 0 never loops")
    }
}

@Suite(.serialized) struct PerfMapTests {
    @Test func linesCRLFLatestWinsAndEmptyEntries() {
        let table = PerfMapFile.parse("1000 40 old\r\n2000 0 empty\r\n1000 40 new\r\n3000 10 " + String(repeating: "n", count: 100_000) + "\npartial 10")
        #expect(table.lookup(0x1010)?.name == "new")
        #expect(table.lookup(0x2000) == nil)
        #expect(table.lookup(0x3000).map { $0.name.utf8.count } == SymbolName.maxBytes + 1)
        let (entries, consumed) = PerfMapFile.parseLines(ArraySlice("1 1 a\n2 1 b\n3 1 c".utf8))
        #expect(entries.map(\.name) == ["a", "b"] && consumed == 12)
        #expect(PerfMapFile.parse("zz 10 x\n10 ffffffffffffffffff y\n").isEmpty)
    }

    private var path: String { "/tmp/perf-\(getpid()).map" }

    @Test func aFIFODoesNotHangTheFollower() throws {
        unlink(path)
        defer { unlink(path) }
        #expect(mkfifo(path, 0o644) == 0)
        var follower = PerfMapFollower()
        let started = ContinuousClock.now
        follower.poll(ProcessID(getpid()))
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect(follower.maps.isEmpty)
        #expect(follower.notes.values.first?.contains("not a regular file") == true)
    }

    @Test func symlinksAndStrangersAreRefused() throws {
        unlink(path)
        defer { unlink(path) }
        #expect(symlink("/dev/zero", path) == 0)
        var follower = PerfMapFollower()
        follower.poll(ProcessID(getpid()))
        #expect(follower.maps.isEmpty)
        unlink(path)
        FileManager.default.createFile(atPath: path, contents: Data("1000 10 spoofed\n".utf8))
        #expect(chown(path, 12345, 12345) == 0)
        var other = PerfMapFollower()
        other.poll(ProcessID(getpid()))
        #expect(other.maps.isEmpty)
        #expect(other.notes.values.first?.contains("owned by uid 12345") == true)
    }

    @Test func readsOnlyWhatWasAppendedAndStopsAtTheCap() throws {
        unlink(path)
        defer { unlink(path) }
        FileManager.default.createFile(atPath: path, contents: Data("1000 10 first\n2000 10 sec".utf8))
        var follower = PerfMapFollower()
        let pid = ProcessID(getpid())
        follower.poll(pid)
        #expect(follower.maps[pid]?.entries.map(\.name) == ["first"])
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("ond\n1000 10 again\n".utf8))
        follower.poll(pid)
        #expect(follower.maps[pid]?.entries.map(\.name) == ["first", "second", "again"])
        #expect(PerfMapFile.table(follower.maps[pid]!.entries).lookup(0x1004)?.name == "again")
        // Past the cap (a sparse file): what was read is kept, and said once.
        try handle.truncate(atOffset: UInt64(PerfMapFollower.maxBytes) + 1)
        try handle.close()
        follower.poll(pid)
        #expect(follower.maps[pid]?.truncated == true)
        #expect(follower.maps[pid]?.entries.count == 3)
        #expect(follower.notes[pid]?.contains("over 64 MiB") == true)
    }
}
