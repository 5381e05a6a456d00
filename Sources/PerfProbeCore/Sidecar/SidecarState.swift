import Foundation
import Synchronization

/// What the sidecar has gathered, shared by its sampling loop and its
/// endpoint threads: the current phase, per phase the merged slices, the
/// last five minutes of slices (for `/debug/pprof/profile?seconds=N`).
/// Everything is bounded: stacks by the program's distinct stacks,
/// timelines by thinning, slices by count; window summaries go to a file as
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
        var countersAtStart: [String: [CounterReading]] = [:]
        var recent: [Slice] = []
        var samples = 0
        var lost: UInt64 = 0
        var latest: TelemetryPoint?
    }

    static let recentSlices = 300

    private let inner: Mutex<Inner>
    private let windowsPath: String?
    /// Opened with the first window (a setup error leaves no output behind).
    private let windowsFile = Mutex<FileHandle?>(nil)

    init(phase: String, windowsFile: String?) {
        inner = Mutex(Inner(phase: phase))
        windowsPath = windowsFile
    }

    var phase: String {
        get { inner.withLock { $0.phase } }
    }

    func setPhase(_ name: String) {
        inner.withLock { $0.phase = name }
    }

    /// Files a slice under the current phase.
    func add(_ slice: Capture) {
        inner.withLock { state in
            let phase = state.phase
            // A phase named before anything was sampled under the previous one leaves no empty trace.
            if state.totals[phase] == nil && slice.samples == 0 && slice.durationSeconds < 0.05 { return }
            if state.totals[phase] == nil {
                state.phases.append(phase)
                state.countersAtStart[phase] = state.recent.last?.capture.counters ?? []
                state.totals[phase] = Capture()
            }
            state.totals[phase]!.absorb(slice)
            state.recent.append(Slice(phase: phase, capture: slice))
            if state.recent.count > Self.recentSlices { state.recent.removeFirst(state.recent.count - Self.recentSlices) }
            state.samples += slice.samples
            state.lost += slice.lostRecords + slice.lostSamples
            if let point = slice.timeline.last { state.latest = point }
        }
    }

    /// The most recent slice.
    var latest: Capture? { inner.withLock { $0.recent.last?.capture } }

    /// The slices that ended after `nanoseconds`, merged.
    func merged(since nanoseconds: UInt64) -> Capture? {
        inner.withLock { state in
            let slices = state.recent.filter { $0.capture.endNanoseconds > nanoseconds }
            guard var merged = slices.first?.capture else { return nil }
            for slice in slices.dropFirst() { merged.absorb(slice.capture) }
            return merged
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
                try? FileManager.default.createDirectory(atPath: (windowsPath as NSString).deletingLastPathComponent,
                                                         withIntermediateDirectories: true)
                FileManager.default.createFile(atPath: windowsPath, contents: nil)
                handle = FileHandle(forWritingAtPath: windowsPath)
            }
            handle?.write(line + Data("\n".utf8))
        }
    }

    var totals: (samples: Int, lost: UInt64, latest: TelemetryPoint?) {
        inner.withLock { ($0.samples, $0.lost, $0.latest) }
    }

    /// Per phase in order of first appearance, its merged capture with the
    /// counters turned into what the phase itself counted.
    var phaseCaptures: [(name: String, capture: Capture)] {
        inner.withLock { state in
            state.phases.compactMap { name in
                guard var capture = state.totals[name] else { return nil }
                let before = Dictionary((state.countersAtStart[name] ?? []).map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
                capture.counters = capture.counters.map { counter in
                    var counter = counter
                    if let value = counter.value, let start = before[counter.name] ?? nil { counter.value = value &- start }
                    return counter
                }
                return (name, capture)
            }
        }
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
