import FoundationEssentials
import SwiftProtobuf

/// Builds a pprof `Profile` message: interns strings, and gives each
/// (function, module) one function, one location and the module one mapping.
/// Frames are merged by name before they reach the report, so a location
/// stands for the function (address 0), not an instruction; inlining is not
/// known (no DWARF line tables are read), so each location has one line.
struct PprofBuilder {
    private var profile = Perftools_Profiles_Profile()
    private var strings: [String: Int64] = [:]
    private var locations: [String: UInt64] = [:]
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
        var entry = Perftools_Profiles_Function()
        entry.id = UInt64(profile.function.count + 1)
        entry.name = string(function)
        entry.systemName = entry.name
        entry.filename = string(modules[module]?.path ?? module)
        profile.function.append(entry)
        var line = Perftools_Profiles_Line()
        line.functionID = entry.id
        var location = Perftools_Profiles_Location()
        location.id = UInt64(profile.location.count + 1)
        location.mappingID = mapping(module, symbolized: symbolized)
        location.line = [line]
        profile.location.append(location)
        locations[key] = location.id
        return location.id
    }

    private mutating func mapping(_ module: String, symbolized: Bool) -> UInt64 {
        if let known = mappings[module] {
            if symbolized { profile.mapping[Int(known) - 1].hasFunctions_p = true }
            return known
        }
        var mapping = Perftools_Profiles_Mapping()
        mapping.id = UInt64(profile.mapping.count + 1)
        mapping.filename = string(modules[module]?.path ?? module)
        mapping.buildID = string(modules[module]?.buildID ?? "")
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
