/// One line of /proc/PID/maps, or one PERF_RECORD_MMAP2: a range of the
/// address space backed by `path` from file offset `fileOffset`.
public struct MemoryMapping: Hashable, Sendable {
    public var start: UInt64
    public var end: UInt64
    public var fileOffset: UInt64
    public var executable: Bool
    public var inode: UInt64
    /// A file path, or a pseudo-name such as `[vdso]`, `[heap]`, `[stack]`; empty when anonymous.
    public var path: String

    public init(start: UInt64, end: UInt64, fileOffset: UInt64, executable: Bool, inode: UInt64, path: String) {
        self.start = start
        self.end = end
        self.fileOffset = fileOffset
        self.executable = executable
        self.inode = inode
        self.path = path
    }

    public func contains(_ address: UInt64) -> Bool { address >= start && address < end }

    /// The mappings /proc/PID/maps lists now (`self` for perfprobe's own);
    /// none when it cannot be read. The one reader of that file.
    static func read(of pid: ProcessID?) -> [MemoryMapping] {
        let text = (try? Syscalls.readFile("/proc/\(pid.map { String($0.rawValue) } ?? "self")/maps")) ?? []
        return parseProcMaps(Substring(decoding: text, as: UTF8.self))
    }

    /// Parses the text of /proc/PID/maps. Malformed lines are skipped.
    public static func parseProcMaps(_ text: Substring) -> [MemoryMapping] {
        text.split(separator: "\n").compactMap(parseLine)
    }

    static func parseLine(_ line: Substring) -> MemoryMapping? {
        // "start-end perms offset dev inode   path" — the path may contain spaces.
        var fields: [Substring] = []
        var rest = line[...]
        for _ in 0..<5 {
            rest = rest.drop(while: { $0 == " " })
            guard let space = rest.firstIndex(of: " ") else {
                if !rest.isEmpty { fields.append(rest); rest = "" }
                break
            }
            fields.append(rest[..<space])
            rest = rest[space...]
        }
        guard fields.count == 5 else { return nil }
        let range = fields[0].split(separator: "-")
        guard range.count == 2,
              let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
              let offset = UInt64(fields[2], radix: 16), let inode = UInt64(fields[4]) else { return nil }
        var path = String(rest.drop(while: { $0 == " " }))
        if path.hasSuffix(" (deleted)") { path.removeLast(" (deleted)".count) }
        return MemoryMapping(start: start, end: end, fileOffset: offset,
                             executable: fields[1].dropFirst(2).first == "x", inode: inode, path: path)
    }
}
