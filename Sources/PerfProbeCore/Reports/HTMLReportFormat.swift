import FoundationEssentials

/// report.html: one self-contained page (no network) — summary, gates,
/// hotspots, the hot functions' hottest source lines, the flame graph, CPU and memory timelines drawn from the /proc
/// timeline, counters, stack quality, leaks and churn, and the optimization
/// opportunities of the results files.
public struct HTMLReportFormat: ReportFormat {
    public let fileName = "report.html"
    public let showsAgentUsage = true
    public let name = "html"

    public init() {}

    public func render(_ report: ProfileReport) throws -> Data? {
        let cpu = CPUResultsFormat.results(report)
        let memory = MemoryResultsFormat.results(report)
        var page = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <title>perfprobe: \(escape(report.target.name))</title>
        <style>
        body { font-family: sans-serif; margin: 24px; color: #222; }
        h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ccc; }
        table { border-collapse: collapse; font-size: 13px; } td, th { padding: 3px 10px; text-align: left; }
        th { background: #eee; } tr:nth-child(even) td { background: #f7f7f7; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
        pre.src { margin: 0; font-size: 12px; } .bad { color: #b00; font-weight: bold; } .good { color: #070; font-weight: bold; } .note { color: #666; font-size: 13px; }
        </style></head><body>
        <h1>perfprobe \(escape(report.target.mode)): \(escape(report.target.name)) (pid \(report.target.pid))</h1>

        """
        page += summary(report, success: cpu.success && (memory?.success ?? true))
        if let repeats = report.repeats { page += section("Runs", self.repeats(repeats)) }
        page += section("Hotspots", (OptimizationRules.tooFewSamples(report).map { "<p class=\"bad\">\(escape($0))</p>" } ?? "") + hotspots(report))
        if let hotLines = report.hotLines, !hotLines.isEmpty { page += section("Hot source lines", sourceLines(hotLines)) }
        page += section("Flame graph", FlameGraphFormat.svg(report, standalone: false)
                        + "<p class=\"note\">Hover for details, click a frame to zoom, Search to highlight.</p>")
        let timeline = report.timeline.dropFirst()
        page += section("CPU over time", chart(timeline.map { ($0.t, $0.cpuUserPercent + $0.cpuSystemPercent) }, unit: "% of one core",
                                               format: { String(printf: "%.0f%%", $0) }))
        page += section("Resident memory over time", chart(report.timeline.map { ($0.t, Double($0.rssBytes)) }, unit: "RSS",
                                                           format: MemoryResultsFormat.bytes))
        if let memoryReport = report.memory, let memory {
            let growth = memoryReport.growth
            page += section("Anonymous memory (heap) over time", chart(memoryReport.timeline.map { ($0.t, Double($0.anonymousBytes)) },
                                                                       unit: "anonymous", format: MemoryResultsFormat.bytes)
                + "<p>Verdict: <b>\(growth.verdict.rawValue)</b> · \(MemoryResultsFormat.bytes(growth.slopeBytesPerSecond))/s (R² \(String(printf: "%.2f", growth.rSquared))) after a \(String(printf: "%.1f", growth.warmupSeconds)) s warm-up · peak RSS \(MemoryResultsFormat.bytes(Double(memoryReport.peakRssBytes)))</p>"
                + leaks(memory))
        }
        if let heap = report.heap { page += section("Allocations by stack", allocations(heap)) }
        if let offCPU = report.offCpu {
            page += section("Off-CPU: where threads waited", offCPUThreads(offCPU) + offCPUStacks(offCPU)
                + (OffCPUFlameGraphFormat.svg(report, standalone: false) ?? ""))
        }
        page += section("Optimization opportunities", list(cpu.optimizationOpportunities + (memory?.optimizationOpportunities ?? []),
                                                          empty: cpu.caveats?.first ?? "None: no rule's threshold was reached."))
        page += section("Counters", table(["counter", "value"], report.counters.map { counter in
            [escape(counter.name), counter.value.map { "\($0)" + (counter.scaled ? " (scaled)" : "") } ?? escape(counter.unavailable ?? "not supported")]
        }))
        let quality = report.stackQuality
        page += section("Stack quality", table(["measure", "value"], [
            ["unwound to a thread root", percent(quality.unwoundToRootPercent)], ["truncated", percent(quality.truncatedPercent)],
            ["unwind errors", percent(quality.unwindErrorPercent)], ["unsymbolized frames", percent(quality.unsymbolizedFramesPercent)],
            ["lost records", "\(report.samples.lostRecords)"], ["mean unwind", String(printf: "%.1f µs", quality.meanUnwindMicroseconds)],
        ]))
        page += "<p class=\"note\">perfprobe itself: \(String(printf: "%.2f", report.agent.cpuSeconds)) s CPU, \(MemoryResultsFormat.bytes(Double(report.agent.peakRssBytes))) peak RSS. Started \(escape(report.startedAt)).</p>\n</body></html>\n"
        return Data(page.utf8)
    }

    private func summary(_ report: ProfileReport, success: Bool) -> String {
        let outcome = report.target.outcome
        var rows = [
            ["command", escape(report.target.command.joined(separator: " "))],
            ["outcome", escape(outcome.description)],
            ["duration", String(printf: "%.2f s", report.durationSeconds)],
            ["samples", "\(report.profile.totalSamples) at \(report.sampling.frequencyHz) Hz (\(escape(report.sampling.event)), \(escape(report.sampling.unwind)) unwinding)"],
            ["CPU", report.cpu.utilisationPercent.map { String(printf: "%.1f%% of one core", $0) } ?? "unknown"],
            ["result", success ? "<span class=\"good\">success</span>" : "<span class=\"bad\">failed</span>"],
        ]
        for gate in report.gates ?? [] { rows.append(["gate", "<span class=\"bad\">\(escape(gate.message))</span>"]) }
        return table(["", ""], rows)
    }

    private func hotspots(_ report: ProfileReport) -> String {
        table(["self % (95% CI)", "total % (95% CI)", "function", "module"], report.hotspots.prefix(25).map { hotspot in
            [percent(hotspot.selfPercent, hotspot.selfInterval), percent(hotspot.totalPercent, hotspot.totalInterval),
             escape(hotspot.function), escape(hotspot.module)]
        }, numeric: 2) + "<p class=\"note\">Shares of the samples ± their 95% Wilson intervals; rules claim a share only where the interval's lower bound passes their threshold, and none with fewer than \(OptimizationRules.minimumSamples) samples.</p>"
    }

    /// `run --repeat`: each run's CPU time, and the top functions' spread.
    private func repeats(_ repeats: RepeatStatistics) -> String {
        return "<p>\(repeats.runs) runs\(repeats.failedRuns > 0 ? ", \(repeats.failedRuns) failed" : ""): CPU time \(repeats.cpuSeconds.meanAndDeviation("%.3f")) s\(repeats.cpuSeconds.secondsInterval); each run: \(repeats.cpuSeconds.values.map { String(printf: "%.3f s", $0) }.joined(separator: ", ")).</p>"
            + table(["self s (mean ± sd)", "total s (mean ± sd)", "total % (mean ± sd)", "function", "module"], repeats.functions.map { function in
                [function.selfSeconds.meanAndDeviation("%.3f"), function.totalSeconds.meanAndDeviation("%.3f"),
                 function.totalPercent.meanAndDeviation("%.2f"), escape(function.function), escape(function.module)]
            }, numeric: 3)
    }

    /// Each hot function's hottest lines: where in it the samples fell.
    private func sourceLines(_ hotLines: [HotLines]) -> String {
        hotLines.map { function in
            "<h3>\(escape(function.function)) <span class=\"note\">\(escape(function.module))</span></h3>\n"
                + table(["self %", "samples", "file:line", "source"], function.lines.map { line in
                    [percent(line.selfPercent), "\(line.selfSamples)", escape("\(line.file):\(line.line)"),
                     line.text.map { "<pre class=\"src\">\(escape($0))</pre>" } ?? ""]
                }, numeric: 2)
        }.joined(separator: "\n") + "<p class=\"note\">Lines from the DWARF line tables of the sampled addresses; an inlined function's lines are its own.</p>"
    }

    private func leaks(_ memory: MemoryResultsFormat.Results) -> String {
        guard !memory.memoryLeaks.isEmpty else { return "<p class=\"good\">No leak detected.</p>" }
        return table(["type", "severity", "growth", "description"], memory.memoryLeaks.map { leak in
            [escape(leak.type), escape(leak.severity), MemoryResultsFormat.bytes(leak.growthRate) + "/s", escape(leak.description)]
        })
    }

    private func allocations(_ heap: HeapReport) -> String {
        table(["kind", "outstanding", "growth (95% CI)", "allocs/s", "stack (innermost first)"], heap.stacks.prefix(20).map { stack in
            [escape(stack.kind.rawValue), MemoryResultsFormat.bytes(Double(stack.outstandingBytes)),
             MemoryResultsFormat.bytes(stack.growthBytesPerSecond) + "/s" + MemoryResultsFormat.range(stack.growthInterval, perSecond: true),
             String(printf: "%.0f", stack.allocationsPerSecond),
             escape(MemoryResultsFormat.chain(stack.functions, depth: 6))]
        })
    }

    /// Per thread: its life in the window, on CPU and blocked by reason, in %.
    private func offCPUThreads(_ offCPU: OffCPUReport) -> String {
        let numbers = ["life s", "on CPU %", "blocked %"] + OffCPUReport.reasons.map { "\($0) %" } + ["longest wait s"]
        return table(numbers + ["tid", "thread"], offCPU.threads.prefix(30).map { thread in
            let life = max(thread.lifetimeSeconds, 1e-9)
            return [String(printf: "%.2f", thread.lifetimeSeconds), percent(thread.onCpuSeconds * 100 / life),
                    percent(thread.blockedSeconds * 100 / life)]
                + OffCPUReport.reasons.map { percent((thread.blockedByReason[$0] ?? 0) * 100 / life) }
                + [String(printf: "%.3f", thread.longestSeconds), "\(thread.tid)", escape(thread.name)]
        }, numeric: numbers.count + 1)
    }

    /// The stacks threads waited in longest: user frames innermost first,
    /// after the kernel function nearest the wait.
    private func offCPUStacks(_ offCPU: OffCPUReport) -> String {
        table(["blocked s", "switches", "reason", "tid", "stack (innermost first)"], offCPU.stacks.prefix(20).map { stack in
            let frames = stack.frames.map { offCPU.functions[$0] }
            let user = frames.filter { !$0.kernel }.prefix(6).map(\.function)
            let kernel = frames.first { $0.kernel && !$0.function.contains("schedule") }.map { [$0.function + " [k]"] } ?? []
            return [String(printf: "%.3f", stack.blockedSeconds), "\(stack.switches)", escape(stack.reason), "\(stack.tid)",
                    escape((kernel + user).joined(separator: " ← "))]
        }, numeric: 2)
    }

    /// A line chart of `points` (seconds, value) as inline SVG.
    private func chart(_ points: [(Double, Double)], unit: String, format: (Double) -> String) -> String {
        guard points.count >= 2, let last = points.last?.0, last > 0 else { return "<p class=\"note\">Too few readings to plot.</p>" }
        let width = 900.0, height = 220.0, left = 80.0, bottom = 30.0
        let top = max(points.map(\.1).max() ?? 1, 1e-9)
        let x = { (t: Double) in left + t / last * (width - left - 10) }
        let y = { (v: Double) in height - bottom - v / top * (height - bottom - 10) }
        let line = points.map { String(printf: "%.1f,%.1f", x($0.0), y($0.1)) }.joined(separator: " ")
        return """
        <svg width="\(Int(width))" height="\(Int(height))" role="img" aria-label="\(escape(unit)) over time">
        <rect x="\(left)" y="10" width="\(width - left - 10)" height="\(height - bottom - 10)" fill="#fafafa" stroke="#ccc"/>
        <polyline fill="none" stroke="#c33" stroke-width="1.5" points="\(line)"/>
        <text x="\(left - 6)" y="16" text-anchor="end" font-size="11">\(escape(format(top)))</text>
        <text x="\(left - 6)" y="\(height - bottom)" text-anchor="end" font-size="11">0</text>
        <text x="\(left)" y="\(height - 10)" font-size="11">0 s</text>
        <text x="\(width - 10)" y="\(height - 10)" text-anchor="end" font-size="11">\(String(printf: "%.1f s", last))</text>
        <text x="\(width / 2)" y="\(height - 10)" text-anchor="middle" font-size="11">\(escape(unit))</text>
        </svg>
        """
    }

    private func section(_ title: String, _ body: String) -> String {
        "<h2>\(escape(title))</h2>\n\(body)\n"
    }

    /// Cells are HTML already; the first `numeric` columns align right.
    private func table(_ headers: [String], _ rows: [[String]], numeric: Int = 0) -> String {
        let head = headers.allSatisfy(\.isEmpty) ? "" : "<tr>" + headers.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
        let body = rows.map { row in
            "<tr>" + row.enumerated().map { $0.offset < numeric ? "<td class=\"n\">\($0.element)</td>" : "<td>\($0.element)</td>" }.joined() + "</tr>"
        }.joined(separator: "\n")
        return "<table>\(head)\n\(body)</table>"
    }

    private func list(_ items: [String], empty: String) -> String {
        items.isEmpty ? "<p class=\"note\">\(escape(empty))</p>" : "<ul>" + items.map { "<li>\(escape($0))</li>" }.joined() + "</ul>"
    }

    private func percent(_ value: Double) -> String { String(printf: "%.2f", value) }

    /// "70.12 (68.9–71.3)".
    private func percent(_ value: Double, _ interval: ConfidenceInterval?) -> String {
        percent(value) + (interval.map { String(printf: " (%.1f–%.1f)", $0.low, $0.high) } ?? "")
    }

    private func escape(_ text: String) -> String { FlameGraph.escape(text) }
}
