/// The consumers a sampling run's records go to, in the order each record
/// visits them: the stack walker first (a mapping is known before the
/// samples that need it), the task names, the CPU stacks, the off-CPU intervals, the heap path the
/// configuration chose, the JIT maps. Made on the sampling thread.
enum SamplingPipeline {
    typealias Factory = @Sendable (NoteBook, UInt64) throws(SamplingError) -> [any RecordConsumer]

    /// `heapChannel`: `run --heap`'s ring and mean sampling interval;
    /// `heapProbes`: `attach --heap`'s allocator probes; `progress`: where
    /// live counts are published.
    static func consumers(for configuration: SamplerConfiguration, heapChannel: (fd: Int32, sampleBytes: Int)? = nil,
                          heapProbes: HeapProbeSettings? = nil, progress: SamplingProgress? = nil) -> Factory {
        { notes, start throws(SamplingError) in
            let walker = try StackWalker(mode: configuration.unwind)
            var consumers: [any RecordConsumer] = [walker, TaskNames(), CPUStackAggregator(walker: walker)]
            if configuration.offCPU {
                let children = !configuration.perCPU || configuration.tree || configuration.wholeCgroup
                consumers.append(try OffCPUAggregator(walker: walker, scope: configuration.scope, unwind: configuration.unwind,
                                                      followChildren: children))
            }
            if let channel = heapChannel {
                consumers.append(try HeapProbeReader(channel: channel, walker: walker, notes: notes, start: start))
            }
            if let settings = heapProbes {
                consumers.append(try AllocatorProbeController(settings, pid: configuration.scope.pid, stackSize: configuration.stackSize,
                                                              tickInterval: configuration.telemetryIntervalNanoseconds,
                                                              walker: walker, notes: notes, start: start))
            }
            consumers.append(JITMapReader(walker: walker))
            if let progress { consumers.append(ProgressMeter(progress)) }
            return consumers
        }
    }
}
