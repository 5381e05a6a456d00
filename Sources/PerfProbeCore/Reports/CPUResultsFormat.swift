import FoundationEssentials

/// test-performance-cpu-results.json, the CPU file performance-test pipelines
/// read. `success` is false when the target failed. Sampling counts where
/// time goes, not calls: `call_count` is always null.
public struct CPUResultsFormat: ReportFormat {
    public let fileName = "test-performance-cpu-results.json"
    public let name = "cpu-results"
    public var isResultsFile: Bool { true }

    public init() {}

    /// The file's contents (keys in snake_case).
    public struct Results: Codable, Sendable {
        public struct Usage: Codable, Sendable {
            /// Over the /proc timeline, user + system, in % of one core.
            public var min: Double
            public var max: Double
            public var average: Double
            public var variance: Double
        }

        public struct Hotspot: Codable, Sendable {
            public var functionName: String
            public var module: String
            /// Seconds of CPU on the stack (inclusive samples × the sampling interval).
            public var totalTime: Double
            /// Self share of the samples, %.
            public var percentageOfTotal: Double
            public var inclusivePercentage: Double
            /// Always null: sampling does not count calls.
            public var callCount: Int?
            /// "high" (the self share's 95% lower bound ≥ 20%), "medium"
            /// (≥ 5%), "low", or "unknown" with too few samples.
            public var optimizationPotential: String
            /// 95% Wilson intervals of the two shares (absent in older files).
            public var percentageInterval: ConfidenceInterval?
            public var inclusiveInterval: ConfidenceInterval?

            private enum CodingKeys: String, CodingKey {
                case functionName, module, totalTime, percentageOfTotal, inclusivePercentage, callCount, optimizationPotential,
                     percentageInterval, inclusiveInterval
            }

            /// Writes `call_count` as an explicit null, which the synthesized encoder would omit.
            public func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(functionName, forKey: .functionName)
                try container.encode(module, forKey: .module)
                try container.encode(totalTime, forKey: .totalTime)
                try container.encode(percentageOfTotal, forKey: .percentageOfTotal)
                try container.encode(inclusivePercentage, forKey: .inclusivePercentage)
                try container.encode(callCount, forKey: .callCount)
                try container.encode(optimizationPotential, forKey: .optimizationPotential)
                try container.encodeIfPresent(percentageInterval, forKey: .percentageInterval)
                try container.encodeIfPresent(inclusiveInterval, forKey: .inclusiveInterval)
            }
        }

        public var success: Bool
        public var cpuUsage: Usage
        public var hotspots: [Hotspot]
        public var bottlenecks: [String]
        public var optimizationOpportunities: [String]
        public var samples: Int
        public var callCountNote: String
        /// The CI gates that tripped, one line each.
        public var failedGates: [String]
        /// Why no conclusion was drawn where one might be expected (too few
        /// samples); absent in older files.
        public var caveats: [String]?
        /// `run --repeat N`: the runs' spread (mean, standard deviation, 95%
        /// interval of total CPU time and of the top functions).
        public var repeatStatistics: RepeatStatistics?
    }

    /// The self share that makes a function a bottleneck.
    static let bottleneckPercent = 10.0

    public static func decode(_ data: Data) throws -> Results {
        try ReportJSON.decode(Results.self, from: data)
    }

    public func render(_ report: ProfileReport) throws -> Data? {
        try ReportJSON.encode(Self.results(report))
    }

    /// The file's contents for `report` (also shown in report.html).
    public static func results(_ report: ProfileReport) -> Results {
        let samples = report.profile.totalSamples
        let interval = 1 / Double(max(report.sampling.frequencyHz, 1))
        let hotspots = report.hotspots.prefix(20).map { hotspot in
            Results.Hotspot(functionName: hotspot.function, module: hotspot.module,
                            totalTime: Double(hotspot.totalSamples) * interval, percentageOfTotal: hotspot.selfPercent,
                            inclusivePercentage: hotspot.totalPercent, callCount: nil,
                            optimizationPotential: OptimizationRules.potential(hotspot, report),
                            percentageInterval: .share(hotspot.selfSamples, of: samples),
                            inclusiveInterval: .share(hotspot.totalSamples, of: samples))
        }
        let waits = OptimizationRules.offCPU(report)
        let sampled = samples >= OptimizationRules.minimumSamples
        let bottlenecks = report.hotspots.filter { sampled && OptimizationRules.interval($0.selfSamples, report).low >= bottleneckPercent }.map {
            String(printf: "%@ [%@]: %@ of the samples in the function itself (lower bound ≥ %.0f%%), %@ with its callees",
                   $0.function, $0.module, ConfidenceInterval.citing(percent: $0.selfPercent, OptimizationRules.interval($0.selfSamples, report)),
                   bottleneckPercent, ConfidenceInterval.citing(percent: $0.totalPercent, OptimizationRules.interval($0.totalSamples, report)))
        } + waits.bottlenecks
        let usage = report.timeline.dropFirst().map { $0.cpuUserPercent + $0.cpuSystemPercent }
        let mean = usage.isEmpty ? 0 : usage.reduce(0, +) / Double(usage.count)
        let variance = usage.isEmpty ? 0 : usage.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(usage.count)
        return Results(
            success: !report.target.outcome.failed && (report.gates ?? []).isEmpty,
            cpuUsage: Results.Usage(min: usage.min() ?? 0, max: usage.max() ?? 0, average: mean, variance: variance),
            hotspots: Array(hotspots), bottlenecks: bottlenecks, optimizationOpportunities: OptimizationRules.cpu(report) + waits.opportunities, samples: samples,
            callCountNote: "call_count is null: perfprobe samples where time is spent and does not count calls",
            failedGates: (report.gates ?? []).map(\.message),
            caveats: OptimizationRules.tooFewSamples(report).map { [$0] } ?? [], repeatStatistics: report.repeats)
    }
}
