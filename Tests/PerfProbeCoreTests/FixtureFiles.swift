import Foundation
import Testing

/// Captured /proc and kernel files under Fixtures/.
enum FixtureFiles {
    static func text(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: nil))
        return try String(contentsOf: url, encoding: .utf8)
    }
}

