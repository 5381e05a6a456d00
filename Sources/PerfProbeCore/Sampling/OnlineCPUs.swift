/// The CPUs the kernel has online, from /sys/devices/system/cpu/online.
enum OnlineCPUs {
    static func read() -> [Int32] {
        let text = (try? Syscalls.readFile("/sys/devices/system/cpu/online")).map { String(decoding: $0, as: UTF8.self) } ?? "0"
        return parse(text)
    }

    /// Parses a CPU list such as "0-3,6,8-9".
    static func parse(_ text: String) -> [Int32] {
        text.trimmingNewline.split(separator: ",").flatMap { part -> [Int32] in
            let fields = part.split(separator: "-", omittingEmptySubsequences: false)
            let bounds = fields.compactMap { Int32($0) }
            guard bounds.count == fields.count else { return [] }
            switch bounds.count {
            case 1: return [bounds[0]]
            // Linux's NR_CPUS is at most 8192: a wider range is not a CPU list.
            case 2 where bounds[0] >= 0 && bounds[0] <= bounds[1] && bounds[1] < 8192: return Array(bounds[0]...bounds[1])
            default: return []
            }
        }
    }
}
