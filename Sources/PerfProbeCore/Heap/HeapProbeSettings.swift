import FoundationEssentials

/// How `attach --heap` probes the allocator.
public struct HeapProbeSettings: Sendable {
    var plan: AllocatorProbePlan
    /// Its probes' events, defined.
    var events: AllocatorProbeEvents
    /// Where the probes are defined; they are removed when sampling ends.
    var uprobes: TracefsUprobes
    /// Allocation stacks sampled per second, at most (all threads together).
    var frequency: Int
    /// Seconds to trace allocations from arming; nil: until the end.
    var window: Double?
    /// Arm only once the process's memory is seen growing.
    var armOnGrowth: Bool
    var calibration: ProbeCalibration?
}

extension HeapProbeSettings: CustomStringConvertible {
    /// One line for the terminal: what is probed and what a call costs.
    public var description: String {
        let functions = plan.sites.map { $0.placement == 0 ? $0.function.symbol : "\($0.function.symbol)+\($0.placement)" }
        var line = "probing \(plan.definition.name) (\(plan.libraryPath)): \(functions.joined(separator: " "))"
        if let calibration {
            let micro = { (ns: Double) in String(printf: "%.1f µs", ns / 1000) }
            line += "; measured cost per call: malloc \(micro(calibration.mallocNanoseconds)), free \(micro(calibration.freeNanoseconds))"
            if let entry = calibration.freeAtEntryNanoseconds { line += " (\(micro(entry)) at its first instruction)" }
        }
        if armOnGrowth { line += "; allocations traced once memory grows" }
        if let window { line += "; allocations traced for \(window) s" }
        return line
    }
}
