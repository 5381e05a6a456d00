import Dispatch
import FoundationEssentials
import Synchronization

/// Pushes each window's CPU profile to a Pyroscope-compatible `/ingest`
/// (`format=pprof`, `name`, `from`, `until`; the profile as the multipart
/// field `profile`), over plain HTTP from a thread of its own. Sampling never
/// waits on it: the queue holds 16 windows, the oldest is dropped (and
/// counted) past that, and a push that fails three times, 0.5/1/2 s apart, is
/// dropped too.
final class ProfilePusher: Sendable {
    struct Window: Sendable {
        var name: String
        var from: Date
        var until: Date
        var profile: Data
    }

    private let host: String
    private let port: Int
    private let path: String
    private let queue = Locked<[Window]>([])
    private let ready = DispatchSemaphore(value: 0)
    private let running = Atomic<Bool>(true)
    let sent = Atomic<Int>(0)
    let dropped = Atomic<Int>(0)
    /// Why the last window that failed was not taken.
    let lastError = Locked<String?>(nil)

    static let capacity = 16

    /// Nil when `url` is not `http://HOST[:PORT][/PATH]`.
    init?(url: String) {
        guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host else { return nil }
        self.host = host
        port = components.port ?? 80
        path = (components.path.hasSuffix("/") ? String(components.path.dropLast()) : components.path) + "/ingest"
        Syscalls.startThread(named: "perfprobe-push") { [self] in run() }
    }

    func enqueue(_ window: Window) {
        let overflow = queue.withLock { queue -> Bool in
            queue.append(window)
            guard queue.count > Self.capacity else { return false }
            queue.removeFirst()
            return true
        }
        if overflow { dropped.wrappingAdd(1, ordering: .relaxed) }
        ready.signal()
    }

    /// Sends what is queued (waiting up to `seconds` in all), then stops.
    /// Returns a line for the user when windows were lost: how many, and
    /// the last error; nil when every window was delivered.
    func finish(seconds: Double) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while queue.withLock({ !$0.isEmpty }) && Date() < deadline { Syscalls.sleep(seconds: 0.05) }
        running.store(false, ordering: .releasing)
        ready.signal()
        let unsent = queue.withLock { $0.count }
        let lost = dropped.load(ordering: .relaxed) + unsent
        guard lost > 0 else { return nil }
        let error = lastError.withLock { $0 } ?? "not sent before the sidecar stopped"
        return "--push: \(lost) of \(lost + sent.load(ordering: .relaxed)) windows not delivered to \(host):\(port) (last error: \(error))"
    }

    private func run() {
        while running.load(ordering: .acquiring) {
            ready.wait()
            while let window = queue.withLock({ $0.isEmpty ? nil : $0.first }) {
                var delivered = false
                for delay in [0.5, 1.0, 2.0] {
                    guard let failure = send(window) else {
                        delivered = true
                        break
                    }
                    lastError.withLock { $0 = failure }
                    guard running.load(ordering: .acquiring) else { break }
                    Syscalls.sleep(seconds: delay)
                }
                queue.withLock { if !$0.isEmpty { $0.removeFirst() } }
                if delivered { sent.wrappingAdd(1, ordering: .relaxed) } else { dropped.wrappingAdd(1, ordering: .relaxed) }
            }
        }
    }

    /// One POST; nil on a 2xx answer, else what went wrong.
    private func send(_ window: Window) -> String? {
        let connection: Socket
        do { connection = try Socket.connect(host: host, port: port, timeoutMilliseconds: 2000) } catch { return "connect: \(error)" }
        let boundary = "perfprobe-\(UInt64.random(in: 0...UInt64.max))"
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"profile.pprof\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
        body += Array(window.profile)
        body += Array("\r\n--\(boundary)--\r\n".utf8)
        var query = URLComponents()
        query.queryItems = [URLQueryItem(name: "name", value: window.name), URLQueryItem(name: "format", value: "pprof"),
                            URLQueryItem(name: "from", value: String(Int(window.from.timeIntervalSince1970))),
                            URLQueryItem(name: "until", value: String(Int(window.until.timeIntervalSince1970))),
                            URLQueryItem(name: "spyName", value: "perfprobe")]
        let head = "POST \(path)?\(query.percentEncodedQuery ?? "") HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Type: multipart/form-data; boundary=\(boundary)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        connection.send(Array(head.utf8) + body, timeoutMilliseconds: 5000)
        guard let answer = connection.receive(upTo: 512, timeoutMilliseconds: 5000) else { return "no answer within 5 s" }
        let statusLine = String(decoding: answer.prefix { $0 != 13 && $0 != 10 }.prefix(64), as: UTF8.self)
        let status = statusLine.split(separator: " ").dropFirst().first
        return status?.hasPrefix("2") == true ? nil : "answered \(SymbolName.sanitized(statusLine))"
    }
}
