import Foundation
import PerfProbeCore
import Testing

/// Whole services: a pre-fork server's tree, and a process with many threads.
extension BinaryTests {
@Suite struct ServiceTests {
    /// prefork: the master waits, its two workers each burn a core in
    /// worker_burn. --tree samples both workers, each half of the samples,
    /// about two cores' worth.
    @Test func attachTreeSeesThePreforkWorkers() throws {
        let (master, _) = try Harness.launchWhenReady(Harness.samples + "/prefork", ["2", "8"])
        defer { Harness.stop(master) }
        let outcome = try Harness.perfprobe(["attach", "--tree", "--frequency", "999", "--duration", "2", String(master.processIdentifier)])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        let workers = report.processes.filter { $0.pid.rawValue != master.processIdentifier }
        #expect(workers.count == 2, "\(report.processes)")
        for worker in workers { #expect(abs(worker.percent - 50) <= 10, "\(report.processes)") }
        #expect(Double(Harness.inclusive(report, "worker_burn")) >= 0.95 * Double(report.profile.totalSamples))
        // Two busy cores: samples near 2 × duration × frequency.
        let expected = 2 * report.durationSeconds * 999
        #expect(abs(Double(report.samples.total) / expected - 1) <= 0.2, "\(report.samples.total) samples, \(expected) expected")
        #expect(report.samples.lostRecords == 0)
    }

    /// A plain attach to the idle master says where the CPU went.
    @Test func plainAttachToAnIdleParentSuggestsTree() throws {
        let (master, _) = try Harness.launchWhenReady(Harness.samples + "/prefork", ["2", "8"])
        defer { Harness.stop(master) }
        let outcome = try Harness.perfprobe(["attach", "--duration", "1.5", String(master.processIdentifier)])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("add --tree"), "\(outcome.stderr)")
        #expect(try outcome.report.samples.total < 20)
    }

    /// Two processes of one name under `attach --match`, one started after
    /// the attach (a restart, a new worker): both profiled, each with
    /// cpu_split's own 70/30 split; a process of another name is not.
    @Test func attachMatchTakesEveryProcessOfTheName() throws {
        let (name, copy) = try Self.renamedCPUSplit()
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let start = { try Self.launch(copy) }
        let first = try start()
        defer { Harness.stop(first) }
        let other = try Harness.launch("cpu_split", ["0"])
        defer { Harness.stop(other) }
        let started = try Harness.start(["attach", "--match", name, "--frequency", "499", "--duration", "4"])
        try Harness.waitUntilSampling(started.0)
        let second = try start()
        defer { Harness.stop(second) }
        let outcome = try Harness.finish(started)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        let pids = Set(report.processes.map(\.pid.rawValue))
        #expect(pids == [first.processIdentifier, second.processIdentifier], "\(report.processes)")
        for (pid, split) in Self.splits(report) {
            #expect(split.samples > 300 && abs(split.share - 70) <= 6, "pid \(pid): \(split)")
        }
    }

    /// The per-process split of cpu_split in `report`: heavy_path's share
    /// of heavy_path and light_path, and their samples, for each pid.
    static func splits(_ report: ProfileReport) -> [Int32: (share: Double, samples: Int)] {
        let functions = report.profile.functions.map(\.function)
        var result: [Int32: (share: Double, samples: Int)] = [:]
        for pid in Set(report.profile.stacks.map(\.pid.rawValue)) {
            let stacks = report.profile.stacks.filter { $0.pid.rawValue == pid }
            func samples(_ function: String) -> Int {
                stacks.filter { $0.frames.contains { functions[$0] == function } }.reduce(0) { $0 + $1.count }
            }
            let heavy = samples("heavy_path"), light = samples("light_path")
            result[pid] = (Double(heavy) * 100 / Double(max(heavy + light, 1)), heavy + light)
        }
        return result
    }

    /// A copy of cpu_split under a name no other process has.
    static func renamedCPUSplit() throws -> (name: String, path: String) {
        let name = "match-\(UInt32.random(in: 100_000...999_999))"
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        try FileManager.default.copyItem(atPath: Harness.samples + "/cpu_split", toPath: copy)
        return (name, copy)
    }

    static func launch(_ path: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["0"]
        try process.run()
        try Harness.waitUntilLoaded(process)
        return process
    }

    /// `sidecar --match` with two processes of the name: both profiled, each
    /// with its own split, each with its own samples in /metrics.
    @Test func sidecarMatchTakesEveryProcessOfTheName() throws {
        let (name, copy) = try Self.renamedCPUSplit()
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let first = try Self.launch(copy), second = try Self.launch(copy)
        defer { Harness.stop(first); Harness.stop(second) }
        try Self.expectSidecarSplits(["--match", name], of: [first, second], named: name, samples: 300)
    }

    /// `sidecar TARGET --frequency 499` for 3 s: exactly `processes`
    /// profiled, each with cpu_split's 70/30 over more than `samples`, each
    /// with its own samples on /metrics; returns the metrics text.
    @discardableResult
    static func expectSidecarSplits(_ target: [String], of processes: [Process], named name: String, samples: Int) throws -> String {
        let metrics = Harness.scratch()
        let script = "sleep 3; curl -sf -o \(metrics) \"$PERFPROBE_SIDECAR_URL/metrics\""
        let outcome = try Harness.perfprobe(["sidecar"] + target + ["--frequency", "499", "--", "/bin/sh", "-c", script])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        let splits = Self.splits(report)
        #expect(Set(splits.keys) == Set(processes.map(\.processIdentifier)), "\(report.processes)")
        for (pid, split) in splits {
            #expect(split.samples > samples && abs(split.share - 70) <= 6, "pid \(pid): \(split)")
        }
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        for process in processes {
            #expect(text.contains("perfprobe_process_samples_total{pid=\"\(process.processIdentifier)\",name=\"\(name)\"}"), "\(text)")
        }
        return text
    }

    /// `attach --cgroup`: a cpu_split in a cgroup of its own at the start,
    /// another moved in while sampling runs (it joins with no fork or exec
    /// to announce it): both profiled, each with its 70/30 split; a
    /// cpu_split outside the cgroup is not sampled at all (the kernel filters).
    @Test(.enabled(if: Harness.cgroup2Mount != nil, "needs a writable cgroup2 mount to make a cgroup in; this machine has none"))
    func attachCgroupTakesEveryProcessInIt() throws {
        let first = try Harness.launch("cpu_split", ["0"]), second = try Harness.launch("cpu_split", ["0"])
        let outside = try Harness.launch("cpu_split", ["0"])
        let cgroup = try Harness.makeCgroup(holding: [first])
        defer { Harness.removeCgroup(cgroup, after: [first, second, outside]) }
        let started = try Harness.start(["attach", "--cgroup", cgroup, "--frequency", "499", "--duration", "4"])
        try Harness.waitUntilSampling(started.0)
        try Harness.moveToCgroup(second, cgroup)
        let outcome = try Harness.finish(started)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let name = "/" + URL(fileURLWithPath: cgroup).lastPathComponent
        #expect(outcome.stderr.contains("sampling per CPU the tasks of cgroup \(name)"), "\(outcome.stderr)")
        let report = try outcome.report
        #expect(report.sampling.events == "cgroup" && report.sampling.cgroup == name && report.samples.otherProcesses == nil)
        let splits = Self.splits(report)
        #expect(Set(splits.keys) == [first.processIdentifier, second.processIdentifier], "\(report.processes)")
        for (pid, split) in splits {
            #expect(split.samples > 300 && abs(split.share - 70) <= 6, "pid \(pid): \(split)")
        }
        #expect(report.stackQuality.unwoundToRootPercent >= 99, "\(report.stackQuality)")
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["attach", "--cgroup", "/proc/self"]), mentioning: "--cgroup")
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["attach", "--cgroup", cgroup + "/../.."]), mentioning: "--cgroup")
        let empty = try Harness.makeCgroup(holding: [])
        defer { rmdir(empty) }
        ExitStatusTests.expectSetupError(try Harness.perfprobe(["attach", "--cgroup", empty]), mentioning: "holds no process")
    }

    /// A target sampled per CPU (--tree) alone in its own cgroup: the
    /// events are restricted to that cgroup, so a busy process beside it
    /// costs nothing (none of its samples is taken). In the root cgroup the
    /// same attach counts the other process's samples it discarded.
    @Test(.enabled(if: Harness.cgroup2Mount != nil, "needs a writable cgroup2 mount to make a cgroup in; this machine has none"))
    func perCPUSamplingKeepsToTheTargetsOwnCgroup() throws {
        let (target, _) = try Harness.launchWhenReady(Harness.samples + "/many_threads", ["4", "60"])
        let outside = try Harness.launch("cpu_split", ["0"])
        let attach = { try Harness.perfprobe(["attach", "--tree", "--frequency", "499", "--duration", "1.5", String(target.processIdentifier)]) }
        let everyTask = try attach()
        #expect(everyTask.status == 0, "\(everyTask.stderr)")
        let machine = try everyTask.report
        #expect(machine.sampling.events == "every_task")
        #expect(machine.samples.otherProcesses ?? 0 > 100, "\(machine.samples)")
        let cgroup = try Harness.makeCgroup(holding: [target])
        defer { Harness.removeCgroup(cgroup, after: [target, outside]) }
        let restricted = try attach()
        #expect(restricted.status == 0, "\(restricted.stderr)")
        #expect(restricted.stderr.contains("only the tasks of its cgroup"), "\(restricted.stderr)")
        let report = try restricted.report
        #expect(report.sampling.events == "cgroup" && report.samples.otherProcesses == nil)
        #expect(report.processes.map(\.pid.rawValue) == [target.processIdentifier], "\(report.processes)")
        #expect(Double(Harness.inclusive(report, "slice_work")) >= 0.9 * Double(report.profile.totalSamples))
    }

    /// `sidecar --cgroup`: both processes of the cgroup, each with its
    /// split and its own samples in /metrics; the one outside is not there.
    @Test(.enabled(if: Harness.cgroup2Mount != nil, "needs a writable cgroup2 mount to make a cgroup in; this machine has none"))
    func sidecarCgroupTakesEveryProcessInIt() throws {
        let first = try Harness.launch("cpu_split", ["0"]), second = try Harness.launch("cpu_split", ["0"])
        let outside = try Harness.launch("cpu_split", ["0"])
        let cgroup = try Harness.makeCgroup(holding: [first, second])
        defer { Harness.removeCgroup(cgroup, after: [first, second, outside]) }
        let text = try Self.expectSidecarSplits(["--cgroup", cgroup], of: [first, second], named: "cpu_split", samples: 250)
        #expect(!text.contains("pid=\"\(outside.processIdentifier)\""))
    }

    /// `sidecar --tree` on the pre-fork master: both workers, in worker_burn.
    @Test func sidecarTreeSeesThePreforkWorkers() throws {
        let (master, _) = try Harness.launchWhenReady(Harness.samples + "/prefork", ["2", "8"])
        defer { Harness.stop(master) }
        let outcome = try Harness.perfprobe(["sidecar", "--tree", "--pid", String(master.processIdentifier), "--frequency", "499",
                                             "--duration", "2.5"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try outcome.report
        let workers = report.processes.filter { $0.pid.rawValue != master.processIdentifier }
        #expect(workers.count == 2 && workers.allSatisfy { abs($0.percent - 50) <= 10 }, "\(report.processes)")
        #expect(Double(Harness.inclusive(report, "worker_burn")) >= 0.95 * Double(report.profile.totalSamples))
        let expected = 2 * report.durationSeconds * 499
        #expect(abs(Double(report.samples.total) / expected - 1) <= 0.2, "\(report.samples.total) samples, \(expected) expected")
    }

    /// many_threads: 500 threads that want 10% of a core each, 50 cores'
    /// worth on two. Attached per CPU, at real-time priority from before the
    /// agent loads (the `perfprobe` launcher raises it, then executes the
    /// agent), the agent neither waits for a turn nor pays per thread:
    /// sampling starts at once, lasts the duration, loses nothing, and sees
    /// two busy cores, all in slice_work of threads named worker-N.
    @Test func manyThreadsAttachPromptlyAndCompletely() throws {
        let (target, _) = try Harness.launchWhenReady(Harness.samples + "/many_threads", ["500", "20"])
        defer { Harness.stop(target) }
        let started = Date()
        let outcome = try Harness.perfprobe(["attach", "--duration", "2", String(target.processIdentifier)])
        let wall = Date().timeIntervalSince(started)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("sampling per CPU for 501 threads"), "\(outcome.stderr)")
        // The budget: a 2-s attach ends within 3 s of wall time
        // (2.17-2.32 s here, attaching 0.02-0.06 s of it).
        #expect(wall < 3, "\(wall) s from start to exit")
        let report = try outcome.report
        let attach = try #require(report.attachSeconds)
        #expect(attach < 0.5, "attaching took \(attach) s")
        #expect(abs(report.durationSeconds - 2) < 0.3, "\(report.durationSeconds) s")
        #expect(report.samples.lostRecords == 0 && report.samples.lostSamples == 0)
        let expected = 2 * report.durationSeconds * 99
        #expect(abs(Double(report.samples.total) / expected - 1) <= 0.2, "\(report.samples.total) samples, \(expected) expected")
        #expect(Double(Harness.inclusive(report, "slice_work")) >= 0.9 * Double(report.profile.totalSamples))
        let workers = report.threads.filter { $0.name.hasPrefix("worker-") }
        #expect(workers.reduce(0) { $0 + $1.samples } >= report.profile.totalSamples * 95 / 100)
        #expect(workers.count > 200, "\(workers.count) threads sampled")
    }
}
}
