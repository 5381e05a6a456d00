/// Two profiles side by side, function by function: shares of the samples
/// and CPU seconds, before and after. What `perfprobe diff` prints and the
/// `--max-regression` gate reads.
public struct ProfileComparison: Codable, Sendable {
    public struct Change: Codable, Sendable {
        public var function: String
        public var module: String
        public var baseSelfPercent: Double
        public var newSelfPercent: Double
        public var baseTotalPercent: Double
        public var newTotalPercent: Double
        /// CPU seconds with the function on the stack (inclusive samples × the sampling interval).
        public var baseTotalSeconds: Double
        public var newTotalSeconds: Double
        public var baseSelfSeconds: Double
        public var newSelfSeconds: Double

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

    /// The target's CPU time: task-clock where counted, else samples × interval.
    public var baseCPUSeconds: Double
    public var newCPUSeconds: Double
    /// Biggest `impact` first.
    public var changes: [Change]

    /// Growth of total CPU time, in % of the base.
    public var cpuChangePercent: Double {
        baseCPUSeconds > 0 ? (newCPUSeconds - baseCPUSeconds) / baseCPUSeconds * 100 : 0
    }

    public init(base: ProfileReport, new: ProfileReport) {
        struct Key: Hashable {
            var function: String
            var module: String
        }
        let index = { (report: ProfileReport) in
            Dictionary(report.hotspots.map { (Key(function: $0.function, module: $0.module), $0) }, uniquingKeysWith: { first, _ in first })
        }
        let before = index(base), after = index(new)
        let interval = { (report: ProfileReport) in 1 / Double(max(report.sampling.frequencyHz, 1)) }
        changes = Set(before.keys).union(after.keys).map { key in
            let old = before[key], now = after[key]
            return Change(function: key.function, module: key.module,
                          baseSelfPercent: old?.selfPercent ?? 0, newSelfPercent: now?.selfPercent ?? 0,
                          baseTotalPercent: old?.totalPercent ?? 0, newTotalPercent: now?.totalPercent ?? 0,
                          baseTotalSeconds: Double(old?.totalSamples ?? 0) * interval(base),
                          newTotalSeconds: Double(now?.totalSamples ?? 0) * interval(new),
                          baseSelfSeconds: Double(old?.selfSamples ?? 0) * interval(base),
                          newSelfSeconds: Double(now?.selfSamples ?? 0) * interval(new))
        }.sorted { ($0.impact, $1.function) > ($1.impact, $0.function) }
        baseCPUSeconds = Self.cpuSeconds(base)
        newCPUSeconds = Self.cpuSeconds(new)
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

    static func cpuSeconds(_ report: ProfileReport) -> Double {
        if let taskClock = report.counters.first(where: { $0.name == "task-clock" })?.value { return Double(taskClock) / 1e9 }
        return Double(report.profile.totalSamples) / Double(max(report.sampling.frequencyHz, 1))
    }
}
