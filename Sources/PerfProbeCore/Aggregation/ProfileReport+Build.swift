import FoundationEssentials

extension ProfileReport {
    /// Threads that live shorter than a sampling period are never sampled
    /// (perf has the same limit), yet task-clock counts their time: when it
    /// counts over 3× what the samples stand for (and at least 0.5 s), say so.
    static func unsampledCPU(taskClockNanoseconds: UInt64?, samples: Int, configuration: SamplerConfiguration) -> String? {
        guard configuration.event != .cycles, let taskClock = taskClockNanoseconds else { return nil }
        let counted = Double(taskClock) / 1e9
        let sampled = Double(samples) / Double(max(configuration.frequency, 1))
        guard counted >= 0.5, counted > 3 * sampled else { return nil }
        let ratio = sampled > 0 ? String(printf: " (%.1f×)", counted / sampled) : ""
        return String(printf: "task-clock counted %.2f s of CPU but the samples account for %.2f s%@: most likely threads that each live shorter than a sampling period (%.1f ms at %d Hz) and are never sampled; raise --frequency to see more of them",
                      counted, sampled, ratio, 1000 / Double(max(configuration.frequency, 1)), configuration.frequency)
    }

    /// Assembles the report of a finished capture.
    public static func build(capture: Capture, target: Target, configuration: SamplerConfiguration,
                             startedAt: Date, perThread: Bool, symbols: SymbolizerSettings) -> ProfileReport {
        var symbolizer = Symbolizer(modules: capture.modules, perfMaps: capture.perfMaps, settings: symbols)
        return build(capture: capture, target: target, configuration: configuration, startedAt: startedAt, perThread: perThread,
                     symbolizer: &symbolizer)
    }

    /// Assembles the report with a symbolizer that lives longer than one
    /// report (the sidecar's), so that symbol tables are read once.
    static func build(capture: Capture, target: Target, configuration: SamplerConfiguration,
                      startedAt: Date, perThread: Bool, symbolizer: inout Symbolizer) -> ProfileReport {
        symbolizer.update(modules: capture.modules, perfMaps: capture.perfMaps)
        // Every frame the report will name, CPU, heap and off-CPU, read in one pass per module.
        symbolizer.prepare(capture.stacks.keys.flatMap(\.frames) + (capture.heap?.stacks.flatMap(\.frames) ?? [])
                           + (capture.offCPU?.blocked.keys.flatMap(\.stack.frames) ?? []))
        let profile = Profile.build(from: capture, symbolizer: &symbolizer)
        let total = max(profile.totalSamples, 1)

        var byThread: [ThreadID: (pid: ProcessID, samples: Int)] = [:]
        var byProcess: [ProcessID: Int] = [:]
        for stack in profile.stacks {
            byThread[stack.tid, default: (stack.pid, 0)].samples += stack.count
            byProcess[stack.pid, default: 0] += stack.count
        }
        let threads = byThread.map { tid, entry in
            Thread(pid: entry.pid, tid: tid, name: SymbolName.sanitized(capture.threadNames[tid] ?? capture.processNames[entry.pid] ?? "?"),
                   samples: entry.samples, percent: Double(entry.samples) * 100 / Double(total),
                   interval: .share(entry.samples, of: profile.totalSamples))
        }.sorted { ($0.samples, $1.tid) > ($1.samples, $0.tid) }
        let processes = byProcess.map { pid, samples in
            Thread(pid: pid, tid: ThreadID(pid.rawValue), name: SymbolName.sanitized(capture.processNames[pid] ?? capture.threadNames[ThreadID(pid.rawValue)] ?? "?"),
                   samples: samples, percent: Double(samples) * 100 / Double(total), interval: .share(samples, of: profile.totalSamples))
        }.sorted { ($0.samples, $1.pid) > ($1.samples, $0.pid) }

        let threadHotspots = perThread ? threads.map { thread in
            ThreadHotspots(tid: thread.tid, name: thread.name,
                           hotspots: Array(Hotspot.rank(profile, where: { $0.tid == thread.tid }).prefix(15)))
        } : []

        let taskClock = capture.counters.first { $0.name == "task-clock" }?.value
        let duration = capture.durationSeconds
        let measured = capture.timeline.dropFirst()
        let cpu = CPUUsage(
            utilisationPercent: taskClock.map { duration > 0 ? Double($0) / 1e9 / duration * 100 : 0 },
            userPercent: measured.isEmpty ? 0 : measured.reduce(0) { $0 + $1.cpuUserPercent } / Double(measured.count),
            systemPercent: measured.isEmpty ? 0 : measured.reduce(0) { $0 + $1.cpuSystemPercent } / Double(measured.count))

        let hotspots = Hotspot.rank(profile)
        var sources = SourceFiles()
        let hotLines = HotLines.rank(profile) { sources.line($1, of: $0) }
        let offCPU = capture.offCPU.map {
            OffCPUReport.build($0, cpuSamples: byThread,
                               name: { tid, pid in SymbolName.sanitized(capture.threadNames[tid] ?? capture.processNames[pid] ?? "?") },
                               start: capture.startNanoseconds, end: capture.endNanoseconds, frequency: configuration.frequency,
                               symbolizer: &symbolizer)
        }
        var notes = capture.notes
        if let unseen = unsampledCPU(taskClockNanoseconds: taskClock, samples: capture.samples, configuration: configuration) {
            notes.append(unseen)
        }
        return ProfileReport(
            target: target,
            sampling: Sampling(event: configuration.event.rawValue, frequencyHz: configuration.frequency,
                               includeKernel: configuration.includeKernel, unwind: configuration.unwind.rawValue,
                               stackSizeBytes: configuration.layout.userStackSize,
                               events: !configuration.perCPU ? "threads" : configuration.cgroup == nil ? "every_task" : "cgroup",
                               cgroup: configuration.cgroup?.name),
            startedAt: startedAt.formatted(.iso8601),
            durationSeconds: duration,
            samples: SampleCounts(total: capture.samples, lostRecords: capture.lostRecords,
                                  lostSamples: capture.lostSamples, throttleEvents: capture.throttles,
                                  otherProcesses: configuration.perCPU && configuration.cgroup == nil ? capture.otherProcessSamples : nil),
            cpu: cpu, processes: processes, threads: threads,
            hotspots: hotspots, hotspotsByTotal: Hotspot.byTotal(hotspots), threadHotspots: threadHotspots,
            hotLines: hotLines.isEmpty ? nil : hotLines,
            timeline: capture.timeline, counters: capture.counters,
            stackQuality: StackQuality.measure(capture: capture, profile: profile),
            memory: capture.memoryTimeline.map(MemoryReport.init),
            heap: capture.heap.map {
                HeapReport.build($0, duration: duration, ended: target.outcome.state != TargetOutcome.running.state,
                                 name: { symbolizer.locate($0).levels.map(\.frame) })
            },
            offCpu: offCPU,
            agent: AgentUsage.measure(),
            unreadableModules: symbolizer.unreadableModules, profile: profile,
            modules: ReportModule.list(capture.modules, buildIDs: symbolizer.buildIDs, textSegments: symbolizer.textSegments), gates: nil,
            notes: notes.isEmpty ? nil : notes.map(SymbolName.sanitized))
    }
}
