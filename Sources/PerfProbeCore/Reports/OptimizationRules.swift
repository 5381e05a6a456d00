import FoundationEssentials

/// Optimization opportunities from CPU evidence. Each rule fires only past a
/// stated threshold and cites the figures that fired it; no evidence, no advice.
enum OptimizationRules {
    /// A leaf function this hot is the first place to look.
    static let hotLeafPercent = 20.0
    /// The allocator's share of CPU that makes churn worth reporting.
    static let allocatorPercent = 5.0
    static let allocatorFunctions: Set<String> = ["malloc", "free", "calloc", "realloc", "__libc_malloc", "__libc_free",
                                                  "_int_malloc", "_int_free", "malloc_consolidate", "cfree",
                                                  "operator new(unsigned long)", "operator delete(void*)",
                                                  "operator delete(void*, unsigned long)"]
    static let systemPercent = 30.0
    static let contextSwitchesPerSecond = 1000.0
    /// Samples inside futex calls (waiting on or waking a lock) that suggest contention.
    static let futexPercent = 5.0
    static let majorFaults: UInt64 = 100
    static let ioBytesPerSecond = 10.0 * 1_048_576

    static func cpu(_ report: ProfileReport) -> [String] {
        var found: [String] = []
        let hotspots = report.hotspots
        if let top = hotspots.first, top.selfPercent >= hotLeafPercent, !top.kernel {
            found.append(String(printf: "%@ [%@] takes %.1f%% of the CPU by itself (≥ %.0f%%): the first place to optimize.",
                                top.function, top.module, top.selfPercent, hotLeafPercent))
        }
        let allocator = hotspots.filter { allocatorFunctions.contains($0.function) }
        let allocatorShare = allocator.reduce(0) { $0 + $1.selfPercent }
        if allocatorShare >= allocatorPercent {
            found.append(String(printf: "the allocator takes %.1f%% of the CPU (%@; ≥ %.0f%%): allocation churn; reuse buffers or pool them.",
                                allocatorShare, allocator.map(\.function).joined(separator: ", "), allocatorPercent))
        }
        if report.cpu.systemPercent >= systemPercent && report.cpu.systemPercent >= report.cpu.userPercent {
            let kernel = hotspots.filter(\.kernel).prefix(3).map { String(printf: "%@ %.1f%%", $0.function, $0.selfPercent) }
            found.append(String(printf: "system time is %.0f%% of a core against %.0f%% user (≥ %.0f%% and more than user); the kernel's hottest functions: %@.",
                                report.cpu.systemPercent, report.cpu.userPercent, systemPercent,
                                kernel.isEmpty ? "none sampled" : kernel.joined(separator: ", ")))
        }
        guard let first = report.timeline.first, let last = report.timeline.last, last.t > first.t else { return found }
        let seconds = last.t - first.t
        let switches = Double((last.voluntaryContextSwitches + last.involuntaryContextSwitches)
                              &- (first.voluntaryContextSwitches + first.involuntaryContextSwitches)) / seconds
        let futex = hotspots.filter { $0.function.contains("futex") }.map(\.totalPercent).max() ?? 0
        if switches >= contextSwitchesPerSecond {
            found.append(String(printf: "%.0f context switches a second (≥ %.0f): threads hand work to each other or block often; batch the hand-offs.",
                                switches, contextSwitchesPerSecond))
        }
        if futex >= futexPercent {
            found.append(String(printf: "%.1f%% of the samples are in futex calls (≥ %.0f%%): lock contention; shorten or split the critical sections.",
                                futex, futexPercent))
        }
        let faults = last.majorFaults &- first.majorFaults
        if faults >= majorFaults {
            found.append("\(faults) major page faults (≥ \(majorFaults)): pages were read from disk on demand; warm or lock the data, or give the process more memory.")
        }
        if let read = last.readBytes, let readBefore = first.readBytes, let written = last.writeBytes, let writtenBefore = first.writeBytes {
            let rate = Double((read &- readBefore) + (written &- writtenBefore)) / seconds
            if rate >= ioBytesPerSecond {
                found.append(String(printf: "storage I/O of %@/s (≥ 10 MiB/s): buffer, batch or cache it.", MemoryResultsFormat.bytes(rate)))
            }
        }
        return found
    }
}
