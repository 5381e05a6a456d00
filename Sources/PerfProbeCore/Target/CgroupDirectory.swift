/// A cgroup v2 directory: every process of a container or a systemd unit
/// (`--cgroup`), or the cgroup a process runs in. Per-CPU perf events opened
/// on it (PERF_FLAG_PID_CGROUP) sample only its tasks and those of the
/// cgroups below it.
public struct CgroupDirectory: Sendable, Equatable, CustomStringConvertible {
    /// The directory, under a cgroup2 mount.
    public let path: String
    /// The cgroup as /proc/PID/cgroup names it ("/system.slice/x.service").
    public let name: String

    public var description: String { name }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case noCgroup2Mount
        case notFound(String)
        case empty(String)

        public var description: String {
            switch self {
            case .noCgroup2Mount: "this machine has no cgroup v2 (cgroup2) mount"
            case .notFound(let argument):
                "\(SymbolName.sanitized(argument)) is neither a directory under a cgroup2 mount nor a cgroup path under one"
            case .empty(let name): "cgroup \(SymbolName.sanitized(name)) holds no process"
            }
        }
    }

    /// A cgroup2 mount: where it is, and which cgroup it shows as its root
    /// (not "/" inside a container's cgroup namespace or for a bind mount).
    struct Mount: Equatable {
        var point: String
        var root: String
    }

    /// The cgroup2 mounts in /proc/self/mountinfo text. Pure.
    static func mounts(mountinfo: Substring) -> [Mount] {
        mountinfo.split(separator: "\n").compactMap { line in
            // ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
            let fields = line.split(separator: " ")
            guard fields.count >= 7, let dash = fields.firstIndex(of: "-"), dash >= 6, dash + 1 < fields.count,
                  fields[dash + 1] == "cgroup2" else { return nil }
            return Mount(point: unescaped(fields[4]), root: unescaped(fields[3]))
        }
    }

    /// The unified hierarchy's line ("0::/PATH") of /proc/PID/cgroup text. Pure.
    static func unifiedName(procCgroup: Substring) -> String? {
        for line in procCgroup.split(separator: "\n") where line.hasPrefix("0::/") {
            return String(line.dropFirst(3))
        }
        return nil
    }

    /// mountinfo writes space, tab, newline and backslash as \ooo.
    private static func unescaped(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
               let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `name` joined to the file system under `mount`, when the mount shows it.
    private static func directory(of name: String, under mount: Mount) -> String? {
        let root = mount.root == "/" ? "" : mount.root
        guard name == root || name.hasPrefix(root + "/") else { return nil }
        let rest = name.dropFirst(root.count)
        return (mount.point == "/" ? "" : mount.point) + (rest.isEmpty ? "" : String(rest))
    }

    /// No ".", ".." or empty components: the path stays inside its mount.
    private static func isPlain(_ path: String) -> Bool {
        path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            .allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." } || path == "/"
    }

    private static func readMounts() throws(Failure) -> [Mount] {
        let text = (try? Syscalls.readFile("/proc/self/mountinfo")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let found = mounts(mountinfo: Substring(text))
        if found.isEmpty { throw .noCgroup2Mount }
        return found
    }

    /// `argument`: a directory under a cgroup2 mount
    /// ("/sys/fs/cgroup/system.slice/x.service"), or a cgroup path as
    /// /proc/PID/cgroup writes it ("/system.slice/x.service").
    public static func resolve(_ argument: String) throws(Failure) -> CgroupDirectory {
        let mounts = try readMounts()
        var trimmed = argument
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard trimmed.hasPrefix("/"), isPlain(trimmed) else { throw .notFound(argument) }
        for mount in mounts {
            let point = mount.point == "/" ? "" : mount.point
            guard trimmed == mount.point || trimmed.hasPrefix(point + "/") else { continue }
            let rest = trimmed.dropFirst(point.count)
            let root = mount.root == "/" ? "" : mount.root
            if Syscalls.isDirectory(trimmed) {
                return CgroupDirectory(path: trimmed, name: rest.isEmpty && root.isEmpty ? "/" : root + rest)
            }
        }
        for mount in mounts {
            if let path = directory(of: trimmed, under: mount), Syscalls.isDirectory(path) {
                return CgroupDirectory(path: path.isEmpty ? "/" : path, name: trimmed)
            }
        }
        throw .notFound(argument)
    }

    /// The cgroup v2 directory `pid` runs in, when a mount shows it.
    public static func of(_ pid: ProcessID) -> CgroupDirectory? {
        guard let text = try? Syscalls.readFile("/proc/\(pid)/cgroup"),
              let name = unifiedName(procCgroup: Substring(decoding: text, as: UTF8.self)), isPlain(name),
              let mounts = try? readMounts() else { return nil }
        for mount in mounts {
            if let path = directory(of: name, under: mount), Syscalls.isDirectory(path) {
                return CgroupDirectory(path: path.isEmpty ? "/" : path, name: name)
            }
        }
        return nil
    }

    /// The root of the hierarchy holds every process not placed elsewhere.
    public var isRoot: Bool { name == "/" }

    /// Directories walked at most: a cgroup tree is the kernel's, but a
    /// machine may hold tens of thousands of them.
    static let directoryLimit = 10_000

    /// The processes in this cgroup and in the cgroups below it, lowest pid first.
    public var processes: [ProcessID] {
        var found = Set<ProcessID>()
        var pending = [path]
        var walked = 0
        while let directory = pending.popLast(), walked < Self.directoryLimit {
            walked += 1
            if let text = try? Syscalls.readFile(directory + "/cgroup.procs") {
                for line in text.split(separator: UInt8(ascii: "\n")) {
                    if let pid = Int32(String(decoding: line, as: UTF8.self)), pid > 0 { found.insert(ProcessID(pid)) }
                }
            }
            for entry in Syscalls.listDirectory(directory) where Syscalls.isDirectory(directory + "/" + entry) {
                pending.append(directory + "/" + entry)
            }
        }
        return found.sorted()
    }

    /// The process of the cgroup that started first (never perfprobe).
    public var oldestProcess: ProcessID? {
        let own = Syscalls.currentProcessID()
        return processes.filter { $0.rawValue != own }.compactMap { pid -> (ProcessID, UInt64)? in
            guard let stat = (try? Syscalls.readFile("/proc/\(pid)/stat")).flatMap({ ProcessStat.parse(Substring(decoding: $0, as: UTF8.self)) }),
                  !stat.isKernelThread, stat.state != "Z" else { return nil }
            return (pid, stat.startTicks)
        }.min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
    }
}
