import FoundationEssentials
import Synchronization

/// The sidecar's endpoint server: HTTP/1.1, one request per connection. The
/// accept loop has a thread of its own, and each request another, with a
/// 2 s deadline to arrive, a 64 KiB cap and at most 16 at once (more get 503):
/// a slow or malicious client can neither stall sampling nor grow memory.
final class HTTPServer: Sendable {
    let port: Int
    private let listener: Socket
    private let running = Atomic<Bool>(true)
    private let inFlight = Atomic<Int>(0)

    static let maxRequestBytes = 64 * 1024
    static let maxInFlight = 16

    /// `handler` gets the request and its client's connection, to wait on
    /// in a way that ends early when the client hangs up (a long request is
    /// then abandoned).
    typealias Handler = @Sendable (HTTPRequest, borrowing Socket) -> HTTPResponse

    init(host: String, port: Int, handler: @escaping Handler) throws(Errno) {
        listener = try Socket.listen(host: host, port: port)
        self.port = listener.port
        Syscalls.startThread(named: "perfprobe-http") { [self] in acceptLoop(handler) }
    }

    func stop() {
        running.store(false, ordering: .releasing)
    }

    private func acceptLoop(_ handler: @escaping Handler) {
        while running.load(ordering: .acquiring) {
            guard let connection = listener.accept(timeoutMilliseconds: 200) else { continue }
            guard running.load(ordering: .acquiring) else { break }
            if inFlight.wrappingAdd(1, ordering: .relaxed).newValue > Self.maxInFlight {
                connection.send(HTTPResponse(status: 503, text: "busy\n").bytes, timeoutMilliseconds: 100)
                // Short: this is the accept loop's own time.
                connection.close(lingerMilliseconds: 20)
                inFlight.wrappingSubtract(1, ordering: .relaxed)
                continue
            }
            Syscalls.startThread(named: "perfprobe-client", handing: connection) { [self] connection in
                connection.send(respond(connection, handler).bytes, timeoutMilliseconds: 2000)
                connection.close(lingerMilliseconds: 500)
                inFlight.wrappingSubtract(1, ordering: .relaxed)
            }
        }
    }

    private func respond(_ connection: borrowing Socket, _ handler: Handler) -> HTTPResponse {
        var received: [UInt8] = []
        let deadline = Syscalls.monotonicNanoseconds() + 2_000_000_000
        while true {
            switch HTTPRequest.parse(received) {
            case .complete(let request): return handler(request, connection)
            case .malformed: return HTTPResponse(status: 400, text: "malformed request\n")
            case .tooLarge: return HTTPResponse(status: 413, text: "request too large\n")
            case .incomplete: break
            }
            let now = Syscalls.monotonicNanoseconds()
            guard received.count < Self.maxRequestBytes else { return HTTPResponse(status: 413, text: "request too large\n") }
            guard now < deadline, let more = connection.receive(upTo: 16 * 1024, timeoutMilliseconds: Int32((deadline - now) / 1_000_000) + 1)
            else { return HTTPResponse(status: 400, text: "incomplete request\n") }
            received += more
        }
    }
}
