import Foundation
import PerfProbeCore
import Testing

/// The sidecar beside a load: phases, live endpoints read by the tools that
/// scrape them (promtool, go tool pprof), and the load tool's exit status.
extension BinaryTests {
@Suite struct SidecarTests {
    /// Runs `path` with `arguments` (and `input` on stdin); its status and output.
    static func run(_ path: String, _ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = Pipe(), stdin = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try stdin.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    struct Phase: Decodable {
        var phase: String
        var seconds: Double
        var cpuPercent: Double
        var hotspots: [Hotspot]
    }

    static func phases(_ directory: String) throws -> [Phase] {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode([Phase].self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/phases.json")))
    }

    /// cpu_split (70/30, one busy thread) beside a load script that moves the
    /// phase over HTTP and reads every endpoint, then exits 3.
    @Test func phasesEndpointsAndTheLoadStatus() throws {
        let target = try Harness.launch("cpu_split", ["0"])
        defer { Harness.stop(target) }
        let scratch = Harness.scratch()
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let script = """
        curl -sf -X POST -d '{"name": "warm"}' "$PERFPROBE_SIDECAR_URL/phase" || exit 10
        curl -sf "$PERFPROBE_SIDECAR_URL/healthz" > \(scratch)/healthz || exit 11
        sleep 2.5
        curl -sf "$PERFPROBE_SIDECAR_URL/metrics" > \(scratch)/metrics || exit 12
        curl -sf -X POST -d '{"name": "peak"}' "$PERFPROBE_SIDECAR_URL/phase" || exit 13
        curl -sf -o \(scratch)/profile.pb.gz "$PERFPROBE_SIDECAR_URL/debug/pprof/profile?seconds=2" || exit 14
        curl -s -o /dev/null -w '%{http_code}' -X POST -d 'nope' "$PERFPROBE_SIDECAR_URL/phase" > \(scratch)/bad
        exit 3
        """
        // 999 Hz: ~2,500 samples a phase, for the ±5-point check of each phase's split.
        let outcome = try Harness.perfprobe(["sidecar", "--pid", String(target.processIdentifier), "--window", "1", "--frequency", "999",
                                             "--", "/bin/sh", "-c", script])
        #expect(outcome.status == 3, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("/metrics"))
        #expect(try String(contentsOfFile: scratch + "/healthz", encoding: .utf8) == "ok\n")
        #expect(try String(contentsOfFile: scratch + "/bad", encoding: .utf8) == "400")

        let metrics = try Data(contentsOf: URL(fileURLWithPath: scratch + "/metrics"))
        let promtool = try Self.run("/usr/bin/promtool", ["check", "metrics"], input: metrics)
        #expect(promtool.status == 0, "\(promtool.output)")
        let text = String(decoding: metrics, as: UTF8.self)
        #expect(text.contains("perfprobe_phase_info{phase=\"warm\"} 1"))
        let user = text.split(separator: "\n").first { $0.hasPrefix("perfprobe_target_cpu_seconds_total{mode=\"user\"}") }
        #expect((user?.split(separator: " ").last.flatMap { Double($0) } ?? 0) >= 2, "\(text)") // one busy core for 2.5 s and more

        let profile = try ReportFormatTests.pprof(["-top", scratch + "/profile.pb.gz"])
        #expect((ReportFormatTests.topRow(profile, "shared_leaf")?.flat ?? 0) >= 90, "\(profile)")

        // Before the script's first POST the phase is "default": a moment at most.
        let all = try Self.phases(outcome.directory)
        #expect(all.allSatisfy { $0.phase != "default" || $0.seconds < 0.5 }, "\(all.map(\.seconds))")
        let phases = all.filter { $0.phase != "default" }
        #expect(phases.map(\.phase) == ["warm", "peak"])
        for phase in phases {
            #expect(phase.cpuPercent > 80, "\(phase.phase): \(phase.cpuPercent)%")
            #expect(phase.hotspots.first?.function == "shared_leaf")
            let report = try JSONReportFormat.decode(Data(contentsOf: URL(fileURLWithPath: outcome.directory + "/phases/\(phase.phase)/report.json")))
            let heavy = Double(Harness.inclusive(report, "heavy_path")), light = Double(Harness.inclusive(report, "light_path"))
            #expect(abs(heavy / (heavy + light) * 100 - 70) <= 5, "\(phase.phase)")
        }
        let windows = try String(contentsOfFile: outcome.directory + "/windows.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(windows.count >= 4)
        let labels = Set(windows.compactMap { $0?["phase"] as? String })
        #expect(labels.isSubset(of: ["default", "warm", "peak"]) && labels.contains("peak"), "\(labels)")
        #expect(try outcome.report.target.mode == "sidecar")
    }

    @Test func phasesFromAFileAndMatchByName() throws {
        // A name no other process has: a copy of cpu_split.
        let name = "match-\(UInt32.random(in: 100_000...999_999))"
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        try FileManager.default.copyItem(atPath: Harness.samples + "/cpu_split", toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let target = Process()
        target.executableURL = URL(fileURLWithPath: copy)
        target.arguments = ["0"]
        try target.run()
        defer { Harness.stop(target) }
        let schedule = Harness.scratch()
        try "# two phases\nfirst 0\nsecond 1.5\n".write(toFile: schedule, atomically: true, encoding: .utf8)
        let outcome = try Harness.perfprobe(["sidecar", "--match", name, "--phases", schedule, "--duration", "3.5"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(try outcome.report.target.pid.rawValue == target.processIdentifier)
        let phases = try Self.phases(outcome.directory)
        #expect(phases.map(\.phase) == ["first", "second"])
        // 0–1.5 s and 1.5–3.5 s.
        #expect(abs(phases[0].seconds - 1.5) <= 0.3 && abs(phases[1].seconds - 2) <= 0.3, "\(phases.map(\.seconds))")
    }

    /// The README's example: samples/http_server (8 worker threads) driven by
    /// samples/load_phases.sh, wrk through idle (GET /static), peak and stress
    /// (GET /hash, 4 and 16 connections), 3 s each. hash_handler, the known
    /// hot handler, is never called in idle and tops peak and stress, which
    /// burn far more CPU than idle.
    @Test func wrkThroughThePhasesOfTheSampleServer() throws {
        let port = String(Int.random(in: 20_000...29_999))
        let server = try Harness.launch("http_server", [port, "8"])
        defer { Harness.stop(server) }
        try Harness.waitUntilListening(Int(port)!)
        let outcome = try Harness.finish(Harness.start(
            ["sidecar", "--pid", String(server.processIdentifier), "--frequency", "499",
             "--", Harness.repository.appendingPathComponent("samples/load_phases.sh").path, port],
            environment: ["PHASE_SECONDS": "3"]))
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let phases = try Self.phases(outcome.directory).filter { $0.phase != "default" }
        try #require(phases.map(\.phase) == ["idle", "peak", "stress"], "\(phases.map(\.phase))")
        let idle = phases[0]
        #expect(phases.allSatisfy { abs($0.seconds - 3) <= 1 }, "\(phases.map(\.seconds))")
        let idleReport = try JSONReportFormat.decode(Data(contentsOf: URL(fileURLWithPath: outcome.directory + "/phases/idle/report.json")))
        #expect(Harness.inclusive(idleReport, "hash_handler") == 0)
        for phase in phases.dropFirst() {
            let top = try #require(phase.hotspots.first)
            #expect(top.function == "hash_handler" && top.selfPercent >= 40, "\(phase.phase): \(top.function) \(top.selfPercent)%")
            #expect(phase.cpuPercent >= idle.cpuPercent + 40, "\(phase.phase) \(phase.cpuPercent)% against idle \(idle.cpuPercent)%")
        }
    }

    /// Slow and malicious clients: 20 connections that never send a request,
    /// one that sends 64 KiB of header that never ends. The endpoints refuse
    /// (503) at once while all 16 places are taken, not after the idle ones'
    /// 2 s deadline; they are back once it has passed, and sampling carries
    /// on throughout.
    @Test func slowClientsCannotStallTheSidecar() throws {
        let target = try Harness.launch("cpu_split", ["0"])
        defer { Harness.stop(target) }
        let script = """
        import os, socket, sys, time, urllib.parse
        url = urllib.parse.urlparse(os.environ["PERFPROBE_SIDECAR_URL"])
        address = (url.hostname, url.port)
        def get(path):
            start = time.monotonic()
            with socket.create_connection(address, timeout=10) as s:
                s.sendall(f"GET {path} HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n".encode())
                reply = b""
                while chunk := s.recv(65536):
                    reply += chunk
            return int(reply.split()[1]), time.monotonic() - start
        idle = [socket.create_connection(address) for _ in range(20)]
        opened = time.monotonic()
        # Until the sidecar has taken the idle ones into all its places.
        while (answer := get("/healthz"))[0] != 503 and time.monotonic() - opened < 2: pass
        status, seconds = answer
        print(f"while 20 connections idle: /healthz {status} in {seconds:.3f} s", file=sys.stderr)
        if status != 503 or seconds > 1: sys.exit(10)
        # Back once the idle ones' 2 s deadline has passed, not before.
        while (answer := get("/healthz"))[0] != 200 and time.monotonic() - opened < 10: time.sleep(0.05)
        print(f"places free again after {time.monotonic() - opened:.2f} s", file=sys.stderr)
        if answer[0] != 200 or time.monotonic() - opened < 1.5: sys.exit(13)
        # Exactly the 64 KiB cap, never finished: all of it is read, so the
        # connection closes cleanly after the answer.
        head = b"GET /healthz HTTP/1.1\\r\\nX-Filler: "
        big = socket.create_connection(address, timeout=10)
        big.sendall(head + b"a" * (65536 - len(head)))
        reply = big.recv(65536)
        print(f"64 KiB of header: {reply[:12]!r}", file=sys.stderr)
        if b" 413 " not in reply: sys.exit(11)
        status, seconds = get("/healthz")
        print(f"after the deadline: /healthz {status} in {seconds:.3f} s", file=sys.stderr)
        if status != 200: sys.exit(12)
        """
        let outcome = try Harness.perfprobe(["sidecar", "--pid", String(target.processIdentifier), "--frequency", "999",
                                             "--", "/usr/bin/python3", "-c", script])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        // One busy thread for the script's ~3.5 s at 999 Hz: a quarter may be lost to attaching and noise.
        let report = try outcome.report
        #expect(Double(report.samples.total) >= report.durationSeconds * 999 * 0.75,
                "\(report.samples.total) samples in \(report.durationSeconds) s")
    }

    /// With --pid the sidecar ends with its process, and says it is gone.
    @Test func endsWithItsProcess() throws {
        let target = try Harness.launch("cpu_split", ["1.5"])
        defer { Harness.stop(target) }
        let outcome = try Harness.perfprobe(["sidecar", "--pid", String(target.processIdentifier), "--frequency", "999"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        #expect(report.target.outcome == .gone)
        // 1.5 CPU seconds at 999 Hz; a quarter may be lost to attaching.
        #expect(Double(report.samples.total) >= 1.5 * 999 * 0.75, "\(report.samples.total)")
    }

    /// --match follows the process across a restart: when it exits the sidecar
    /// waits, then attaches to the next process of that name — here a new
    /// version, another program — and the report holds both, each named by
    /// its own symbols: cpu_split's 70/30, then threads' 4/7, 2/7, 1/7.
    @Test func matchFollowsARestart() throws {
        let name = "restart-\(UInt32.random(in: 100_000...999_999))"
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let launch = { (sample: String, arguments: [String]) in
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: Harness.samples + "/" + sample, toPath: copy)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: copy)
            process.arguments = arguments
            try process.run()
            return process
        }
        let first = try launch("cpu_split", ["0"])
        defer { Harness.stop(first) }
        let sidecar = try Harness.start(["sidecar", "--match", name, "--frequency", "999", "--duration", "6"])
        try Harness.waitUntilSampling(sidecar.0)
        Thread.sleep(forTimeInterval: 2) // the first process's work profiled
        Harness.stop(first)
        try Harness.waitUntil(sidecar.stderr, contains: "waiting for the next process named")
        let second = try launch("threads", ["10"])
        defer { Harness.stop(second) }
        let outcome = try Harness.finish(sidecar)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("attached again: pid \(second.processIdentifier)"), "\(outcome.stderr)")
        let report = try outcome.report
        // The header names the process followed last, still running at the end.
        #expect(report.target.pid.rawValue == second.processIdentifier && report.target.outcome == .running)
        let shares = { (process: Process, functions: [String]) -> (total: Int, percents: [Double]) in
            let stacks = report.profile.stacks.filter { $0.pid.rawValue == process.processIdentifier }
            let under = functions.map { function in
                stacks.filter { $0.frames.contains { report.profile.functions[$0].function == function } }.reduce(0) { $0 + $1.count }
            }
            let named = max(under.reduce(0, +), 1)
            return (stacks.reduce(0) { $0 + $1.count }, under.map { Double($0) * 100 / Double(named) })
        }
        // At 999 Hz; a quarter may be lost to attaching and noise.
        let cpuSplit = shares(first, ["heavy_path", "light_path"])
        #expect(Double(cpuSplit.total) >= 2 * 999 * 0.75, "\(cpuSplit)")
        #expect(abs(cpuSplit.percents[0] - 70) <= 5, "\(cpuSplit)")
        let threads = shares(second, ["alpha_work", "beta_work", "gamma_work"])
        #expect(Double(threads.total) >= 3 * 1.05 * 999 * 0.75, "\(threads)")
        for (measured, truth) in zip(threads.percents, [400.0 / 7, 200.0 / 7, 100.0 / 7]) {
            #expect(abs(measured - truth) <= 5, "\(threads)")
        }
    }

    /// A Pyroscope-like receiver: saves each /ingest's multipart `profile`
    /// field with its query, answers 200.
    static let receiver = """
    import cgi, http.server, os, sys, urllib.parse
    out = sys.argv[1]
    class Ingest(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            url = urllib.parse.urlparse(self.path)
            form = cgi.FieldStorage(fp=self.rfile, headers=self.headers, environ={"REQUEST_METHOD": "POST"})
            n = len(os.listdir(out))
            open(os.path.join(out, "%d.pb.gz" % n), "wb").write(form["profile"].file.read())
            open(os.path.join(out, "%d.query" % n), "w").write(url.path + "?" + url.query)
            self.send_response(200); self.end_headers()
        def log_message(self, *args): pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Ingest)
    print(server.server_port, flush=True)
    server.serve_forever()
    """

    /// `--push`: each window's profile reaches the receiver as valid pprof,
    /// named with its phase; and /debug/pprof/heap serves the leaker's live heap.
    @Test func pushAndHeapEndpoint() throws {
        let received = Harness.scratch()
        try FileManager.default.createDirectory(atPath: received, withIntermediateDirectories: true)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = ["-W", "ignore", "-c", Self.receiver, received]
        let portPipe = Pipe()
        server.standardOutput = portPipe
        // Not the test's own stderr: swift test waits for every writer of it to close.
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            // SIGKILL: processes the tests start inherit a blocked SIGTERM.
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        let port = try #require(String(decoding: portPipe.fileHandleForReading.availableData, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines).nilIfEmpty)

        let target = try Harness.launch("leaker", ["0"])
        defer { Harness.stop(target) }
        let heapFile = Harness.scratch() + ".pb.gz"
        let script = "sleep 3; curl -sf -o \(heapFile) \"$PERFPROBE_SIDECAR_URL/debug/pprof/heap\""
        let outcome = try Harness.perfprobe(["sidecar", "--pid", String(target.processIdentifier), "--heap", "--window", "1",
                                             "--push", "http://127.0.0.1:\(port)", "--", "/bin/sh", "-c", script])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let queries = try FileManager.default.contentsOfDirectory(atPath: received).filter { $0.hasSuffix(".query") }
        #expect(queries.count >= 2, "\(queries)")
        let query = try String(contentsOfFile: received + "/0.query", encoding: .utf8)
        #expect(query.hasPrefix("/ingest?") && query.contains("format=pprof") && query.contains("from=") && query.contains("until="), "\(query)")
        #expect(query.contains("name=leaker.cpu%7Bphase%3Ddefault%7D"), "\(query)")
        let pushed = try ReportFormatTests.pprof(["-top", received + "/0.pb.gz"])
        #expect(pushed.contains("Type: cpu"), "\(pushed)")
        // The leaker's live heap after ~3 s: all of it under leaky_cache_insert.
        let heap = try ReportFormatTests.pprof(["-top", "-sample_index=inuse_space", heapFile])
        #expect(ReportFormatTests.topRow(heap, "leaky_cache_insert")?.cumulative == 100, "\(heap)")
    }

    @Test func badInvocationsAreSetupErrors() throws {
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["sidecar"]), mentioning: "exactly one of --pid PID, --match NAME or --cgroup PATH")
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["sidecar", "--pid", "999999"]), mentioning: "no process with pid 999999")
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["sidecar", "--pid", "1", "--listen", "localhost"]), mentioning: "--listen")
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["sidecar", "--match", "no-such-process-name"]), mentioning: "no process named")
        let schedule = Harness.scratch()
        try "peak later\n".write(toFile: schedule, atomically: true, encoding: .utf8)
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["sidecar", "--pid", "1", "--phases", schedule]), mentioning: "line 1")
    }
}
}
