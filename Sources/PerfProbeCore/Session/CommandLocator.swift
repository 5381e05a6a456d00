import FoundationEssentials

/// Finds the executable a command name refers to, as execvp would.
enum CommandLocator {
    static func resolve(_ name: String) throws(SessionError) -> String {
        let files = FileManager.default
        if name.contains("/") {
            guard files.fileExists(atPath: name) else { throw .commandNotFound(name) }
            return name
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if files.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw .commandNotFound(name)
    }
}
