/// Two profiles side by side, function by function: shares of the samples
/// and CPU seconds, before and after, each change with its significance.
/// What `perfprobe diff` prints and the `--max-regression` gate reads.
///
/// The tests, two-sided: a function's inclusive share by the two-proportion
/// z-test on the samples, the family of all functions compared corrected by
/// Holm's method at `level`; total CPU time by Welch's t-test over the runs
/// of `--repeat` on both sides, by a prediction t-test when one side is a
/// single run, and by the samples' Poisson error alone when both are (their
/// run-to-run noise is then unmeasured). The total is one test at `level`.
public struct ProfileComparison: Codable, Sendable {
    public struct Change: Codable, Sendable {
        public var function: String
        public var module: String
        public var baseSelfPercent: Double
        public var newSelfPercent: Double
        public var baseTotalPercent: Double
        public var newTotalPercent: Double
        /// CPU seconds with the function on the stack (inclusive samples × the
        /// sampling interval), per run for a `--repeat` report.
        public var baseTotalSeconds: Double
        public var newTotalSeconds: Double
        public var baseSelfSeconds: Double
        public var newSelfSeconds: Double
        /// 95% Wilson intervals of the four shares, in percent.
        public var baseSelfInterval: ConfidenceInterval?
        public var newSelfInterval: ConfidenceInterval?
        public var baseTotalInterval: ConfidenceInterval?
        public var newTotalInterval: ConfidenceInterval?
        /// The two-proportion test of the inclusive shares.
        public var pValue: Double
        /// After Holm's correction over every function compared.
        public var significant: Bool

        public var selfPointsChange: Double { newSelfPercent - baseSelfPercent }
        public var totalPointsChange: Double { newTotalPercent - baseTotalPercent }
        public var selfSecondsChange: Double { newSelfSeconds - baseSelfSeconds }
        public var totalSecondsChange: Double { newTotalSeconds - baseTotalSeconds }
        /// CPU seconds gained or lost in the function or below it, whichever moved more.
        public var impact: Double { max(abs(selfSecondsChange), abs(totalSecondsChange)) }
    }

    /// A blocked time before and after: of a reason, or of a function
    /// threads blocked in (`OffCPUReport.Blocker`).
    public struct BlockedChange: Codable, Sendable {
        public var function: String?
        public var module: String?
        public var reason: String
        public var baseSeconds: Double
        public var newSeconds: Double

        public var secondsChange: Double { newSeconds - baseSeconds }
    }

    /// With --off-cpu in both runs: blocked seconds by reason, and by
    /// function (biggest change first).
    public var blockedByReason: [BlockedChange]?
    public var blockers: [BlockedChange]?

    /// The target's CPU time: task-clock where counted, else samples ×
    /// interval; the mean of the runs for `--repeat`.
    public var baseCPUSeconds: Double
    public var newCPUSeconds: Double
    /// 95% intervals: of the mean over the runs, or from one run's samples.
    public var baseCPUInterval: ConfidenceInterval
    public var newCPUInterval: ConfidenceInterval
    public var baseRuns: Int
    public var newRuns: Int
    /// Which test compared the totals, and its answer.
    public var cpuTest: String
    public var cpuPValue: Double
    public var cpuSignificant: Bool
    /// The significance level (the chance of a false verdict allowed).
    public var level: Double
    /// Biggest `impact` first.
    public var changes: [Change]

    /// Growth of total CPU time, in % of the base.
    public var cpuChangePercent: Double {
        baseCPUSeconds > 0 ? (newCPUSeconds - baseCPUSeconds) / baseCPUSeconds * 100 : 0
    }

    public static let defaultLevel = 0.01

    public init(base: ProfileReport, new: ProfileReport, level: Double = Self.defaultLevel) {
        struct Key: Hashable {
            var function: String
            var module: String
        }
        let index = { (report: ProfileReport) in
            Dictionary(report.hotspots.map { (Key(function: $0.function, module: $0.module), $0) }, uniquingKeysWith: { first, _ in first })
        }
        let before = index(base), after = index(new)
        // Seconds per run: a --repeat report's samples are all its runs'.
        let interval = { (report: ProfileReport) in 1 / Double(max(report.sampling.frequencyHz, 1)) / Double(max(report.repeats?.runs ?? 1, 1)) }
        let baseSamples = base.profile.totalSamples, newSamples = new.profile.totalSamples
        var changes = Set(before.keys).union(after.keys).map { key in
            let old = before[key], now = after[key]
            return Change(function: key.function, module: key.module,
                          baseSelfPercent: old?.selfPercent ?? 0, newSelfPercent: now?.selfPercent ?? 0,
                          baseTotalPercent: old?.totalPercent ?? 0, newTotalPercent: now?.totalPercent ?? 0,
                          baseTotalSeconds: Double(old?.totalSamples ?? 0) * interval(base),
                          newTotalSeconds: Double(now?.totalSamples ?? 0) * interval(new),
                          baseSelfSeconds: Double(old?.selfSamples ?? 0) * interval(base),
                          newSelfSeconds: Double(now?.selfSamples ?? 0) * interval(new),
                          baseSelfInterval: .share(old?.selfSamples ?? 0, of: baseSamples),
                          newSelfInterval: .share(now?.selfSamples ?? 0, of: newSamples),
                          baseTotalInterval: .share(old?.totalSamples ?? 0, of: baseSamples),
                          newTotalInterval: .share(now?.totalSamples ?? 0, of: newSamples),
                          pValue: Statistics.twoProportion(old?.totalSamples ?? 0, of: baseSamples, now?.totalSamples ?? 0, of: newSamples) ?? 1,
                          significant: false)
        }
        for (index, significant) in Statistics.holm(changes.map(\.pValue), level: level).enumerated() {
            changes[index].significant = significant
        }
        self.changes = changes.sorted { ($0.impact, $1.function) > ($1.impact, $0.function) }
        self.level = level
        let baseRuns = base.repeats?.cpuSeconds.values ?? [RepeatStatistics.cpuSeconds(base)]
        let newRuns = new.repeats?.cpuSeconds.values ?? [RepeatStatistics.cpuSeconds(new)]
        self.baseRuns = baseRuns.count
        self.newRuns = newRuns.count
        baseCPUSeconds = Statistics.mean(baseRuns)
        newCPUSeconds = Statistics.mean(newRuns)
        baseCPUInterval = .mean(baseRuns) ?? .sampled(baseCPUSeconds, count: baseSamples)
        newCPUInterval = .mean(newRuns) ?? .sampled(newCPUSeconds, count: newSamples)
        switch (baseRuns.count, newRuns.count) {
        case (2..., 2...):
            cpuTest = "Welch's t-test over \(baseRuns.count) and \(newRuns.count) runs"
            cpuPValue = Statistics.welch(baseRuns, newRuns) ?? 1
        case (2..., _):
            cpuTest = "a prediction t-test of 1 run against \(baseRuns.count)"
            cpuPValue = Statistics.predictionTest(newCPUSeconds, against: baseRuns) ?? 1
        case (_, 2...):
            cpuTest = "a prediction t-test of 1 run against \(newRuns.count)"
            cpuPValue = Statistics.predictionTest(baseCPUSeconds, against: newRuns) ?? 1
        default:
            cpuTest = "the samples' Poisson error of 1 run each (run-to-run noise unmeasured: --repeat measures it)"
            cpuPValue = Statistics.poissonRatio(baseCPUSeconds, samples: baseSamples, newCPUSeconds, samples: newSamples) ?? 1
        }
        cpuSignificant = cpuPValue <= level
        if let before = base.offCpu, let after = new.offCpu {
            let reasons = { (report: OffCPUReport) in report.threads.reduce(into: [String: Double]()) { $0.merge($1.blockedByReason, uniquingKeysWith: +) } }
            let old = reasons(before), now = reasons(after)
            blockedByReason = OffCPUReport.reasons.filter { old[$0] != nil || now[$0] != nil }.map {
                BlockedChange(function: nil, module: nil, reason: $0, baseSeconds: old[$0] ?? 0, newSeconds: now[$0] ?? 0)
            }
            let key = { (blocker: OffCPUReport.Blocker) in [blocker.function, blocker.module, blocker.reason] }
            let oldBlockers = Dictionary(before.blockers.map { (key($0), $0.blockedSeconds) }, uniquingKeysWith: +)
            let newBlockers = Dictionary(after.blockers.map { (key($0), $0.blockedSeconds) }, uniquingKeysWith: +)
            blockers = Set(oldBlockers.keys).union(newBlockers.keys).map { key in
                BlockedChange(function: key[0], module: key[1], reason: key[2], baseSeconds: oldBlockers[key] ?? 0, newSeconds: newBlockers[key] ?? 0)
            }.sorted { (abs($0.secondsChange), $1.function ?? "") > (abs($1.secondsChange), $0.function ?? "") }
        }
    }

}
