import FoundationEssentials
import Synchronization

/// One symbolizer for a session that reports slice by slice (the sidecar,
/// shared by its sampling loop and endpoint threads; `top`): symbol tables
/// are read once for the whole run instead of once a window, and each
/// slice's frames are merged by source line as it arrives, so totals grow
/// with the program's call paths, not with every instruction address ever
/// sampled.
final class SharedSymbolizer: Sendable {
    private let symbolizer: Locked<Symbolizer>

    init(settings: SymbolizerSettings) {
        symbolizer = Locked(Symbolizer(modules: [], settings: settings, longLived: true))
    }

    /// `slice` with every frame (CPU and off-CPU) moved to the start of its
    /// source line (of its function without DWARF), and with --off-cpu its
    /// blocked seconds by reason.
    func mergeByFunction(_ slice: Capture) -> (capture: Capture, blockedSeconds: [String: Double]) {
        var merged = slice
        var blocked: [String: Double] = [:]
        symbolizer.withLock { symbolizer in
            symbolizer.update(modules: slice.modules, perfMaps: slice.perfMaps)
            // New frames' symbols are read in one pass per module.
            let offCPUFrames = slice.offCPU?.blocked.keys.flatMap(\.stack.frames) ?? []
            let fresh = Set(slice.stacks.keys.flatMap(\.frames) + offCPUFrames).filter { !symbolizer.knowsStart(of: $0) }
            symbolizer.prepare(fresh)
            func byFunction(_ key: StackKey) -> StackKey {
                var key = key
                key.frames = key.frames.map { symbolizer.lineStart($0) }
                return key
            }
            var stacks: [StackKey: Int] = [:]
            stacks.reserveCapacity(slice.stacks.count)
            for (key, count) in slice.stacks { stacks[byFunction(key), default: 0] += count }
            merged.stacks = stacks
            guard var offCPU = slice.offCPU else { return }
            var intervals: [OffCPUCapture.Key: OffCPUCapture.Figures] = [:]
            for (key, figures) in OffCPUReport.spreadingUnsampled(offCPU.blocked) {
                let kernel = key.stack.frames.prefix { $0.module == Frame.kernel }.map { symbolizer.symbolize($0).function }
                blocked[OffCPUReport.reason(of: key, kernelFunctions: kernel), default: 0] += Double(figures.nanoseconds) / 1e9
                var merged = key
                merged.stack = byFunction(key.stack)
                intervals[merged, default: .init()].absorb(figures)
            }
            offCPU.blocked = intervals
            merged.offCPU = offCPU
        }
        return (merged, blocked)
    }

    /// A merged slice's stacks as functions, and its off-CPU stacks' functions with their blocked nanoseconds.
    func profile(_ merged: Capture) -> (profile: Profile, blocked: [(tid: ThreadID, frames: [SymbolizedFrame], nanoseconds: UInt64)]) {
        symbolizer.withLock { symbolizer in
            symbolizer.update(modules: merged.modules, perfMaps: merged.perfMaps)
            let profile = Profile.build(from: merged, symbolizer: &symbolizer)
            let blocked = (merged.offCPU?.blocked ?? [:]).map { key, figures in
                (key.stack.tid, key.stack.frames.flatMap { symbolizer.locate($0).levels.map(\.frame) }, figures.nanoseconds)
            }
            return (profile, blocked)
        }
    }

    /// The live heap of `capture` (the latest slice carries all of it), `seconds` after sampling started.
    func heap(_ capture: Capture, seconds: Double) -> HeapReport? {
        guard let heap = capture.heap else { return nil }
        return symbolizer.withLock { symbolizer in
            symbolizer.update(modules: capture.modules, perfMaps: capture.perfMaps)
            return HeapReport.build(heap, duration: seconds, ended: false, name: { symbolizer.locate($0).levels.map(\.frame) })
        }
    }

    func report(_ capture: Capture, target: ProfileReport.Target, configuration: SamplerConfiguration,
                startedAt: Date = Date(), perThread: Bool = false) -> ProfileReport {
        symbolizer.withLock { symbolizer in
            ProfileReport.build(capture: capture, target: target, configuration: configuration, startedAt: startedAt,
                                perThread: perThread, symbolizer: &symbolizer)
        }
    }
}
