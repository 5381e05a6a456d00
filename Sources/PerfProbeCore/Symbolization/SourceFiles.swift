/// Source text for hot lines, read from this machine's files. The paths
/// come from the target's DWARF: only regular files named like source
/// (so that a path DWARF points at /etc/shadow reads nothing), of bounded
/// size, are read, each once; lines are cut short and sanitized.
struct SourceFiles {
    static let maxFileBytes = 16 << 20
    static let maxLineCharacters = 240
    static let sourceExtensions: Set<String> = [
        "c", "h", "cc", "cpp", "cxx", "c++", "hh", "hpp", "hxx", "h++", "inc", "inl", "ipp", "tcc", "def",
        "m", "mm", "s", "S", "asm", "swift", "rs", "go", "zig", "d", "f", "f90", "py", "pyx", "y", "l",
    ]

    private var files: [String: [Substring]?] = [:]

    /// Line `line` (from 1) of `path`, or nil.
    mutating func line(_ line: Int, of path: String) -> String? {
        if files[path] == nil { files[path] = .some(Self.read(path)) }
        guard let lines = files[path] ?? nil, line >= 1, line <= lines.count else { return nil }
        let text = lines[line - 1].replacing("\t", with: "    ").replacing("\r", with: "")
        let cut = text.count > Self.maxLineCharacters ? String(text.prefix(Self.maxLineCharacters)) + "…" : String(text)
        return SymbolName.sanitized(cut)
    }

    private static func read(_ path: String) -> [Substring]? {
        let name = path.split(separator: "/").last ?? ""
        guard path.hasPrefix("/"), let dot = name.lastIndex(of: "."),
              sourceExtensions.contains(String(name[name.index(after: dot)...])),
              let fd = try? Syscalls.openForReading(path) else { return nil }
        let descriptor = FileDescriptor(fd)
        guard let status = try? Syscalls.fileStatus(descriptor.raw), status.regular, status.size <= UInt64(maxFileBytes),
              let bytes = try? Syscalls.read(descriptor.raw, at: 0, count: Int(status.size)) else { return nil }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    }
}
