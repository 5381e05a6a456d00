import Testing
@testable import PerfProbeCore

/// `top`'s table, keys and screen on known stacks.
@Suite struct TopTests {
    static let functions = [
        SymbolizedFrame(function: "shared_leaf", module: "app", kernel: false, symbolized: true),   // 0
        SymbolizedFrame(function: "heavy_path", module: "app", kernel: false, symbolized: true),    // 1
        SymbolizedFrame(function: "light_path", module: "app", kernel: false, symbolized: true),    // 2
        SymbolizedFrame(function: "main", module: "app", kernel: false, symbolized: true),          // 3
        SymbolizedFrame(function: "_start", module: "app", kernel: false, symbolized: true),        // 4
        SymbolizedFrame(function: "do_syscall_64", module: "[kernel]", kernel: true, symbolized: true), // 5
        SymbolizedFrame(function: "write", module: "libc.so.6", kernel: false, symbolized: true),   // 6
        SymbolizedFrame(function: "recurse", module: "app", kernel: false, symbolized: true),       // 7
    ]
    static let main = ThreadID(10), worker = ThreadID(11)

    /// 70/20 through heavy/light into one leaf on the main thread, 10
    /// samples in the kernel under write on a worker, and a recursive stack.
    static func profile(scale: Int = 1) -> Profile {
        let pid = ProcessID(10)
        return Profile(functions: functions, stacks: [
            .init(pid: pid, tid: main, frames: [0, 1, 3, 4], count: 70 * scale),
            .init(pid: pid, tid: main, frames: [0, 2, 3, 4], count: 20 * scale),
            .init(pid: pid, tid: worker, frames: [5, 6, 3, 4], count: 8 * scale),
            .init(pid: pid, tid: worker, frames: [7, 7, 7, 3, 4], count: 2 * scale),
        ])
    }

    static func table() -> TopTable {
        var table = TopTable()
        table.add(profile(), blocked: [], threadNames: [main: "main", worker: "worker"])
        table.add(profile(scale: 2), blocked: [(worker, [functions[5], functions[6], functions[3], functions[4]], 500_000_000)],
                  threadNames: [:])
        return table
    }

    static func row(_ rows: TopTable.Rows, _ name: String, thread: ThreadID? = nil) -> TopTable.Row? {
        rows.rows.first { $0.function.function == name && $0.thread == thread }
    }

    @Test func selfAndTotalOverTheIntervalOrSinceTheStart() throws {
        let table = Self.table()
        var view = TopView()
        let interval = table.rows(view)
        #expect(interval.samples == 200)
        #expect(Self.row(interval, "shared_leaf")?.selfSamples == 180)
        #expect(Self.row(interval, "heavy_path").map { [$0.selfSamples, $0.totalSamples] } == [0, 140])
        #expect(Self.row(interval, "main")?.totalSamples == 200)
        // Recursion counts once per stack.
        #expect(Self.row(interval, "recurse").map { [$0.selfSamples, $0.totalSamples] } == [4, 4])
        #expect(Self.row(interval, "write")?.blockedNanoseconds == 500_000_000)
        #expect(interval.rows.first?.function.function == "shared_leaf", "sorted by self")
        view.cumulative = true
        #expect(table.rows(view).samples == 300)
        #expect(Self.row(table.rows(view), "heavy_path")?.totalSamples == 210)
        #expect(table.samples.cumulative == 300 && table.samples.interval == 200)
        #expect(table.rootedPercent == 100)
    }

    @Test func hidingTheKernelGivesItsTimeToTheCaller() {
        var view = TopView()
        view.hideKernel = true
        let rows = Self.table().rows(view)
        #expect(Self.row(rows, "do_syscall_64") == nil)
        #expect(Self.row(rows, "write")?.selfSamples == 16)
        #expect(rows.samples == 200)
    }

    @Test func byThreadAndOneThread() {
        let table = Self.table()
        var view = TopView()
        _ = view.press(.character("p"), threads: table.threads.map(\.tid))
        let rows = table.rows(view)
        #expect(Self.row(rows, "main", thread: Self.main)?.totalSamples == 180)
        #expect(Self.row(rows, "main", thread: Self.worker)?.totalSamples == 20)
        #expect(table.threads.map(\.name) == ["main", "worker"])
        // → walks the threads, most sampled first, then back to all.
        _ = view.press(.right, threads: table.threads.map(\.tid))
        #expect(view.thread == Self.main)
        #expect(table.rows(view).samples == 180 && table.rows(view).rows.allSatisfy { $0.thread == Self.main })
        _ = view.press(.right, threads: table.threads.map(\.tid))
        #expect(view.thread == Self.worker)
        _ = view.press(.right, threads: table.threads.map(\.tid))
        #expect(view.thread == nil)
        _ = view.press(.left, threads: table.threads.map(\.tid))
        #expect(view.thread == Self.worker)
        _ = view.press(.character("p"), threads: [])
        #expect(!view.byThread && view.thread == nil)
    }

    @Test func keysSortFilterFreezeAndQuit() {
        let table = Self.table()
        var view = TopView()
        #expect(view.press(.character("t"), threads: []) == .none)
        #expect(table.rows(view).rows.prefix(2).map(\.function.function).sorted() == ["_start", "main"])
        _ = view.press(.character("s"), threads: [])
        #expect(table.rows(view).rows.first?.function.function == "shared_leaf")
        for key in "/path" { _ = view.press(.character(key), threads: []) }
        #expect(view.editing == "path" && view.filter == nil)
        _ = view.press(.backspace, threads: [])
        _ = view.press(.character("h"), threads: [])
        _ = view.press(.enter, threads: [])
        #expect(table.rows(view).rows.map(\.function.function).sorted() == ["heavy_path", "light_path"])
        // A bad pattern is said and the filter kept; an empty one clears it.
        for key in "/(" { _ = view.press(.character(key), threads: []) }
        _ = view.press(.enter, threads: [])
        #expect(view.message?.contains("not a regular expression") == true && view.filter?.pattern == "path")
        _ = view.press(.character("/"), threads: [])
        _ = view.press(.escape, threads: [])
        #expect(view.editing == nil && view.filter?.pattern == "path")
        _ = view.press(.character("/"), threads: [])
        for _ in 0..<10 { _ = view.press(.backspace, threads: []) }
        _ = view.press(.enter, threads: [])
        #expect(view.filter == nil)
        _ = view.press(.character(" "), threads: [])
        #expect(view.frozen)
        #expect(view.press(.character("w"), threads: []) == .writeReport)
        #expect(view.press(.character("q"), threads: []) == .quit)
        #expect(view.press(.character("\u{3}"), threads: []) == .quit)
    }

    /// The screen fills the terminal exactly, whatever the names hold; the
    /// bottom line is the keys' help.
    @Test func screenFitsAndNamesCarryNoControl() {
        var table = TopTable()
        let hostile = SymbolizedFrame(function: "evil\u{1b}[2J\u{7}name", module: "m\u{1b}]0;t\u{7}", kernel: false, symbolized: true)
        table.add(Profile(functions: [hostile], stacks: [.init(pid: ProcessID(1), tid: ThreadID(1), frames: [0], count: 5)]),
                  blocked: [], threadNames: [ThreadID(1): "t\u{1b}[31m"])
        var view = TopView()
        view.byThread = true
        let header = TopHeader(pid: ProcessID(1), name: "x\u{1b}[H")
        for height in [12, 40] {
            let lines = TopScreen.render(header: header, table: table, view: view, heap: [], offCPU: true, size: .screen(lines: height))
            #expect(lines.count == height, "\(lines)")
            #expect(lines.last?.text == TopScreen.keyHelp)
            #expect(lines.allSatisfy { !$0.text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f } }, "\(lines)")
        }
        let snapshot = TopScreen.render(header: header, table: table, view: view, heap: nil, offCPU: false, size: .snapshot(rows: 3))
        #expect(snapshot.contains { $0.text.contains("evil") } && !snapshot.contains { $0.text == TopScreen.keyHelp })
    }

    @Test func statusLineSaysCountsAndTimeLeft() {
        var counts = SamplingProgress.Counts(samples: 1234, lost: 2)
        counts.latest = TelemetryPoint(t: 1, cpuUserPercent: 90, cpuSystemPercent: 8, threads: 1, rssBytes: 3 * 1_048_576,
                                       voluntaryContextSwitches: 0, involuntaryContextSwitches: 0, minorFaults: 0, majorFaults: 0)
        let text = StatusLine.text(counts, elapsed: 12.5, duration: 60)
        #expect(text == "perfprobe: 12.5 s · 1234 samples · 2 lost · target CPU 98% · RSS 3.0 MiB · 47.5 s left", "\(text)")
    }
}
