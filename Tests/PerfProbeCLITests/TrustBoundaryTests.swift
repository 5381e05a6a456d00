import Foundation
import PerfProbeCore
import Testing

/// What an adversary or a careless setup does to perfprobe from outside:
/// each reproduced a crash, a hang or a wrong answer before (issue 11).
extension BinaryTests {
@Suite struct TrustBoundaryTests {
    /// perfprobe with exactly `arguments` (no --output added).
    static func bare(_ arguments: [String], as wrapper: [String] = []) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        let command = wrapper + [Harness.binary] + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, stdout, stderr)
    }

    static func expectOneLine(_ outcome: (status: Int32, stdout: String, stderr: String), _ text: String) {
        #expect(outcome.status == 2, "\(outcome)")
        #expect(outcome.stderr.split(separator: "\n").count == 1 && outcome.stderr.hasPrefix("perfprobe: "), "\(outcome.stderr)")
        #expect(outcome.stderr.contains(text), "\(outcome.stderr)")
    }

    /// Every fuzz target's seeds and the inputs that once crashed it
    /// (Fuzz/crashes: found by `make fuzz` or reported in issue 11), replayed
    /// through the same entry points libFuzzer drives.
    @Test func fuzzCorporaAndCrashInputsReplay() throws {
        let replay = Harness.buildDirectory.appendingPathComponent("perfprobe-fuzz").path
        let fuzz = Harness.repository.appendingPathComponent("Fuzz").path
        for target in ["elf", "perf-records", "proc", "perf-map", "http", "demangle", "allocator", "report", "heap-message", "call-frames", "dwarf", "inline-tree"] {
            let corpus = fuzz + "/corpus/" + target
            let crashes = fuzz + "/crashes/" + target
            let inputs = (try FileManager.default.contentsOfDirectory(atPath: corpus)).count
                + ((try? FileManager.default.contentsOfDirectory(atPath: crashes))?.count ?? 0)
            let outcome = try SidecarTests.run(replay, [target, corpus, crashes])
            #expect(outcome.status == 0, "\(target): \(outcome.output)")
            #expect(outcome.output == "\(target): \(inputs) inputs replayed\n", "\(outcome.output)")
        }
    }

    /// Each exited 132 (a trapping conversion) or said something unhelpful.
    @Test func optionValuesThatOverflowOrMisleadAreExitTwo() throws {
        let marker = Harness.scratch()
        let command = ["--", "/bin/sh", "-c", "touch \(marker)"]
        Self.expectOneLine(try Self.bare(["run", "--max-rss", "99999999999G"] + command), "--max-rss must be")
        Self.expectOneLine(try Self.bare(["run", "--frequency", "-5"] + command), "--frequency must be a positive number, got -5")
        Self.expectOneLine(try Self.bare(["run", "--output", ""] + command), "--output")
        Self.expectOneLine(try Self.bare(["run", "--output", "/etc/passwd"] + command), "not a directory")
        Self.expectOneLine(try Self.bare(["run", "--output", "/proc/perfprobe-test/out"] + command), "/proc/perfprobe-test/out")
        Self.expectOneLine(try Self.bare(["run", "--results-dir", "/proc/self/x"] + command), "/proc/self/x")
        Self.expectOneLine(try Self.bare(["sidecar", "--pid", "1", "--listen", "0.0.0.0:0"]), "--token-file")
        Self.expectOneLine(try Self.bare(["sidecar", "--pid", "1", "--listen", "nowhere:80"]), "localhost")
        // The command never ran: the checks come before it starts.
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    /// A disk that fills while the report set is written: nothing partial,
    /// the summary anyway, the path, the errno and how the target ended.
    @Test func aFullDiskLeavesNothingPartial() throws {
        let mount = Harness.scratch()
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        try Harness.tool("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=16k", "tmpfs", mount])
        defer { try? Harness.tool("/usr/bin/umount", [mount]) }
        let outcome = try Self.bare(["run", "--frequency", "999", "--output", mount + "/out", "--", Harness.samples + "/cpu_split", "0.5"])
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("No space left on device") && outcome.stderr.contains("target exited with status 0"), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("top functions of"), "the summary is said anyway")
        #expect(try FileManager.default.contentsOfDirectory(atPath: mount).isEmpty)
    }

    /// report.json that parses but lies: one line naming the field, nothing rewritten.
    @Test func anInconsistentReportIsRefusedAndNothingIsTouched() throws {
        let run = try Harness.perfprobe(["run", "--", Harness.samples + "/cpu_split", "0.3"])
        #expect(run.status == 0)
        let path = run.directory + "/report.json"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        var profile = json["profile"] as! [String: Any]
        var stacks = profile["stacks"] as! [[String: Any]]
        stacks[0]["frames"] = [999_999]
        profile["stacks"] = stacks
        json["profile"] = profile
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        let before = try Self.listing(run.directory)
        Self.expectOneLine(try Self.bare(["report", run.directory]), "profile.stacks[0].frames[0]")
        #expect(try Self.listing(run.directory) == before)

        stacks[0]["frames"] = [0]
        stacks[0]["count"] = Int.max - 5
        profile["stacks"] = stacks
        json["profile"] = profile
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        let rewritten = try Self.listing(run.directory)
        Self.expectOneLine(try Self.bare(["diff", run.directory, run.directory]), "profile.stacks[0].count")
        Self.expectOneLine(try Self.bare(["report", path]), "is not a directory")
        let after = try Self.listing(run.directory)
        #expect(after == rewritten, "diff.svg not written")
    }

    private static func listing(_ directory: String) throws -> [String: Date] {
        var result: [String: Date] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            result[name] = try FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.modificationDate] as? Date
        }
        return result
    }

    /// The heap probe's ring is written from inside the target: records
    /// forged to name pid 1 are dropped and counted, pid 1's mappings are
    /// never read, and a record no probe writes ends the reading of the ring
    /// with a note, after the program's real 1 MiB leak was taken.
    @Test func forgedHeapProbeRecordsAreIgnored() throws {
        // Sampled every 4 KiB on average: its 1 MiB block surely.
        let outcome = try Harness.perfprobe(["run", "--heap", "--heap-sample-bytes", "4096", "--", Harness.samples + "/forge_heap"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("forged 10"), "the program's own count")
        let report = try outcome.report
        let notes = report.notes ?? []
        #expect(notes.contains("10 heap-probe records ignored: they named a process outside the session"), "\(notes)")
        #expect(notes.contains { $0.hasPrefix("the heap probe's ring held records no probe writes") }, "\(notes)")
        #expect(report.heap?.stacks.contains { $0.functions.contains("main") && $0.outstandingBytes >= 1 << 20 } == true)

        // A record claimed and never written, as a writer killed mid-record
        // leaves it: what it hides is given up at the end, and said.
        let unfinished = try Harness.perfprobe(["run", "--heap", "--heap-sample-bytes", "4096", "--",
                                                Harness.samples + "/forge_heap", "unfinished"])
        #expect(unfinished.status == 0, "\(unfinished.stderr)")
        let said = try unfinished.report.notes ?? []
        // At least the 64-byte claim: records the probe wrote after it (the program's exit) go with it.
        let skipped = said.first { $0.hasSuffix(" bytes of heap-probe records were never completed (a writer stopped mid-record) and were skipped") }
        #expect((skipped.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0) >= 64, "\(said)")
        #expect(try unfinished.report.heap?.stacks.contains { $0.functions.contains("main") && $0.outstandingBytes >= 1 << 20 } == true)
        // Only forge_heap's own files: nothing read from pid 1's mappings.
        let own: Set<String> = ["forge_heap", "libc.so.6", "ld-linux-x86-64.so.2", "libm.so.6", "libperfprobe-heap.so", "[vdso]"]
        let named = Set((report.modules ?? []).map(\.name))
        #expect(named.isSubset(of: own), "\(named.subtracting(own))")
    }

    /// Threads that live shorter than a sampling period are never sampled:
    /// task-clock tells, and the report says so. cpu_split (long-lived
    /// threads) is the control: no such note.
    @Test func aThreadStormIsSaid() throws {
        let storm = try Harness.perfprobe(["run", "--", Harness.samples + "/thread_storm", "1.5"])
        #expect(storm.status == 0)
        #expect(storm.stdout.contains("threads "), "the program's own count")
        let notes = try storm.report.notes ?? []
        #expect(notes.contains { $0.contains("never sampled") }, "\(notes)")
        #expect(storm.stderr.contains("note: task-clock counted"))
        let control = try Harness.perfprobe(["run", "--", Harness.samples + "/cpu_split", "1"])
        #expect(try control.report.notes == nil)
    }

    /// An unprivileged run of a set-user-ID program: the kernel stops
    /// sampling it at exec. perfprobe used a whole core polling the dead
    /// events for the target's lifetime; now it says so once and waits.
    @Test func aTargetTheKernelWillNotSampleIsSaidOnceWithoutSpinning() throws {
        let directory = Harness.scratch()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o777)
        let suid = directory + "/suid_sleep"
        try FileManager.default.copyItem(atPath: "/usr/bin/sleep", toPath: suid)
        chmod(suid, 0o4755)
        let outcome = try Self.bare(["run", "--no-kernel", "--output", directory + "/out", "--", suid, "2"],
                                    as: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.components(separatedBy: "set-user-ID").count == 2, "once: \(outcome.stderr)")
        let report = try JSONReportFormat.decode(Data(contentsOf: URL(fileURLWithPath: directory + "/out/report.json")))
        #expect(report.agent.cpuSeconds < 0.5, "perfprobe used \(report.agent.cpuSeconds) s of CPU beside a 2 s sleep")
        #expect(report.notes?.contains { $0.contains("set-user-ID") } == true)
    }

    /// A token file of mode 600 in a fresh directory.
    static func tokenFile() throws -> (directory: String, token: String) {
        let directory = Harness.scratch()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: directory + "/token", contents: Data("s3cret-\(UInt32.random(in: 0...UInt32.max))\n".utf8),
                                       attributes: [.posixPermissions: 0o600])
        return (directory, directory + "/token")
    }

    /// With --token-file every endpoint but /healthz wants the token; a
    /// Content-Length near 2^63 gets 413 (it killed the sidecar); profile
    /// requests get 3 places, the rest 429 at once, /metrics stays
    /// answered, and a client that hangs up frees its place.
    @Test func sidecarEndpointsAgainstHostileClients() throws {
        let target = try Harness.launch("cpu_split", ["0"])
        defer { Harness.stop(target) }
        let (directory, token) = try Self.tokenFile()
        let script = """
        T=$(cat \(token)); U=$PERFPROBE_SIDECAR_URL; OUT=\(directory)/out; CODES=\(directory)/codes
        code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
        echo "healthz $(code $U/healthz)" >> $OUT
        echo "none $(code $U/metrics)" >> $OUT
        echo "wrong $(code -H 'Authorization: Bearer nope' $U/metrics)" >> $OUT
        echo "right $(code -H "Authorization: Bearer $T" $U/metrics)" >> $OUT
        echo "huge $(code -H "Authorization: Bearer $T" -H 'Content-Length: 9223372036854775807' --data-binary x $U/phase)" >> $OUT
        for i in $(seq 16); do
          curl -s -o /dev/null -w '%{http_code}\n' --max-time 2 -H "Authorization: Bearer $T" "$U/debug/pprof/profile?seconds=30" >> $CODES &
        done
        # The 429s come at once: when 13 are in, the other 3 hold their places.
        for i in $(seq 100); do [ "$(grep -c 429 $CODES 2>/dev/null)" -ge 13 ] && break; sleep 0.05; done
        echo "busy $(code --max-time 5 -H "Authorization: Bearer $T" $U/metrics)" >> $OUT
        wait
        # The 3 clients gave up after 2 s: their places must free within seconds, not after 31.
        for i in $(seq 30); do c=$(code --max-time 10 -H "Authorization: Bearer $T" "$U/debug/pprof/profile?seconds=1"); [ "$c" != 429 ] && break; sleep 0.1; done
        echo "after $c" >> $OUT
        """
        let outcome = try Harness.perfprobe(["sidecar", "--pid", String(target.processIdentifier), "--token-file", token,
                                             "--listen", "localhost:0", "--window", "1", "--", "/bin/sh", "-c", script])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let lines = try String(contentsOfFile: directory + "/out", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines == ["healthz 200", "none 401", "wrong 401", "right 200", "huge 413", "busy 200", "after 200"], "\(lines)")
        let codes = try String(contentsOfFile: directory + "/codes", encoding: .utf8).split(separator: "\n").sorted()
        #expect(codes == Array(repeating: "000", count: 3) + Array(repeating: "429", count: 13), "\(codes)")
        #expect(try outcome.report.profile.totalSamples > 0, "the sidecar carried on sampling")
    }

    /// Windows a --push server never took are counted and said at exit (they were dropped silently).
    @Test func pushFailuresAreSaidAtExit() throws {
        let target = try Harness.launch("cpu_split", ["0"])
        defer { Harness.stop(target) }
        // Port 9 (discard): nothing listens on it here.
        let outcome = try Harness.perfprobe(["sidecar", "--pid", String(target.processIdentifier), "--window", "1",
                                             "--push", "http://127.0.0.1:9", "--", "/bin/sleep", "2.5"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let line = outcome.stderr.split(separator: "\n").first { $0.contains("--push:") }
        #expect(line?.contains("windows not delivered to 127.0.0.1:9") == true, "\(outcome.stderr)")
        #expect(line?.contains("Connection refused") == true, "\(outcome.stderr)")
    }

    /// Debian's Prometheus server scrapes the sidecar with the token
    /// (authorization.credentials_file) and its query API answers.
    @Test func prometheusScrapesTheSidecarWithAToken() throws {
        let target = try Harness.launch("cpu_split", ["0"])
        defer { Harness.stop(target) }
        let (directory, token) = try Self.tokenFile()
        let port = Int.random(in: 20000...29999)
        let script = """
        D=\(directory); SIDECAR=${PERFPROBE_SIDECAR_URL#http://}
        printf 'global: {scrape_interval: 1s}\\nscrape_configs:\\n  - job_name: perfprobe\\n    authorization: {credentials_file: \(token)}\\n    static_configs: [{targets: ["%s"]}]\\n' "$SIDECAR" > $D/prometheus.yml
        /usr/bin/prometheus --config.file=$D/prometheus.yml --storage.tsdb.path=$D/data --web.listen-address=127.0.0.1:\(port) > $D/prometheus.log 2>&1 &
        P=$!
        for i in $(seq 120); do
          curl -s "http://127.0.0.1:\(port)/api/v1/query?query=perfprobe_target_cpu_seconds_total" > $D/query.json
          grep -q '"value"' $D/query.json && break
          sleep 0.25
        done
        curl -s "http://127.0.0.1:\(port)/api/v1/query?query=up" > $D/up.json
        kill $P; wait $P
        exit 0
        """
        let outcome = try Harness.perfprobe(["sidecar", "--pid", String(target.processIdentifier), "--token-file", token,
                                             "--window", "1", "--", "/bin/sh", "-c", script])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        struct Answer: Decodable {
            struct Data: Decodable {
                struct Series: Decodable { var metric: [String: String]; var value: [QueryValue] }
                var result: [Series]
            }
            var status: String
            var data: Data
        }
        let answer = try JSONDecoder().decode(Answer.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/query.json")))
        #expect(answer.status == "success")
        let user = answer.data.result.first { $0.metric["mode"] == "user" }
        #expect(user?.metric["job"] == "perfprobe", "\(answer.data.result)")
        #expect((user?.value.last?.number ?? 0) > 0, "cpu_split keeps a core busy")
        let up = try String(contentsOfFile: directory + "/up.json", encoding: .utf8)
        #expect(up.contains("\"1\"]"), "\(up)")
    }
}
}

/// A Prometheus query value: [time, "number"].
enum QueryValue: Decodable {
    case time(Double)
    case text(String)

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let time = try? container.decode(Double.self) { self = .time(time) } else { self = .text(try container.decode(String.self)) }
    }

    var number: Double? { if case .text(let text) = self { Double(text) } else { nil } }
}
