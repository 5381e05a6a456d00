/// The address spaces of the session's processes, kept current from MMAP,
/// COMM (exec) and FORK records, and the DWARF unwinder that walks stacks
/// against them. Registered first, so a mapping is known before any later
/// record needs it; the CPU and heap consumers walk their samples here.
final class StackWalker: RecordConsumer {
    private var spaces = AddressSpaces()
    private var unwinder: DwarfUnwinder

    init(mode: UnwindMode) throws(SamplingError) {
        unwinder = try DwarfUnwinder(mode: mode)
    }

    var modules: [Module] { spaces.modules }
    /// Processes with executable anonymous memory (JIT code).
    var jitProcesses: Set<ProcessID> { spaces.jitProcesses }

    /// Whether a process of the session was seen (by its records or its maps).
    func knows(_ pid: ProcessID) -> Bool { spaces.knows(pid) }

    func attached(to pid: ProcessID) throws(SamplingError) {
        joined(pid)
    }

    func joined(_ pid: ProcessID) {
        spaces.load(procMaps: MemoryMapping.read(of: pid), for: pid)
    }

    func consume(_ record: PerfRecord) {
        switch record {
        case .mmap(let pid, _, _, let mapping): spaces.map(mapping, in: pid)
        case .comm(let pid, _, _, _, true): spaces.exec(pid)
        case .fork(let pid, let parentPID, _, _, _): spaces.fork(pid, from: parentPID)
        default: break
        }
    }

    func unwind(_ sample: SampleRecord) -> UnwoundStack {
        unwinder.unwind(sample, in: &spaces)
    }

    /// User addresses of `pid` as frames (module and file offset).
    func frames(_ addresses: [UInt64], in pid: ProcessID) -> [Frame] {
        addresses.map { spaces.frame(for: $0, in: pid) }
    }

    func slice(into capture: inout Capture) {
        capture.modules = spaces.modules
        capture.openModuleFiles = unwinder.openFiles
    }

    func finish(into capture: inout Capture) {
        slice(into: &capture)
        capture.unwinding.modulesWithoutUnwindInfo = unwinder.modulesWithoutUnwindInfo.sorted()
    }
}
