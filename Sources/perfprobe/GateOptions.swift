import ArgumentParser
import Foundation
import PerfProbeCore

/// The CI gates shared by `run`, `attach` and `report`.
struct GateOptions: ParsableArguments {
    enum FailCondition: String, ExpressibleByArgument, CaseIterable {
        case leak
    }

    @Option(help: "Exit 1 when this is found: leak (a leaking stack, or memory that keeps growing; needs --heap).")
    var failOn: FailCondition?

    @Option(help: "Exit 1 when the target's peak RSS exceeds this many bytes (K, M, G suffixes: powers of 1024).")
    var maxRss: ByteCount?

    @Option(help: "Exit 1 when the target's average CPU exceeds this % of one core.")
    var maxCpu: Double?

    @Option(help: "A saved run (its output directory) to compare against with --max-regression.")
    var baseline: String?

    @Option(help: "With --baseline: exit 1 when total CPU time grew by more than this %, or a function's inclusive share of the samples by more than this many points.")
    var maxRegression: Double?

    func validate() throws {
        if let maxCpu, !(maxCpu > 0) { throw ValidationError("--max-cpu must be a positive percentage, got \(maxCpu)") }
        if let maxRegression, !(maxRegression >= 0) { throw ValidationError("--max-regression must be a percentage ≥ 0, got \(maxRegression)") }
        if maxRegression != nil && baseline == nil { throw ValidationError("--max-regression needs --baseline DIR") }
        if let baseline, !FileManager.default.fileExists(atPath: baseline + "/report.json") {
            throw ValidationError("--baseline \(baseline) holds no report.json: give the output directory of an earlier run")
        }
    }

    /// The gates, with the baseline read.
    func settings() throws -> GateSettings {
        var settings = GateSettings()
        settings.failOnLeak = failOn == .leak
        settings.maxRSSBytes = maxRss?.bytes
        settings.maxCPUPercent = maxCpu
        settings.maxRegressionPercent = maxRegression
        if let baseline { settings.baseline = try SavedRun.load(baseline) }
        return settings
    }
}

/// A byte count with an optional K, M or G suffix (powers of 1024).
struct ByteCount: ExpressibleByArgument {
    var bytes: UInt64

    init?(argument: String) {
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var text = argument.uppercased()
        var scale: UInt64 = 1
        if let last = text.last, let unit = units[last] {
            scale = unit
            text.removeLast()
        }
        guard let value = UInt64(text), value > 0 else { return nil }
        bytes = value * scale
    }
}

/// A run's report.json, read back.
enum SavedRun {
    static func load(_ directory: String) throws -> ProfileReport {
        let path = directory + "/report.json"
        do {
            return try JSONReportFormat.decode(Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw ValidationError("cannot read \(path): \(error.localizedDescription)")
        }
    }
}
