/// Finds processes by name in /proc, for `sidecar --match`.
public enum ProcessFinder {
    /// The process whose comm or command file name is `name`, the lowest pid
    /// (usually the oldest) when several match; never perfprobe itself, nor
    /// a process that has exited and is waiting to be reaped.
    public static func oldest(named name: String) -> ProcessID? {
        all(named: name).first
    }

    /// Every such process, lowest pid first.
    public static func all(named name: String) -> [ProcessID] {
        let own = Syscalls.currentProcessID()
        return Syscalls.listDirectory("/proc").compactMap(Int32.init).sorted().filter { pid in
            guard pid != own, let stat = (try? Syscalls.readFile("/proc/\(pid)/stat")).flatMap({ ProcessStat.parse(Substring(decoding: $0, as: UTF8.self)) }),
                  !stat.isKernelThread, stat.state != "Z" else { return false }
            let command = commandLine(of: ProcessID(pid)).first.map { $0.split(separator: "/").last.map(String.init) ?? "" }
            return stat.command == name || command == name
        }.map { ProcessID($0) }
    }

    /// The arguments a process was started with (empty when it is gone or a kernel thread).
    static func commandLine(of pid: ProcessID) -> [String] {
        (try? Syscalls.readFile("/proc/\(pid)/cmdline")).map { $0.split(separator: 0).map { String(decoding: $0, as: UTF8.self) } } ?? []
    }

    /// Whether a program exec'd under comm `comm` (its file name, cut to
    /// the kernel's 15 bytes) is one named `name`.
    static func execName(_ comm: String, matches name: String) -> Bool {
        comm == String(decoding: Array(name.utf8.prefix(15)), as: UTF8.self)
    }
}
