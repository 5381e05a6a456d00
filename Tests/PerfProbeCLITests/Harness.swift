import Foundation
import PerfProbeCore
import Testing

/// The tests that run the perfprobe binary, one at a time: the samples'
/// ground truth assumes they have the machine's two CPUs to themselves.
@Suite(.serialized) enum BinaryTests {}

/// Runs the built perfprobe binary on the programs in samples/.
enum Harness {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The samples, built once per test run with their own Makefile.
    static let samples: String = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/make")
        process.arguments = ["-s", "-C", repository.appendingPathComponent("samples").path]
        try? process.run()
        process.waitUntilExit()
        return repository.appendingPathComponent("samples/build").path
    }()

    /// The build folder of the test bundle (and of perfprobe-fuzz).
    static let buildDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()

    /// The perfprobe the tests run: PERFPROBE_BINARY when set (`make test`
    /// runs the release build, what users run: the debug build's agent
    /// cannot keep up with an allocator probed 300,000 times a second),
    /// else the one next to the test bundle; the heap probe and allocator
    /// definitions are built beside it (probes/Makefile).
    static let binary: String = {
        let path = ProcessInfo.processInfo.environment["PERFPROBE_BINARY"] ?? buildDirectory.appendingPathComponent("perfprobe").path
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/usr/bin/make")
        make.arguments = ["-s", "-C", repository.appendingPathComponent("probes").path,
                          "OUT=" + URL(fileURLWithPath: path).deletingLastPathComponent().path]
        try? make.run()
        make.waitUntilExit()
        return path
    }()

    /// Whether this machine has a hardware PMU (VMs usually do not).
    static let hasHardwarePMU = FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/cpu")

    struct Outcome {
        var status: Int32
        var stdout: String
        var stdoutBytes = Data()
        var stderr: String
        var directory: String

        /// report.json, checked against docs/report.schema.json first.
        var report: ProfileReport {
            get throws {
                let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/report.json"))
                let violations = ReportSchema.violations(of: data)
                #expect(violations.isEmpty, "report.json breaks docs/report.schema.json: \(violations.prefix(10))")
                return try JSONReportFormat.decode(data)
            }
        }

        var folded: String {
            get throws { try String(contentsOfFile: directory + "/cpu.folded", encoding: .utf8) }
        }

        var wroteNothing: Bool { !FileManager.default.fileExists(atPath: directory) }
    }

    static func scratch() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("perfprobe-cli-\(UUID().uuidString)").path
    }

    /// Starts perfprobe with `arguments` and `--output` set to a fresh
    /// directory, through `wrapper` (e.g. setpriv) when given.
    static func start(_ arguments: [String], as wrapper: [String] = [], environment: [String: String] = [:]) throws -> (Process, directory: String, stdout: String, stderr: String) {
        let directory = scratch()
        let stdout = scratch(), stderr = scratch()
        FileManager.default.createFile(atPath: stdout, contents: nil)
        FileManager.default.createFile(atPath: stderr, contents: nil)
        let process = Process()
        var arguments = arguments
        let insertAt = arguments.firstIndex(of: "--") ?? arguments.count
        arguments.insert(contentsOf: ["--output", directory], at: min(insertAt, arguments.count))
        let command = wrapper + [binary] + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdout))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
        try process.run()
        return (process, directory, stdout, stderr)
    }

    static func finish(_ started: (Process, directory: String, stdout: String, stderr: String)) throws -> Outcome {
        started.0.waitUntilExit()
        let stdout = try Data(contentsOf: URL(fileURLWithPath: started.stdout))
        return Outcome(status: started.0.terminationStatus,
                       stdout: String(decoding: stdout, as: UTF8.self), stdoutBytes: stdout,
                       stderr: try String(contentsOfFile: started.stderr, encoding: .utf8),
                       directory: started.directory)
    }

    /// A wrapper that clears the signal mask Foundation's Process hands on
    /// (SIGCHLD among those blocked), then execs the rest: a system-wide
    /// `perf record` learns that its command ended only from SIGCHLD.
    static let clearedSignalMask = ["/usr/bin/python3", "-c",
                                    "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"]

    static func perfprobe(_ arguments: [String], as wrapper: [String] = []) throws -> Outcome {
        try finish(start(arguments, as: wrapper))
    }

    /// Starts a sample program to attach to.
    static func launch(_ sample: String, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: samples + "/" + sample)
        process.arguments = arguments
        try process.run()
        try waitUntilLoaded(process)
        return process
    }

    /// Waits (up to 10 s) until `process` runs its own program: its
    /// executable mapped and, when it has a dynamic loader, libc mapped too
    /// — what an attach reads (the mappings, the allocator to probe).
    static func waitUntilLoaded(_ process: Process) throws {
        let executable = try #require(process.executableURL).resolvingSymlinksInPath().path
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, process.isRunning {
            let maps = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/maps", encoding: .utf8)) ?? ""
            if maps.contains(executable), !maps.contains("/ld-linux") || maps.contains("/libc.so.6") { return }
            usleep(2_000) // a polling interval, not a wait for the event
        }
        Issue.record("\(executable) was not loaded within 10 s")
    }

    /// Waits (up to 10 s) until the file at `path` (a started perfprobe's
    /// stderr) contains `text`.
    static func waitUntil(_ path: String, contains text: String) throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains(text) { return }
            usleep(2_000)
        }
        Issue.record("\(path) never said \"\(text)\"")
    }

    /// Waits (up to 10 s) until something listens on 127.0.0.1:`port`.
    static func waitUntilListening(_ port: Int) throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if connected == 0 { return }
            usleep(2_000)
        }
        Issue.record("nothing listened on port \(port) within 10 s")
    }

    /// Waits (up to 10 s) until the perfprobe process `agent` holds perf
    /// event file descriptors: it is sampling.
    static func waitUntilSampling(_ agent: Process) throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, agent.isRunning {
            let directory = "/proc/\(agent.processIdentifier)/fd"
            let sampling = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).contains { fd in
                (try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + fd)) == "anon_inode:[perf_event]"
            }
            if sampling { return }
            usleep(2_000)
        }
        Issue.record("perfprobe did not start sampling within 10 s")
    }

    /// Starts `path` and waits for the "ready" line it prints on stdout
    /// once it is doing what it is started for; the rest of its output
    /// stays in the pipe.
    static func launchWhenReady(_ path: String, _ arguments: [String],
                                environment: [String: String]? = nil) throws -> (Process, output: Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var line = Data()
        while line.last != UInt8(ascii: "\n") {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            try #require(!byte.isEmpty, "\(path) ended before it was ready")
            line += byte
        }
        #expect(line == Data("ready\n".utf8))
        return (process, output)
    }

    /// Runs a tool (objcopy, …) to prepare a test's files.
    static func tool(_ path: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(path) \(arguments) failed")
    }

    /// Runs a tool and returns its standard output (its standard error is discarded).
    static func output(of path: String, _ arguments: [String], stdin: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        if let stdin { process.standardInput = FileHandle(forReadingAtPath: stdin) }
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(path) \(arguments) failed")
        return output
    }

    /// SIGKILL: Foundation's Process hands its children the spawning thread's
    /// signal mask, in which SIGTERM is blocked.
    static func stop(_ process: Process) {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// A writable cgroup2 mount of this machine, for the tests that make a
    /// cgroup of their own; nil when there is none.
    static let cgroup2Mount: String? = {
        let text = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ").map(String.init)
            guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count, fields[dash + 1] == "cgroup2",
                  access(fields[4], W_OK) == 0 else { return nil }
            return fields[4]
        }.first
    }()

    /// A new cgroup under `cgroup2Mount` holding `processes`; removed by
    /// `removeCgroup` once they have exited.
    static func makeCgroup(holding processes: [Process]) throws -> String {
        let path = try #require(cgroup2Mount) + "/perfprobe-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        for process in processes { try moveToCgroup(process, path) }
        return path
    }

    static func moveToCgroup(_ process: Process, _ cgroup: String) throws {
        try String(process.processIdentifier).write(toFile: cgroup + "/cgroup.procs", atomically: false, encoding: .utf8)
    }

    /// Stops `processes` and removes the cgroup they were in.
    static func removeCgroup(_ path: String, after processes: [Process]) {
        for process in processes { stop(process) }
        rmdir(path)
    }

    /// Inclusive sample counts of `function` in the report's stacks.
    static func inclusive(_ report: ProfileReport, _ function: String) -> Int {
        report.hotspots.first { $0.function == function }?.totalSamples ?? 0
    }
}

extension String {
    /// Nil for the empty string.
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
