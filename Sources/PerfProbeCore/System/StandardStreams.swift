/// The agent's own stdout and stderr, written whole (a write cut short by a
/// signal goes on), and its exit.
public enum StandardStreams {
    public static func output(_ text: String) {
        try? Syscalls.writeAll(1, Array(text.utf8))
    }

    /// Writes to stdout; false once its reader is gone (EPIPE: SIGPIPE is
    /// ignored from the first call on, so a closed pipe ends a loop cleanly
    /// instead of killing the agent with probes still set in a target).
    static func outputUnlessClosed(_ text: String) -> Bool {
        Syscalls.ignoreBrokenPipe()
        return (try? Syscalls.writeAll(1, Array(text.utf8))) != nil
    }

    public static func error(_ text: String) {
        try? Syscalls.writeAll(2, Array(text.utf8))
    }

    public static func exit(_ code: Int32) -> Never {
        Syscalls.exit(code)
    }
}
