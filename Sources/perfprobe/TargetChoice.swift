import ArgumentParser
import PerfProbeCore

/// The process `attach` and `sidecar` are given: a pid, or with --match
/// the oldest process of that name (a usage error when there is none).
enum TargetChoice {
    static func resolve(pid: Int32?, match: String?) throws -> ProcessID {
        if let pid { return ProcessID(pid) }
        guard let match, let found = ProcessFinder.oldest(named: match) else {
            throw ValidationError("no process named \(match ?? "")")
        }
        return found
    }
}
