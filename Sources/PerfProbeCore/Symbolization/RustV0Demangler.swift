/// Rust's v0 symbol mangling (RFC 2603, `_R…`), decoded into the path
/// rustc-demangle prints in its short form: no crate hashes, closures as
/// `{closure#N}`, generic arguments and types spelled out.
///
/// Names come from the target's files, so they are hostile input: numbers
/// are checked, nesting is capped at `maxDepth` levels (backrefs included),
/// the whole parse at `maxSteps` productions and the output at `maxOutput`
/// bytes. Back-references let ~90 bytes expand to megabytes, each level
/// tripling the last: past a limit the mangled name is kept.
struct RustV0Demangler {
    /// rustc-demangle allows 500 levels on its own stack; ours may be a
    /// secondary thread's, so fewer.
    static let maxDepth = 200
    static let maxSteps = 100_000
    /// rustc-demangle stops at 1 MB; a report name is capped far below that anyway.
    static let maxOutput = 64 * 1024

    private let bytes: [UInt8]
    private var position: Int
    private var depth = 0
    private var steps = 0
    /// Lifetimes bound by enclosing `for<…>` binders, for naming 'a, 'b, ….
    private var boundLifetimes: UInt64 = 0

    /// Nil when `symbol` is not a well-formed v0 name, or exceeds a limit.
    static func demangle(_ symbol: String) -> String? {
        var parser = RustV0Demangler(bytes: Array(symbol.utf8), position: 2)
        // An optional encoding version (decimal) follows "_R".
        while let c = parser.peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") { parser.position += 1 }
        guard let path = parser.path(inValue: true) else { return nil }
        return path
    }

    /// Runs one nested production within the depth, step and output limits.
    private mutating func nested(_ body: (inout RustV0Demangler) -> String?) -> String? {
        steps += 1
        guard depth < Self.maxDepth, steps <= Self.maxSteps else { return nil }
        depth += 1
        defer { depth -= 1 }
        guard let text = body(&self), text.utf8.count <= Self.maxOutput else { return nil }
        return text
    }

    private var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func next() -> UInt8? {
        guard let c = peek else { return nil }
        position += 1
        return c
    }

    private mutating func eat(_ c: Character) -> Bool {
        guard peek == c.asciiValue else { return false }
        position += 1
        return true
    }

    /// base-62-number: "_" is 0, otherwise digits then "_", value plus one.
    private mutating func base62() -> UInt64? {
        if eat("_") { return 0 }
        var value: UInt64 = 0
        while let c = next() {
            if c == UInt8(ascii: "_") { return value == .max ? nil : value + 1 }
            let digit: UInt64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): digit = UInt64(c - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): digit = UInt64(c - UInt8(ascii: "A")) + 36
            default: return nil
            }
            let (scaled, overflow) = value.multipliedReportingOverflow(by: 62)
            let (sum, carry) = scaled.addingReportingOverflow(digit)
            guard !overflow, !carry else { return nil }
            value = sum
        }
        return nil
    }

    /// decimal-number: "0", or digits not starting with 0.
    private mutating func decimal() -> Int? {
        if eat("0") { return 0 }
        var value = 0
        var any = false
        while let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
            value = value * 10 + Int(c - UInt8(ascii: "0"))
            position += 1
            any = true
            if value > bytes.count { return nil }
        }
        return any ? value : nil
    }

    /// An optional `tag` base-62 number: 0 when absent, the number plus one when present.
    private mutating func optionalBase62(_ tag: Character) -> UInt64? {
        guard eat(tag) else { return 0 }
        guard let value = base62(), value < .max else { return nil }
        return value + 1
    }

    private mutating func disambiguator() -> UInt64? {
        optionalBase62("s")
    }

    /// 'a for the innermost bound lifetime; '_ for an erased one.
    private func lifetime(_ index: UInt64) -> String {
        guard index > 0, index <= boundLifetimes else { return "'_" }
        let depth = boundLifetimes - index
        return depth < 26 ? "'" + String(Character(Unicode.Scalar(UInt8(ascii: "a") + UInt8(depth)))) : "'_\(depth)"
    }

    /// `for<'a, …> ` for a binder ("G"), with its lifetimes in scope for `body`.
    private mutating func binder(_ body: (inout RustV0Demangler) -> String?) -> String? {
        // More lifetimes than the name has bytes cannot be named by it.
        guard let count = optionalBase62("G"), count <= UInt64(bytes.count),
              boundLifetimes <= UInt64(bytes.count) else { return nil }
        var prefix = ""
        boundLifetimes += count
        if count > 0 {
            // The binder's own lifetimes, outermost first: 'a, 'b, … after those already bound.
            prefix = "for<" + (0..<count).reversed().map { lifetime($0 + 1) }.joined(separator: ", ") + "> "
        }
        defer { boundLifetimes -= count }
        return body(&self).map { prefix + $0 }
    }

    /// identifier = [disambiguator] ["u"] decimal ["_"] bytes
    private mutating func identifier() -> (name: String, disambiguator: UInt64)? {
        guard let index = disambiguator() else { return nil }
        let punycode = eat("u")
        guard let length = decimal() else { return nil }
        _ = eat("_")
        guard length <= bytes.count - position else { return nil }
        let name = String(decoding: bytes[position..<position + length], as: UTF8.self)
        position += length
        return (punycode ? "punycode{\(name)}" : name, index)
    }

    /// Follows a backref ("B" base62, an offset from the start of "_R"…) and
    /// parses what it points at with `body`.
    private mutating func backref<T>(_ body: (inout RustV0Demangler) -> T?) -> T? {
        // A backref points strictly backwards, before the "B" just read.
        guard let offset = base62(), offset < UInt64(bytes.count), Int(offset) + 2 < position - 1 else { return nil }
        var inner = RustV0Demangler(bytes: bytes, position: Int(offset) + 2, depth: depth, steps: steps,
                                    boundLifetimes: boundLifetimes)
        let result = body(&inner)
        steps = inner.steps
        return result
    }

    /// A path; `inValue` where it names a value (a function), whose generic
    /// arguments are written `::<…>`, as opposed to a type's `<…>`.
    private mutating func path(inValue: Bool = false) -> String? {
        nested { $0.pathBody(inValue: inValue) }
    }

    private mutating func pathBody(inValue: Bool) -> String? {
        guard let tag = next() else { return nil }
        switch tag {
        case UInt8(ascii: "C"):
            return identifier()?.name
        case UInt8(ascii: "M"):
            guard disambiguator() != nil, path() != nil, let type = type() else { return nil }
            return "<\(type)>"
        case UInt8(ascii: "X"):
            guard disambiguator() != nil, path() != nil, let type = type(), let trait = path() else { return nil }
            return "<\(type) as \(trait)>"
        case UInt8(ascii: "Y"):
            guard let type = type(), let trait = path() else { return nil }
            return "<\(type) as \(trait)>"
        case UInt8(ascii: "N"):
            guard let namespace = next(), let parent = path(inValue: inValue), let (name, index) = identifier() else { return nil }
            switch namespace {
            case UInt8(ascii: "C"): return "\(parent)::{closure#\(index)}"
            case UInt8(ascii: "S"): return "\(parent)::{shim:\(name)#\(index)}"
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): return "\(parent)::{\(Character(Unicode.Scalar(namespace)))\(name.isEmpty ? "" : ":" + name)#\(index)}"
            default: return name.isEmpty ? parent : "\(parent)::\(name)"
            }
        case UInt8(ascii: "I"):
            guard let base = path(inValue: inValue) else { return nil }
            var arguments: [String] = []
            while !eat("E") {
                guard let argument = genericArgument() else { return nil }
                arguments.append(argument)
            }
            return "\(base)\(inValue ? "::" : "")<\(arguments.joined(separator: ", "))>"
        case UInt8(ascii: "B"):
            return backref { $0.path(inValue: inValue) }
        default:
            return nil
        }
    }

    private mutating func genericArgument() -> String? {
        if eat("L") { return base62().map(lifetime) }
        if eat("K") { return constant(typed: true) }
        return type()
    }

    private static let basicTypes: [UInt8: String] = [
        UInt8(ascii: "a"): "i8", UInt8(ascii: "b"): "bool", UInt8(ascii: "c"): "char", UInt8(ascii: "d"): "f64",
        UInt8(ascii: "e"): "str", UInt8(ascii: "f"): "f32", UInt8(ascii: "h"): "u8", UInt8(ascii: "i"): "isize",
        UInt8(ascii: "j"): "usize", UInt8(ascii: "l"): "i32", UInt8(ascii: "m"): "u32", UInt8(ascii: "n"): "i128",
        UInt8(ascii: "o"): "u128", UInt8(ascii: "p"): "_", UInt8(ascii: "s"): "i16", UInt8(ascii: "t"): "u16",
        UInt8(ascii: "u"): "()", UInt8(ascii: "v"): "...", UInt8(ascii: "x"): "i64", UInt8(ascii: "y"): "u64",
        UInt8(ascii: "z"): "!",
    ]

    private mutating func type() -> String? {
        nested { $0.typeBody() }
    }

    private mutating func typeBody() -> String? {
        guard let tag = peek else { return nil }
        if let basic = Self.basicTypes[tag] {
            position += 1
            return basic
        }
        switch tag {
        case UInt8(ascii: "A"):
            position += 1
            guard let element = type(), let count = constant(typed: false) else { return nil }
            return "[\(element); \(count)]"
        case UInt8(ascii: "S"):
            position += 1
            return type().map { "[\($0)]" }
        case UInt8(ascii: "R"), UInt8(ascii: "Q"):
            position += 1
            var reference = "&"
            if eat("L") {
                guard let index = base62() else { return nil }
                if index != 0 { reference += lifetime(index) + " " }
            }
            if tag == UInt8(ascii: "Q") { reference += "mut " }
            return type().map { reference + $0 }
        case UInt8(ascii: "P"), UInt8(ascii: "O"):
            position += 1
            return type().map { (tag == UInt8(ascii: "P") ? "*const " : "*mut ") + $0 }
        case UInt8(ascii: "T"):
            position += 1
            var elements: [String] = []
            while !eat("E") {
                guard let element = type() else { return nil }
                elements.append(element)
            }
            return elements.count == 1 ? "(\(elements[0]),)" : "(\(elements.joined(separator: ", ")))"
        case UInt8(ascii: "F"):
            position += 1
            return binder { $0.functionSignature() }
        case UInt8(ascii: "D"):
            position += 1
            return dynTrait()
        case UInt8(ascii: "B"):
            position += 1
            return backref { $0.type() }
        default:
            return path()
        }
    }

    private mutating func functionSignature() -> String? {
        let unsafe = eat("U")
        var abi = ""
        if eat("K") {
            if eat("C") { abi = "extern \"C\" " } else if let (name, _) = identifier() { abi = "extern \"\(name.replacingUnderscores)\" " }
        }
        var parameters: [String] = []
        while !eat("E") {
            guard let parameter = type() else { return nil }
            parameters.append(parameter)
        }
        guard let result = type() else { return nil }
        return "\(unsafe ? "unsafe " : "")\(abi)fn(\(parameters.joined(separator: ", ")))\(result == "()" ? "" : " -> " + result)"
    }

    private mutating func dynTrait() -> String? {
        guard let traits = binder({ $0.dynBounds() }), eat("L"), let index = base62() else { return nil }
        return "dyn " + traits + (index != 0 ? " + " + lifetime(index) : "")
    }

    private mutating func dynBounds() -> String? {
        var traits: [String] = []
        while !eat("E") {
            guard var trait = path() else { return nil }
            var bindings: [String] = []
            while eat("p") {
                guard let (name, _) = identifier(), let bound = type() else { return nil }
                bindings.append("\(name) = \(bound)")
            }
            if !bindings.isEmpty {
                // Associated types join the trait's own generic arguments: Fn<(i32,), Output = i32>.
                if trait.hasSuffix(">") {
                    trait.removeLast()
                    trait += ", \(bindings.joined(separator: ", "))>"
                } else {
                    trait += "<\(bindings.joined(separator: ", "))>"
                }
            }
            traits.append(trait)
        }
        return traits.joined(separator: " + ")
    }

    /// A const generic value; `typed` adds its integer type (`10: usize`), as
    /// c++filt writes generic arguments.
    private mutating func constant(typed: Bool) -> String? {
        nested { $0.constantBody(typed: typed) }
    }

    private mutating func constantBody(typed: Bool) -> String? {
        if eat("p") { return "_" }
        if eat("B") { return backref { $0.constant(typed: typed) } }
        guard let type = type() else { return nil }
        let negative = eat("n")
        var hex = ""
        while let c = next(), c != UInt8(ascii: "_") {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(c),
                  hex.utf8.count < Self.maxOutput else { return nil }
            hex.append(Character(Unicode.Scalar(c)))
        }
        // Wider than 64 bits (u128): kept in hex.
        guard let value = UInt64(hex.isEmpty ? "0" : hex, radix: 16) else { return "0x" + hex }
        switch type {
        case "bool": return value == 0 ? "false" : "true"
        case "char": return Unicode.Scalar(UInt32(truncatingIfNeeded: value)).map { "'\(Character($0))'" }
        default: return (negative ? "-" : "") + String(value) + (typed ? ": \(type)" : "")
        }
    }
}

private extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? "-" : $0 }) }
}
