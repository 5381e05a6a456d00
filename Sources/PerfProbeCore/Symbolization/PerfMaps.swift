/// /tmp/perf-PID.map of processes with JIT code, as read while they ran (a
/// JIT may delete it at exit): a capture's part.
public struct PerfMaps: CapturePart {
    public var maps: [ProcessID: PerfMap] = [:]

    public mutating func absorb(_ later: PerfMaps) {
        maps.merge(later.maps) { $1 }
    }
}

extension Capture {
    public var perfMaps: [ProcessID: PerfMap] {
        get { self[PerfMaps.self]?.maps ?? [:] }
        set { self[PerfMaps.self] = PerfMaps(maps: newValue) }
    }
}
