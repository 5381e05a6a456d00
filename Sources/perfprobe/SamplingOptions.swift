import ArgumentParser
import PerfProbeCore

extension SamplingEvent: ExpressibleByArgument {}

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

    @Flag(help: "Also print the top functions of each thread.")
    var perThread = false

    func validate() throws {
        guard frequency > 0 else { throw ValidationError("--frequency must be a positive number of Hz, got \(frequency)") }
        if let limit = Self.maxSampleRate, frequency > limit {
            throw ValidationError("--frequency \(frequency) is above kernel.perf_event_max_sample_rate (\(limit))")
        }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be a positive number of seconds") }
    }

    var profileOptions: ProfileOptions {
        ProfileOptions(event: event, frequency: frequency, duration: duration, includeKernel: !noKernel, perThread: perThread)
    }

    private static var maxSampleRate: Int? {
        (try? String(contentsOfFile: "/proc/sys/kernel/perf_event_max_sample_rate", encoding: .utf8))
            .flatMap { Int($0.filter(\.isNumber)) }
    }
}
