/// The agent's own stdout and stderr, written whole (a write cut short by a
/// signal goes on), and its exit.
public enum StandardStreams {
    public static func output(_ text: String) {
        try? Syscalls.writeAll(1, Array(text.utf8))
    }

    public static func error(_ text: String) {
        try? Syscalls.writeAll(2, Array(text.utf8))
    }

    public static func exit(_ code: Int32) -> Never {
        Syscalls.exit(code)
    }
}
