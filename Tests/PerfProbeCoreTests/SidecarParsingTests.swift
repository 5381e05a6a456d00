import Testing
@testable import PerfProbeCore

/// The sidecar's pure parts: HTTP requests, phase schedules, the metrics text.
@Suite struct SidecarParsingTests {
    @Test func requests() {
        let get = Array("GET /debug/pprof/profile?seconds=5&x HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        #expect(HTTPRequest.parse(get) == .complete(HTTPRequest(method: "GET", path: "/debug/pprof/profile",
                                                                 query: ["seconds": "5", "x": ""], body: [])))
        let post = Array("POST /phase HTTP/1.1\r\nContent-Length: 16\r\n\r\n{\"name\": \"peak\"}".utf8)
        #expect(HTTPRequest.parse(post) == .complete(HTTPRequest(method: "POST", path: "/phase", query: [:],
                                                                  body: Array("{\"name\": \"peak\"}".utf8))))
        // The body, or the head, not all there yet.
        #expect(HTTPRequest.parse(Array(post.dropLast(3))) == .incomplete)
        #expect(HTTPRequest.parse(Array("GET / HTTP/1.1\r\nHost".utf8)) == .incomplete)
        #expect(HTTPRequest.parse(Array("GARBAGE\r\n\r\n".utf8)) == .malformed)
        #expect(HTTPRequest.parse(Array("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n".utf8)) == .malformed)
    }

    @Test func phaseSchedules() throws {
        let schedule = try PhaseSchedule.parse("# load\nwarmup 0\npeak_load 60  # the big one\n\nstress 120.5\n")
        #expect(schedule.phase(at: 0) == "warmup" && schedule.phase(at: 59.9) == "warmup")
        #expect(schedule.phase(at: 60) == "peak_load" && schedule.phase(at: 500) == "stress")
        #expect(try PhaseSchedule.parse("late 5").phase(at: 1) == nil)
        #expect(throws: PhaseSchedule.ParseError(line: 2, message: "offsets must increase")) { try PhaseSchedule.parse("a 5\nb 5") }
        #expect(throws: PhaseSchedule.ParseError.self) { try PhaseSchedule.parse("a/b 0") }
        #expect(!PhaseSchedule.isValidName("..") && !PhaseSchedule.isValidName("") && PhaseSchedule.isValidName("peak-2.x"))
    }

    @Test func metricLabelsAreEscaped() {
        #expect(MetricsText.escape("a\"b\\c\nd") == "a\\\"b\\\\c\\nd")
    }
}
