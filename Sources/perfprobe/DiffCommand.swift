import ArgumentParser
import FoundationEssentials
import PerfProbeCore

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two saved runs function by function, and draw a differential flame graph.",
        discussion: "Exit status is 1 when --max-regression is exceeded."
    )

    @Argument(help: "The baseline run's output directory.")
    var base: String

    @Argument(help: "The new run's output directory.")
    var new: String

    @Option(help: "Exit 1 when total CPU time grew by more than this %, or a function's inclusive share of the samples by more than this many points, and the growth is significant.")
    var maxRegression: Double?

    @Option(help: "The significance level of the tests: the chance of a false verdict allowed.")
    var significance = ProfileComparison.defaultLevel

    @Option(help: "Where to write the differential flame graph (default: NEW/diff.svg).")
    var output: String?

    @Option(help: "Functions listed.")
    var top = 20

    func validate() throws {
        if let maxRegression, !(maxRegression >= 0) { throw ValidationError("--max-regression must be a percentage ≥ 0, got \(maxRegression)") }
        guard top > 0 else { throw ValidationError("--top must be positive, got \(top)") }
        try GateOptions.check(significance: significance)
    }

    func run() throws {
        let before = try SavedRun.load(base), after = try SavedRun.load(new)
        let comparison = ProfileComparison(base: before, new: after, level: significance)
        let verdict = { (significant: Bool) in significant ? "significant" : "not significant" }
        var out = String(printf: "CPU time %@ → %@ (%+.1f%%; %@, p = %@: %@ at %g) · samples %d → %d\n\n",
                         comparison.baseCPUInterval.citing(seconds: comparison.baseCPUSeconds),
                         comparison.newCPUInterval.citing(seconds: comparison.newCPUSeconds), comparison.cpuChangePercent,
                         comparison.cpuTest, Statistics.text(pValue: comparison.cpuPValue), verdict(comparison.cpuSignificant), significance,
                         before.profile.totalSamples, after.profile.totalSamples)
        out += "Shares with 95% intervals; p: two-proportion z-test of TOTAL%, Holm-corrected over \(comparison.changes.count) functions; n.s.: not significant at \(significance).\n"
        out += "  SELF%  before → after (Δ)     TOTAL%  before [95% CI]  →  after [95% CI]    (Δ)       p         SELF s Δ  FUNCTION  [MODULE]\n"
        let range = { (interval: ConfidenceInterval?) in interval.map { String(printf: "[%5.1f–%5.1f]", $0.low, $0.high) } ?? "[    ?–    ?]" }
        for change in comparison.changes.prefix(top) {
            out += String(printf: "  %6.2f → %6.2f (%+6.2f)     %6.2f %@ → %6.2f %@ (%+6.2f)  %-9@ %-4@ %+8.3f  %@  [%@]\n",
                          change.baseSelfPercent, change.newSelfPercent, change.selfPointsChange,
                          change.baseTotalPercent, range(change.baseTotalInterval), change.newTotalPercent, range(change.newTotalInterval),
                          change.totalPointsChange, Statistics.text(pValue: change.pValue), change.significant ? "" : "n.s.",
                          change.selfSecondsChange, change.function, change.module)
        }
        if let reasons = comparison.blockedByReason, let blockers = comparison.blockers {
            let total = { (side: KeyPath<ProfileComparison.BlockedChange, Double>) in reasons.reduce(0) { $0 + $1[keyPath: side] } }
            out += String(printf: "\noff-CPU: blocked %.3f s → %.3f s · ", total(\.baseSeconds), total(\.newSeconds))
            out += reasons.map { String(printf: "%@ %.3f → %.3f s", $0.reason, $0.baseSeconds, $0.newSeconds) }.joined(separator: " · ") + "\n"
            out += "  BLOCKED s  before → after (Δ)     REASON      FUNCTION  [MODULE]\n"
            for change in blockers.prefix(top) {
                out += String(printf: "  %8.3f → %8.3f (%+8.3f)     %-10@  %@  [%@]\n", change.baseSeconds, change.newSeconds, change.secondsChange,
                              change.reason, change.function ?? "", change.module ?? "")
            }
        }
        let svg = output ?? new + "/diff.svg"
        do {
            try FileSystem.replace(svg, with: Array(FlameGraphFormat.difference(base: before, new: after, level: significance)))
        } catch {
            throw ValidationError("cannot write \(svg): \(error)")
        }
        print(out + "\ndifferential flame graph: \(svg)")
        guard let maxRegression else { return }
        let tripped = GateSettings.regressions(comparison, limit: maxRegression)
        for gate in tripped { StandardStreams.error("perfprobe: \(gate.message)\n") }
        if !tripped.isEmpty { throw ExitCode(1) }
    }
}
