/// What `--off-cpu` gathered: blocked time per (stack, preempted), and when
/// threads were born and died inside the window (their lifetimes).
public struct OffCPUCapture: CapturePart {
    public struct Key: Hashable, Sendable {
        /// Kernel frames first (where it blocked), then user frames; empty
        /// when the stack was not seen (lost, or blocked before profiling).
        public var stack: StackKey
        /// Switched out while still runnable.
        public var preempted: Bool
        /// Asleep when profiling began (stack unseen): the kernel function
        /// it slept in, as /proc's wchan names it.
        public var waitChannel: String? = nil
    }

    public struct Figures: Sendable {
        public var nanoseconds: UInt64 = 0
        public var intervals = 0
        public var longest: UInt64 = 0

        /// `ended`: the interval ends here (a part cut at a slice boundary
        /// adds its time, not an interval).
        mutating func add(_ duration: UInt64, ended: Bool = true) {
            nanoseconds = nanoseconds &+ duration
            if ended { intervals += 1 }
            longest = max(longest, duration)
        }

        mutating func absorb(_ other: Figures) {
            nanoseconds = nanoseconds &+ other.nanoseconds
            intervals += other.intervals
            longest = max(longest, other.longest)
        }
    }

    public struct Lifetime: Sendable {
        public var pid: ProcessID
        /// CLOCK_MONOTONIC ns of its fork and exit records, when inside the window.
        public var born: UInt64?
        public var died: UInt64?
    }

    public var blocked: [Key: Figures] = [:]
    public var lifetimes: [ThreadID: Lifetime] = [:]
    /// Switch-outs whose stacks were taken.
    public var switchOuts = 0
    /// Intervals timed without a stack (filtered in a storm, or lost).
    public var withoutStack = 0
    /// Intervals that began before profiling did (stack unseen).
    public var startedBlocked = 0
    /// Intervals still open when profiling ended, closed then.
    public var openAtEnd = 0
    /// Intervals whose return to a CPU the kernel did not trace, ended from
    /// the thread's run time at its next switch-out.
    public var returnsUnseen = 0

    public mutating func absorb(_ later: OffCPUCapture) {
        blocked.merge(later.blocked) { var first = $0; first.absorb($1); return first }
        lifetimes.merge(later.lifetimes) { first, second in
            Lifetime(pid: second.pid, born: first.born ?? second.born, died: second.died ?? first.died)
        }
        switchOuts += later.switchOuts
        withoutStack += later.withoutStack
        startedBlocked += later.startedBlocked
        openAtEnd += later.openAtEnd
        returnsUnseen += later.returnsUnseen
    }
}

extension Capture {
    /// With --off-cpu: blocked time by stack.
    public var offCPU: OffCPUCapture? {
        get { self[OffCPUCapture.self] }
        set { self[OffCPUCapture.self] = newValue }
    }
}
