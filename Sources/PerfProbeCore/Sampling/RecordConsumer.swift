/// A stage fed by the sampling thread, on that thread only: it owns its
/// state and hands on its part of each slice and of the final capture. The
/// loop moves records; a new capability is a new consumer.
protocol RecordConsumer: AnyObject {
    /// Setup that needs the target's events open: an attached process's
    /// current mappings, names, probes.
    func attached(to pid: ProcessID) throws(SamplingError)
    /// Another process of the session found at attach (a descendant of the
    /// target, sampling a tree): its mappings and names.
    func joined(_ pid: ProcessID)
    /// Whether it drains a ring of its own (`takeOwnRecords`): such rings
    /// wake no one, so the loop drains a hundred times a second.
    var ownsRing: Bool { get }
    /// Takes the records of its own ring and keeps them, returning their
    /// times (CLOCK_MONOTONIC ns) in ring order. Called before the perf rings
    /// are drained, so that every mapping and fork they follow is drained
    /// too. `final`: the last take.
    func takeOwnRecords(final: Bool) -> [UInt64]
    /// Applies the next record taken, when its time comes among the perf records'.
    func consumeOwnRecord()
    /// Every perf record, in time order, to every consumer in registration order.
    func consume(_ record: PerfRecord)
    /// After a telemetry reading, once every record drained so far is consumed.
    func tick(_ telemetry: TelemetryReader)
    /// Sampling is stopping; the last records are still to come.
    func stop()
    /// Its part of a slice: what was gathered since the last, leaving it running.
    func slice(into capture: inout Capture)
    /// Its part of the final capture, after the last records.
    func finish(into capture: inout Capture)
}

extension RecordConsumer {
    func attached(to pid: ProcessID) throws(SamplingError) {}
    func joined(_ pid: ProcessID) {}
    var ownsRing: Bool { false }
    func takeOwnRecords(final: Bool) -> [UInt64] { [] }
    func consumeOwnRecord() {}
    func consume(_ record: PerfRecord) {}
    func tick(_ telemetry: TelemetryReader) {}
    func stop() {}
    func slice(into capture: inout Capture) {}
    func finish(into capture: inout Capture) { slice(into: &capture) }
}
