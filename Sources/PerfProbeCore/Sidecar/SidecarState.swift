import Dispatch
import FoundationEssentials
import Synchronization

/// What the sidecar has gathered, shared by its sampling loop and its
/// endpoint threads: the current phase, per phase the merged slices, the
/// last five minutes of slices (for `/debug/pprof/profile?seconds=N`).
/// Everything is bounded: stacks by the program's call paths (frames are
/// merged by function as slices arrive), timelines by thinning, slices by count; window summaries go to a file as
/// they close.
final class SidecarState: Sendable {
    struct Slice: Sendable {
        var phase: String
        var capture: Capture
    }

    private struct Inner {
        var phase: String
        var phases: [String] = []
        var totals: [String: Capture] = [:]
        /// The counters as the latest slice read them: since attach.
        var counters: [CounterReading] = []
        /// Per phase, what its slices counted.
        var phaseCounters: [String: [CounterReading]] = [:]
        var recent: [Slice] = []
        var samples = 0
        var lost: UInt64 = 0
        var latest: TelemetryPoint?
        /// Samples so far by process (with --tree or --match, several), and their names.
        var processSamples: [ProcessID: Int] = [:]
        var processNames: [ProcessID: String] = [:]
        /// With --off-cpu: blocked seconds so far by reason.
        var blockedSeconds: [String: Double] = [:]
    }

    static let recentSlices = 300

    private let inner: Locked<Inner>
    private let windowsPath: String?
    /// Opened with the first window (a setup error leaves no output behind).
    private let windowsFile = Locked<FileDescriptor?>(nil)
    private let symbolizer: SharedSymbolizer
    /// Slices are merged by function and filed here, in order, so that
    /// symbolizing new frames never delays when the next slice is cut.
    private let filing = DispatchQueue(label: "perfprobe.sidecar.filing")

    init(phase: String, windowsFile: String?, symbolizer: SharedSymbolizer) {
        inner = Locked(Inner(phase: phase))
        windowsPath = windowsFile
        self.symbolizer = symbolizer
    }

    var phase: String {
        get { inner.withLock { $0.phase } }
    }

    func setPhase(_ name: String) {
        inner.withLock { $0.phase = name }
    }

    /// Files a slice under the current phase, soon: `settle` waits for it.
    func add(_ slice: Capture) {
        let phase = self.phase
        filing.async {
            let merged = self.symbolizer.mergeByFunction(slice)
            self.file(merged.capture, blocked: merged.blockedSeconds, under: phase)
        }
    }

    /// Waits for the slices added so far to be filed.
    func settle() {
        filing.sync {}
    }

    private func file(_ slice: Capture, blocked: [String: Double], under phase: String) {
        inner.withLock { state in
            // A phase named before anything was sampled under the previous one leaves no empty trace.
            if state.totals[phase] == nil && slice.samples == 0 && slice.durationSeconds < 0.05 { return }
            if state.totals[phase] == nil {
                state.phases.append(phase)
                state.totals[phase] = Capture()
            }
            state.totals[phase]!.absorb(slice)
            if !slice.counters.isEmpty {
                // Slices read counters since attach: a phase adds up what each of its slices counted.
                let before = Dictionary(state.counters.map { ($0.name, $0.value ?? 0) }, uniquingKeysWith: { a, _ in a })
                let counted = Dictionary((state.phaseCounters[phase] ?? []).map { ($0.name, $0.value ?? 0) }, uniquingKeysWith: { a, _ in a })
                state.phaseCounters[phase] = slice.counters.map { counter in
                    var counter = counter
                    if let value = counter.value { counter.value = (counted[counter.name] ?? 0) + (value &- (before[counter.name] ?? 0)) }
                    return counter
                }
                state.counters = slice.counters
            }
            state.recent.append(Slice(phase: phase, capture: slice))
            if state.recent.count > Self.recentSlices { state.recent.removeFirst(state.recent.count - Self.recentSlices) }
            state.samples += slice.samples
            for (stack, count) in slice.stacks { state.processSamples[stack.pid, default: 0] += count }
            state.processNames.merge(slice.processNames) { $1 }
            state.blockedSeconds.merge(blocked, uniquingKeysWith: +)
            state.lost = state.lost.addingSaturated(slice.lostRecords).addingSaturated(slice.lostSamples)
            if let point = slice.timeline.last { state.latest = point }
        }
    }

    /// The most recent slice.
    var latest: Capture? {
        settle()
        return inner.withLock { $0.recent.last?.capture }
    }

    /// The slices that ended after `nanoseconds`, merged.
    func merged(since nanoseconds: UInt64) -> Capture? {
        settle()
        return mergedFiled(since: nanoseconds)
    }

    private func mergedFiled(since nanoseconds: UInt64) -> Capture? {
        inner.withLock { state in
            let slices = state.recent.filter { $0.capture.endNanoseconds > nanoseconds }
            guard var merged = slices.first?.capture else { return nil }
            for slice in slices.dropFirst() { merged.absorb(slice.capture) }
            return merged
        }
    }

    /// Hands the slices that ended after `nanoseconds`, merged, and the
    /// current phase to `summarize` once the slices added so far are filed:
    /// off the caller's thread, so a slow summary never delays the next slice.
    func closeWindow(since nanoseconds: UInt64, _ summarize: @escaping @Sendable (Capture, String) -> Void) {
        let phase = self.phase
        filing.async {
            if let capture = self.mergedFiled(since: nanoseconds) { summarize(capture, phase) }
        }
    }

    /// Appends the window to the windows file, one JSON object a line.
    func addWindow(_ window: WindowSummary) {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        guard let line = try? encoder.encode(window) else { return }
        windowsFile.withLock { handle in
            if handle == nil, let windowsPath {
                try? Syscalls.makeDirectories(Syscalls.parentPath(windowsPath))
                handle = try? FileDescriptor.append(to: windowsPath)
            }
            try? handle?.write(line + Data("\n".utf8))
        }
    }

    var totals: (samples: Int, lost: UInt64, latest: TelemetryPoint?) {
        inner.withLock { ($0.samples, $0.lost, $0.latest) }
    }

    /// With --off-cpu: seconds blocked so far, by reason.
    var blockedSeconds: [String: Double] {
        inner.withLock { $0.blockedSeconds }
    }

    /// Samples so far of each process sampled, lowest pid first.
    var processes: [(pid: ProcessID, name: String, samples: Int)] {
        inner.withLock { state in
            state.processSamples.keys.sorted().map { ($0, state.processNames[$0] ?? "", state.processSamples[$0] ?? 0) }
        }
    }

    /// Per phase in order of first appearance, its merged capture with the
    /// counters it counted.
    var phaseCaptures: [(name: String, capture: Capture)] {
        settle()
        return inner.withLock { state in
            state.phases.compactMap { name in
                guard var capture = state.totals[name] else { return nil }
                capture.counters = state.phaseCounters[name] ?? []
                return (name, capture)
            }
        }
    }

    /// The counters of the whole run so far.
    var runCounters: [CounterReading] {
        settle()
        return inner.withLock { $0.counters }
    }
}

/// One window of the sidecar: its phase, time and the figures to compare.
public struct WindowSummary: Codable, Sendable {
    public var phase: String
    /// Seconds from the sidecar's start.
    public var start: Double
    public var end: Double
    public var samples: Int
    /// Average user + system CPU of the target, % of one core.
    public var cpuPercent: Double
    public var rssBytes: UInt64
    /// The hottest functions by self share.
    public var hotspots: [Hotspot]
}
