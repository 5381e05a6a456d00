import PerfProbeCore

/// What perfprobe says on stderr while profiling runs (notes, the probes
/// set up), remembered so that a summary that also goes to stderr does not
/// say a note twice.
final class Announcements: Sendable {
    private let said = Locked<Set<String>>([])

    func say(_ line: String) {
        said.withLock { _ = $0.insert(line) }
        StandardStreams.error("perfprobe: \(line)\n")
    }

    var lines: Set<String> {
        said.withLock { $0 }
    }
}
