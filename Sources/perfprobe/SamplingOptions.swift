import ArgumentParser
import PerfProbeCore

extension SamplingEvent: ExpressibleByArgument {}
extension UnwindMode: ExpressibleByArgument {}

/// Options shared by `run` and `attach`.
struct SamplingOptions: ParsableArguments {
    @Option(help: "Samples per second per thread.")
    var frequency: Int = 99

    @Option(help: "Stop profiling after this many seconds.")
    var duration: Double?

    @Option(help: "The event that drives sampling.")
    var event: SamplingEvent = .cpuClock

    @Flag(help: "Sample user stacks only (no kernel frames).")
    var noKernel = false

    @Option(help: "How to walk user stacks: dwarf (CFI over a copy of the stack), fp (frame pointers), auto (dwarf, continued by frame pointers past the copy).")
    var unwind: UnwindMode = .auto

    @Option(help: "Bytes of user stack copied per sample for DWARF unwinding (8 to 65528, a multiple of 8; the default is the kernel's most, which deep C++ and Swift stacks need).")
    var stackSize: UInt32 = SamplerConfiguration.defaultStackSize

    @Flag(help: "Also print the top functions of each thread.")
    var perThread = false

    @Flag(help: "Show linker symbol names as they are (no C++, Rust or Swift demangling).")
    var noDemangle = false

    @Flag(help: "Frames by function only: do not expand the functions inlined at each address (DWARF).")
    var noInline = false

    @Flag(help: "Read no DWARF line tables: frames without file:line (faster on modules with large debug info).")
    var noLines = false

    @Flag(help: "Track memory growth (RSS, anonymous memory), sample allocations by stack (run: a preloaded probe; attach: uprobes on the allocator) and write test-performance-memory-results.json.")
    var heap = false

    @Flag(help: "Also record where threads wait: every switch-out with its kernel and user stack, every switch-in; writes offcpu.folded, offcpu.pb.gz, offcpu.svg and wall.folded, and blocked time by reason (sleep, lock, io, poll, page_fault, preempted, other).")
    var offCPU = false

    @Option(help: "With run --heap: mean bytes between sampled allocations.")
    var heapSampleBytes: Int = 512 * 1024

    @Option(help: "With attach --heap: allocation stacks sampled per second at most (every call is counted; the sampled ones are weighted).")
    var heapFrequency = 1000

    @Option(help: "With attach --heap: trace allocations for this many seconds, then only frees (bounds the cost to the target).")
    var heapWindow: Double?

    @Flag(help: "With attach --heap: record allocations only once the process's memory is seen growing (the probes cost their traps from the start).")
    var heapArmOnGrowth = false

    @Option(help: "With attach --heap: an allocator definition file (see probes/allocators/glibc.alloc), tried before the bundled ones.")
    var allocator: [String] = []

    func validate() throws {
        guard frequency > 0 else { throw ValidationError("--frequency must be a positive number of Hz, got \(frequency)") }
        if let limit = Self.maxSampleRate, frequency > limit {
            throw ValidationError("--frequency \(frequency) is above kernel.perf_event_max_sample_rate (\(limit))")
        }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be a positive number of seconds") }
        guard heapFrequency >= 1 else { throw ValidationError("--heap-frequency must be at least 1, got \(heapFrequency)") }
        if let heapWindow, !(heapWindow > 0) { throw ValidationError("--heap-window must be a positive number of seconds") }
        guard heapSampleBytes >= 1 else { throw ValidationError("--heap-sample-bytes must be at least 1, got \(heapSampleBytes)") }
        // The kernel's limit: a sample record's size is a 16-bit field.
        guard stackSize >= 8, stackSize <= 65528, stackSize % 8 == 0 else {
            throw ValidationError("--stack-size must be a multiple of 8 from 8 to 65528, got \(stackSize)")
        }
    }

    var profileOptions: ProfileOptions {
        var options = ProfileOptions(event: event, frequency: frequency, duration: duration, includeKernel: !noKernel,
                                     unwind: unwind, stackSize: stackSize, perThread: perThread,
                                     symbols: SymbolizerSettings(demangle: !noDemangle, inlines: !noInline, lines: !noLines),
                                     heap: heap, heapSampleBytes: heapSampleBytes)
        options.heapFrequency = heapFrequency
        options.heapWindow = heapWindow
        options.heapArmOnGrowth = heapArmOnGrowth
        options.allocatorFiles = allocator
        options.offCPU = offCPU
        return options
    }

    private static var maxSampleRate: Int? {
        (try? String(contentsOfFile: "/proc/sys/kernel/perf_event_max_sample_rate", encoding: .utf8))
            .flatMap { Int($0.filter(\.isNumber)) }
    }
}
