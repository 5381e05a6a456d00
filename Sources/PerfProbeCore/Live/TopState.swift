import FoundationEssentials

/// `top` while it runs: the sampled table, the header, the view, and the
/// loops that refresh them every interval and apply keys between.
struct TopState {
    let started: TopSession.Started
    let options: ProfileOptions
    let top: TopOptions
    let progress: SamplingProgress
    let symbolizer: SharedSymbolizer
    var table = TopTable()
    var header: TopHeader
    var view = TopView()
    var heap: [TopScreen.HeapRow]?
    /// Every slice merged so far: what `w` writes.
    var total = Capture()
    /// (seconds, RSS, anonymous) of the last minute, for the trends.
    var memory: [(t: Double, rss: Double, anonymous: Double?)] = []
    /// What the screen shows while frozen.
    var frozenLines: [ScreenLine]?

    init(started: TopSession.Started, options: ProfileOptions, top: TopOptions, progress: SamplingProgress) {
        self.started = started
        self.options = options
        self.top = top
        self.progress = progress
        symbolizer = SharedSymbolizer(settings: options.symbols)
        header = TopHeader(pid: started.pid, name: started.name, frequency: started.configuration.frequency, interval: top.interval)
        if options.heap { heap = [] }
    }

    private var elapsed: Double { Date().timeIntervalSince(started.startedAt) }

    /// Plain snapshots until the end: no keys.
    mutating func plainLoop() {
        var next = top.interval
        var first = true
        while true {
            let stop = started.latch.poll(seconds: max(0, min(next, options.duration ?? .infinity) - elapsed))
            let done = stop != nil || elapsed >= options.duration ?? .infinity
            // The interval cut short by the end is not worth a snapshot.
            if done { return }
            refresh()
            let stamp = String(printf: "%@— perfprobe top, %@ —", first ? "" : "\n", TopScreen.duration(elapsed))
            guard StandardStreams.outputUnlessClosed(([stamp] + lines(.snapshot(rows: top.rows)).map(\.text)).joined(separator: "\n") + "\n")
            else { return }
            first = false
            while next <= elapsed { next += top.interval }
        }
    }

    /// The full screen until `q`, a stop, the duration or the target's exit.
    mutating func screenLoop(draw: ([ScreenLine]) -> Void, size: () -> (rows: Int, columns: Int), key: (Int32) -> TerminalKey?,
                             notes: () -> [String]) {
        var next = top.interval
        draw(lines(.screen(lines: size().rows)))
        while started.latch.poll(seconds: 0) == nil, elapsed < options.duration ?? .infinity {
            if elapsed >= next {
                refresh()
                while next <= elapsed { next += top.interval }
                if let note = notes().last { view.message = note }
                draw(lines(.screen(lines: size().rows)))
            }
            // Keys are answered within 100 ms; a stop is seen as fast.
            let wait = Int32(max(0, min(0.1, next - elapsed)) * 1000)
            guard let pressed = key(wait) else { continue }
            switch view.press(pressed, threads: table.threads.map(\.tid)) {
            case .quit: return
            case .writeReport: view.message = writeReport()
            case .none: break
            }
            draw(lines(.screen(lines: size().rows)))
        }
    }

    /// The screen as it stands; while frozen, the tables as they were when frozen.
    mutating func lines(_ size: TopScreen.Size) -> [ScreenLine] {
        let current = TopScreen.render(header: header, table: table, view: view, heap: heap, offCPU: options.offCPU, size: size)
        guard view.frozen else {
            frozenLines = nil
            return current
        }
        let shown = frozenLines ?? current
        frozenLines = shown
        // The bottom line (keys, messages) stays live.
        return Array(shown.dropLast()) + [current.last ?? ScreenLine("")]
    }

    /// Takes the interval's slice and updates table, header and heap.
    mutating func refresh() {
        if let slice = started.sampler.takeSlice() { add(slice) }
    }

    mutating func add(_ slice: Capture) {
        let merged = symbolizer.mergeByFunction(slice).capture
        total.absorb(merged)
        let (profile, blocked) = symbolizer.profile(merged)
        table.add(profile, blocked: blocked, threadNames: merged.threadNames)
        if options.heap { heap = symbolizer.heap(slice, seconds: elapsed).map(Self.heapRows) ?? [] }
        updateHeader(slice)
    }

    private mutating func updateHeader(_ slice: Capture) {
        let counts = progress.current
        let pid = started.pid
        let points = slice.timeline
        header.sampled = elapsed
        if !points.isEmpty {
            header.cpuUser = points.reduce(0) { $0 + $1.cpuUserPercent } / Double(points.count)
            header.cpuSystem = points.reduce(0) { $0 + $1.cpuSystemPercent } / Double(points.count)
        }
        if let latest = counts.latest {
            header.rssBytes = latest.rssBytes
            header.threads = latest.threads
        }
        header.samplesPerSecond = slice.durationSeconds > 0 ? Double(slice.samples) / slice.durationSeconds : 0
        header.lost = counts.lost
        header.rootedPercent = table.rootedPercent
        header.age = (try? Syscalls.readFile("/proc/\(pid)/stat")).flatMap { ProcessStat.parse(Substring(decoding: $0, as: UTF8.self)) }?.age
        header.anonymousBytes = (try? Syscalls.readFile("/proc/\(pid)/status")).flatMap { KeyValueFile.parse($0, keys: ["RssAnon"])["RssAnon"] }
        let now = elapsed
        memory.append((now, Double(header.rssBytes), header.anonymousBytes.map { Double($0) }))
        memory.removeAll { $0.t < now - 60 }
        header.rssTrend = LinearFit(x: memory.map(\.t), y: memory.map(\.rss))?.slope
        let anonymous = memory.filter { $0.anonymous != nil }
        header.anonymousTrend = LinearFit(x: anonymous.map(\.t), y: anonymous.compactMap(\.anonymous))?.slope
    }

    static func heapRows(_ report: HeapReport) -> [TopScreen.HeapRow] {
        report.stacks.filter { $0.outstandingBytes > 0 }.sorted { $0.outstandingBytes > $1.outstandingBytes }.map {
            TopScreen.HeapRow(outstandingBytes: $0.outstandingBytes, growthBytesPerSecond: $0.growthBytesPerSecond,
                              allocationBytesPerSecond: $0.allocationBytesPerSecond, functions: $0.functions.reversed())
        }
    }

    /// `w`: the report set of everything sampled so far, as `attach` writes it.
    private func writeReport() -> String {
        let command = ProcessFinder.commandLine(of: started.pid)
        let target = ProfileReport.Target(mode: started.mode, pid: started.pid, command: command, name: started.name, outcome: .running)
        let report = symbolizer.report(total, target: target, configuration: started.configuration, startedAt: started.startedAt,
                                       perThread: options.perThread)
        return top.writeReport(report)
    }
}
