/// An interned code location: a module and an address within it. Samples are
/// aggregated on these; symbols are looked up once per unique frame afterwards.
public struct Frame: Hashable, Sendable, Codable {
    /// Index into the capture's module list, or `kernel`/`unknown`.
    public var module: Int32
    /// File offset within the module's file; the absolute address for kernel,
    /// JIT and unknown frames (a lookup address: see `UnwoundStack`).
    public var address: UInt64

    public static let kernel: Int32 = -1
    public static let unknown: Int32 = -2

    public init(module: Int32, address: UInt64) {
        self.module = module
        self.address = address
    }
}

/// A unique stack of one thread: frames leaf first, kernel frames before user ones.
public struct StackKey: Hashable, Sendable {
    public var pid: ProcessID
    public var tid: ThreadID
    public var frames: [Frame]

    public init(pid: ProcessID, tid: ThreadID, frames: [Frame]) {
        self.pid = pid
        self.tid = tid
        self.frames = frames
    }
}
