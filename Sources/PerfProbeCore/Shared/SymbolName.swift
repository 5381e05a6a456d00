/// The one place where names from the target — symbols, demangled names,
/// perf-map entries, module file names, thread and process names — become
/// report data. They are the target's bytes: a name may carry CR LF (which
/// Swift counts as one Character), ESC sequences, BEL or bidi overrides
/// meant to forge report lines or drive a terminal, or be megabytes long.
/// Writers still escape for their own syntax (XML, HTML, `;` in folded).
public enum SymbolName {
    /// Longest name kept, in UTF-8 bytes (C++ template names reach a few KiB;
    /// a 10 MB JIT name must not make 10 MB report lines).
    public static let maxBytes = 4096
    static let truncationMark = "…[truncated]"

    /// Control characters (C0, DEL, C1, line/paragraph separators, bidi
    /// controls) written as `\xNN` or `\u{NNNN}`, decided by Unicode scalar;
    /// the result cut to `maxBytes`. Idempotent: what it writes is printable.
    public static func sanitized(_ name: String) -> String {
        if name.utf8.count <= maxBytes, !name.unicodeScalars.contains(where: isControl) { return name }
        var out = String.UnicodeScalarView()
        var bytes = 0
        // Where the cut goes if the whole does not fit: the mark must fit after it.
        var fitting = out.startIndex
        let budget = maxBytes - truncationMark.utf8.count
        for scalar in name.unicodeScalars {
            if isControl(scalar) {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                let escape = scalar.value <= 0xFF ? "\\x" + (hex.count < 2 ? "0" + hex : hex) : "\\u{\(hex)}"
                out.append(contentsOf: escape.unicodeScalars)
                bytes += escape.utf8.count
            } else {
                out.append(scalar)
                bytes += UTF8.width(scalar)
            }
            if bytes <= budget { fitting = out.endIndex }
            if bytes > maxBytes { return String(out[..<fitting]) + truncationMark }
        }
        return String(out)
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x2028, 0x2029: return true  // line and paragraph separators
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true  // bidi controls
        default: return false
        }
    }
}
