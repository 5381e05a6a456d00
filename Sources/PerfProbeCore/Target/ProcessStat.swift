/// The fields of /proc/PID/stat perfprobe uses (proc(5)).
public struct ProcessStat: Hashable, Sendable {
    public var command: String
    public var state: Character
    public var parent: Int32
    /// PF_* flags; `PF_KTHREAD` marks a kernel thread.
    public var flags: UInt64
    public var minorFaults: UInt64
    public var majorFaults: UInt64
    /// In clock ticks (`sysconf(_SC_CLK_TCK)`).
    public var userTicks: UInt64
    public var systemTicks: UInt64
    public var threads: Int
    public var residentPages: UInt64
    /// When it started, in clock ticks since boot.
    public var startTicks: UInt64

    static let kernelThreadFlag: UInt64 = 0x0020_0000

    public var isKernelThread: Bool { flags & Self.kernelThreadFlag != 0 }

    /// Seconds since perfprobe's own process started (its loading included).
    static func secondsSinceOwnStart() -> Double? {
        guard let bytes = try? Syscalls.readFile("/proc/self/stat"),
              let stat = parse(Substring(decoding: bytes, as: UTF8.self)) else { return nil }
        return stat.age
    }

    /// Seconds since the process started.
    var age: Double {
        let started = Double(startTicks) / Double(max(Syscalls.clockTicksPerSecond(), 1))
        return max(Double(Syscalls.bootTimeNanoseconds()) / 1e9 - started, 0)
    }

    /// Parses /proc/PID/stat; the command sits in parentheses and may contain spaces or ')'.
    public static func parse(_ text: Substring) -> ProcessStat? {
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close else { return nil }
        let command = String(text[text.index(after: open)..<close])
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state) of proc(5).
        func field(_ number: Int) -> UInt64? {
            let index = number - 3
            return index < fields.count ? UInt64(fields[index]) : nil
        }
        guard fields.count > 21, let state = fields[0].first,
              let parent = field(4), let flags = field(9), let minor = field(10), let major = field(12),
              let user = field(14), let system = field(15), let threads = field(20), let start = field(22), let rss = field(24)
        else { return nil }
        return ProcessStat(command: command, state: state, parent: Int32(truncatingIfNeeded: parent), flags: flags,
                           minorFaults: minor, majorFaults: major, userTicks: user, systemTicks: system,
                           threads: Int(clamping: threads), residentPages: rss, startTicks: start)
    }
}
