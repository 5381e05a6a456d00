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
        try Harness.tool("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=48k", "tmpfs", mount])
        defer { try? Harness.tool("/usr/bin/umount", [mount]) }
        let outcome = try Self.bare(["run", "--frequency", "999", "--output", mount + "/out", "--", Harness.samples + "/cpu_split", "0.5"])
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("No space left on device") && outcome.stderr.contains("target exited with status 0"), "\(outcome.stderr)")
        #expect(outcome.stdout.contains("top functions of"), "the summary is printed anyway")
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

    /// Threads that live shorter than a sampling period are never sampled:
    /// task-clock tells, and the report says so. cpu_split (long-lived
    /// threads) is the control: no such note.
    @Test func aThreadStormIsSaid() throws {
        let storm = try Harness.perfprobe(["run", "--", Harness.samples + "/thread_storm", "1.5"])
        #expect(storm.status == 0)
        #expect(storm.stdout.contains("threads "), "the program's own count")
        let notes = try storm.report.notes ?? []
        #expect(notes.contains { $0.contains("never sampled") }, "\(notes)")
        #expect(storm.stdout.contains("note: task-clock counted"))
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
}
}
