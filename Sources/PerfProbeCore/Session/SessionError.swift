/// Why a profiling session could not start. All are setup errors (exit 2).
public enum SessionError: Error, Sendable, CustomStringConvertible {
    case commandNotFound(String)
    case commandNotExecutable(String, Errno)
    case noSuchProcess(Int32)
    case notUserProcess(Int32, String)
    case cannotProfileSelf
    case sampling(SamplingError)
    case launch(String, Errno)
    case heapProbes(HeapProbeError)
    /// `top` cannot take the terminal as a full screen.
    case terminal(String)

    public var description: String {
        switch self {
        case .commandNotFound(let name):
            "command not found: \(name) (give a path, or put it on PATH)"
        case .commandNotExecutable(let path, let errno):
            "cannot execute \(path): \(errno)"
        case .noSuchProcess(let pid):
            "no process with pid \(pid): check the pid (ps -e) and that it is still running"
        case .notUserProcess(let pid, let name):
            "pid \(pid) (\(name)) is a kernel thread, not a user process: give the pid of a user-space process"
        case .cannotProfileSelf:
            "perfprobe cannot attach to itself"
        case .sampling(let error):
            error.description
        case .launch(let what, let errno):
            "\(what): \(errno)"
        case .heapProbes(let error):
            error.description
        case .terminal(let why):
            why
        }
    }
}
