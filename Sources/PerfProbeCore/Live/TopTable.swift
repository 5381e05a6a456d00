/// `top`'s samples by stack over the last interval and since the start,
/// with the blocked time of the off-CPU stacks, from which each view's
/// rows are made: views change without losing what was sampled.
public struct TopTable: Sendable {
    struct Stack: Hashable, Sendable {
        var tid: ThreadID
        /// Indices into `functions`, leaf first.
        var frames: [Int]
    }

    /// One row: a function (of one thread when the view is by thread).
    public struct Row: Equatable, Sendable {
        public var function: SymbolizedFrame
        public var thread: ThreadID?
        public var selfSamples = 0
        public var totalSamples = 0
        public var blockedNanoseconds: UInt64 = 0
    }

    public struct Rows: Sendable {
        public var rows: [Row]
        /// The samples the percentages are of: the view's thread's, or all.
        public var samples: Int
    }

    private(set) var functions: [SymbolizedFrame] = []
    private var functionIndex: [SymbolizedFrame: Int] = [:]
    private var cumulative: [Stack: Int] = [:]
    private var interval: [Stack: Int] = [:]
    private var blockedCumulative: [Stack: UInt64] = [:]
    private var blockedInterval: [Stack: UInt64] = [:]
    public private(set) var threadNames: [ThreadID: String] = [:]

    public init() {}

    /// The next interval's stacks replace the last one's and add to the totals.
    public mutating func add(_ profile: Profile, blocked: [(tid: ThreadID, frames: [SymbolizedFrame], nanoseconds: UInt64)],
                             threadNames names: [ThreadID: String]) {
        interval = [:]
        blockedInterval = [:]
        for stack in profile.stacks {
            let key = Stack(tid: stack.tid, frames: stack.frames.map { index(of: profile.functions[$0]) })
            interval[key, default: 0] += stack.count
            cumulative[key, default: 0] += stack.count
        }
        for wait in blocked {
            let key = Stack(tid: wait.tid, frames: wait.frames.map { index(of: $0) })
            blockedInterval[key, default: 0] &+= wait.nanoseconds
            blockedCumulative[key, default: 0] &+= wait.nanoseconds
        }
        for (tid, name) in names { threadNames[tid] = SymbolName.sanitized(name) }
    }

    private mutating func index(of function: SymbolizedFrame) -> Int {
        if let known = functionIndex[function] { return known }
        functions.append(function)
        functionIndex[function] = functions.count - 1
        return functions.count - 1
    }

    /// The threads sampled so far, most samples first.
    public var threads: [(tid: ThreadID, name: String, samples: Int)] {
        Dictionary(grouping: cumulative, by: \.key.tid).map { tid, stacks in
            (tid, threadNames[tid] ?? "?", stacks.reduce(0) { $0 + $1.value })
        }.sorted { ($0.samples, $1.tid) > ($1.samples, $0.tid) }
    }

    /// Samples so far and over the last interval.
    public var samples: (cumulative: Int, interval: Int) {
        (cumulative.values.reduce(0, +), interval.values.reduce(0, +))
    }

    /// The share of samples so far whose outermost frame is a thread's entry
    /// (stacks unwound to their root), in %.
    public var rootedPercent: Double {
        var rooted = 0, all = 0
        for (stack, count) in cumulative {
            all += count
            if let outermost = stack.frames.last, ProfileReport.StackQuality.isThreadEntry(functions[outermost]) { rooted += count }
        }
        return all == 0 ? 0 : Double(rooted) * 100 / Double(all)
    }

    /// The view's rows, sorted and filtered. Hiding the kernel gives a
    /// kernel stack's time to the user function that entered it; a sample
    /// with no user frame then has no row (but counts in the total).
    public func rows(_ view: TopView) -> Rows {
        let stacks = view.cumulative ? cumulative : interval
        let blocked = view.cumulative ? blockedCumulative : blockedInterval
        var rows: [RowKey: Row] = [:]
        var samples = 0
        func frames(_ stack: Stack) -> [Int]? {
            guard view.thread == nil || stack.tid == view.thread else { return nil }
            return view.hideKernel ? stack.frames.filter { !functions[$0].kernel } : stack.frames
        }
        func key(_ function: Int, _ stack: Stack) -> RowKey {
            RowKey(function: function, thread: view.byThread ? stack.tid : nil)
        }
        func empty(_ key: RowKey) -> Row { Row(function: functions[key.function], thread: key.thread) }
        for (stack, count) in stacks {
            guard let shown = frames(stack) else { continue }
            samples += count
            guard let leaf = shown.first else { continue }
            let leafKey = key(leaf, stack)
            rows[leafKey, default: empty(leafKey)].selfSamples += count
            // Once per stack, however often recursion repeats a function.
            for function in Set(shown) {
                let functionKey = key(function, stack)
                rows[functionKey, default: empty(functionKey)].totalSamples += count
            }
        }
        for (stack, nanoseconds) in blocked {
            guard let shown = frames(stack) else { continue }
            for function in Set(shown) {
                let functionKey = key(function, stack)
                rows[functionKey, default: empty(functionKey)].blockedNanoseconds &+= nanoseconds
            }
        }
        var result = Array(rows.values)
        if let filter = view.filter {
            result = result.filter { $0.function.function.contains(filter.regex) || $0.function.module.contains(filter.regex) }
        }
        result.sort { a, b in
            let (x, y) = view.order == .selfTime ? ((a.selfSamples, a.totalSamples), (b.selfSamples, b.totalSamples))
                : ((a.totalSamples, a.selfSamples), (b.totalSamples, b.selfSamples))
            if x != y { return x > y }
            if a.blockedNanoseconds != b.blockedNanoseconds { return a.blockedNanoseconds > b.blockedNanoseconds }
            return (a.function.function, a.thread?.rawValue ?? 0) < (b.function.function, b.thread?.rawValue ?? 0)
        }
        return Rows(rows: result, samples: samples)
    }

    private struct RowKey: Hashable {
        var function: Int
        var thread: ThreadID?
    }
}
