import Glibc
import CPerfProbe
import FoundationEssentials

/// Turns linker symbol names into source names: C++ (`_Z`), Rust legacy
/// (`_ZN…17h<hash>E`) and v0 (`_R`), and Swift (`$s`, `_T0`). Other names,
/// and names it cannot decode, come back as they are (minus an ELF symbol
/// version such as `@@GLIBC_2.17`).
public enum Demangler {
    public static func demangle(_ symbol: String) -> String {
        let name = withoutVersion(symbol)
        if name.hasPrefix("_R") { return RustV0Demangler.demangle(name) ?? name }
        if name.hasPrefix("$s") || name.hasPrefix("$S") || name.hasPrefix("_$s") || name.hasPrefix("_T0") {
            return take(CPerfProbe_demangle_swift(name)) ?? name
        }
        if name.hasPrefix("_Z"), let cxx = take(CPerfProbe_demangle_cxx(name)) {
            return rustLegacy(cxx) ?? cxx
        }
        return name
    }

    /// "write@@GLIBC_2.2.5" → "write"; the version tells nothing about the
    /// code. A PLT stub's "@plt" stays.
    static func withoutVersion(_ name: String) -> String {
        guard let at = name.firstIndex(of: "@"), at != name.startIndex, name[at...] != "@plt" else { return name }
        return String(name[..<at])
    }

    private static func take(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    /// A legacy Rust path demangled as C++ ("core::fmt::write::h0123456789abcdef"):
    /// drops the hash and decodes the `$…$` escapes. Nil for a C++ name.
    static func rustLegacy(_ path: String) -> String? {
        guard let last = path.ranges(of: "::h").last,
              path[last.upperBound...].count == 16, path[last.upperBound...].allSatisfy(\.isHexDigit) else { return nil }
        // A component may start with "_$" where its first character needed escaping.
        var text = String(path[..<last.lowerBound]).replacing("::_$", with: "::$")
        if text.hasPrefix("_$") { text.removeFirst() }
        let escapes = ["$SP$": "@", "$BP$": "*", "$RF$": "&", "$LT$": "<", "$GT$": ">", "$LP$": "(", "$RP$": ")",
                       "$C$": ",", "$u20$": " ", "$u22$": "\"", "$u27$": "'", "$u2b$": "+", "$u3b$": ";",
                       "$u5b$": "[", "$u5d$": "]", "$u7b$": "{", "$u7d$": "}", "$u7e$": "~", "..": "::"]
        for (escape, plain) in escapes { text = text.replacing(escape, with: plain) }
        return text
    }
}
