import Foundation
import PerfProbeCore
import Testing

/// Exit codes and messages: 0 success, 1 a failed target (report still
/// written), 2 usage or setup errors (one line on stderr, nothing written).
extension BinaryTests {
@Suite struct ExitStatusTests {
    static func expectSetupError(_ outcome: Harness.Outcome, mentioning text: String) {
        #expect(outcome.status == 2)
        #expect(outcome.stderr.hasPrefix("perfprobe: "))
        #expect(outcome.stderr.split(separator: "\n").count == 1, "one line: \(outcome.stderr)")
        #expect(outcome.stderr.contains(text), "\(outcome.stderr)")
        #expect(outcome.wroteNothing)
    }

    @Test func crashingTargetIsExitOneWithReport() throws {
        let outcome = try Harness.perfprobe(["run", "--frequency", "999", "--", Harness.samples + "/crash", "1"])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("target killed by SIGABRT"))
        let report = try outcome.report
        #expect(report.target.outcome == TargetOutcome(state: "killed", exitCode: nil, signal: "SIGABRT"))
        #expect(Harness.inclusive(report, "doomed_work") >= 800)
    }

    @Test func nonZeroExitIsExitOne() throws {
        let outcome = try Harness.perfprobe(["run", "--", "/bin/sh", "-c", "exit 3"])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("target exited with status 3"))
        #expect(try outcome.report.target.outcome.exitCode == 3)
    }

    /// The `perfprobe` launcher copied away from its agent: one line naming
    /// the agent it looked for, exit 2.
    @Test func launcherWithoutItsAgent() throws {
        let directory = URL(fileURLWithPath: Harness.scratch()).resolvingSymlinksInPath().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let launcher = directory + "/perfprobe"
        try FileManager.default.copyItem(atPath: Harness.binary, toPath: launcher)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: launcher)
        process.arguments = ["attach", "1"]
        let stderr = Pipe()
        process.standardError = stderr
        try process.run()
        let said = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 2)
        #expect(said == "perfprobe: cannot run the agent \(directory)/perfprobe-agent: No such file or directory\n", "\(said)")
    }

    @Test func missingPid() throws {
        Self.expectSetupError(try Harness.perfprobe(["attach", "999999"]), mentioning: "no process with pid 999999")
    }

    @Test func kernelThreadIsNotAUserProcess() throws {
        Self.expectSetupError(try Harness.perfprobe(["attach", "2"]), mentioning: "kernel thread")
    }

    @Test func missingCommand() throws {
        Self.expectSetupError(try Harness.perfprobe(["run", "--", "no-such-command-xyz"]), mentioning: "command not found: no-such-command-xyz")
        Self.expectSetupError(try Harness.perfprobe(["run"]), mentioning: "give the command")
    }

    @Test func badOptionValues() throws {
        Self.expectSetupError(try Harness.perfprobe(["run", "--frequency", "abc", "--", "true"]), mentioning: "abc")
        Self.expectSetupError(try Harness.perfprobe(["run", "--frequency", "0", "--", "true"]), mentioning: "--frequency")
        Self.expectSetupError(try Harness.perfprobe(["attach", "--duration", "-1", "1"]), mentioning: "--duration")
        Self.expectSetupError(try Harness.perfprobe(["attach"]), mentioning: "exactly one of PID, --match NAME or --cgroup PATH")
        Self.expectSetupError(try Harness.perfprobe(["attach", "--match", "no-such-process-name"]), mentioning: "no process named no-such-process-name")
    }

    /// Only meaningful without a PMU: with one, cycles is a valid event.
    @Test(.enabled(if: !Harness.hasHardwarePMU, "this machine has a hardware PMU, so cycles is supported"))
    func unsupportedHardwareEvent() throws {
        Self.expectSetupError(try Harness.perfprobe(["run", "--event", "cycles", "--", "true"]), mentioning: "not supported")
    }

    /// An unprivileged user may not profile root's processes: exit 2, naming
    /// perf_event_paranoid. (setpriv drops to nobody.)
    @Test(.enabled(if: getuid() == 0, "needs root to drop to another user"))
    func permissionDenied() throws {
        let target = try Harness.launch("cpu_split", ["0"])
        defer { Harness.stop(target) }
        let outcome = try Harness.perfprobe(["attach", "--duration", "1", String(target.processIdentifier)],
                                            as: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        Self.expectSetupError(outcome, mentioning: "permission denied")
        #expect(outcome.stderr.contains("perf_event_paranoid"))
    }

    @Test func interruptedAttachWritesTheReport() throws {
        let target = try Harness.launch("cpu_split", ["0"])
        defer { Harness.stop(target) }
        let started = try Harness.start(["attach", "--frequency", "199", String(target.processIdentifier)])
        try Harness.waitUntilSampling(started.0)
        Thread.sleep(forTimeInterval: 1.2) // the work profiled: ~240 samples at 199 Hz
        kill(started.0.processIdentifier, SIGINT)
        let outcome = try Harness.finish(started)
        #expect(outcome.status == 0)
        let report = try outcome.report
        #expect(report.samples.total > 150)
        #expect(target.isRunning)
    }

    @Test func terminatedRunForwardsTheSignal() throws {
        let started = try Harness.start(["run", "--frequency", "199", "--", Harness.samples + "/cpu_split", "0"])
        try Harness.waitUntilSampling(started.0)
        Thread.sleep(forTimeInterval: 1.2) // the work profiled: ~240 samples at 199 Hz
        kill(started.0.processIdentifier, SIGTERM)
        let outcome = try Harness.finish(started)
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("target killed by SIGTERM"))
        #expect(try outcome.report.samples.total > 150)
    }
}
}
