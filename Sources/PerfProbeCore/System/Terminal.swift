import FoundationEssentials

/// Whether a stream is a terminal that takes cursor control, and its width.
public enum Terminal {
    /// A tty whose TERM names a terminal other than "dumb".
    public static func isInteractive(_ fd: Int32) -> Bool {
        guard Syscalls.isTerminal(fd), let term = ProcessInfo.processInfo.environment["TERM"] else { return false }
        return !term.isEmpty && term != "dumb"
    }

    static func columns(_ fd: Int32) -> Int? {
        Syscalls.terminalColumns(fd)
    }
}
