import FoundationEssentials

/// speedscope.json (speedscope's file format): one `sampled` profile per
/// thread and one of all threads merged; stacks root first, weighted by
/// their sample counts.
public struct SpeedscopeFormat: ReportFormat {
    public let fileName = "speedscope.json"
    public let name = "speedscope"

    public init() {}

    struct File: Codable {
        struct Frame: Codable {
            var name: String
            var file: String
        }

        struct Shared: Codable {
            var frames: [Frame]
        }

        struct Profile: Codable {
            var type = "sampled"
            var name: String
            var unit = "none"
            var startValue = 0
            var endValue: Int
            var samples: [[Int]]
            var weights: [Int]
        }

        var schema = "https://www.speedscope.app/file-format-schema.json"
        var shared: Shared
        var profiles: [Profile]
        var name: String
        var activeProfileIndex = 0
        var exporter = "perfprobe"

        enum CodingKeys: String, CodingKey {
            case schema = "$schema", shared, profiles, name, activeProfileIndex, exporter
        }
    }

    public func render(_ report: ProfileReport) throws -> Data? {
        let frames = report.profile.functions.map { File.Frame(name: $0.function, file: $0.module) }
        func profile(_ name: String, _ stacks: [Profile.Stack]) -> File.Profile {
            File.Profile(name: name, endValue: stacks.reduce(0) { $0 + $1.count },
                         samples: stacks.map { $0.frames.reversed() }, weights: stacks.map(\.count))
        }
        var profiles = [profile("all threads", report.profile.stacks)]
        for thread in report.threads {
            profiles.append(profile("\(thread.name) (tid \(thread.tid))", report.profile.stacks.filter { $0.tid == thread.tid }))
        }
        let file = File(shared: File.Shared(frames: frames), profiles: profiles,
                        name: "\(report.target.name) (pid \(report.target.pid))")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(file)
    }
}
