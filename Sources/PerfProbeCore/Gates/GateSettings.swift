import FoundationEssentials

/// The CI gates a run is checked against (`--fail-on leak`, `--max-rss`,
/// `--max-cpu`, `--baseline` with `--max-regression`). Any tripped gate makes
/// `success` false in the results files and perfprobe exit 1.
public struct GateSettings: Sendable {
    public var failOnLeak = false
    public var maxRSSBytes: UInt64?
    /// Average CPU of the target over the run, in % of one core.
    public var maxCPUPercent: Double?
    /// A saved run to compare against, and how much worse is too much: a
    /// function's inclusive share of the samples growing by more than this
    /// many percentage points, or total CPU time by more than this %, each
    /// only when the change is significant at `significanceLevel`.
    public var baseline: ProfileReport?
    public var maxRegressionPercent: Double?
    public var significanceLevel = ProfileComparison.defaultLevel

    public init() {}

    public var isEmpty: Bool {
        !failOnLeak && maxRSSBytes == nil && maxCPUPercent == nil && (baseline == nil || maxRegressionPercent == nil)
    }

    public func evaluate(_ report: ProfileReport) -> [TrippedGate] {
        var tripped: [TrippedGate] = []
        if failOnLeak {
            let leaks = report.heap?.stacks.filter { $0.kind == .leak } ?? []
            if let leak = leaks.first {
                tripped.append(TrippedGate(gate: "--fail-on leak", threshold: "no leak", measured: "\(leaks.count) leaking stack(s)",
                                           message: String(printf: "gate --fail-on leak: %d leaking stack(s), the first %@ growing %@/s",
                                                           leaks.count, MemoryResultsFormat.chain(leak.functions),
                                                           MemoryResultsFormat.bytes(leak.growthBytesPerSecond))))
            } else if let growth = report.memory?.growth, growth.verdict == .growing {
                tripped.append(TrippedGate(gate: "--fail-on leak", threshold: "no leak", measured: "memory growing",
                                           message: "gate --fail-on leak: memory keeps growing at \(MemoryResultsFormat.bytes(growth.slopeBytesPerSecond))/s"))
            }
        }
        if let maxRSSBytes {
            let peak = report.memory?.peakRssBytes ?? report.timeline.map(\.rssBytes).max() ?? 0
            if peak > maxRSSBytes {
                tripped.append(TrippedGate(gate: "--max-rss", threshold: "\(maxRSSBytes) bytes", measured: "\(peak) bytes",
                                           message: "gate --max-rss \(maxRSSBytes): peak RSS was \(peak) bytes (\(MemoryResultsFormat.bytes(Double(peak))))"))
            }
        }
        if let maxCPUPercent {
            let cpu = report.cpu.utilisationPercent ?? report.cpu.userPercent + report.cpu.systemPercent
            if cpu > maxCPUPercent {
                tripped.append(TrippedGate(gate: "--max-cpu", threshold: "\(maxCPUPercent)%", measured: String(printf: "%.1f%%", cpu),
                                           message: String(printf: "gate --max-cpu %g%%: the target used %.1f%% of one core on average", maxCPUPercent, cpu)))
            }
        }
        if let baseline, let limit = maxRegressionPercent {
            tripped += Self.regressions(ProfileComparison(base: baseline, new: report, level: significanceLevel), limit: limit)
        }
        return tripped
    }

    /// Functions whose inclusive share grew by more than `limit` points, and
    /// total CPU time grown by more than `limit` %, where the growth is
    /// significant: each line names the test and its p-value.
    public static func regressions(_ comparison: ProfileComparison, limit: Double) -> [TrippedGate] {
        var tripped: [TrippedGate] = []
        if comparison.cpuChangePercent > limit && comparison.cpuSignificant {
            tripped.append(TrippedGate(
                gate: "--max-regression", threshold: "\(limit)%", measured: String(printf: "%+.1f%%", comparison.cpuChangePercent),
                message: String(printf: "gate --max-regression %g%%: total CPU time grew %.1f%% (%@ → %@; %@, p = %@ ≤ %g)",
                                limit, comparison.cpuChangePercent, comparison.baseCPUInterval.citing(seconds: comparison.baseCPUSeconds),
                                comparison.newCPUInterval.citing(seconds: comparison.newCPUSeconds), comparison.cpuTest,
                                Statistics.text(pValue: comparison.cpuPValue), comparison.level)))
        }
        for change in comparison.changes where change.totalPointsChange > limit && change.significant {
            tripped.append(TrippedGate(
                gate: "--max-regression", threshold: "\(limit) points", measured: String(printf: "%+.1f points", change.totalPointsChange),
                message: String(printf: "gate --max-regression %g%%: %@ [%@] went from %@ to %@ of the samples (inclusive; two-proportion z-test p = %@, Holm-corrected over %d functions at %g)",
                                limit, change.function, change.module, ConfidenceInterval.citing(percent: change.baseTotalPercent, change.baseTotalInterval),
                                ConfidenceInterval.citing(percent: change.newTotalPercent, change.newTotalInterval), Statistics.text(pValue: change.pValue), comparison.changes.count,
                                comparison.level)))
        }
        return tripped
    }
}
