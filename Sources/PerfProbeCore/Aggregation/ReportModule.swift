/// A file frames were in, as the report names it (`SymbolizedFrame.module`),
/// with its path and build-id: what pprof's mappings carry.
public struct ReportModule: Codable, Hashable, Sendable {
    /// Where a module's code lies as its file places it: virtual addresses
    /// [start, limit) from file offset `offset`.
    public struct Segment: Codable, Hashable, Sendable {
        public var start: UInt64
        public var limit: UInt64
        public var offset: UInt64
    }

    public var name: String
    public var path: String
    /// Hex; nil when the file has none or could not be read.
    public var buildID: String?
    /// The executable segment (nil in reports of earlier versions, and for
    /// the kernel, JIT code and unreadable files).
    public var text: Segment?

    /// One per name (a library mapped by several processes is one module).
    static func list(_ modules: [Module], buildIDs: [String: String], textSegments: [String: ElfFile.LoadSegment]) -> [ReportModule] {
        var seen = Set<String>()
        return modules.filter { seen.insert($0.name).inserted }.map { module in
            ReportModule(name: module.name, path: module.path, buildID: buildIDs[module.path], text: textSegments[module.path].map {
                Segment(start: $0.virtualAddress, limit: $0.virtualAddress &+ $0.memorySize, offset: $0.offset)
            })
        }
    }
}
