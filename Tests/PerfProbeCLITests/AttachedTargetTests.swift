import Foundation
import PerfProbeCore
import Testing

/// What perfprobe attached to a process must never do: make it fail. Its
/// allocator probes once made every thread start fail under attach --heap
/// (clone3 returned EFAULT: the kernel re-created each inherited uprobe PMU
/// event from a pointer into the agent, read in the target).
extension BinaryTests {
@Suite struct AttachedTargetTests {
    /// Starts Debian's python3 on `script` and waits for its "ready" line.
    static func python(_ script: String, _ arguments: [String]) throws -> (Process, output: Pipe) {
        try Harness.launchWhenReady("/usr/bin/python3", [Harness.repository.appendingPathComponent(script).path] + arguments)
    }

    /// A Python loop that starts and joins a thread every 10 ms, under
    /// attach --heap for 3 of its 4 seconds: every start succeeds.
    @Test func pythonStartsEveryThreadUnderAttachHeap() throws {
        let (target, output) = try Self.python("samples/python/thread_starts.py", ["4"])
        let outcome = try Harness.perfprobe(["attach", "--heap", "--duration", "3", String(target.processIdentifier)])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let result = output.fileHandleForReading.readDataToEndOfFile()
        target.waitUntilExit()
        let counts = try JSONDecoder().decode([String: Int].self, from: result)
        #expect(counts["failed"] == 0 && (counts["started"] ?? 0) >= 200, "\(counts)")
        #expect(try outcome.report.heap?.probes != nil)
        // Nothing of the probes is left in tracefs.
        let events = (try? String(contentsOfFile: "/sys/kernel/tracing/uprobe_events", encoding: .utf8)) ?? ""
        #expect(!events.contains("perfprobe_"), "\(events)")
    }

    /// The allocator's path comes from the target's maps: one that would
    /// break a tracefs definition line (a space here) is probed through a
    /// link, and nothing is left behind.
    @Test func allocatorAtAPathWithASpaceIsProbed() throws {
        let directory = Harness.scratch() + "/lib dir"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/lib/x86_64-linux-gnu/libc.so.6", toPath: directory + "/libc.so.6")
        let target = Process()
        target.executableURL = URL(fileURLWithPath: Harness.samples + "/leaker")
        target.arguments = ["6"]
        target.environment = ["LD_LIBRARY_PATH": directory]
        try target.run()
        defer { Harness.stop(target) }
        // The copy must be the one mapped before attaching (the loader maps it at start).
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline,
              (try? String(contentsOfFile: "/proc/\(target.processIdentifier)/maps", encoding: .utf8))?.contains(directory) != true {
            usleep(10_000)
        }
        let outcome = try Harness.perfprobe(["attach", "--heap", "--duration", "2", String(target.processIdentifier)])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let probes = try #require(try outcome.report.heap?.probes)
        #expect(probes.library == directory + "/libc.so.6")
        #expect(probes.functions.first { $0.symbol == "malloc" }.map { $0.calls > 0 } == true, "\(probes.functions)")
        let events = (try? String(contentsOfFile: "/sys/kernel/tracing/uprobe_events", encoding: .utf8)) ?? ""
        #expect(!events.contains("perfprobe_"), "\(events)")
    }

    /// Python's threading HTTP server (a thread per connection) under wrk,
    /// bare and then beside `sidecar --heap`: no errors (every request used to
    /// fail), and at least half the bare throughput — which this 2-core VM
    /// does not reach reliably yet (issue 14: 0.38–0.65 of bare over 8 runs,
    /// the bare rate itself moving 1,600–2,200/s between runs), so that
    /// part is an intermittent known issue, measured and shown each run.
    @Test func threadedPythonServerServesUnderSidecarHeap() throws {
        let directory = Harness.scratch()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: directory + "/index.html"))
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        // Port 0: the server picks a free one and says which once it listens.
        server.arguments = ["-m", "http.server", "--bind", "127.0.0.1", "--directory", directory, "0"]
        server.environment = ["PYTHONUNBUFFERED": "1"]
        let announcement = Pipe()
        server.standardOutput = announcement
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { Harness.stop(server) }
        var line = Data()
        while line.last != UInt8(ascii: "\n") {
            let byte = announcement.fileHandleForReading.readData(ofLength: 1)
            try #require(!byte.isEmpty, "http.server ended before it listened")
            line += byte
        }
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        let words = String(decoding: line, as: UTF8.self).split(separator: " ")
        let port = try #require(words.firstIndex(of: "port").map { String(words[$0 + 1]) }, "\(words)")
        let wrk = ["/usr/bin/wrk", "-t1", "-c4", "-d3s", "http://127.0.0.1:\(port)/index.html"]
        // Three runs each, alternated, medians compared: one 3-s run of a
        // thread-per-request server on a shared 2-core VM varies by ±20%.
        var bare: [Double] = [], profiled: [Double] = []
        var last: Harness.Outcome?
        for _ in 0..<3 {
            let alone = try Self.wrkFigures(SidecarTests.run(wrk[0], Array(wrk.dropFirst())).output)
            let run = try Harness.perfprobe(["sidecar", "--pid", String(server.processIdentifier), "--heap", "--"] + wrk)
            #expect(run.status == 0, "\(run.stderr)")
            let beside = try Self.wrkFigures(run.stdout)
            #expect(alone.errors == 0 && beside.errors == 0, "bare \(alone), beside sidecar --heap \(beside)")
            bare.append(alone.requestsPerSecond)
            profiled.append(beside.requestsPerSecond)
            last = run
        }
        let bareMedian: Double = bare.sorted()[1], profiledMedian: Double = profiled.sorted()[1]
        #expect(profiledMedian >= bareMedian / 2, "bare \(bare), beside sidecar --heap \(profiled) requests/s")
        let outcome = try #require(last)
        #expect(try outcome.report.heap?.probes != nil)
    }

    /// Requests a second and errors (socket errors and non-2xx answers) from wrk's output.
    static func wrkFigures(_ output: String) throws -> (requestsPerSecond: Double, errors: Int) {
        var rate: Double?
        var errors = 0
        for line in output.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "," })
            if line.hasPrefix("Requests/sec:") { rate = Double(fields[1]) }
            if line.contains("Socket errors:") {
                errors += fields.compactMap { Int($0) }.reduce(0, +)
            }
            if line.contains("Non-2xx or 3xx responses:"), let count = fields.last.flatMap({ Int($0) }) { errors += count }
        }
        return (try #require(rate, "no rate in wrk's output: \(output)"), errors)
    }
}
}
