import FoundationEssentials
import SwiftProtobuf

/// Builds a pprof `Profile` message: interns strings, gives each module one
/// mapping, and each code location of the report one location — its
/// address, and one line per inlined level, innermost first, each naming a
/// function of that name and source file. Stacks merged by function (heap,
/// off-CPU, reports of earlier versions) get one location per (function,
/// module), address 0.
struct PprofBuilder {
    private var profile = Perftools_Profiles_Profile()
    private var strings: [String: Int64] = [:]
    private var locations: [String: UInt64] = [:]
    private var reportLocations: [Int: UInt64] = [:]
    private var functions: [String: UInt64] = [:]
    private var mappings: [String: UInt64] = [:]
    private let modules: [String: ReportModule]

    init(report: ProfileReport, sampleTypes: [(type: String, unit: String)], period: (type: String, unit: String, value: Int64)) {
        modules = Dictionary((report.modules ?? []).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        _ = string("")
        profile.sampleType = sampleTypes.map { valueType($0.type, $0.unit) }
        profile.periodType = valueType(period.type, period.unit)
        profile.period = period.value
        profile.durationNanos = Int64(clamping: report.durationSeconds * 1e9)
        if let started = try? Date(report.startedAt, strategy: .iso8601) {
            profile.timeNanos = Int64(clamping: started.timeIntervalSince1970 * 1e9)
        }
        profile.comment = [string("perfprobe \(report.target.mode) \(report.target.name) (pid \(report.target.pid))")]
    }

    mutating func string(_ text: String) -> Int64 {
        if let known = strings[text] { return known }
        let index = Int64(profile.stringTable.count)
        profile.stringTable.append(text)
        strings[text] = index
        return index
    }

    private mutating func valueType(_ type: String, _ unit: String) -> Perftools_Profiles_ValueType {
        var value = Perftools_Profiles_ValueType()
        value.type = string(type)
        value.unit = string(unit)
        return value
    }

    /// The location of `function` in `module`, made on first use.
    mutating func location(function: String, module: String, symbolized: Bool) -> UInt64 {
        let key = function + "\u{1}" + module
        if let known = locations[key] { return known }
        var line = Perftools_Profiles_Line()
        line.functionID = self.function(function, file: modules[module]?.path ?? module)
        var location = Perftools_Profiles_Location()
        location.id = UInt64(profile.location.count + 1)
        location.mappingID = mapping(module, symbolized: symbolized)
        location.line = [line]
        profile.location.append(location)
        locations[key] = location.id
        return location.id
    }

    /// The location of the report's location `index`, made on first use.
    mutating func location(_ index: Int, of report: Profile) -> UInt64 {
        if let known = reportLocations[index] { return known }
        guard let source = report.locations?[safe: index] else { return location(function: "[unknown]", module: "[unknown]", symbolized: false) }
        var location = Perftools_Profiles_Location()
        location.id = UInt64(profile.location.count + 1)
        location.address = source.address
        location.line = source.lines.map { level in
            var line = Perftools_Profiles_Line()
            let function = report.functions[safe: level.function]
            line.functionID = self.function(function?.function ?? "[unknown]", file: level.file ?? modules[source.module]?.path ?? source.module)
            line.line = Int64(level.line ?? 0)
            return line
        }
        let symbolized = source.lines.last.flatMap { report.functions[safe: $0.function]?.symbolized } ?? false
        location.mappingID = mapping(source.module, symbolized: symbolized)
        // What pprof may trust this mapping for, from what its locations carry.
        let mapping = Int(location.mappingID) - 1
        if source.lines.contains(where: { $0.file != nil }) { profile.mapping[mapping].hasFilenames_p = true }
        if source.lines.contains(where: { $0.line != nil }) { profile.mapping[mapping].hasLineNumbers_p = true }
        if source.lines.count > 1 { profile.mapping[mapping].hasInlineFrames_p = true }
        profile.location.append(location)
        reportLocations[index] = location.id
        return location.id
    }

    /// The function of this name in this source file (the module's path where none is known).
    private mutating func function(_ name: String, file: String) -> UInt64 {
        let key = name + "\u{1}" + file
        if let known = functions[key] { return known }
        var entry = Perftools_Profiles_Function()
        entry.id = UInt64(profile.function.count + 1)
        entry.name = string(name)
        entry.systemName = entry.name
        entry.filename = string(file)
        profile.function.append(entry)
        functions[key] = entry.id
        return entry.id
    }

    /// The module's mapping: where its code lies as its file places it, so
    /// that pprof finds an address's instruction in the file (-disasm, -list).
    private mutating func mapping(_ module: String, symbolized: Bool) -> UInt64 {
        if let known = mappings[module] {
            if symbolized { profile.mapping[Int(known) - 1].hasFunctions_p = true }
            return known
        }
        var mapping = Perftools_Profiles_Mapping()
        mapping.id = UInt64(profile.mapping.count + 1)
        mapping.filename = string(modules[module]?.path ?? module)
        mapping.buildID = string(modules[module]?.buildID ?? "")
        if let text = modules[module]?.text {
            mapping.memoryStart = text.start
            mapping.memoryLimit = text.limit
            mapping.fileOffset = text.offset
        }
        mapping.hasFunctions_p = symbolized
        profile.mapping.append(mapping)
        mappings[module] = mapping.id
        return mapping.id
    }

    /// A sample: `locations` leaf first, one value per sample type.
    mutating func add(locations: [UInt64], values: [Int64], labels: [(key: String, text: String?, number: Int64?)] = []) {
        var sample = Perftools_Profiles_Sample()
        sample.locationID = locations
        sample.value = values
        sample.label = labels.map { label in
            var entry = Perftools_Profiles_Label()
            entry.key = string(label.key)
            if let text = label.text { entry.str = string(text) }
            if let number = label.number { entry.num = number }
            return entry
        }
        profile.sample.append(sample)
    }

    /// The serialized, gzipped profile.
    mutating func gzipped(defaultSampleType: String) throws -> Data {
        profile.defaultSampleType = string(defaultSampleType)
        let bytes: [UInt8] = try profile.serializedBytes()
        guard let compressed = Zlib.gzip(bytes) else { throw PprofError.compression }
        return Data(compressed)
    }

    enum PprofError: Error {
        case compression
    }
}

extension Int64 {
    /// A report's Double as pprof's integer: NaN is 0, the rest rounded and pinned to the range.
    init(clamping value: Double) {
        if value.isNaN { self = 0 } else if value >= 9.2e18 { self = .max } else if value <= -9.2e18 { self = .min } else { self = Int64(value.rounded()) }
    }
}
