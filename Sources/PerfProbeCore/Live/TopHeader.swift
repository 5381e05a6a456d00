/// What `top` says of the target above its table.
public struct TopHeader: Sendable {
    public var pid: ProcessID
    public var name: String
    /// "running", "exited", …
    public var state: String
    /// Seconds since the target started; nil when unknown.
    public var age: Double?
    /// Seconds since sampling started.
    public var sampled: Double
    public var frequency: Int
    public var interval: Double
    /// Over the last interval, in % of a core.
    public var cpuUser: Double
    public var cpuSystem: Double
    public var rssBytes: UInt64
    public var anonymousBytes: UInt64?
    /// Bytes a second over the last minute, nil until two readings.
    public var rssTrend: Double?
    public var anonymousTrend: Double?
    public var threads: Int
    public var samplesPerSecond: Double
    public var lost: UInt64
    public var rootedPercent: Double

    public init(pid: ProcessID, name: String, state: String = "running", age: Double? = nil, sampled: Double = 0, frequency: Int = 99,
                interval: Double = 1, cpuUser: Double = 0, cpuSystem: Double = 0, rssBytes: UInt64 = 0, anonymousBytes: UInt64? = nil,
                rssTrend: Double? = nil, anonymousTrend: Double? = nil, threads: Int = 0, samplesPerSecond: Double = 0, lost: UInt64 = 0,
                rootedPercent: Double = 0) {
        self.pid = pid
        self.name = SymbolName.sanitized(name)
        self.state = state
        self.age = age
        self.sampled = sampled
        self.frequency = frequency
        self.interval = interval
        self.cpuUser = cpuUser
        self.cpuSystem = cpuSystem
        self.rssBytes = rssBytes
        self.anonymousBytes = anonymousBytes
        self.rssTrend = rssTrend
        self.anonymousTrend = anonymousTrend
        self.threads = threads
        self.samplesPerSecond = samplesPerSecond
        self.lost = lost
        self.rootedPercent = rootedPercent
    }

    var lines: [String] {
        let mib = { (bytes: UInt64) in Double(bytes) / 1_048_576 }
        let trend = { (rate: Double?) in rate.map { String(printf: " (%+.2f MiB/s)", $0 / 1_048_576) } ?? "" }
        let age = self.age.map { String(printf: ", up %@", TopScreen.duration($0)) } ?? ""
        var memory = String(printf: "RSS %.1f MiB%@", mib(rssBytes), trend(rssTrend))
        if let anonymousBytes { memory += String(printf: " · anon %.1f MiB%@", mib(anonymousBytes), trend(anonymousTrend)) }
        return [
            String(printf: "pid %d (%@) %@%@ · sampled %@ at %d Hz, every %@ s",
                   Int(pid.rawValue), name, state, age, TopScreen.duration(sampled), frequency, TopScreen.number(interval)),
            String(printf: "CPU %.1f%% user, %.1f%% system · %@ · %d thread%@",
                   cpuUser, cpuSystem, memory, threads, threads == 1 ? "" : "s"),
            String(printf: "%.0f samples/s · %llu lost · stacks to root %.0f%%", samplesPerSecond, lost, rootedPercent),
        ]
    }
}
