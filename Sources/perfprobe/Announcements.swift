import PerfProbeCore

/// What perfprobe says on stderr while profiling runs (notes, the probes
/// set up), remembered so that a summary that also goes to stderr does not
/// say a note twice.
final class Announcements: Sendable {
    private let said = Locked<Set<String>>([])
    /// On a terminal, the live status line the notes are said above.
    let status: StatusLine?

    /// `progress`: the session's live counts, shown on a status line when stderr is a terminal.
    init(progress: SamplingProgress? = nil, duration: Double? = nil) {
        status = progress.flatMap { StatusLine(progress: $0, duration: duration) }
    }

    func say(_ line: String) {
        said.withLock { _ = $0.insert(line) }
        if let status {
            status.say("perfprobe: \(line)\n")
        } else {
            StandardStreams.error("perfprobe: \(line)\n")
        }
    }

    var lines: Set<String> {
        said.withLock { $0 }
    }
}
