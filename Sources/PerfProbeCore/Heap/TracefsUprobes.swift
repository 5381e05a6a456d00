
/// The allocator's uprobes, defined through tracefs (`uprobe_events`) and
/// opened as tracepoint perf events — not as the uprobe PMU's events. An
/// inherited PMU uprobe is created anew at every clone of the target, and
/// the kernel then reads the probed file's path from the user pointer in
/// `perf_event_attr.config1` in the memory of the task that clones: a
/// pointer into the agent, which in the target points nowhere, so the
/// clone fails with EFAULT — every thread the target tried to start while
/// attach --heap was attached (a Python or C loop of thread starts: most
/// failed; Python's threading HTTP server answered nothing). A tracepoint
/// event names its probe by a number, and inherits like any other.
///
/// Owns its definitions, in the group `perfprobe_<agent pid>`: they are
/// removed by `removeAll` once the events using them are closed (the
/// kernel refuses before), or in deinit; those a killed agent left are
/// removed by the next one (unused, they cost nothing: no breakpoint is
/// placed without an open event).
final class TracefsUprobes: Sendable {
    struct Key: Hashable, Sendable {
        var path: String
        var offsets: [UInt64]
        var isReturn: Bool
    }

    let directory: String
    private let group: String
    private let defined = Locked<(next: Int, events: [Key: (name: String, id: UInt64)])>((0, [:]))

    private init(directory: String) {
        self.directory = directory
        group = "perfprobe_\(Syscalls.currentProcessID())"
    }

    deinit {
        removeAll()
    }

    /// Finds tracefs (mounting it where the system has not) and removes
    /// what dead agents left.
    static func open() throws(HeapProbeError) -> TracefsUprobes {
        let candidates = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        var directory = candidates.first { Syscalls.isWritable($0 + "/uprobe_events") }
        if directory == nil, Syscalls.mountTracefs(at: candidates[0]), Syscalls.isWritable(candidates[0] + "/uprobe_events") {
            directory = candidates[0]
        }
        guard let directory else { throw .uprobesUnavailable }
        let probes = TracefsUprobes(directory: directory)
        if let text = try? Syscalls.readFile(directory + "/uprobe_events") {
            for name in staleDefinitions(String(decoding: text, as: UTF8.self), alive: Syscalls.processExists) {
                _ = probes.write("-:" + name)
            }
        }
        return probes
    }

    /// The tracepoint id of an event of uprobes (or uretprobes) at `offsets`
    /// in the file at `path`, one event for all of them, defined on first use.
    func eventID(path: String, isReturn: Bool, offsets: [UInt64]) throws(HeapProbeError) -> UInt64 {
        let key = Key(path: path, offsets: offsets, isReturn: isReturn)
        let result: Result<UInt64, HeapProbeError> = defined.withLock { state in
            if let known = state.events[key] { return .success(known.id) }
            let name = "e\(state.next)"
            state.next += 1
            let qualified = "\(group)/\(name)"
            // tracefs splits a definition at white space: a path that could
            // break it (it comes from the target's maps) goes through a link.
            let link = Self.isPlain(path) ? nil : Self.link(to: path)
            guard let probed = link ?? (Self.isPlain(path) ? path : nil) else { return .failure(.probeRefused(path, "unusable path")) }
            defer { if let link { Syscalls.removeFile(link); Syscalls.removeDirectory(String(link.dropLast("/lib".count))) } }
            // Each further line with the same name adds a probe point to the event.
            for offset in offsets {
                if let failure = write("\(isReturn ? "r" : "p"):\(qualified) \(probed):0x\(String(offset, radix: 16))") {
                    _ = write("-:" + qualified)
                    return .failure(.probeRefused(path, failure))
                }
            }
            guard let text = try? Syscalls.readFile("\(directory)/events/\(qualified)/id"),
                  let id = UInt64(String(decoding: text, as: UTF8.self).trimmingNewline) else {
                _ = write("-:" + qualified)
                return .failure(.probeRefused(path, "no id for \(qualified)"))
            }
            state.events[key] = (name, id)
            return .success(id)
        }
        return try result.get()
    }

    /// Removes every definition; call after closing the events that use them.
    func removeAll() {
        defined.withLock { state in
            for (_, event) in state.events { _ = write("-:\(group)/\(event.name)") }
            state.events = [:]
        }
    }

    /// Appends one line to uprobe_events; the error's text when refused.
    private func write(_ line: String) -> String? {
        do {
            try FileDescriptor.appendToExisting(directory + "/uprobe_events").write((line + "\n").utf8)
            return nil
        } catch {
            return error.description
        }
    }

    /// Only characters tracefs reads as a path.
    static func isPlain(_ path: String) -> Bool {
        !path.isEmpty && path.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7a) || "/._-+@".utf8.contains(byte)
        }
    }

    /// A symbolic link with a plain name to `path`, in a private directory:
    /// tracefs resolves it once, when the probe is defined.
    private static func link(to path: String) -> String? {
        guard let directory = try? Syscalls.makeTemporaryDirectory("/tmp/perfprobe-uprobe-XXXXXX") else { return nil }
        guard Syscalls.symbolicLink(directory + "/lib", to: path) else {
            Syscalls.removeDirectory(directory)
            return nil
        }
        return directory + "/lib"
    }

    /// The definitions in `uprobe_events` (`p:GROUP/EVENT PATH:OFFSET`, one a
    /// line) whose group is another agent's that is no longer alive. Pure.
    static func staleDefinitions(_ text: String, alive: (Int32) -> Bool) -> [String] {
        text.split(separator: "\n").compactMap { line in
            let definition = line.prefix { $0 != " " }
            guard let colon = definition.firstIndex(of: ":") else { return nil }
            let name = definition[definition.index(after: colon)...]
            let parts = name.split(separator: "/")
            guard parts.count == 2, parts[0].hasPrefix("perfprobe_"), let pid = Int32(parts[0].dropFirst("perfprobe_".count)),
                  pid != Syscalls.currentProcessID(), !alive(pid) else { return nil }
            return String(name)
        }
    }
}
