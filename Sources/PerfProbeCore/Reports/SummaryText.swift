import FoundationEssentials

/// The short summary printed on stdout at the end of a run.
public enum SummaryText {
    /// `outputDirectory` nil: the report could not be written.
    /// `skippingNotes`: notes already said elsewhere on the same stream.
    public static func render(_ report: ProfileReport, outputDirectory: String?, top: Int = 15,
                              skippingNotes: Set<String> = []) -> String {
        var out = ""
        let target = report.target
        out += "perfprobe \(target.mode): \(target.name) (pid \(target.pid)) — \(target.outcome.description)\n"
        let samples = report.samples
        out += String(printf: "duration %.2f s · %d samples at %d Hz %@ · lost %llu records, %llu samples · throttled %d×\n",
                      report.durationSeconds, samples.total, report.sampling.frequencyHz, report.sampling.event,
                      samples.lostRecords, samples.lostSamples, samples.throttleEvents)
        if let attach = report.attachSeconds {
            out += String(printf: "attaching took %.2f s (from perfprobe's start until sampling ran)\n", attach)
        }
        if let others = samples.otherProcesses, others > 0 {
            out += "sampled per CPU over every task: \(others) samples of other processes were taken and discarded\n"
        } else if let cgroup = report.sampling.cgroup {
            out += "sampled per CPU, only the tasks of cgroup \(SymbolName.sanitized(cgroup))\n"
        }
        if let utilisation = report.cpu.utilisationPercent {
            out += String(printf: "CPU %.1f%% of one core (task-clock) · main process user %.1f%%, system %.1f%%\n",
                          utilisation, report.cpu.userPercent, report.cpu.systemPercent)
        }
        out += "counters: " + report.counters.map { counter in
            guard let value = counter.value else { return "\(counter.name) \(counter.unavailable ?? "not supported")" }
            let shown = counter.name == "task-clock" ? String(printf: "%.3f s", Double(value) / 1e9) : "\(value)"
            return "\(counter.name)\(counter.userOnly == true ? ":u" : "") \(shown)\(counter.scaled ? " (scaled)" : "")"
        }.joined(separator: " · ") + "\n"
        let quality = report.stackQuality
        out += String(printf: "stacks (%@ unwind): %.1f%% to a thread root, %.1f%% spliced, %.1f%% truncated, %.1f%% unwind errors, %.1f%% frame pointers; %.1f%% of frames unsymbolized; %.1f µs per unwind\n",
                      report.sampling.unwind, quality.unwoundToRootPercent, quality.splicedPercent, quality.truncatedPercent,
                      quality.unwindErrorPercent, quality.framePointerPercent, quality.unsymbolizedFramesPercent,
                      quality.meanUnwindMicroseconds)
        if !quality.modulesWithoutUnwindInfo.isEmpty {
            out += "no unwind info: " + quality.modulesWithoutUnwindInfo.joined(separator: ", ") + "\n"
        }
        if !quality.modulesWithoutSymbols.isEmpty {
            out += "unsymbolized frames in: " + quality.modulesWithoutSymbols.joined(separator: ", ") + "\n"
        }
        let bytes = MemoryResultsFormat.bytes
        if let memory = report.memory {
            let growth = memory.growth
            let verdict = switch growth.verdict {
            case .growing: "growing — leak suspected"
            case .plateau: "grew, then levelled off"
            case .stable: "stable"
            case .unknown: "too short to tell"
            }
            out += String(printf: "memory (anonymous): %@ → %@ after %.1f s warm-up · %@/s (R² %.2f), %@/s at the end · %@ · peak RSS %@\n",
                          bytes(Double(growth.startBytes)), bytes(Double(growth.endBytes)), growth.warmupSeconds,
                          bytes(growth.slopeBytesPerSecond), growth.rSquared, bytes(growth.finalSlopeBytesPerSecond),
                          verdict, bytes(Double(memory.peakRssBytes)))
        }
        if let heap = report.heap {
            if let probes = heap.probes {
                let calls = probes.functions.reduce(0) { $0 + $1.calls }
                let cost = probes.estimatedTargetSeconds.map { String(printf: "; the probes cost the target about %.2f s", $0) } ?? ""
                out += "allocations (uprobes on \(probes.allocator) in \(probes.library): \(calls) calls, up to \(probes.sampleFrequencyHz) stacks/s sampled\(cost)):\n"
            } else {
                let frees = (heap.droppedFrees ?? 0) > 0 ? ", \(heap.droppedFrees ?? 0) frees dropped: outstanding bytes overstated" : ""
                out += "allocations (sampled every \(bytes(Double(heap.sampleBytes))) on average, \(heap.records) records, \(heap.droppedSamples) dropped\(frees)):\n"
            }
            for stack in heap.stacks.prefix(top) where stack.kind != .transient {
                let held = stack.freedAtExitBytes.map { "\(bytes(Double($0))) held, freed at exit" }
                    ?? "\(bytes(Double(stack.outstandingBytes))) outstanding"
                out += String(printf: "  %-9@ %@, %@/s growth, %.0f allocs/s  %@\n",
                              stack.kind.rawValue,
                              held, bytes(stack.growthBytesPerSecond),
                              stack.allocationsPerSecond, MemoryResultsFormat.chain(stack.functions))
            }
        }
        if let repeats = report.repeats { out += Self.repeats(repeats, top: top) }
        if let caveat = OptimizationRules.tooFewSamples(report) { out += "\n\(caveat)\n" }
        out += "\n" + table(report.hotspots, samples: report.profile.totalSamples, top: top)
        let byTotal = report.hotspotsByTotal ?? Hotspot.byTotal(report.hotspots)
        if !byTotal.isEmpty {
            out += "\nby total time (callers included):\n" + table(byTotal, samples: nil, top: 10)
        }
        if report.threads.count > 1 {
            out += "\nthreads:\n"
            for thread in report.threads.prefix(top) {
                out += String(printf: "  %6.2f%% %@  %-16@ tid %d (pid %d)\n", thread.percent, range(thread.interval), thread.name,
                              thread.tid.rawValue, thread.pid.rawValue)
            }
        }
        for thread in report.threadHotspots {
            out += "\nthread \(thread.name) (tid \(thread.tid)):\n" + table(thread.hotspots, samples: nil, top: top)
        }
        if let offCPU = report.offCpu { out += Self.offCPU(offCPU, top: top) }
        if !report.unreadableModules.isEmpty {
            out += "\nno symbols for: " + report.unreadableModules.keys.sorted().map(SymbolName.sanitized).joined(separator: ", ") + "\n"
        }
        for note in report.notes ?? [] where !skippingNotes.contains(note) { out += "\nnote: \(SymbolName.sanitized(note))\n" }
        out += String(printf: "\nperfprobe itself: %.2f s CPU, %.1f MiB peak RSS\n", report.agent.cpuSeconds,
                      Double(report.agent.peakRssBytes) / 1_048_576)
        if let outputDirectory { out += "report: \(outputDirectory)\n" }
        return out
    }

    /// Per thread, its life split into on-CPU and blocked time by reason;
    /// then the functions threads blocked in most.
    static func offCPU(_ offCPU: OffCPUReport, top: Int) -> String {
        var out = "\noff-CPU (\(offCPU.switchOuts) switch-outs with their stacks"
        if offCPU.withoutStack > 0 { out += ", \(offCPU.withoutStack) timed without a stack (a storm's sampled stacks stand for them)" }
        if offCPU.startedBlocked > 0 { out += ", \(offCPU.startedBlocked) already blocked at the start" }
        if offCPU.openAtEnd > 0 { out += ", \(offCPU.openAtEnd) still blocked at the end" }
        if let unseen = offCPU.returnsUnseen, unseen > 0 { out += ", \(unseen) whose return the kernel did not trace (ended from the thread's run time)" }
        out += "):\n"
        for thread in offCPU.threads.prefix(top) {
            let life = max(thread.lifetimeSeconds, 1e-9)
            let reasons = OffCPUReport.reasons.compactMap { reason -> String? in
                guard let seconds = thread.blockedByReason[reason], seconds * 100 / life >= 0.5 else { return nil }
                return String(printf: "%@ %.0f%%", reason, seconds * 100 / life)
            }
            out += String(printf: "  %-16@ tid %d: on CPU %.0f%%, blocked %.0f%%%@ of %.2f s; longest wait %.3f s\n",
                          thread.name, thread.tid.rawValue, thread.onCpuSeconds * 100 / life, thread.blockedSeconds * 100 / life,
                          reasons.isEmpty ? "" : " (" + reasons.joined(separator: ", ") + ")", thread.lifetimeSeconds, thread.longestSeconds)
        }
        if !offCPU.blockers.isEmpty {
            out += "blocked in:\n   BLOCKED%  SECONDS  REASON      FUNCTION  [MODULE]\n"
            for blocker in offCPU.blockers.prefix(10) {
                out += String(printf: "    %6.2f  %7.3f  %-10@  %@  [%@]\n", blocker.percent, blocker.blockedSeconds, blocker.reason,
                              blocker.function, blocker.module)
            }
        }
        return out
    }

    /// `run --repeat`: total CPU time and the top functions' CPU seconds over the runs.
    static func repeats(_ repeats: RepeatStatistics, top: Int) -> String {
        var out = "\n\(repeats.runs) runs\(repeats.failedRuns > 0 ? " (\(repeats.failedRuns) failed)" : ""): CPU time "
            + repeats.cpuSeconds.meanAndDeviation("%.3f") + " s" + repeats.cpuSeconds.secondsInterval
        out += " · each run: " + repeats.cpuSeconds.values.map { String(printf: "%.3f", $0) }.joined(separator: ", ") + " s\n"
        out += "   SELF s (mean ± sd)   TOTAL s (mean ± sd)   TOTAL% (mean ± sd)  FUNCTION  [MODULE]\n"
        for function in repeats.functions.prefix(top) {
            out += String(printf: "  %@      %@      %@  %@  [%@]\n", function.selfSeconds.meanAndDeviation("%7.3f"),
                          function.totalSeconds.meanAndDeviation("%7.3f"), function.totalPercent.meanAndDeviation("%6.2f"),
                          function.function, function.module)
        }
        return out
    }

    /// "[ 68.9– 71.3]": a 95% interval's bounds in percent, blank without one.
    private static func range(_ interval: ConfidenceInterval?) -> String {
        interval.map { String(printf: "[%5.1f–%5.1f]", $0.low, $0.high) } ?? String(repeating: " ", count: 13)
    }

    private static func table(_ hotspots: [Hotspot], samples: Int?, top: Int) -> String {
        var out = samples.map { "top functions of \($0) samples (shares with their 95% intervals):\n" } ?? ""
        out += "   SELF%                 TOTAL%               FUNCTION  [MODULE]\n"
        for hotspot in hotspots.prefix(top) {
            out += String(printf: "  %6.2f %@  %6.2f %@  %@  [%@]\n", hotspot.selfPercent, range(hotspot.selfInterval),
                          hotspot.totalPercent, range(hotspot.totalInterval), hotspot.function, hotspot.module)
        }
        return out
    }
}
