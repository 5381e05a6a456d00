/// Follows the `/tmp/perf-PID.map` of each process with JIT code as the
/// JIT appends to it, reading only what was added since the last look.
/// The file is the target's: it is opened without following a symlink or
/// blocking on a FIFO, must be a regular file owned by the process's user
/// or root (another user could plant names), and is read up to `maxBytes`.
struct PerfMapFollower {
    /// Far above what V8 or the JVM write for a long service (a few MiB);
    /// past it the entries read so far are kept and the report says so.
    static let maxBytes = 64 << 20
    /// Read per look, so that one look cannot stall the sampling thread.
    static let maxBytesPerRead = 4 << 20

    private struct Followed {
        var device: UInt64 = 0
        var inode: UInt64 = 0
        var offset = 0
        var map = PerfMap()
    }

    private var followed: [ProcessID: Followed] = [:]
    /// Why a process's map was not read, said once each.
    private(set) var notes: [ProcessID: String] = [:]

    var maps: [ProcessID: PerfMap] { followed.mapValues(\.map) }

    mutating func poll(_ pid: ProcessID) {
        let name = "/tmp/perf-\(pid).map"
        // Through the process's root first: a container's /tmp is its own.
        for path in ["/proc/\(pid)/root" + name, name] {
            switch read(pid, path: path) {
            case .read, .refused: return
            case .absent: continue
            }
        }
    }

    private enum Look { case read, absent, refused }

    private mutating func read(_ pid: ProcessID, path: String) -> Look {
        guard let uid = Syscalls.owner(of: "/proc/\(pid)") else { return .absent }
        do {
            try follow(pid, file: UntrustedFile(path: path, owners: [uid, 0]), path: path)
            return .read
        } catch {
            if case .unreadable(let errno) = error, errno == .noSuchFile { return .absent }
            if notes[pid] == nil { notes[pid] = "\(path) not read: \(error.description)" }
            return .refused
        }
    }

    private mutating func follow(_ pid: ProcessID, file: borrowing UntrustedFile, path: String) {
        var state = followed[pid] ?? Followed()
        // A new file, or one cut short: start again.
        if state.device != file.device || state.inode != file.inode || file.size < UInt64(state.offset) {
            state = Followed(device: file.device, inode: file.inode)
        }
        let available = Int(clamping: min(file.size, UInt64(Self.maxBytes))) - state.offset
        if available > 0, let bytes = try? file.read(at: state.offset, count: min(available, Self.maxBytesPerRead)) {
            var (entries, consumed) = PerfMapFile.parseLines(bytes[...])
            // One line longer than a whole read: skip it, or the follower would stall on it.
            if consumed == 0 && bytes.count == Self.maxBytesPerRead {
                consumed = bytes.count
                entries = []
            }
            state.map.entries += entries
            state.offset += consumed
        }
        if file.size >= UInt64(Self.maxBytes), !state.map.truncated {
            state.map.truncated = true
            notes[pid] = "\(path) is over \(Self.maxBytes >> 20) MiB: JIT names past that are not read"
        }
        followed[pid] = state
    }
}
