import ArgumentParser
import FoundationEssentials
import PerfProbeCore

/// The CI gates shared by `run`, `attach` and `report`.
struct GateOptions: ParsableArguments {
    enum FailCondition: String, ExpressibleByArgument, CaseIterable {
        case leak
    }

    @Option(help: "Exit 1 when this is found: leak (a leaking stack, or memory that keeps growing; needs --heap).")
    var failOn: FailCondition?

    @Option(help: "Exit 1 when the target's peak RSS exceeds this many bytes (K, M, G suffixes: powers of 1024).")
    var maxRss: String?

    @Option(help: "Exit 1 when the target's average CPU exceeds this % of one core.")
    var maxCpu: Double?

    @Option(help: "A saved run (its output directory) to compare against with --max-regression.")
    var baseline: String?

    @Option(help: "With --baseline: exit 1 when total CPU time grew by more than this %, or a function's inclusive share of the samples by more than this many points, and the growth is significant (see --significance).")
    var maxRegression: Double?

    @Option(help: ArgumentHelp("The significance level of --max-regression's tests: the chance of a false verdict allowed.",
                               discussion: "Shares: two-proportion z-test, Holm-corrected over the functions compared. Total CPU time: Welch's t-test over the runs of --repeat (a single run on both sides: the samples' Poisson error only)."))
    var significance = ProfileComparison.defaultLevel

    func validate() throws {
        if let maxRss, ByteCount(argument: maxRss) == nil {
            throw ValidationError("--max-rss must be a positive whole number of bytes up to 4 EiB, with an optional K, M or G suffix, got \(maxRss)")
        }
        if let maxCpu, !(maxCpu > 0) { throw ValidationError("--max-cpu must be a positive percentage, got \(maxCpu)") }
        if let maxRegression, !(maxRegression >= 0) { throw ValidationError("--max-regression must be a percentage ≥ 0, got \(maxRegression)") }
        if maxRegression != nil && baseline == nil { throw ValidationError("--max-regression needs --baseline DIR") }
        try Self.check(significance: significance)
        if let baseline, !FileManager.default.fileExists(atPath: baseline + "/report.json") {
            throw ValidationError("--baseline \(baseline) holds no report.json: give the output directory of an earlier run")
        }
    }

    static func check(significance: Double) throws {
        guard significance > 0, significance < 0.5 else {
            throw ValidationError("--significance must be a level between 0 and 0.5, e.g. 0.01, got \(significance)")
        }
    }

    /// The gates, with the baseline read.
    func settings() throws -> GateSettings {
        var settings = GateSettings()
        settings.failOnLeak = failOn == .leak
        settings.maxRSSBytes = maxRss.flatMap(ByteCount.init(argument:))?.bytes
        settings.maxCPUPercent = maxCpu
        settings.maxRegressionPercent = maxRegression
        settings.significanceLevel = significance
        if let baseline { settings.baseline = try SavedRun.load(baseline) }
        return settings
    }
}

/// A byte count with an optional K, M or G suffix (powers of 1024).
struct ByteCount {
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
        let (product, overflow) = value.multipliedReportingOverflow(by: scale)
        // Beyond 2^62 bytes no machine has the memory; the report's numbers stay exact.
        guard !overflow, product <= 1 << 62 else { return nil }
        bytes = product
    }
}

/// A run's report.json, read back: a file anyone could have written, so
/// size-capped, decoded, then validated before anything is rendered from it.
enum SavedRun {
    /// Far above any report perfprobe writes (a long sidecar run's is tens of MiB).
    static let maxBytes = 512 << 20

    static func load(_ directory: String) throws -> ProfileReport {
        guard FileSystem.exists(directory) else {
            throw ValidationError("\(directory) does not exist: give the output directory of an earlier run")
        }
        guard FileSystem.isDirectory(directory) else {
            throw ValidationError("\(directory) is not a directory: give the output directory of an earlier run (it holds report.json)")
        }
        let path = directory + "/report.json"
        do {
            return try JSONReportFormat.load(path, maxBytes: maxBytes)
        } catch let error as UntrustedFileError {
            throw ValidationError("cannot read \(path): \(error)")
        } catch let error as ReportValidationError {
            throw ValidationError("\(path) is not a valid report: \(error)")
        } catch let error as DecodingError {
            throw ValidationError("\(path) is not a valid report: \(JSONReportFormat.describe(error))")
        } catch {
            throw ValidationError("\(path) is not a valid report: \(error)")
        }
    }
}
