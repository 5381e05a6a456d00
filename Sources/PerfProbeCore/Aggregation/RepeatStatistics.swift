/// `run --repeat N`: how the runs of one command differed. What the
/// merged report holds beside the runs' merged stacks, what a baseline made
/// with `--repeat` gives the regression gate, and what the CPU results file
/// shows pipelines.
public struct RepeatStatistics: Codable, Sendable {
    /// One measure over the runs.
    public struct Spread: Codable, Sendable {
        /// Each run's, in run order.
        public var values: [Double]
        public var mean: Double
        /// Sample standard deviation (n − 1).
        public var standardDeviation: Double
        /// 95% interval of the mean (Student's t); nil for one run.
        public var interval: ConfidenceInterval?

        public init(_ values: [Double]) {
            self.values = values
            mean = Statistics.mean(values)
            standardDeviation = Statistics.standardDeviation(values)
            interval = .mean(values)
        }

        /// "0.444 ± 0.002", each in `format`.
        func meanAndDeviation(_ format: String) -> String {
            String(printf: format + " ± " + format, mean, standardDeviation)
        }

        /// " (mean's 95% CI 0.442–0.447 s)", or nothing for one run.
        var secondsInterval: String {
            interval.map { String(printf: " (mean's 95%% CI %.3f–%.3f s)", $0.low, $0.high) } ?? ""
        }
    }

    /// A function's CPU seconds and shares in each run.
    public struct Function: Codable, Sendable {
        public var function: String
        public var module: String
        public var selfSeconds: Spread
        public var totalSeconds: Spread
        public var selfPercent: Spread
        public var totalPercent: Spread
    }

    public var runs: Int
    /// Runs whose command failed (exited non-zero or was killed).
    public var failedRuns: Int
    /// The target's CPU time in each run: task-clock where counted, else
    /// samples × the sampling interval.
    public var cpuSeconds: Spread
    public var durationSeconds: Spread
    /// The functions with the most total time over all runs (up to 20).
    public var functions: [Function]

    /// Functions listed.
    static let listed = 20

    /// `merged`: the runs' hotspots over all their samples, which orders the functions.
    public init(runs reports: [ProfileReport], merged: [Hotspot]) {
        runs = reports.count
        failedRuns = reports.filter { $0.target.outcome.failed }.count
        cpuSeconds = Spread(reports.map(Self.cpuSeconds))
        durationSeconds = Spread(reports.map(\.durationSeconds))
        let indexed = reports.map { report in
            (interval: 1 / Double(max(report.sampling.frequencyHz, 1)),
             hotspots: Dictionary(report.hotspots.map { ($0.function + "\u{1}" + $0.module, $0) }, uniquingKeysWith: { first, _ in first }))
        }
        functions = Hotspot.byTotal(merged, count: Self.listed).map { hotspot in
            let each = indexed.map { ($0.interval, $0.hotspots[hotspot.function + "\u{1}" + hotspot.module]) }
            return Function(function: hotspot.function, module: hotspot.module,
                            selfSeconds: Spread(each.map { Double($1?.selfSamples ?? 0) * $0 }),
                            totalSeconds: Spread(each.map { Double($1?.totalSamples ?? 0) * $0 }),
                            selfPercent: Spread(each.map { $1?.selfPercent ?? 0 }),
                            totalPercent: Spread(each.map { $1?.totalPercent ?? 0 }))
        }
    }

    /// A run's CPU time: task-clock where counted, else samples × interval.
    public static func cpuSeconds(_ report: ProfileReport) -> Double {
        if let taskClock = report.counters.first(where: { $0.name == "task-clock" })?.value { return Double(taskClock) / 1e9 }
        return Double(report.profile.totalSamples) / Double(max(report.sampling.frequencyHz, 1))
    }
}
