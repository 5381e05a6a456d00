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
    /// different allocator, or another mount namespace's copy). Throws when
    /// the kernel refuses the probes' programs: sampling would too.
    static func measure(plan: AllocatorProbePlan, uprobes: TracefsUprobes) throws(HeapProbeError) -> ProbeCalibration? {
        guard let malloc = plan.sites.firstIndex(where: { $0.function.symbol == "malloc" }),
              let free = plan.sites.firstIndex(where: { $0.function.symbol == "free" }),
              let target = Syscalls.fileIdentity(plan.openPath),
              MemoryMapping.read(of: nil).contains(where: {
                  $0.executable && $0.path.hasPrefix("/") && Syscalls.fileIdentity($0.path).map { $0 == target } == true
              })
        else { return nil }

        func timed(_ chosen: [(site: Int, offset: Int, isReturn: Bool)]) throws(HeapProbeError) -> Double? {
            // The best of three: the VM's other tenants only ever add time.
            func best() -> Double? {
                let times = (0..<3).compactMap { _ in Syscalls.timeAllocateAndFree(library: plan.openPath, count: calls, size: 64) }
                return times.min().map { Double($0) / Double(calls) }
            }
            if chosen.isEmpty { return best() }
            var probes: [AllocatorProbePrograms.Probe] = []
            for probe in chosen {
                let site = plan.sites[probe.site]
                guard let id = try? uprobes.eventID(path: plan.openPath, isReturn: probe.isReturn,
                                                    offsets: [site.fileOffset + UInt64(probe.offset)]) else { return nil }
                // Free as sampling has it: its hits mostly not recorded.
                let role: AllocatorProbePrograms.Probe.Role = probe.isReturn ? .return
                    : site.function.role == .free ? .freeEntry(pointer: site.function.pointer ?? .rdi) : .entry
                probes.append(AllocatorProbePrograms.Probe(tracepoint: id, role: role))
            }
            // As sampling has them: every allocating entry recorded, no return chosen.
            let ring: BPFRecordRing
            do {
                ring = try BPFRecordRing(bytes: 4 << 20)
            } catch {
                throw .bpf("creating the allocator probes' ring buffer", error.description)
            }
            var programs = try AllocatorProbePrograms(probes, ring: ring, stackSize: 8)
            do {
                try programs.attach(probes.indices, pid: ProcessID(Syscalls.currentProcessID()))
            } catch {
                throw .bpf("setting the allocator probes' programs", error.description)
            }
            return best()
        }
        guard let bare = try timed([]),
              let withMalloc = try timed([(malloc, 0, false), (malloc, 0, true)]),
              let withFree = try timed([(free, plan.sites[free].placement, false)]) else { return nil }
        let atEntry = plan.sites[free].placement == 0 ? nil : try timed([(free, 0, false)]).map { $0 - bare }
        return ProbeCalibration(mallocNanoseconds: withMalloc - bare, freeNanoseconds: withFree - bare,
                                freeAtEntryNanoseconds: atEntry)
    }
}
