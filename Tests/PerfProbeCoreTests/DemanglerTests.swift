import Foundation
import Testing
@testable import PerfProbeCore

@Suite struct DemanglerTests {
    @Test func cxxNamesKeepClassAndParameters() {
        #expect(Demangler.demangle("_ZNK8geometry7Polygon4areaEi") == "geometry::Polygon::area(int) const")
        #expect(Demangler.demangle("_ZNSt6vectorIiSaIiEE9push_backERKi")
            == "std::vector<int, std::allocator<int> >::push_back(int const&)")
    }

    @Test func plainAndVersionedNames() {
        #expect(Demangler.demangle("main") == "main")
        #expect(Demangler.demangle("clock_gettime@@GLIBC_2.17") == "clock_gettime")
        #expect(Demangler.demangle("_Znot_really") == "_Znot_really")
    }

    @Test func rustLegacyNamesLoseTheirHash() {
        #expect(Demangler.demangle("_ZN4core3fmt5write17h0123456789abcdefE") == "core::fmt::write")
        #expect(Demangler.demangle("_ZN5alloc3vec12Vec$LT$T$GT$4push17h0123456789abcdefE") == "alloc::vec::Vec<T>::push")
        #expect(Demangler.demangle("_ZN55_$LT$mini..Matrix$LT$f64$GT$$u20$as$u20$mini..Scale$GT$5scale17h0123456789abcdefE")
            == "<mini::Matrix<f64> as mini::Scale>::scale")
    }

    @Test func swiftNamesThroughTheRuntime() {
        #expect(Demangler.demangle("$s12swift_matrix6MatrixV8multiply2byA2C_tF")
            == "swift_matrix.Matrix.multiply(by: swift_matrix.Matrix) -> swift_matrix.Matrix")
    }

    /// Rust v0 symbols rustc emitted (Fixtures/rust-v0-symbols.txt), checked
    /// against binutils' c++filt, minus the crate hashes it prints ([0123abcd]).
    @Test func rustV0MatchesCxxFilt() throws {
        let symbols = try FixtureFiles.text("rust-v0-symbols.txt").split(separator: "\n").map(String.init)
        #expect(symbols.count > 500)
        let reference = try TemporaryDirectory().run("/usr/bin/c++filt", symbols)
            .split(separator: "\n").map { $0.replacingOccurrences(of: #"\[[0-9a-f]+\]"#, with: "", options: .regularExpression) }
        #expect(reference.count == symbols.count)
        var mismatches: [String] = []
        for (symbol, expected) in zip(symbols, reference) where Demangler.demangle(symbol) != expected {
            mismatches.append("\(symbol)\n  ours:     \(Demangler.demangle(symbol))\n  c++filt:  \(expected)")
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) differ; first: \(mismatches.first ?? "")")
    }

    @Test func rustV0HandWritten() {
        #expect(Demangler.demangle("_RNvNtCs1234_7mycrate3foo3bar") == "mycrate::foo::bar")
        #expect(Demangler.demangle("_RNvCs1234_7mycrate") == "_RNvCs1234_7mycrate") // malformed: kept
    }
}
