/// A file frames were in, as the report names it (`SymbolizedFrame.module`),
/// with its path and build-id: what pprof's mappings carry.
public struct ReportModule: Codable, Hashable, Sendable {
    public var name: String
    public var path: String
    /// Hex; nil when the file has none or could not be read.
    public var buildID: String?

    /// One per name (a library mapped by several processes is one module).
    static func list(_ modules: [Module], buildIDs: [String: String]) -> [ReportModule] {
        var seen = Set<String>()
        return modules.filter { seen.insert($0.name).inserted }
            .map { ReportModule(name: $0.name, path: $0.path, buildID: buildIDs[$0.path]) }
    }
}
