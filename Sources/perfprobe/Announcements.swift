import Foundation

/// What perfprobe says on stderr while profiling runs (notes, the probes
/// set up), remembered so that a summary that also goes to stderr does not
/// say a note twice.
final class Announcements: @unchecked Sendable {
    private let lock = NSLock()
    private var said: Set<String> = []

    func say(_ line: String) {
        lock.withLock { _ = said.insert(line) }
        FileHandle.standardError.write(Data("perfprobe: \(line)\n".utf8))
    }

    var lines: Set<String> {
        lock.withLock { said }
    }
}
