/// A command started by perfprobe and held before its exec (reading a
/// gate pipe) until sampling is set up, so counting starts at its first
/// instruction. Owns its ends of the gate and of the exec-status pipe:
/// ended without `open`, the child reads EOF and exits without running.
struct GatedChild: ~Copyable {
    let pid: Int32
    private let gate: FileDescriptor
    private let status: FileDescriptor

    /// `output`: nil, the command keeps the terminal; an fd, it gets a
    /// process group of its own, stdin from /dev/null and its output there.
    init(path: String, arguments: [String], environment: [String: String], output: Int32? = nil) throws(Errno) {
        let child = try Syscalls.spawnGated(path: path, arguments: arguments, environment: environment.map { "\($0.key)=\($0.value)" },
                                            nice: AgentPriority.original, output: output ?? -1)
        pid = child.pid
        gate = FileDescriptor(child.gate)
        status = FileDescriptor(child.status)
    }

    /// Lets it exec; throws the errno of a failed exec.
    consuming func open() throws(Errno) {
        try Syscalls.openGate(gate.raw, status: status.raw)
    }

    /// Ends it without exec: it sees its gate close and exits.
    consuming func cancel() {}
}
