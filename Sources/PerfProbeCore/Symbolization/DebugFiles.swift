/// Where a module's separate debug file may be (gdb's search order): by
/// build-id under /usr/lib/debug/.build-id, then by `.gnu_debuglink` next to
/// the module, in its .debug folder, and under /usr/lib/debug.
enum DebugFiles {
    static func candidates(buildID: [UInt8]?, debugLink: String?, modulePath: String) -> [String] {
        var paths: [String] = []
        if let buildID, buildID.count > 1 {
            let hex = buildID.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
            paths.append("/usr/lib/debug/.build-id/\(hex[0])/\(hex.dropFirst().joined()).debug")
        }
        if let debugLink, !debugLink.isEmpty {
            let directory = modulePath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            paths += ["\(directory)/\(debugLink)", "\(directory)/.debug/\(debugLink)", "/usr/lib/debug\(directory)/\(debugLink)"]
        }
        return paths
    }
}
