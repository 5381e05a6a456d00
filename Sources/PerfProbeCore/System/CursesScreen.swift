import CNcurses
import Glibc

/// A key pressed in a curses screen.
public enum TerminalKey: Equatable, Sendable {
    case character(Character)
    case left, right, enter, escape, backspace, resize
}

/// One line of a full screen: its text and how it is shown.
public struct ScreenLine: Equatable, Sendable {
    public enum Style: Sendable { case plain, bold, reverse, dim }
    public var text: String
    public var style: Style

    public init(_ text: String, _ style: Style = .plain) {
        self.text = text
        self.style = style
    }
}

/// ncurses: the terminal as a curses screen on stdout, keys from stdin, for
/// as long as it lives — the terminal is restored (normal screen, echo,
/// cursor) when it ends, on every path out — and terminfo's capabilities
/// for a status line (a kept library rather than escape sequences by hand).
struct CursesScreen: ~Copyable {
    enum Failure: Error, CustomStringConvertible {
        case noTerminal(String)
        var description: String {
            switch self {
            case .noTerminal(let term): "cannot use the terminal (TERM=\(term)) as a full screen"
            }
        }
    }

    private let screen: OpaquePointer

    init() throws(Failure) {
        // Names may be UTF-8: the character type follows the locale, numbers stay C's.
        setlocale(LC_CTYPE, "")
        guard let screen = CNcurses_open() else {
            throw .noTerminal(getenv("TERM").map { String(cString: $0) } ?? "")
        }
        self.screen = screen
        cbreak()
        noecho()
        keypad(CNcurses_window(), true)
        curs_set(0)
        // Escape alone cancels a filter: wait 25 ms, not a second, for the rest of a sequence.
        set_escdelay(25)
    }

    deinit {
        endwin()
        delscreen(screen)
    }

    var size: (rows: Int, columns: Int) {
        (Int(CNcurses_rows()), Int(CNcurses_columns()))
    }

    /// Replaces the screen's content: lines past the bottom are not drawn,
    /// each is cut at the right edge.
    func draw(_ lines: [ScreenLine]) {
        let (rows, columns) = size
        werase(CNcurses_window())
        for (row, line) in lines.prefix(rows).enumerated() {
            let attribute: Int32 = switch line.style {
            case .plain: 0
            case .bold: CNcurses_attribute_bold()
            case .reverse: CNcurses_attribute_reverse()
            case .dim: CNcurses_attribute_dim()
            }
            wattrset(CNcurses_window(), attribute)
            // The last column of the last row would scroll the screen.
            let width = row == rows - 1 ? columns - 1 : columns
            var text = String(line.text.prefix(max(width, 0)))
            if line.style == .reverse { text += String(repeating: " ", count: max(width - text.count, 0)) }
            mvwaddstr(CNcurses_window(), Int32(row), 0, text)
        }
        wattrset(CNcurses_window(), 0)
        wrefresh(CNcurses_window())
    }

    /// The next key, waiting at most `milliseconds`.
    func key(waiting milliseconds: Int32) -> TerminalKey? {
        wtimeout(CNcurses_window(), max(milliseconds, 0))
        let code = wgetch(CNcurses_window())
        switch code {
        case ERR: return nil
        case CNcurses_key_left(): return .left
        case CNcurses_key_right(): return .right
        case CNcurses_key_resize(): return .resize
        case CNcurses_key_enter(), 10, 13: return .enter
        case CNcurses_key_backspace(), 8, 127: return .backspace
        case 27: return .escape
        case 3: return .character("\u{3}")
        case 32...126: return .character(Character(Unicode.Scalar(UInt8(code))))
        default: return nil
        }
    }
}

extension CursesScreen {
    /// What moves to the start of the line and clears it on the terminal
    /// on `fd`: terminfo's `cr` and `el`; nil when it lacks either.
    static func lineEraser(_ fd: Int32) -> [UInt8]? {
        var error: Int32 = 0
        guard setupterm(nil, fd, &error) == OK else { return nil }
        func capability(_ name: String) -> [UInt8]? {
            guard let value = tigetstr(name), Int(bitPattern: value) != -1 else { return nil }
            return Array(String(cString: value).utf8)
        }
        guard let carriageReturn = capability("cr"), let erase = capability("el") else { return nil }
        return carriageReturn + erase
    }
}
