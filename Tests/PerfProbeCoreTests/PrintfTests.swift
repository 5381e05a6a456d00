import PerfProbeCore
import Testing

/// `String(printf:)` replaces Foundation's `String(format:)`: the same
/// text as C's printf for the conversions the reports use (expected
/// strings are glibc printf's output), `%@` for any value, and no crash on a
/// format whose arguments are missing or of another kind.
@Suite struct PrintfTests {
    @Test func numbersAsPrintfWritesThem() {
        #expect(String(printf: "%6.2f%%", 3.14159) == "  3.14%")
        #expect(String(printf: "%+.1f points", 2.25) == "+2.2 points") // round-half-even on the binary value, as printf
        #expect(String(printf: "%+6.2f", -0.5) == " -0.50")
        #expect(String(printf: "%.0f", 2.5) == "2")
        #expect(String(printf: "%g%%", 5.0) == "5%")
        #expect(String(printf: "%.3f s", 1e-4) == "0.000 s")
        #expect(String(printf: "%d samples at %d Hz", 1234, Int32(99)) == "1234 samples at 99 Hz")
        #expect(String(printf: "lost %llu records", UInt64.max) == "lost 18446744073709551615 records")
        #expect(String(printf: "%04d%02d", 2026, 7) == "202607")
        #expect(String(printf: "%d", Int.min) == "-9223372036854775808")
    }

    @Test func valuesAsTheirDescription() {
        #expect(String(printf: "%-9@|", "leak") == "leak     |")
        #expect(String(printf: "%6@|", "ab") == "    ab|")
        #expect(String(printf: "%@ [%@]", "main", "app") == "main [app]")
        #expect(String(printf: "€ %@ ✓", "naïve") == "€ naïve ✓")
        #expect(String(printf: "100%%") == "100%")
    }

    @Test func wrongFormatsDoNotCrash() {
        #expect(String(printf: "%d and %d", 1) == "1 and ")
        #expect(String(printf: "%.1f", "text") == "text")
        #expect(String(printf: "%d", 2.5) == "2.500000")
        #expect(String(printf: "trailing %") == "trailing %")
    }
}
