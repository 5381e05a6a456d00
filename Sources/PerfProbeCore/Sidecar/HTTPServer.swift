import FoundationEssentials
import Synchronization

/// The sidecar's endpoint server: HTTP/1.1, one request per connection. The
/// accept loop has a thread of its own, and each request another, with a
/// 2 s deadline to arrive, a 64 KiB cap and at most 16 at once (more get 503):
/// a slow or malicious client can neither stall sampling nor grow memory.
final class HTTPServer: Sendable {
    let port: Int
    private let fd: Int32
    private let running = Atomic<Bool>(true)
    private let inFlight = Atomic<Int>(0)

    static let maxRequestBytes = 64 * 1024
    static let maxInFlight = 16

    /// `handler` gets the request and a way to wait that ends early when
    /// the client hangs up (a long request is then abandoned).
    typealias Handler = @Sendable (HTTPRequest, HTTPClient) -> HTTPResponse

    init(host: String, port: Int, handler: @escaping Handler) throws(Errno) {
        (fd, self.port) = try Syscalls.listenTCP(host: host, port: port)
        Syscalls.startThread(named: "perfprobe-http") { [self] in acceptLoop(handler) }
    }

    func stop() {
        running.store(false, ordering: .releasing)
    }

    private func acceptLoop(_ handler: @escaping Handler) {
        while running.load(ordering: .acquiring) {
            Syscalls.pollReadable([fd], timeoutMilliseconds: 200)
            guard running.load(ordering: .acquiring), let connection = Syscalls.accept(fd) else { continue }
            if inFlight.wrappingAdd(1, ordering: .relaxed).newValue > Self.maxInFlight {
                Syscalls.send(connection, HTTPResponse(status: 503, text: "busy\n").bytes, timeoutMilliseconds: 100)
                // Short: this is the accept loop's own time.
                Syscalls.closeConnection(connection, lingerMilliseconds: 20)
                inFlight.wrappingSubtract(1, ordering: .relaxed)
                continue
            }
            Syscalls.startThread(named: "perfprobe-client") { [self] in
                Syscalls.send(connection, respond(connection, handler).bytes, timeoutMilliseconds: 2000)
                Syscalls.closeConnection(connection, lingerMilliseconds: 500)
                inFlight.wrappingSubtract(1, ordering: .relaxed)
            }
        }
        Syscalls.close(fd)
    }

    private func respond(_ connection: Int32, _ handler: Handler) -> HTTPResponse {
        var received: [UInt8] = []
        let deadline = Syscalls.monotonicNanoseconds() + 2_000_000_000
        while true {
            switch HTTPRequest.parse(received) {
            case .complete(let request): return handler(request, HTTPClient(fd: connection))
            case .malformed: return HTTPResponse(status: 400, text: "malformed request\n")
            case .tooLarge: return HTTPResponse(status: 413, text: "request too large\n")
            case .incomplete: break
            }
            let now = Syscalls.monotonicNanoseconds()
            guard received.count < Self.maxRequestBytes else { return HTTPResponse(status: 413, text: "request too large\n") }
            guard now < deadline, let more = Syscalls.receive(connection, upTo: 16 * 1024,
                                                               timeoutMilliseconds: Int32((deadline - now) / 1_000_000) + 1)
            else { return HTTPResponse(status: 400, text: "incomplete request\n") }
            received += more
        }
    }
}

/// The client of one request, as a handler sees it.
struct HTTPClient: Sendable {
    let fd: Int32

    /// Waits `seconds`; false if the client hung up first.
    func wait(seconds: Double) -> Bool {
        !Syscalls.waitForHangUp(fd, milliseconds: Int32(min(max(seconds, 0), 3600) * 1000))
    }
}
