/// The kernel's uprobe PMU (/sys/bus/event_source/devices/uprobe): its
/// perf_event_open type, and the config bit that makes a uprobe a uretprobe.
struct UprobePMU: Hashable, Sendable {
    var type: UInt32
    var returnProbeBit: UInt64

    static let directory = "/sys/bus/event_source/devices/uprobe"

    static func read() throws(HeapProbeError) -> UprobePMU {
        func text(_ name: String) -> String? {
            (try? Syscalls.readFile("\(directory)/\(name)")).map { String(decoding: $0, as: UTF8.self) }
        }
        guard let typeText = text("type"), let pmu = parse(type: typeText, retprobeFormat: text("format/retprobe") ?? "config:0")
        else { throw .uprobesUnavailable }
        return pmu
    }

    /// Parses `type` ("8\n") and `format/retprobe` ("config:0\n"). Pure.
    static func parse(type: String, retprobeFormat: String) -> UprobePMU? {
        guard let value = UInt32(type.trimmingNewline) else { return nil }
        let format = retprobeFormat.trimmingNewline
        guard format.hasPrefix("config:"), let bit = UInt64(format.dropFirst("config:".count)), bit < 64 else { return nil }
        return UprobePMU(type: value, returnProbeBit: 1 << bit)
    }
}
