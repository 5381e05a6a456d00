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

    /// Fewer CPU samples than this are no evidence for any share-based
    /// rule: at 100 samples a 20% share's 95% interval is already 13–29%.
    public static let minimumSamples = 100

    /// Said once, in the summary, report.html and the results files, when
    /// the sample-based rules were not applied.
    public static func tooFewSamples(_ report: ProfileReport) -> String? {
        let samples = report.profile.totalSamples
        guard samples < minimumSamples else { return nil }
        return "too few samples (\(samples)) for conclusions about where the CPU time goes (at least \(minimumSamples) are needed); profile longer or at a higher frequency"
    }

    /// A share's 95% interval from its count: shares are claimed only where
    /// the interval's lower bound passes the threshold.
    static func interval(_ count: Int, _ report: ProfileReport) -> ConfidenceInterval {
        ConfidenceInterval.share(count, of: report.profile.totalSamples) ?? ConfidenceInterval(low: 0, high: 100)
    }

    /// The "high"/"medium"/"low" of a function's self share, by its
    /// interval's lower bound; "unknown" below `minimumSamples`.
    static func potential(_ hotspot: Hotspot, _ report: ProfileReport) -> String {
        guard report.profile.totalSamples >= minimumSamples else { return "unknown" }
        let low = interval(hotspot.selfSamples, report).low
        return low >= hotLeafPercent ? "high" : low >= allocatorPercent ? "medium" : "low"
    }

    static func cpu(_ report: ProfileReport) -> [String] {
        var found: [String] = []
        let hotspots = report.hotspots
        let sampled = report.profile.totalSamples >= minimumSamples
        if sampled, let top = hotspots.first, !top.kernel, interval(top.selfSamples, report).low >= hotLeafPercent {
            found.append(String(printf: "%@ [%@] takes %@ of the CPU by itself (lower bound ≥ %.0f%%): the first place to optimize.",
                                top.function, top.module, ConfidenceInterval.citing(percent: top.selfPercent, interval(top.selfSamples, report)), hotLeafPercent))
        }
        let allocator = hotspots.filter { allocatorFunctions.contains($0.function) }
        let allocatorSamples = allocator.reduce(0) { $0 + $1.selfSamples }
        let allocatorShare = allocator.reduce(0) { $0 + $1.selfPercent }
        if sampled, interval(allocatorSamples, report).low >= allocatorPercent {
            found.append(String(printf: "the allocator takes %@ of the CPU (%@; lower bound ≥ %.0f%%): allocation churn; reuse buffers or pool them.",
                                ConfidenceInterval.citing(percent: allocatorShare, interval(allocatorSamples, report)), allocator.map(\.function).joined(separator: ", "), allocatorPercent))
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
        let futex = sampled ? hotspots.filter { $0.function.contains("futex") }.max { $0.totalSamples < $1.totalSamples } : nil
        if switches >= contextSwitchesPerSecond {
            found.append(String(printf: "%.0f context switches a second (≥ %.0f): threads hand work to each other or block often; batch the hand-offs.",
                                switches, contextSwitchesPerSecond))
        }
        if let futex, interval(futex.totalSamples, report).low >= futexPercent {
            found.append(String(printf: "%@ of the samples are in futex calls (lower bound ≥ %.0f%%): lock contention; shorten or split the critical sections.",
                                ConfidenceInterval.citing(percent: futex.totalPercent, interval(futex.totalSamples, report)), futexPercent))
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

    /// A thread waiting for one reason this share of its life is a bottleneck.
    static let blockedPercent = 20.0
    /// Below this life a thread's shares are not evidence.
    static let blockedMinimumSeconds = 0.5
    /// Waits that call for a change (sleeping and idle polling are chosen).
    static let advice = [
        "lock": "lock contention: shorten or split the critical section, or take the lock less often",
        "io": "waiting on I/O: overlap it with work, batch it, or cache what it reads",
        "page_fault": "waiting for pages: warm or lock the data, or give the process more memory",
        "preempted": "runnable but preempted: the machine has fewer free CPUs than the process has busy threads",
    ]

    /// The off-CPU bottlenecks (a thread waiting for one reason at least
    /// `blockedPercent` of its life) and what to do about each, citing the
    /// thread, its share, the stack it waited in and, for a lock, the hottest
    /// function of the process's other threads (a likely holder).
    static func offCPU(_ report: ProfileReport) -> (bottlenecks: [String], opportunities: [String]) {
        guard let offCPU = report.offCpu else { return ([], []) }
        var bottlenecks: [String] = [], opportunities: [String] = []
        for thread in offCPU.threads where thread.lifetimeSeconds >= blockedMinimumSeconds {
            for (reason, seconds) in thread.blockedByReason.sorted(by: { $0.value > $1.value }) {
                let percent = seconds * 100 / thread.lifetimeSeconds
                guard percent >= blockedPercent, let advice = advice[reason] else { continue }
                let stack = offCPU.stacks.first { $0.tid == thread.tid && $0.reason == reason }
                let chain = (stack?.frames ?? []).map { offCPU.functions[$0] }.filter { !$0.kernel && !OffCPUReport.isRuntimeLibrary($0.module) }
                    .prefix(3).map { "\($0.function) [\($0.module)]" }
                var line = String(printf: "%@ (tid %d) waits (%@) %.1f%% of its %.2f s (≥ %.0f%%), in %@", thread.name, thread.tid.rawValue,
                                  reason, percent, thread.lifetimeSeconds, blockedPercent, chain.isEmpty ? "a stack not seen" : chain.joined(separator: " ← "))
                if reason == "lock",
                   let holder = Hotspot.rank(report.profile, where: { $0.pid == thread.pid && $0.tid != thread.tid }).first {
                    line += String(printf: "; meanwhile the process's other threads are busiest in %@ [%@] (%.1f%% of their samples), a likely holder",
                                   holder.function, holder.module, holder.selfPercent)
                }
                bottlenecks.append(line)
                opportunities.append(String(printf: "%@ (tid %d) spends %.1f%% of its life %@.", thread.name, thread.tid.rawValue, percent, advice))
            }
        }
        return (bottlenecks, opportunities)
    }
}
