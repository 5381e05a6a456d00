/// A report.json that parses but cannot be a report perfprobe wrote: the
/// first bad field, by its path in the JSON (`profile.stacks[3].frames[0]`).
public struct ReportValidationError: Error, CustomStringConvertible, Sendable {
    public var field: String
    public var problem: String
    public var description: String { "\(field): \(problem)" }
}

extension ProfileReport {
    /// Largest magnitude of any number in a loaded report: exact in a Double,
    /// and far from overflowing when a few thousand are added or scaled.
    static let maxMagnitude = Double(1 << 50)
    /// Samples of one stack, and of all: small enough that samples × the
    /// sampling interval in ns (≤ 1e9) fits in Int64 (pprof).
    static let maxStackSamples = 1 << 32
    static let maxTotalSamples = 1 << 40
    /// Far above any `run --repeat` (the CLI allows 1000).
    static let maxRepeats = 100_000

    /// Checks a report read from disk before anything is rendered from it —
    /// report.json is a file anyone could have written — and sanitizes its
    /// names as the symbolizer would have. Throws on the first bad field.
    public func validated() throws(ReportValidationError) -> ProfileReport {
        try Self.checkNumbers(in: self, path: "")
        guard sampling.frequencyHz >= 1, sampling.frequencyHz <= 1_000_000 else {
            throw ReportValidationError(field: "sampling.frequency_hz", problem: "must be 1 to 1000000, is \(sampling.frequencyHz)")
        }
        guard durationSeconds >= 0 else {
            throw ReportValidationError(field: "duration_seconds", problem: "is negative")
        }
        if let repeats {
            // The regression gate's tests read the runs' CPU times.
            guard repeats.runs >= 1, repeats.runs <= Self.maxRepeats, repeats.cpuSeconds.values.count == repeats.runs else {
                throw ReportValidationError(field: "repeats.cpu_seconds.values", problem: "must hold one value for each of 1 to \(Self.maxRepeats) runs")
            }
            guard repeats.cpuSeconds.values.allSatisfy({ $0 >= 0 }) else {
                throw ReportValidationError(field: "repeats.cpu_seconds.values", problem: "holds a negative time")
            }
        }
        for (l, location) in (profile.locations ?? []).enumerated() {
            let field = "profile.locations[\(l)]"
            guard !location.lines.isEmpty else { throw ReportValidationError(field: field + ".lines", problem: "is empty") }
            if let bad = location.lines.firstIndex(where: { !profile.functions.indices.contains($0.function) }) {
                throw ReportValidationError(field: field + ".lines[\(bad)].function", problem: "is not an index into profile.functions")
            }
            if let bad = location.lines.firstIndex(where: { ($0.line ?? 0) < 0 || ($0.line ?? 0) > Int(Int32.max) }) {
                throw ReportValidationError(field: field + ".lines[\(bad)].line", problem: "is out of range")
            }
        }
        var total = 0
        for (s, stack) in profile.stacks.enumerated() {
            let field = "profile.stacks[\(s)]"
            guard stack.count >= 0, stack.count <= Self.maxStackSamples else {
                throw ReportValidationError(field: field + ".count", problem: "must be 0 to \(Self.maxStackSamples), is \(stack.count)")
            }
            total += stack.count
            guard total <= Self.maxTotalSamples else {
                throw ReportValidationError(field: field + ".count", problem: "samples add up to more than \(Self.maxTotalSamples)")
            }
            if let bad = stack.frames.firstIndex(where: { !profile.functions.indices.contains($0) }) {
                throw ReportValidationError(field: field + ".frames[\(bad)]",
                                            problem: "\(stack.frames[bad]) is not an index into profile.functions (\(profile.functions.count))")
            }
            if let indices = stack.locations {
                let locations = profile.locations ?? []
                if let bad = indices.firstIndex(where: { !locations.indices.contains($0) }) {
                    throw ReportValidationError(field: field + ".locations[\(bad)]",
                                                problem: "\(indices[bad]) is not an index into profile.locations (\(locations.count))")
                }
                guard indices.flatMap({ locations[$0].lines.map(\.function) }) == stack.frames else {
                    throw ReportValidationError(field: field + ".frames", problem: "are not the functions of its locations")
                }
            }
        }
        for (name, list) in [("processes", processes), ("threads", threads)] {
            if let bad = list.firstIndex(where: { $0.samples < 0 || $0.samples > Self.maxTotalSamples }) {
                throw ReportValidationError(field: "\(name)[\(bad)].samples", problem: "out of range")
            }
        }
        if let bad = hotspots.firstIndex(where: { $0.selfSamples < 0 || $0.totalSamples < 0 }) {
            throw ReportValidationError(field: "hotspots[\(bad)]", problem: "negative sample count")
        }
        if let heap {
            guard heap.sampleBytes >= 0 else { throw ReportValidationError(field: "heap.sample_bytes", problem: "is negative") }
            if let bad = heap.stacks.firstIndex(where: { $0.functions.count != $0.modules.count }) {
                throw ReportValidationError(field: "heap.stacks[\(bad)]", problem: "functions and modules differ in length")
            }
        }
        return sanitizingNames()
    }

    /// Every number anywhere in the report finite and within ±`maxMagnitude`.
    private static func checkNumbers(in value: Any, path: String) throws(ReportValidationError) {
        func bad(_ number: String) -> ReportValidationError {
            ReportValidationError(field: path.isEmpty ? "report" : path, problem: "\(number) is out of range")
        }
        switch value {
        case let number as Double:
            guard number.isFinite, abs(number) <= maxMagnitude else { throw bad("\(number)") }
        case let number as Int:
            guard abs(Double(number)) <= maxMagnitude else { throw bad("\(number)") }
        case let number as UInt64:
            guard Double(number) <= maxMagnitude else { throw bad("\(number)") }
        case let numbers as [Int]:
            // Frame lists are long: no reflection per element.
            if let index = numbers.firstIndex(where: { abs(Double($0)) > maxMagnitude }) {
                throw ReportValidationError(field: "\(path)[\(index)]", problem: "\(numbers[index]) is out of range")
            }
        case is String, is Bool, is Int32, is UInt32:
            break
        case let location as Profile.Location:
            // Any address is an address (the kernel's are above 2^63).
            try checkNumbers(in: location.lines, path: path + ".lines")
        default:
            let mirror = Mirror(reflecting: value)
            let isCollection = mirror.displayStyle == .collection
            for (offset, child) in mirror.children.enumerated() {
                let key: String
                if isCollection {
                    key = "\(path)[\(offset)]"
                } else if mirror.displayStyle == .dictionary {
                    key = path
                } else {
                    let label = child.label.map(snakeCase) ?? "\(offset)"
                    key = path.isEmpty ? label : "\(path).\(label)"
                }
                try checkNumbers(in: child.value, path: key)
            }
        }
    }

    private static func snakeCase(_ name: String) -> String {
        var out = ""
        for character in name {
            if character.isUppercase { out += "_" + character.lowercased() } else { out.append(character) }
        }
        return out
    }

    private func sanitizingNames() -> ProfileReport {
        var report = self
        report.target.name = SymbolName.sanitized(target.name)
        report.target.command = target.command.map(SymbolName.sanitized)
        report.profile.functions = profile.functions.map {
            SymbolizedFrame(function: $0.function, module: $0.module, kernel: $0.kernel, symbolized: $0.symbolized)
        }
        report.profile.locations = profile.locations?.map { location in
            var location = location
            location.module = SymbolName.sanitized(location.module)
            location.lines = location.lines.map { var line = $0; line.file = line.file.map(SymbolName.sanitized); return line }
            return location
        }
        func clean(_ hotspots: [Hotspot]) -> [Hotspot] {
            hotspots.map { var h = $0; h.function = SymbolName.sanitized(h.function); h.module = SymbolName.sanitized(h.module); return h }
        }
        report.hotspots = clean(hotspots)
        report.hotspotsByTotal = hotspotsByTotal.map(clean)
        report.threadHotspots = threadHotspots.map { var t = $0; t.name = SymbolName.sanitized(t.name); t.hotspots = clean(t.hotspots); return t }
        report.hotLines = hotLines?.map { function in
            var function = function
            function.function = SymbolName.sanitized(function.function)
            function.module = SymbolName.sanitized(function.module)
            function.lines = function.lines.map { var line = $0; line.file = SymbolName.sanitized(line.file); line.text = line.text.map(SymbolName.sanitized); return line }
            return function
        }
        report.threads = threads.map { var t = $0; t.name = SymbolName.sanitized(t.name); return t }
        report.processes = processes.map { var t = $0; t.name = SymbolName.sanitized(t.name); return t }
        report.heap?.stacks = heap?.stacks.map {
            var s = $0; s.functions = s.functions.map(SymbolName.sanitized); s.modules = s.modules.map(SymbolName.sanitized); return s
        } ?? []
        return report
    }
}
