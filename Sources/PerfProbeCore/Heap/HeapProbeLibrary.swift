import FoundationEssentials

/// The in-process heap probe (probes/heapprobe), preloaded into commands
/// under `run --heap`. Built next to the perfprobe binary by probes/Makefile.
enum HeapProbeLibrary {
    static let fileName = "libperfprobe-heap.so"

    /// PERFPROBE_HEAP_PROBE, or the file next to this executable.
    static func locate() throws(HeapProbeError) -> String {
        if let path = ProcessInfo.processInfo.environment["PERFPROBE_HEAP_PROBE"] {
            guard FileManager.default.fileExists(atPath: path) else { throw .probeLibraryMissing(path) }
            return path
        }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let path = executable.deletingLastPathComponent().appendingPathComponent(fileName).path
        guard FileManager.default.fileExists(atPath: path) else { throw .probeLibraryMissing(path) }
        return path
    }

    /// The command's environment with the probe preloaded and told where to send.
    static func environment(_ base: [String: String], library: String, fd: Int32, sampleBytes: Int) -> [String: String] {
        var environment = base
        environment["LD_PRELOAD"] = [library, base["LD_PRELOAD"]].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ":")
        environment["PERFPROBE_HEAP_FD"] = String(fd)
        environment["PERFPROBE_HEAP_SAMPLE_BYTES"] = String(sampleBytes)
        return environment
    }
}
