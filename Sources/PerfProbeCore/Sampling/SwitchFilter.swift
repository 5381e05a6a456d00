/// `--off-cpu`'s bound on a switch storm: a BPF program on the
/// context-switches event that counts every switch-out and keeps the stack
/// sample of one in N, N set five times a second so that at most
/// `stacksPerSecond` are taken (every one below that). The switch records
/// still time every interval: the report spreads the time of the unsampled
/// ones over the thread's sampled stacks. Owns the program and its map.
struct SwitchFilter: ~Copyable {
    private var owned: FileDescriptors
    private let settings: Int32
    let program: Int32
    private var lastCount: UInt64 = 0
    private var lastTime: UInt64
    private(set) var keepOneIn: UInt64 = 1

    /// Stack samples a second the filter lets through.
    static let stacksPerSecond: UInt64 = 2000

    init() throws(Errno) {
        var owned = FileDescriptors()
        let settings = owned.adopt(try Syscalls.bpfArrayCreate(entries: 2))
        program = owned.adopt(try Syscalls.switchFilterProgram(settings: settings))
        self.settings = settings
        self.owned = owned
        lastTime = Syscalls.monotonicNanoseconds()
    }

    /// Sets N from the switch-outs counted since the last call (at least
    /// 0.2 s ago): a storm's first moments cost what they cost.
    mutating func adapt() {
        let now = Syscalls.monotonicNanoseconds()
        guard now &- lastTime >= 200_000_000, let count = Syscalls.bpfArrayGet(settings, key: 1) else { return }
        let perSecond = Double(count &- lastCount) / (Double(now &- lastTime) / 1e9)
        lastCount = count
        lastTime = now
        let wanted = max(1, UInt64(exactly: (perSecond / Double(Self.stacksPerSecond)).rounded(.up)) ?? 1)
        if wanted != keepOneIn, (try? Syscalls.bpfArraySet(settings, key: 0, wanted)) != nil { keepOneIn = wanted }
    }
}
