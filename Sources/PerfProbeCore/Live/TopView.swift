/// How `top` shows its table, changed by keys: order, time span, kernel
/// frames, threads, a filter, frozen or live. Pure: keys in, actions out.
public struct TopView {
    public enum Order: Sendable { case selfTime, totalTime }

    /// What a key asks of the session besides redrawing.
    public enum Action: Equatable, Sendable {
        case none, quit, writeReport
    }

    public var order = Order.selfTime
    /// Since the start rather than over the last interval.
    public var cumulative = false
    public var hideKernel = false
    /// A thread column: a row per thread and function.
    public var byThread = false
    /// The one thread shown, chosen with ←/→ (by thread only).
    public var thread: ThreadID?
    public var filter: (pattern: String, regex: Regex<AnyRegexOutput>)?
    /// The display stays as it is while sampling goes on.
    public var frozen = false
    /// The pattern being typed after `/`.
    public var editing: String?
    /// Said on the bottom line until the next key.
    public var message: String?

    /// Patterns longer than this are refused: typed by hand, a longer one is a paste gone wrong.
    static let maxPattern = 200

    public init() {}

    /// Applies a key. `threads`: the threads sampled, in the order ←/→ walk them.
    public mutating func press(_ key: TerminalKey, threads: [ThreadID]) -> Action {
        message = nil
        if editing != nil { return edit(key) }
        guard case .character(let character) = key else {
            switch key {
            case .left, .right:
                guard byThread, !threads.isEmpty else { return .none }
                // nil (every thread) sits between the last and the first.
                let stops: [ThreadID?] = [nil] + threads
                let at = stops.firstIndex(of: thread) ?? 0
                thread = stops[(at + (key == .left ? stops.count - 1 : 1)) % stops.count]
            default: break
            }
            return .none
        }
        switch character {
        case "q", "\u{3}": return .quit
        case "s": order = .selfTime
        case "t": order = .totalTime
        case "c": cumulative.toggle()
        case "k": hideKernel.toggle()
        case "p":
            byThread.toggle()
            if !byThread { thread = nil }
        case "/": editing = filter?.pattern ?? ""
        case " ": frozen.toggle()
        case "w": return .writeReport
        default: break
        }
        return .none
    }

    private mutating func edit(_ key: TerminalKey) -> Action {
        switch key {
        case .character("\u{3}"): return .quit
        case .character(let character):
            if (editing?.count ?? 0) < Self.maxPattern { editing?.append(character) }
        case .backspace: _ = editing?.popLast()
        case .escape: editing = nil
        case .enter:
            let pattern = editing ?? ""
            editing = nil
            if pattern.isEmpty {
                filter = nil
            } else if let regex = try? Regex(pattern) {
                filter = (pattern, regex)
            } else {
                message = "not a regular expression: \(pattern)"
            }
        default: break
        }
        return .none
    }
}
