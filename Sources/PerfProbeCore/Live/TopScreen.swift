/// `top`'s screen as lines of text: header, the function table, with
/// --heap the allocation table, and the bottom line. Pure: the same lines
/// fill the terminal or, plain, a snapshot on a pipe.
public enum TopScreen {
    /// One live allocation stack of the heap table.
    public struct HeapRow: Sendable, Equatable {
        public var outstandingBytes: UInt64
        public var growthBytesPerSecond: Double
        public var allocationBytesPerSecond: Double
        /// Leaf first.
        public var functions: [String]
    }

    public static let keyHelp = "q quit · s/t sort self/total · c cumulative · k kernel · p threads ←/→ · / filter · space freeze · w write report"

    /// How much is shown: a screen of so many lines (its bottom line the
    /// keys' help or a message), or a snapshot of so many rows per table.
    public enum Size: Sendable {
        case screen(lines: Int)
        case snapshot(rows: Int)
    }

    public static func render(header: TopHeader, table: TopTable, view: TopView, heap: [HeapRow]?, offCPU: Bool,
                              size: Size) -> [ScreenLine] {
        var lines = header.lines.map { ScreenLine($0, .bold) }
        let shown = table.rows(view)
        var settings = [view.cumulative ? "since start" : "last interval", view.order == .selfTime ? "by self" : "by total"]
        if view.hideKernel { settings.append("kernel hidden") }
        if view.byThread {
            let name = view.thread.map { tid in "thread \(tid.rawValue) (\(table.threadNames[tid] ?? "?"))" } ?? "every thread"
            settings.append(name)
        }
        if let filter = view.filter { settings.append("filter /\(filter.pattern)/") }
        if view.frozen { settings.append("FROZEN") }
        lines.append(ScreenLine(String(printf: "%d samples, %@", shown.samples, settings.joined(separator: ", "))))
        lines.append(ScreenLine(""))
        let functionRows: Int, heapRows: Int
        switch size {
        case .snapshot(let rows):
            (functionRows, heapRows) = (rows, rows)
        case .screen(let height):
            // Rows left for the tables once the header, the column titles and the bottom line are in.
            let room = max(height - lines.count - 2 - (heap == nil ? 0 : 2), 2)
            (functionRows, heapRows) = heap == nil ? (room, 0) : (room - room / 2, room / 2)
        }
        lines.append(ScreenLine(columnTitles(view: view, offCPU: offCPU), .reverse))
        for row in shown.rows.prefix(functionRows) {
            lines.append(ScreenLine(format(row, of: shown.samples, frequency: header.frequency, view: view, offCPU: offCPU, names: table.threadNames)))
        }
        if let heap {
            lines.append(ScreenLine(""))
            lines.append(ScreenLine("  OUTSTANDING      GROWTH    ALLOCATED  ALLOCATING STACK (leaf first)", .reverse))
            if heap.isEmpty { lines.append(ScreenLine("  no live allocation sampled yet")) }
            for row in heap.prefix(max(heapRows - 1, 1)) {
                lines.append(ScreenLine(String(printf: "%@  %@/s  %@/s  %@", pad(bytes(Double(row.outstandingBytes)), 11),
                                               pad(bytes(row.growthBytesPerSecond), 8), pad(bytes(row.allocationBytesPerSecond), 8),
                                               row.functions.prefix(4).joined(separator: " < "))))
            }
        }
        if case .screen(let height) = size {
            while lines.count < height - 1 { lines.append(ScreenLine("")) }
            let bottom = view.editing.map { "filter (regular expression, Enter applies, Esc cancels): /" + $0 } ?? view.message ?? keyHelp
            lines.append(ScreenLine(bottom, view.editing == nil && view.message == nil ? .dim : .bold))
        }
        return lines
    }

    static func columnTitles(view: TopView, offCPU: Bool) -> String {
        var titles = "  SELF%  TOTAL%   SELF s  TOTAL s"
        if offCPU { titles += "  BLOCKED s" }
        if view.byThread { titles += "  THREAD          " }
        return titles + "  MODULE            FUNCTION"
    }

    static func format(_ row: TopTable.Row, of samples: Int, frequency: Int, view: TopView, offCPU: Bool,
                       names: [ThreadID: String]) -> String {
        let percent = { (count: Int) in samples == 0 ? 0 : Double(count) * 100 / Double(samples) }
        let seconds = { (count: Int) in Double(count) / Double(max(frequency, 1)) }
        var line = String(printf: "%7.1f %7.1f %8.2f %8.2f", percent(row.selfSamples), percent(row.totalSamples),
                          seconds(row.selfSamples), seconds(row.totalSamples))
        if offCPU { line += String(printf: " %10.2f", Double(row.blockedNanoseconds) / 1e9) }
        if view.byThread {
            let thread = row.thread.map { "\($0.rawValue) \(names[$0] ?? "?")" } ?? "?"
            line += "  " + pad(String(thread.prefix(16)), 16, left: true)
        }
        let module = row.function.kernel ? "[kernel]" : row.function.module
        return line + "  " + pad(String(module.prefix(16)), 16, left: true) + "  " + row.function.function
    }

    static func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let space = String(repeating: " ", count: max(width - text.count, 0))
        return left ? text + space : space + text
    }

    static func bytes(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude >= 1_073_741_824 { return String(printf: "%.1f GiB", value / 1_073_741_824) }
        if magnitude >= 1_048_576 { return String(printf: "%.1f MiB", value / 1_048_576) }
        if magnitude >= 1024 { return String(printf: "%.1f KiB", value / 1024) }
        return String(printf: "%.0f B", value)
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0, seconds < 1e9 else { return "?" }
        if seconds >= 3600 { return String(printf: "%dh%02dm", Int(seconds / 3600), Int(seconds.truncatingRemainder(dividingBy: 3600) / 60)) }
        if seconds >= 60 { return String(printf: "%dm%02ds", Int(seconds / 60), Int(seconds.truncatingRemainder(dividingBy: 60))) }
        return String(printf: "%.1f s", seconds)
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(printf: "%g", value)
    }
}
