import Foundation

/// docs/report.schema.json, and a validator of the JSON Schema keywords it
/// uses (type, properties, required, additionalProperties, items, enum):
/// every report a test reads is checked against it, so the code, the schema
/// and what the README says of them cannot drift apart unnoticed.
enum ReportSchema {
    /// A JSON document as the validator sees it: integers apart from other numbers.
    indirect enum Value: Decodable {
        case null
        case bool(Bool)
        case integer
        case number
        case string(String)
        case array([Value])
        case object([String: Value])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if (try? container.decode(Int64.self)) != nil || (try? container.decode(UInt64.self)) != nil {
                self = .integer
            } else if (try? container.decode(Double.self)) != nil {
                self = .number
            } else if let value = try? container.decode(String.self) {
                self = .string(value)
            } else if let value = try? container.decode([Value].self) {
                self = .array(value)
            } else {
                self = .object(try container.decode([String: Value].self))
            }
        }

        func fits(_ type: String) -> Bool {
            switch (self, type) {
            case (.null, "null"), (.bool, "boolean"), (.integer, "integer"), (.integer, "number"), (.number, "number"),
                 (.string, "string"), (.array, "array"), (.object, "object"): true
            default: false
            }
        }
    }

    static let schema: Value = {
        let url = Harness.repository.appendingPathComponent("docs/report.schema.json")
        // A missing or broken schema fails every validation, loudly.
        return (try? JSONDecoder().decode(Value.self, from: Data(contentsOf: url))) ?? .null
    }()

    /// Where `document` breaks the schema: one line per violation, by path.
    static func violations(of document: Data) -> [String] {
        guard case .object = schema else { return ["docs/report.schema.json is missing or not JSON"] }
        guard let value = try? JSONDecoder().decode(Value.self, from: document) else { return ["report.json is not JSON"] }
        var found: [String] = []
        check(value, against: schema, at: "$", into: &found)
        return found
    }

    private static func check(_ value: Value, against schema: Value, at path: String, into found: inout [String]) {
        guard case .object(let rules) = schema else { return }
        if let type = rules["type"] {
            let allowed: [String] = switch type {
            case .string(let name): [name]
            case .array(let names): names.compactMap { if case .string(let name) = $0 { name } else { nil } }
            default: []
            }
            guard allowed.contains(where: value.fits) else {
                found.append("\(path): not \(allowed.joined(separator: " or "))")
                return
            }
        }
        if case .array(let options)? = rules["enum"], case .string(let text) = value,
           !options.contains(where: { if case .string(text) = $0 { true } else { false } }) {
            found.append("\(path): \"\(text)\" is none of the values the schema lists")
        }
        switch value {
        case .object(let members):
            let properties: [String: Value] = if case .object(let properties)? = rules["properties"] { properties } else { [:] }
            if case .array(let required)? = rules["required"] {
                for case .string(let name) in required where members[name] == nil { found.append("\(path): no \(name)") }
            }
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                if let rule = properties[name] {
                    check(member, against: rule, at: "\(path).\(name)", into: &found)
                } else if case .bool(false)? = rules["additionalProperties"] {
                    found.append("\(path): \(name) is not in the schema")
                } else if let rule = rules["additionalProperties"] {
                    check(member, against: rule, at: "\(path).\(name)", into: &found)
                }
            }
        case .array(let items):
            if let rule = rules["items"] {
                for (index, item) in items.enumerated() { check(item, against: rule, at: "\(path)[\(index)]", into: &found) }
            }
        default:
            break
        }
    }
}
