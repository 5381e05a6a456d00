import CPerfProbe

/// Counting (not sampling) perf events for the whole run: software counters
/// always, hardware ones where a PMU exists. Owns its fds; closes them in `deinit`.
struct CounterGroup: ~Copyable {
    struct Counter: Sendable {
        let name: String
        let type: perf_type_id
        let config: UInt64
    }

    static let all: [Counter] = [
        Counter(name: "task-clock", type: PERF_TYPE_SOFTWARE, config: UInt64(PERF_COUNT_SW_TASK_CLOCK.rawValue)),
        Counter(name: "context-switches", type: PERF_TYPE_SOFTWARE, config: UInt64(PERF_COUNT_SW_CONTEXT_SWITCHES.rawValue)),
        Counter(name: "cpu-migrations", type: PERF_TYPE_SOFTWARE, config: UInt64(PERF_COUNT_SW_CPU_MIGRATIONS.rawValue)),
        Counter(name: "page-faults", type: PERF_TYPE_SOFTWARE, config: UInt64(PERF_COUNT_SW_PAGE_FAULTS.rawValue)),
        Counter(name: "cycles", type: PERF_TYPE_HARDWARE, config: UInt64(PERF_COUNT_HW_CPU_CYCLES.rawValue)),
        Counter(name: "instructions", type: PERF_TYPE_HARDWARE, config: UInt64(PERF_COUNT_HW_INSTRUCTIONS.rawValue)),
        Counter(name: "cache-misses", type: PERF_TYPE_HARDWARE, config: UInt64(PERF_COUNT_HW_CACHE_MISSES.rawValue)),
    ]

    /// Per counter, the fds counting it (one per followed thread); nil when unavailable.
    private var fds: [[Int32]?]
    /// Every fd in `fds`.
    private var owned = FileDescriptors()
    /// Why a counter is unavailable, when it is not simply unsupported.
    private var denied: [Bool]
    /// Counters refused with kernel counting are retried for user space only, as perf does.
    private var userOnly: [Bool]
    private let launched: Bool
    /// Why nothing is counted (sampling per CPU: counters count per task).
    var notCounted: String?

    init(scope: SamplingScope) {
        if case .launched = scope { launched = true } else { launched = false }
        fds = Array(repeating: [], count: Self.all.count)
        denied = Array(repeating: false, count: Self.all.count)
        userOnly = Array(repeating: false, count: Self.all.count)
    }

    /// Starts counting `tid` (and, by inheritance, the threads it creates).
    mutating func add(thread tid: ThreadID) {
        for (index, counter) in Self.all.enumerated() where fds[index] != nil {
            var config = CPerfProbe_EventConfig()
            config.type = counter.type.rawValue
            config.config = counter.config
            config.read_format = UInt64(PERF_FORMAT_TOTAL_TIME_ENABLED.rawValue | PERF_FORMAT_TOTAL_TIME_RUNNING.rawValue)
            config.inherit = true
            config.disabled = launched
            config.enable_on_exec = launched
            config.exclude_kernel = userOnly[index]
            do {
                fds[index]!.append(owned.adopt(try Syscalls.perfEventOpen(config, pid: tid.rawValue, cpu: -1)))
            } catch {
                var failure = error
                if (error == .accessDenied || error == .notPermitted) && !userOnly[index] {
                    config.exclude_kernel = true
                    do {
                        fds[index]!.append(owned.adopt(try Syscalls.perfEventOpen(config, pid: tid.rawValue, cpu: -1)))
                        userOnly[index] = true
                        continue
                    } catch {
                        failure = error
                    }
                }
                // A thread that exited meanwhile is not a missing counter.
                if failure != .noSuchProcess && fds[index]!.isEmpty {
                    fds[index] = nil
                    denied[index] = failure == .accessDenied || failure == .notPermitted
                }
            }
        }
    }

    /// The totals so far. Inherited counts of child threads are folded in by
    /// the kernel as each child exits.
    func read() -> [CounterReading] {
        Self.all.enumerated().map { index, counter in
            if let notCounted {
                var reading = CounterReading(name: counter.name, value: nil, supported: false, scaled: false)
                reading.unavailable = notCounted
                return reading
            }
            guard let list = fds[index] else {
                var reading = CounterReading(name: counter.name, value: nil, supported: false, scaled: false)
                if denied[index] { reading.unavailable = "permission denied" }
                return reading
            }
            var total = 0.0
            var scaled = false
            for fd in list {
                var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
                let n = withUnsafeMutableBytes(of: &words) { try? Syscalls.read(fd, into: $0) }
                guard n == 24 else { continue }
                let (value, enabled, running) = words
                if running > 0 && running < enabled {
                    scaled = true
                    total += Double(value) * Double(enabled) / Double(running)
                } else {
                    total += Double(value)
                }
            }
            var reading = CounterReading(name: counter.name, value: UInt64(total), supported: true, scaled: scaled)
            reading.userOnly = userOnly[index] ? true : nil
            return reading
        }
    }
}
