import Dispatch
import FoundationEssentials
import Synchronization

/// The one line `run` and `attach` keep up to date on a terminal's stderr
/// while they sample (elapsed, samples, lost, the target's CPU and RSS, the
/// time left), rewritten in place about once a second and cleared before
/// anything else is said there. Nothing at all when stderr is not an
/// interactive terminal.
public final class StatusLine: Sendable {
    private let progress: SamplingProgress
    private let duration: Double?
    private let eraser: [UInt8]
    private let started = Syscalls.monotonicNanoseconds()
    /// Whether the line is up, and stopped for good.
    private let state = Locked((shown: false, stopped: false))
    private let stopSignal = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    /// Nil when stderr is not an interactive terminal (or lacks `cr`/`el`).
    public init?(progress: SamplingProgress, duration: Double?) {
        guard Terminal.isInteractive(2), let eraser = CursesScreen.lineEraser(2) else { return nil }
        self.progress = progress
        self.duration = duration
        self.eraser = eraser
        Syscalls.startThread(named: "perfprobe-status") { [self] in
            while stopSignal.wait(timeout: .now() + 1) == .timedOut { redraw() }
            done.signal()
        }
    }

    /// Says `line` on stderr above the status line.
    public func say(_ line: String) {
        state.withLock { state in
            write(eraser + Array(line.utf8))
            state.shown = false
        }
    }

    /// Clears the line; it is not drawn again.
    public func stop() {
        let first = state.withLock { state -> Bool in
            defer { state.stopped = true }
            return !state.stopped
        }
        guard first else { return }
        stopSignal.signal()
        done.wait()
        state.withLock { state in
            if state.shown { write(eraser) }
            state.shown = false
        }
    }

    private func redraw() {
        let text = Self.text(progress.current, elapsed: Double(Syscalls.monotonicNanoseconds() - started) / 1e9, duration: duration)
        // A line wider than the terminal wraps, and `cr` no longer reaches its start.
        let width = max((Terminal.columns(2) ?? 80) - 1, 10)
        state.withLock { state in
            guard !state.stopped else { return }
            write(eraser + Array(String(text.prefix(width)).utf8))
            state.shown = true
        }
    }

    private func write(_ bytes: [UInt8]) {
        try? Syscalls.writeAll(2, bytes)
    }

    static func text(_ counts: SamplingProgress.Counts, elapsed: Double, duration: Double?) -> String {
        var parts = [String(printf: "perfprobe: %@", TopScreen.duration(elapsed)), "\(counts.samples) samples", "\(counts.lost) lost"]
        if let latest = counts.latest {
            parts.append(String(printf: "target CPU %.0f%%", latest.cpuUserPercent + latest.cpuSystemPercent))
            parts.append(String(printf: "RSS %.1f MiB", Double(latest.rssBytes) / 1_048_576))
        }
        if let duration { parts.append(String(printf: "%@ left", TopScreen.duration(max(duration - elapsed, 0)))) }
        return parts.joined(separator: " · ")
    }
}
