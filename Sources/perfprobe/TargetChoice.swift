import ArgumentParser
import PerfProbeCore

/// The process `attach` and `sidecar` are given: a pid; with --match the
/// oldest process of that name; with --cgroup the oldest process of that
/// cgroup (a usage error when there is none).
struct TargetChoice {
    var pid: ProcessID
    var cgroup: CgroupDirectory?

    /// Exactly one of the three ways to name a target. `pidFlag`: how the
    /// command spells the pid in its usage ("PID" or "--pid PID").
    static func validate(pid: Int32?, match: String?, cgroup: String?, pidFlag: String) throws {
        guard [pid != nil, match != nil, cgroup != nil].filter({ $0 }).count == 1 else {
            throw ValidationError("give the target with exactly one of \(pidFlag), --match NAME or --cgroup PATH")
        }
        if let pid, pid <= 0 { throw ValidationError("the pid must be a positive number, got \(pid)") }
    }

    static func resolve(pid: Int32?, match: String?, cgroup: String?) throws -> TargetChoice {
        if let pid { return TargetChoice(pid: ProcessID(pid)) }
        if let cgroup {
            let directory: CgroupDirectory
            do {
                directory = try CgroupDirectory.resolve(cgroup)
            } catch {
                throw ValidationError("--cgroup: \(error)")
            }
            guard let oldest = directory.oldestProcess else {
                throw ValidationError("--cgroup: \(CgroupDirectory.Failure.empty(directory.name))")
            }
            return TargetChoice(pid: oldest, cgroup: directory)
        }
        guard let match, let found = ProcessFinder.oldest(named: match) else {
            throw ValidationError("no process named \(match ?? "")")
        }
        return TargetChoice(pid: found)
    }
}
