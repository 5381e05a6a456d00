import FoundationEssentials

extension Profile {
    /// The stacks of several profiles in one: functions and locations are
    /// matched by value, identical stacks of the same thread add up.
    static func merging(_ profiles: [Profile]) -> Profile {
        var functions: [SymbolizedFrame] = [], functionIndex: [SymbolizedFrame: Int] = [:]
        var locations: [Location] = [], locationIndex: [Location: Int] = [:]
        var stacks: [Stack] = [], stackIndex: [Stack: Int] = [:]
        let withLocations = profiles.allSatisfy { $0.locations != nil }
        for profile in profiles {
            let function = profile.functions.map { frame in
                if let known = functionIndex[frame] { return known }
                functions.append(frame)
                functionIndex[frame] = functions.count - 1
                return functions.count - 1
            }
            let location = (profile.locations ?? []).map { old in
                var moved = old
                moved.lines = old.lines.map { Line(function: function[$0.function], file: $0.file, line: $0.line) }
                if let known = locationIndex[moved] { return known }
                locations.append(moved)
                locationIndex[moved] = locations.count - 1
                return locations.count - 1
            }
            for stack in profile.stacks {
                var key = stack
                key.count = 0
                key.frames = stack.frames.map { function[$0] }
                key.locations = withLocations ? stack.locations.map { $0.map { location[$0] } } : nil
                if let known = stackIndex[key] {
                    stacks[known].count += stack.count
                } else {
                    stackIndex[key] = stacks.count
                    key.count = stack.count
                    stacks.append(key)
                }
            }
        }
        return Profile(functions: functions, stacks: stacks, locations: withLocations ? locations : nil)
    }
}

extension ProfileReport {
    /// The report of `run --repeat N`: the runs' samples as one profile
    /// (shares over all of them), their counts and times added up, and how
    /// they differed (`repeats`). Memory, heap and off-CPU time stay in each
    /// run's own report, as does the /proc timeline (the last run's is kept).
    public static func merging(_ runs: [ProfileReport]) -> ProfileReport? {
        guard var merged = runs.last else { return nil }
        let profile = Profile.merging(runs.map(\.profile))
        let total = profile.totalSamples
        merged.target.outcome = runs.first { $0.target.outcome.failed }?.target.outcome ?? merged.target.outcome
        merged.startedAt = runs[0].startedAt
        merged.durationSeconds = runs.reduce(0) { $0 + $1.durationSeconds }
        merged.attachSeconds = nil
        merged.samples = SampleCounts(total: runs.reduce(0) { $0 + $1.samples.total },
                                      lostRecords: runs.reduce(0) { $0 &+ $1.samples.lostRecords },
                                      lostSamples: runs.reduce(0) { $0 &+ $1.samples.lostSamples },
                                      throttleEvents: runs.reduce(0) { $0 + $1.samples.throttleEvents },
                                      otherProcesses: runs.contains { $0.samples.otherProcesses != nil }
                                          ? runs.reduce(0) { $0 + ($1.samples.otherProcesses ?? 0) } : nil)
        let weight = { (report: ProfileReport) in merged.durationSeconds > 0 ? report.durationSeconds / merged.durationSeconds : 1 / Double(runs.count) }
        merged.counters = runs[0].counters.map { counter in
            var sum = counter
            let values = runs.map { $0.counters.first { $0.name == counter.name }?.value }
            sum.value = values.contains(nil) ? nil : values.reduce(0) { $0 &+ ($1 ?? 0) }
            sum.scaled = runs.contains { $0.counters.first { $0.name == counter.name }?.scaled == true }
            return sum
        }
        merged.cpu = CPUUsage(utilisationPercent: merged.counters.first { $0.name == "task-clock" }?.value.map {
                                  merged.durationSeconds > 0 ? Double($0) / 1e9 / merged.durationSeconds * 100 : 0 },
                              userPercent: runs.reduce(0) { $0 + $1.cpu.userPercent * weight($1) },
                              systemPercent: runs.reduce(0) { $0 + $1.cpu.systemPercent * weight($1) })
        let rescale = { (threads: [Thread]) in
            threads.map { thread in
                var thread = thread
                thread.percent = Double(thread.samples) * 100 / Double(max(total, 1))
                thread.interval = .share(thread.samples, of: total)
                return thread
            }.sorted { ($0.samples, $1.tid) > ($1.samples, $0.tid) }
        }
        merged.processes = rescale(runs.flatMap(\.processes))
        merged.threads = rescale(runs.flatMap(\.threads))
        merged.profile = profile
        merged.hotspots = Hotspot.rank(profile)
        merged.hotspotsByTotal = Hotspot.byTotal(merged.hotspots)
        merged.threadHotspots = runs.contains { !$0.threadHotspots.isEmpty } ? merged.threads.map { thread in
            ThreadHotspots(tid: thread.tid, name: thread.name, hotspots: Array(Hotspot.rank(profile, where: { $0.tid == thread.tid }).prefix(15)))
        } : []
        var sources = SourceFiles()
        let hotLines = HotLines.rank(profile) { sources.line($1, of: $0) }
        merged.hotLines = hotLines.isEmpty ? nil : hotLines
        let sampled = { (report: ProfileReport) in Double(report.profile.totalSamples) / Double(max(total, 1)) }
        let mean = { (measure: KeyPath<StackQuality, Double>) in runs.reduce(0) { $0 + $1.stackQuality[keyPath: measure] * sampled($1) } }
        merged.stackQuality = StackQuality(
            unwoundToRootPercent: mean(\.unwoundToRootPercent), splicedPercent: mean(\.splicedPercent),
            truncatedPercent: mean(\.truncatedPercent), unwindErrorPercent: mean(\.unwindErrorPercent),
            framePointerPercent: mean(\.framePointerPercent), unsymbolizedFramesPercent: mean(\.unsymbolizedFramesPercent),
            lostSamples: runs.reduce(0) { $0 &+ $1.stackQuality.lostSamples }, meanUnwindMicroseconds: mean(\.meanUnwindMicroseconds),
            modulesWithoutUnwindInfo: Set(runs.flatMap(\.stackQuality.modulesWithoutUnwindInfo)).sorted(),
            modulesWithoutSymbols: Set(runs.flatMap(\.stackQuality.modulesWithoutSymbols)).sorted())
        merged.memory = nil
        merged.heap = nil
        merged.offCpu = nil
        merged.agent = AgentUsage(cpuSeconds: runs.reduce(0) { $0 + $1.agent.cpuSeconds },
                                  peakRssBytes: runs.map(\.agent.peakRssBytes).max() ?? 0)
        merged.unreadableModules = runs.reduce(into: [:]) { $0.merge($1.unreadableModules) { first, _ in first } }
        var seenModules = Set<ReportModule>()
        merged.modules = runs.contains { $0.modules != nil } ? runs.flatMap { $0.modules ?? [] }.filter { seenModules.insert($0).inserted } : nil
        merged.gates = nil
        var notes: [String] = [], seenNotes = Set<String>()
        for note in runs.flatMap({ $0.notes ?? [] }) where seenNotes.insert(note).inserted { notes.append(note) }
        if runs.contains(where: { $0.memory != nil || $0.heap != nil || $0.offCpu != nil }) {
            notes.append("memory, allocations and off-CPU time are in each run's own report (run-1/ … run-\(runs.count)/)")
        }
        merged.notes = notes.isEmpty ? nil : notes
        merged.repeats = RepeatStatistics(runs: runs, merged: merged.hotspots)
        return merged
    }
}
