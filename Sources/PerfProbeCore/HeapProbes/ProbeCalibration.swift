/// What a probed allocator call costs the target, measured at start on the
/// agent's own calls into the same library file (uprobes live on the file,
/// so the breakpoints, and their cost, are the target's): malloc/free pairs
/// timed bare and with each probe on, on this thread only.
public struct ProbeCalibration: Codable, Hashable, Sendable {
    /// Added nanoseconds per malloc call with its entry and return probes.
    public var mallocNanoseconds: Double
    /// Added nanoseconds per free call with its probe where it is placed …
    public var freeNanoseconds: Double
    /// … and with it on free's first instruction, when placed elsewhere.
    public var freeAtEntryNanoseconds: Double?

    static let calls = 10_000

    /// Nil when the agent does not map the target's allocator library (a
    /// different allocator, or another mount namespace's copy).
    static func measure(plan: AllocatorProbePlan, uprobes: TracefsUprobes) -> ProbeCalibration? {
        guard let malloc = plan.sites.firstIndex(where: { $0.function.symbol == "malloc" }),
              let free = plan.sites.firstIndex(where: { $0.function.symbol == "free" }),
              let target = Syscalls.fileIdentity(plan.openPath),
              MemoryMapping.read(of: nil).contains(where: {
                  $0.executable && $0.path.hasPrefix("/") && Syscalls.fileIdentity($0.path).map { $0 == target } == true
              })
        else { return nil }

        let tid = Syscalls.currentThreadID()
        func timed(_ probes: [(site: Int, offset: Int, isReturn: Bool)]) -> Double? {
            var fds: [Int32] = []
            defer { fds.forEach(Syscalls.close) }
            // Returns as sampling has them: nearly every one turned away by the selection.
            var selection: ReturnSelection?
            for probe in probes {
                let site = plan.sites[probe.site]
                guard let id = try? uprobes.eventID(path: plan.openPath, isReturn: probe.isReturn,
                                                    offsets: [site.fileOffset + UInt64(probe.offset)]) else { return nil }
                let spec = EventSpec.uprobe(tracepoint: id, layout: probe.isReturn ? .allocationReturn(8) : .allocationEntry,
                                            period: probe.isReturn ? 1 << 62 : 1, ringBytes: 0, disabled: false,
                                            name: site.function.symbol)
                guard let fd = try? spec.open(tid: tid, cpu: -1) else { return nil }
                fds.append(fd)
                if probe.isReturn {
                    do {
                        selection = try ReturnSelection(spec, pid: tid.rawValue)
                        try? Syscalls.perfEventSetPeriod(fd, 1)
                    } catch {}
                }
            }
            // The best of three: the VM's other tenants only ever add time.
            let times = (0..<3).compactMap { _ in Syscalls.timeAllocateAndFree(library: plan.openPath, count: calls, size: 64) }
            _ = selection
            return times.min().map { Double($0) / Double(calls) }
        }
        guard let bare = timed([]),
              let withMalloc = timed([(malloc, 0, false), (malloc, 0, true)]),
              let withFree = timed([(free, plan.sites[free].placement, false)]) else { return nil }
        let atEntry = plan.sites[free].placement == 0 ? nil : timed([(free, 0, false)]).map { $0 - bare }
        return ProbeCalibration(mallocNanoseconds: withMalloc - bare, freeNanoseconds: withFree - bare,
                                freeAtEntryNanoseconds: atEntry)
    }
}
