import FoundationEssentials
import Synchronization

/// The sidecar's one symbolizer, shared by its sampling loop and endpoint
/// threads: symbol tables are read once for the whole run instead of once a
/// window, and each slice's frames are merged by function as it arrives, so
/// the phase totals grow with the program's call paths, not with every
/// instruction address ever sampled.
final class SidecarSymbolizer: Sendable {
    private let symbolizer: Locked<Symbolizer>

    init(demangle: Bool) {
        symbolizer = Locked(Symbolizer(modules: [], demangle: demangle, wholeKernelTable: true))
    }

    /// `slice` with every frame moved to the start of its function.
    func mergeByFunction(_ slice: Capture) -> Capture {
        var merged = slice
        let stacks = slice.stacks
        merged.stacks = symbolizer.withLock { symbolizer in
            symbolizer.update(modules: slice.modules, perfMaps: slice.perfMaps)
            // New frames' symbols are read in one pass per module.
            let fresh = Set(stacks.keys.flatMap(\.frames)).filter { !symbolizer.knowsStart(of: $0) }
            symbolizer.prepare(fresh)
            var byFunction: [StackKey: Int] = [:]
            byFunction.reserveCapacity(stacks.count)
            for (key, count) in stacks {
                var key = key
                key.frames = key.frames.map { symbolizer.functionStart($0) }
                byFunction[key, default: 0] += count
            }
            return byFunction
        }
        return merged
    }

    func report(_ capture: Capture, target: ProfileReport.Target, configuration: SamplerConfiguration,
                startedAt: Date = Date(), perThread: Bool = false) -> ProfileReport {
        symbolizer.withLock { symbolizer in
            ProfileReport.build(capture: capture, target: target, configuration: configuration, startedAt: startedAt,
                                perThread: perThread, symbolizer: &symbolizer)
        }
    }
}
