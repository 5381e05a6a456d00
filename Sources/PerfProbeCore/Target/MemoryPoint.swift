/// One reading of a process's memory, from /proc/PID/status and smaps_rollup.
public struct MemoryPoint: Codable, Hashable, Sendable {
    /// Seconds since sampling started.
    public var t: Double
    public var rssBytes: UInt64
    /// Resident anonymous memory (RssAnon): the heap and anonymous mappings,
    /// where leaked allocations live.
    public var anonymousBytes: UInt64
    /// Proportional set size: shared pages divided among their users.
    public var pssBytes: UInt64?
    /// VmData: the data segment and anonymous mappings, resident or not.
    public var dataBytes: UInt64
    /// VmHWM: the process's peak resident size so far.
    public var peakRssBytes: UInt64

    /// Builds a point from the parsed files; nil when status lacks the fields
    /// (a kernel thread, a zombie).
    public static func from(status: KeyValueFile, rollup: KeyValueFile?, t: Double) -> MemoryPoint? {
        guard let rss = status["VmRSS"], let anonymous = status["RssAnon"] else { return nil }
        return MemoryPoint(t: t, rssBytes: rss, anonymousBytes: anonymous, pssBytes: rollup?["Pss"],
                           dataBytes: status["VmData"] ?? 0, peakRssBytes: status["VmHWM"] ?? rss)
    }
}
