import Foundation
import PerfProbeCore
import Testing

/// --off-cpu against samples/offcpu, whose threads time their own waits:
/// the sleeper in nanosleep, the waiter on a mutex the holder keeps 80% of
/// the time, the reader on a pipe fed every 10 ms.
extension BinaryTests {
@Suite struct OffCPUTests {
    /// One thread's own account: its tid, its life and the seconds spent in its blocking call.
    struct Truth: Decodable {
        var tid: Int32
        var life: Double
        var blocked: Double
    }

    /// The thread, the function it waits in, and why.
    static let waits = [("sleeper", "sleepy_wait", "sleep"), ("waiter", "lock_waiter", "lock"), ("reader", "pipe_reader", "io")]

    /// The program's last line of output: its threads' truths.
    static func truths(_ output: String) throws -> [String: Truth] {
        let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("{") }, "offcpu printed no truth: \(output)")
        return try JSONDecoder().decode([String: Truth].self, from: Data(line.utf8))
    }

    /// Each waiting thread's blocked share in its function is the program's
    /// own within 5 points, under the right reason; every thread's on-CPU
    /// and blocked time add up to its life within 5%.
    static func expectWaits(_ report: ProfileReport, _ truths: [String: Truth]) throws {
        let offCPU = try #require(report.offCpu, "no off_cpu in the report")
        for (name, function, reason) in Self.waits {
            let truth = try #require(truths[name])
            let thread = try #require(offCPU.threads.first { $0.tid.rawValue == truth.tid }, "\(name) not in \(offCPU.threads)")
            #expect(thread.name == name)
            let measured = offCPU.blockedSeconds(of: thread.tid, in: function) * 100 / thread.lifetimeSeconds
            let own = truth.blocked * 100 / truth.life
            #expect(abs(measured - own) <= 5, "\(name): \(measured)% blocked in \(function), by its own clock \(own)%")
            let main = thread.blockedByReason.max { $0.value < $1.value }?.key
            #expect(main == reason, "\(name): \(thread.blockedByReason)")
        }
        for thread in offCPU.threads where truths.values.contains(where: { $0.tid == thread.tid.rawValue }) {
            let total = (thread.onCpuSeconds + thread.blockedSeconds) / thread.lifetimeSeconds
            #expect(abs(total - 1) <= 0.05, "\(thread.name): on CPU \(thread.onCpuSeconds) s + blocked \(thread.blockedSeconds) s of \(thread.lifetimeSeconds) s")
        }
    }

    @Test func runFindsWhereEachThreadWaits() throws {
        let outcome = try Harness.perfprobe(["run", "--off-cpu", "--frequency", "999", "--", Harness.samples + "/offcpu", "3"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        try Self.expectWaits(report, try Self.truths(outcome.stdout))
        #expect(outcome.stderr.contains("off-CPU ("), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("lock_waiter  [offcpu]"), "\(outcome.stderr)")
        // The CPU results file names the waiter's lock, where it waits and
        // the holder's hot function; sleeping is no bottleneck.
        let results = try CPUProfileTests.cpuResults(outcome.directory)
        let lock = try #require(results.bottlenecks.first { $0.hasPrefix("waiter (tid ") && $0.contains(" waits (lock) ") }, "\(results.bottlenecks)")
        #expect(lock.contains("in lock_waiter [offcpu] ← run [offcpu]") && lock.contains("busiest in burn [offcpu]"), "\(lock)")
        #expect(!results.bottlenecks.contains { $0.hasPrefix("sleeper ") }, "\(results.bottlenecks)")
        #expect(results.optimizationOpportunities.contains { $0.hasPrefix("waiter (tid ") && $0.contains("lock contention") })
        // The CPU profile is still the CPU's: the holder burns in holder_burn.
        #expect(report.hotspots.prefix(3).contains { $0.function == "burn" }, "\(report.hotspots.prefix(5))")

        // offcpu.folded: thread first, microseconds; the waiter's lines are in lock_waiter.
        let folded = try String(contentsOfFile: outcome.directory + "/offcpu.folded", encoding: .utf8)
        let waiterLines = folded.split(separator: "\n").filter { $0.hasPrefix("waiter;") }
        let inLock = waiterLines.filter { $0.contains(";lock_waiter;") }.compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }
        let waiter = try #require(report.offCpu?.threads.first { $0.name == "waiter" })
        #expect(abs(Double(inLock.reduce(0, +)) / 1e6 - report.offCpu!.blockedSeconds(of: waiter.tid, in: "lock_waiter")) < 0.01)
        // wall.folded: a thread's lines add up to its life.
        let wall = try String(contentsOfFile: outcome.directory + "/wall.folded", encoding: .utf8)
        let sleeperMicroseconds = wall.split(separator: "\n").filter { $0.hasPrefix("sleeper;") }
            .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
        let sleeper = try #require(report.offCpu?.threads.first { $0.name == "sleeper" })
        #expect(abs(Double(sleeperMicroseconds) / 1e6 / sleeper.lifetimeSeconds - 1) <= 0.05, "\(sleeperMicroseconds) µs of \(sleeper)")
        #expect(wall.contains(";[off-CPU: lock] "))

        // The real pprof names the waiting functions; the flame graph is XML.
        let top = try ReportFormatTests.pprof(["-top", outcome.directory + "/offcpu.pb.gz"])
        #expect(top.contains("Type: off_cpu"), "\(top)")
        for (_, function, _) in Self.waits { #expect(ReportFormatTests.topRow(top, function) != nil, "\(function) in \(top)") }
        let tagged = try ReportFormatTests.pprof(["-top", "-tagfocus=reason=lock", outcome.directory + "/offcpu.pb.gz"])
        #expect(ReportFormatTests.topRow(tagged, "lock_waiter") != nil && ReportFormatTests.topRow(tagged, "sleepy_wait") == nil, "\(tagged)")
        let svg = try #require(try ReportFormatTests.Titles.read(outcome.directory + "/offcpu.svg"), "offcpu.svg is not well-formed XML")
        #expect(svg.titles.contains { $0.hasPrefix("lock_waiter [offcpu] — ") && $0.contains("µs blocked") })

        // report.html's Off-CPU section, in a real browser.
        let dom = try ReportFormatTests.chromium(["--dump-dom", "file://" + outcome.directory + "/report.html"])
        #expect(dom.contains("Off-CPU: where threads waited") && dom.contains("<td>waiter</td>"), "\(dom.prefix(2000))")
        #expect(dom.contains("data-name=\"lock_waiter\""), "the off-CPU flame graph's script did not run")
    }

    /// Attached with CPU sampling events on each thread, and (`--tree`) on
    /// each CPU, whose records of other processes the agent drops; the
    /// switch program follows the process either way.
    @Test(arguments: [[], ["--tree"]])
    func attachFindsWhereEachThreadWaits(_ mode: [String]) throws {
        let (target, output) = try Harness.launchWhenReady(Harness.samples + "/offcpu", ["5"])
        defer { Harness.stop(target) }
        let outcome = try Harness.perfprobe(["attach", "--off-cpu", "--frequency", "999", "--duration", "3"] + mode + [String(target.processIdentifier)])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("sampling per CPU") == !mode.isEmpty, "\(outcome.stderr)")
        target.waitUntilExit()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let report = try outcome.report
        let offCPU = try #require(report.offCpu)
        // Threads were already waiting when the attach began (of six, the
        // holder alone is always on a CPU), the main thread throughout, in
        // pthread_join: its whole window is lock, though no stack was seen.
        #expect(offCPU.startedBlocked >= 1 && offCPU.startedBlocked <= 6, "\(offCPU.startedBlocked)")
        let main = try #require(offCPU.threads.first { $0.tid.rawValue == target.processIdentifier }, "\(offCPU.threads)")
        #expect(abs(main.blockedSeconds / main.lifetimeSeconds - 1) <= 0.02 && main.blockedByReason["lock"] == main.blockedSeconds, "\(main)")
        try Self.expectWaits(report, try Self.truths(printed))
    }

    /// `sidecar --off-cpu` beside wrk: the sample server idle (GET /static,
    /// one connection), then stressed on GET /locked (16 connections, eight
    /// workers sharing one mutex). Waiting on the lock is the workers' main
    /// reason in stress and not in idle; /metrics counts blocked seconds by
    /// reason and /debug/pprof/offcpu serves the waits as pprof.
    @Test func sidecarSeesLockContentionUnderLoad() throws {
        let port = String(Int.random(in: 20_000...29_999))
        let server = try Harness.launch("http_server", [port, "8"])
        defer { Harness.stop(server) }
        try Harness.waitUntilListening(Int(port)!)
        let metrics = Harness.scratch(), offcpu = Harness.scratch()
        let script = """
        phase() { curl -sf -X POST -d "{\\"name\\": \\"$1\\"}" "$PERFPROBE_SIDECAR_URL/phase" >/dev/null || exit 10; }
        phase idle
        wrk -t1 -c1 -d3s http://127.0.0.1:\(port)/static >/dev/null || exit 11
        phase stress
        curl -sf -o \(offcpu) "$PERFPROBE_SIDECAR_URL/debug/pprof/offcpu?seconds=2" &
        wrk -t2 -c16 -d3s http://127.0.0.1:\(port)/locked >/dev/null || exit 12
        wait $! || exit 13
        curl -sf -o \(metrics) "$PERFPROBE_SIDECAR_URL/metrics" || exit 14
        """
        let outcome = try Harness.perfprobe(["sidecar", "--off-cpu", "--pid", String(server.processIdentifier), "--", "/bin/sh", "-c", script])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        func reasons(_ phase: String) throws -> [String: Double] {
            let report = try JSONReportFormat.decode(Data(contentsOf: URL(fileURLWithPath: outcome.directory + "/phases/\(phase)/report.json")))
            let offCPU = try #require(report.offCpu, "no off_cpu in phase \(phase)")
            return offCPU.threads.reduce(into: [:]) { total, thread in total.merge(thread.blockedByReason, uniquingKeysWith: +) }
        }
        let stress = try reasons("stress"), idle = try reasons("idle")
        #expect(stress.max { $0.value < $1.value }?.key == "lock", "stress: \(stress)")
        #expect(idle.max { $0.value < $1.value }?.key != "lock" && (idle["lock"] ?? 0) < 0.1, "idle: \(idle)")
        #expect(FileManager.default.fileExists(atPath: outcome.directory + "/phases/stress/offcpu.folded"))
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        let lock = text.split(separator: "\n").first { $0.hasPrefix("perfprobe_target_blocked_seconds_total{reason=\"lock\"} ") }
        #expect((lock?.split(separator: " ").last.flatMap { Double($0) } ?? 0) > 1, "\(text)")
        let top = try ReportFormatTests.pprof(["-top", offcpu])
        #expect(ReportFormatTests.topRow(top, "locked_handler") != nil, "\(top)")
    }

    /// `diff` of a 1-s and a 2.5-s run: the sleeper sleeps 1.5 s more in
    /// sleepy_wait (in sleep_ms, inlined into it: the feeder's sleep_ms is
    /// another function's wait); `report` writes the off-CPU files again from
    /// report.json.
    @Test func diffAndReportReadOffCPUTime() throws {
        let short = try Harness.perfprobe(["run", "--off-cpu", "--", Harness.samples + "/offcpu", "1"])
        let long = try Harness.perfprobe(["run", "--off-cpu", "--", Harness.samples + "/offcpu", "2.5"])
        #expect(short.status == 0 && long.status == 0)
        let diff = try Harness.perfprobe(["diff", short.directory, long.directory])
        #expect(diff.status == 0, "\(diff.stderr)")
        let line = try #require(diff.stdout.split(separator: "\n").first { $0.hasSuffix("sleepy_wait  [offcpu]") && $0.contains(" sleep ") }, "\(diff.stdout)")
        let change = try #require(line.split(separator: "(").last?.split(separator: ")").first.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) })
        #expect(abs(change - 1.5) <= 0.15, "\(line)")
        #expect(diff.stdout.contains("off-CPU: blocked "), "\(diff.stdout)")
        // The harness writes it elsewhere (--output): the files come from report.json alone.
        let again = try Harness.perfprobe(["report", "--format", "offcpu-folded", "offcpu-flamegraph", "--", long.directory])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try String(contentsOfFile: again.directory + "/offcpu.folded", encoding: .utf8)
            == String(contentsOfFile: long.directory + "/offcpu.folded", encoding: .utf8))
        #expect(FileManager.default.fileExists(atPath: again.directory + "/offcpu.svg"))
    }

    /// A program whose runtime nobody here wrote: Debian's python3 running
    /// samples/python/waits.py, whose threads time their own blocking calls
    /// (time.sleep, a contended threading.Lock, os.read on a pipe). Each
    /// thread's blocked share under the reason of its call is its own
    /// within 5 points, and the main thread, joining them, waits on a lock.
    @Test func pythonThreadsWaitWhereTheyTimeIt() throws {
        let script = Harness.repository.appendingPathComponent("samples/python/waits.py").path
        let outcome = try Harness.perfprobe(["run", "--off-cpu", "--", "/usr/bin/python3", script, "3"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let truths = try Self.truths(outcome.stdout)
        let offCPU = try #require(try outcome.report.offCpu)
        for (name, reason) in [("sleeper", "sleep"), ("waiter", "lock"), ("reader", "io")] {
            let truth = try #require(truths[name])
            let thread = try #require(offCPU.threads.first { $0.tid.rawValue == truth.tid }, "\(name) not in \(offCPU.threads)")
            let measured = (thread.blockedByReason[reason] ?? 0) * 100 / thread.lifetimeSeconds
            let own = truth.blocked * 100 / truth.life
            #expect(abs(measured - own) <= 5, "\(name): \(measured)% \(reason), by its own clock \(own)% (\(thread.blockedByReason))")
        }
        let pid = try outcome.report.target.pid.rawValue
        let main = try #require(offCPU.threads.first { $0.tid.rawValue == pid })
        #expect((main.blockedByReason["lock"] ?? 0) >= 0.9 * main.lifetimeSeconds, "\(main)")
    }

    /// A switch storm (two threads bouncing a byte on one CPU, ~40,000
    /// switches a second): the program keeps about 2,000 stacks a second,
    /// every interval is still timed in the kernel, and each
    /// thread's on-CPU and blocked time still add up to its life.
    @Test func switchStormIsBoundedAndStillTimed() throws {
        let outcome = try Harness.perfprobe(["run", "--off-cpu", "--", "/usr/bin/taskset", "-c", "1", Harness.samples + "/switch_storm", "40000", "22"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        let offCPU = try #require(report.offCpu)
        let seconds = report.durationSeconds
        #expect(report.samples.lostRecords == 0)
        let storm = offCPU.threads.filter { $0.name == "switch_storm" && $0.lifetimeSeconds > 1 }
        #expect(storm.count == 2, "\(offCPU.threads)")
        // Every stack until the agent's first look (0.1 s and the next
        // telemetry tick: 0.2 s, 0.3 s with a late tick), then ~2,000 a second.
        let switches = Double(storm.reduce(0) { $0 + $1.switches })
        let bound = switches / seconds * 0.3 + 2000 * seconds * 1.5
        #expect(Double(offCPU.switchOuts) <= bound && Double(offCPU.switchOuts) <= switches / 3,
                "\(offCPU.switchOuts) stacks of \(switches) switches in \(seconds) s")
        #expect(offCPU.withoutStack >= offCPU.switchOuts, "\(offCPU.withoutStack) timed without a stack")
        for thread in storm {
            let total = (thread.onCpuSeconds + thread.blockedSeconds) / thread.lifetimeSeconds
            #expect(abs(total - 1) <= 0.15, "\(thread)")
            #expect(thread.switches > 30_000, "\(thread.switches) switches")
        }
    }

    /// A child that sleeps at once is timed from its first instruction (the
    /// fork program follows it in the kernel; the agent reads its fork
    /// record only later): each `sleep` a shell starts spends its life asleep.
    @Test func childrenThatSleepAtOnceAreTimed() throws {
        let outcome = try Harness.perfprobe(["run", "--off-cpu", "--", "/bin/sh", "-c", "sleep 0.3; sleep 0.3; sleep 0.3"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let sleeps = try #require(try outcome.report.offCpu).threads.filter { $0.name == "sleep" }
        #expect(sleeps.count == 3, "\(sleeps)")
        for thread in sleeps {
            #expect((thread.blockedByReason["sleep"] ?? 0) >= 0.28, "\(thread)")
        }
    }

    /// A program nobody here wrote, against an independent tool on the same
    /// run: xz's threads under `perf sched record`. `perf sched timehist -s`
    /// gives each thread's time on a CPU and its runs, from the kernel's own
    /// switch events; perfprobe's blocked seconds are the thread's life less
    /// that time, and it counts the same switches, less those the main
    /// thread made before its exec (perfprobe's gate, under the launcher's
    /// name). Some of the workers' returns go untraced on this VM (they take
    /// the CPU from a task whose switches the kernel does not trace): perf
    /// still counts their runs, and perfprobe must still time them.
    @Test func xzThreadsWaitAsPerfSchedSees() throws {
        let input = Harness.scratch(), data = Harness.scratch()
        try ForeignProgramTests.text(bytes: 8_000_000).write(toFile: input, atomically: true, encoding: .utf8)
        let outcome = try Harness.perfprobe(["run", "--off-cpu", "--", "/usr/bin/xz", "-T2", "--block-size=2MiB", "-6", "-k", "-f", input],
                                            as: Harness.clearedSignalMask + ["/usr/bin/perf", "sched", "record", "-q", "-o", data, "--"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        // "xz[TID/PID]  PARENT  SCHED-IN  RUN-TIME(ms) …", one line a task.
        var perf: [Int32: (runSeconds: Double, runs: Int)] = [:]
        for line in try Harness.output(of: "/usr/bin/perf", ["sched", "timehist", "-s", "-i", data]).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 4, fields[0].hasPrefix("xz["), let tid = Int32(fields[0].dropFirst(3).prefix { $0.isNumber }),
                  let switches = Int(fields[2]), let run = Double(fields[3]) else { continue }
            perf[tid] = (run / 1000, switches)
        }
        // "prev_comm=perfprobe-agent prev_pid=TID …": a switch out before the exec.
        var beforeExec: [Int32: Int] = [:]
        for line in try Harness.output(of: "/usr/bin/perf", ["script", "-i", data, "-F", "trace"]).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let comm = fields.first(where: { $0.hasPrefix("prev_comm=") }), comm != "prev_comm=xz",
                  let pid = fields.first(where: { $0.hasPrefix("prev_pid=") }).flatMap({ Int32($0.dropFirst(9)) }) else { continue }
            beforeExec[pid, default: 0] += 1
        }
        let threads = try #require(try outcome.report.offCpu).threads.filter { $0.name == "xz" }
        #expect(threads.count >= 3, "\(threads)")
        for thread in threads {
            let reference = try #require(perf[thread.tid.rawValue], "tid \(thread.tid) not in perf sched's \(perf)")
            let expected = thread.lifetimeSeconds - reference.runSeconds
            #expect(abs(thread.blockedSeconds - expected) <= 0.01 + 0.01 * thread.lifetimeSeconds,
                    "tid \(thread.tid): blocked \(thread.blockedSeconds) s; perf sched: life \(thread.lifetimeSeconds) s less \(reference.runSeconds) s run")
            let switches = reference.runs - beforeExec[thread.tid.rawValue, default: 0]
            #expect(abs(thread.switches - switches) <= max(2, switches / 50),
                    "tid \(thread.tid): \(thread.switches) waits timed; perf sched: \(reference.runs) runs, \(switches) after the exec")
        }
    }

    /// The switch program returns 1 on every switch: a tracepoint's BPF
    /// programs gate every perf event on it, so returning 0 would hide the
    /// switches from other tools. `perf stat` counting sched:sched_switch
    /// over perfprobe and its target sees at least the switches perfprobe
    /// timed (none, if the program hid them).
    @Test func otherToolsStillSeeTheSwitches() throws {
        let counts = Harness.scratch()
        let outcome = try Harness.perfprobe(["run", "--off-cpu", "--", Harness.samples + "/offcpu", "1"],
                                            as: ["/usr/bin/perf", "stat", "-x", ",", "-e", "sched:sched_switch", "-o", counts, "--"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let timed = try #require(try outcome.report.offCpu).threads.reduce(0) { $0 + $1.switches }
        let line = try String(contentsOfFile: counts, encoding: .utf8).split(separator: "\n").first { $0.contains("sched:sched_switch") }
        let counted = try #require(line.flatMap { Int($0.split(separator: ",").first ?? "") }, "\(line ?? "no count")")
        #expect(timed >= 200, "\(timed) intervals timed")
        #expect(counted >= timed, "perf stat counted \(counted) switches, perfprobe timed \(timed)")
    }

    /// What --off-cpu cannot do is said in one line, exit 2, before the
    /// target starts: its programs need CAP_BPF and CAP_PERFMON (nobody has
    /// neither), and name threads by their pids in the initial pid namespace.
    @Test(arguments: [(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"], "CAP_BPF and CAP_PERFMON"),
                      (["/usr/bin/unshare", "--pid", "--fork", "--mount-proc"], "initial pid namespace")])
    func offCPUSetupErrorsExitTwo(_ wrapper: [String], _ reason: String) throws {
        let marker = "/tmp/perfprobe-offcpu-\(UUID().uuidString)"
        let outcome = try Harness.perfprobe(["run", "--off-cpu", "--", "/usr/bin/touch", marker], as: wrapper)
        #expect(outcome.status == 2, "\(outcome.stderr)")
        #expect(outcome.stderr.contains(reason) && outcome.stderr.split(separator: "\n").count == 1, "\(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the target ran")
    }

    /// Without --off-cpu there is no off-CPU part and no off-CPU file.
    @Test func offCPUOnlyWhenAsked() throws {
        let outcome = try Harness.perfprobe(["run", "--", Harness.samples + "/offcpu", "0.3"])
        #expect(outcome.status == 0)
        #expect(try outcome.report.offCpu == nil)
        for file in ["offcpu.folded", "wall.folded", "offcpu.svg", "offcpu.pb.gz"] {
            #expect(!FileManager.default.fileExists(atPath: outcome.directory + "/" + file), "\(file)")
        }
    }
}
}
