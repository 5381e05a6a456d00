/// A kernel task id (`pid_t`), typed by what it names so that a thread's id
/// cannot stand where a process's is wanted.
public struct TaskID<Kind: TaskKind>: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public init(from decoder: Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int32.self) }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

public protocol TaskKind: Sendable {}
/// A thread group, named by its leader's id.
public enum ProcessTask: TaskKind {}
/// One thread (`gettid()`).
public enum ThreadTask: TaskKind {}

public typealias ProcessID = TaskID<ProcessTask>
public typealias ThreadID = TaskID<ThreadTask>
