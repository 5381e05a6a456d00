import Synchronization

/// The process the sidecar follows. With `--match` it may be several in
/// turn: when one exits, its sampler is finished and the next process of
/// that name gets a new one. Slices of a later attachment are rebased onto
/// what earlier ones left (module indices after theirs, counters added to
/// their totals), so that every slice of the run adds up into one capture.
final class SidecarTarget: Sendable {
    /// One process followed: its sampler, and what the attachments before it left.
    struct Attachment: Sendable {
        var pid: ProcessID
        var sampler: Sampler
        var configuration: SamplerConfiguration
        /// The allocator probes are set (--heap on a known allocator).
        var tracesAllocations: Bool
        var exited: ExitFlag
        fileprivate var earlierModules: [Module] = []
        fileprivate var earlierCounters: [CounterReading] = []

        init(pid: ProcessID, sampler: Sampler, configuration: SamplerConfiguration, tracesAllocations: Bool, exited: ExitFlag) {
            self.pid = pid
            self.sampler = sampler
            self.configuration = configuration
            self.tracesAllocations = tracesAllocations
            self.exited = exited
        }
    }

    /// Set from the sampling thread when the process is found gone.
    final class ExitFlag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .releasing) }
        var isSet: Bool { value.load(ordering: .acquiring) }
    }

    private struct Inner {
        var current: Attachment?
        var attachments = 0
        var earlierModules: [Module] = []
        var earlierCounters: [CounterReading] = []
    }

    private let inner = Locked(Inner())

    /// Follows `attachment` (after the previous one has been finished).
    func attach(_ attachment: Attachment) {
        inner.withLock { state in
            var attachment = attachment
            attachment.earlierModules = state.earlierModules
            attachment.earlierCounters = state.earlierCounters
            state.current = attachment
            state.attachments += 1
        }
    }

    var current: Attachment? { inner.withLock { $0.current } }
    var attachments: Int { inner.withLock { $0.attachments } }

    /// What was sampled since the previous slice; nil while detached.
    func takeSlice() -> Capture? {
        guard let attachment = current else { return nil }
        return attachment.sampler.takeSlice().map { Self.rebase($0, onto: attachment) }
    }

    /// Stops sampling the current process and returns the rest of its capture.
    func finish() -> Capture? {
        guard let attachment = inner.withLock({ state in defer { state.current = nil }; return state.current }) else { return nil }
        let last = Self.rebase(attachment.sampler.finish(), onto: attachment)
        inner.withLock { state in
            state.earlierModules = last.modules
            if !last.counters.isEmpty { state.earlierCounters = last.counters }
        }
        return last
    }

    private static func rebase(_ slice: Capture, onto attachment: Attachment) -> Capture {
        guard !attachment.earlierModules.isEmpty || !attachment.earlierCounters.isEmpty else { return slice }
        var rebased = slice
        let base = Int32(attachment.earlierModules.count)
        let shiftFrames = { (frames: [Frame]) in frames.map { $0.module >= 0 ? Frame(module: $0.module + base, address: $0.address) : $0 } }
        let shift = { (key: StackKey) in StackKey(pid: key.pid, tid: key.tid, frames: shiftFrames(key.frames)) }
        rebased.modules = attachment.earlierModules + slice.modules
        rebased.stacks = Dictionary(slice.stacks.map { (shift($0.key), $0.value) }, uniquingKeysWith: +)
        rebased.heap?.stacks = slice.heap?.stacks.map { HeapCapture.Stack(pid: $0.pid, frames: shiftFrames($0.frames), stats: $0.stats) } ?? []
        let before = Dictionary(attachment.earlierCounters.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        rebased.counters = slice.counters.map { counter in
            var counter = counter
            if let value = counter.value, let earlier = before[counter.name] ?? nil { counter.value = value + earlier }
            return counter
        }
        return rebased
    }
}
