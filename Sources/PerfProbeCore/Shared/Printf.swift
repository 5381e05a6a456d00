import Glibc

extension String {
    /// printf-style formatting without Foundation: `%@` takes any value's
    /// description (padded to a width in characters, `-` to the left);
    /// every other conversion goes to the C library one at a time, so digits,
    /// rounding and flags are printf's. A conversion without its argument,
    /// or with an argument of another kind, prints the argument as `%@`
    /// would (or nothing): never a crash on a format the code got wrong.
    public init(printf format: String, _ arguments: Any...) {
        var out = ""
        var rest = arguments[...]
        var characters = format[...]
        while let percent = characters.firstIndex(of: "%") {
            out += characters[..<percent]
            var spec = "%"
            var index = characters.index(after: percent)
            var conversion: Character?
            while index < characters.endIndex {
                let character = characters[index]
                index = characters.index(after: index)
                if "diouxXfFeEgGaAcs@%".contains(character) {
                    conversion = character
                    break
                }
                spec.append(character)
            }
            characters = characters[index...]
            guard let conversion else {
                out += spec
                break
            }
            if conversion == "%" {
                out += "%"
                continue
            }
            guard let argument = rest.popFirst() else { continue }
            out += Self.convert(argument, spec: spec, conversion: conversion)
        }
        out += characters
        self = out
    }

    private static func convert(_ argument: Any, spec: String, conversion: Character) -> String {
        let flags = spec.dropFirst()
        switch (conversion, argument) {
        case ("@", _), ("s", _):
            return pad(String(describing: argument), spec: flags)
        case ("f", let value as Double), ("F", let value as Double), ("e", let value as Double), ("E", let value as Double),
             ("g", let value as Double), ("G", let value as Double), ("a", let value as Double), ("A", let value as Double):
            return c(spec + String(conversion), value)
        case (_, let value as Double):
            return c(spec + "f", value)
        case (_, let value as any BinaryInteger):
            // Whatever the length modifier said: the value as a 64-bit integer.
            let bare = spec.filter { !"lhqjzt".contains($0) }
            let signed = "di".contains(conversion)
            return signed ? c(bare + "ll" + String(conversion), Int64(clamping: value))
                          : c(bare + "ll" + String(conversion), UInt64(clamping: value))
        default:
            return pad(String(describing: argument), spec: flags)
        }
    }

    /// One conversion through vsnprintf.
    private static func c(_ spec: String, _ value: CVarArg) -> String {
        withVaList([value]) { list in
            var buffer = [CChar](repeating: 0, count: 128)
            let needed = Int(vsnprintf(&buffer, buffer.count, spec, list))
            guard needed >= buffer.count else { return String(cString: buffer) }
            return withVaList([value]) { again in
                var large = [CChar](repeating: 0, count: needed + 1)
                _ = vsnprintf(&large, large.count, spec, again)
                return String(cString: large)
            }
        }
    }

    private static func pad(_ text: String, spec: Substring) -> String {
        let left = spec.contains("-")
        let width = Int(spec.filter(\.isNumber).prefix(4)) ?? 0
        let fill = String(repeating: " ", count: Swift.max(0, width - text.count))
        return left ? text + fill : fill + text
    }
}
