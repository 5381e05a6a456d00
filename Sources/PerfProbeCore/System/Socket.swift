import CPerfProbe
import Glibc

/// A TCP socket, owned: the listening socket of the sidecar's server, a
/// connection it accepted, or one the profile pusher made. The one file that
/// calls the socket API; every wait is bounded, so a peer that stops
/// reading or writing costs time, never a thread.
struct Socket: ~Copyable, Sendable {
    private let descriptor: FileDescriptor
    /// The local port (a listening socket asked for port 0 learns its own here).
    let port: Int

    private init(_ descriptor: consuming FileDescriptor, port: Int) {
        self.descriptor = descriptor
        self.port = port
    }

    /// Listens on `host:port` (port 0: any free one).
    static func listen(host: String, port: Int) throws(Errno) -> Socket {
        var bound: Int32 = 0
        let fd = try valueOrErrno(retryOnInterrupt: false) { CPerfProbe_listen_tcp(host, Int32(clamping: port), &bound) }
        return Socket(FileDescriptor(fd), port: Int(bound))
    }

    /// Connects to `host:port`, giving up after `timeoutMilliseconds`.
    static func connect(host: String, port: Int, timeoutMilliseconds: Int32) throws(Errno) -> Socket {
        let fd = try valueOrErrno(retryOnInterrupt: false) { CPerfProbe_connect_tcp(host, Int32(clamping: port), timeoutMilliseconds) }
        return Socket(FileDescriptor(fd), port: 0)
    }

    /// Waits up to `timeoutMilliseconds` for a connection to arrive; nil
    /// when none did (or on an error).
    func accept(timeoutMilliseconds: Int32) -> Socket? {
        var poll = pollfd(fd: descriptor.raw, events: Int16(POLLIN), revents: 0)
        guard Glibc.poll(&poll, 1, timeoutMilliseconds) == 1 else { return nil }
        let connection = Glibc.accept(descriptor.raw, nil, nil)
        guard connection >= 0 else { return nil }
        _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
        return Socket(FileDescriptor(connection), port: port)
    }

    /// Reads what is there within `timeoutMilliseconds`: nil on timeout, error or end.
    func receive(upTo count: Int, timeoutMilliseconds: Int32) -> [UInt8]? {
        var poll = pollfd(fd: descriptor.raw, events: Int16(POLLIN), revents: 0)
        guard Glibc.poll(&poll, 1, timeoutMilliseconds) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { Glibc.recv(descriptor.raw, $0.baseAddress, count, 0) } as Int
        return n > 0 ? Array(buffer[0..<n]) : nil
    }

    /// Sends all of `bytes` (a peer that stops reading costs at most `timeoutMilliseconds` per wait).
    func send(_ bytes: [UInt8], timeoutMilliseconds: Int32) {
        var offset = 0
        while offset < bytes.count {
            var poll = pollfd(fd: descriptor.raw, events: Int16(POLLOUT), revents: 0)
            guard Glibc.poll(&poll, 1, timeoutMilliseconds) == 1 else { return }
            let n: Int = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor.raw, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            offset += n
        }
    }

    /// POLLRDHUP (<poll.h> shows it only with _GNU_SOURCE).
    private static let pollReadHangUp: Int16 = 0x2000

    /// Waits up to `seconds` for the peer to hang up: true when it did (end
    /// of stream, reset or error). Bytes it sends meanwhile are read and dropped.
    func waitForHangUp(seconds: Double) -> Bool {
        let milliseconds = UInt64(min(max(seconds, 0), 3600) * 1000)
        let deadline = Syscalls.monotonicNanoseconds() + milliseconds * 1_000_000
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let now = Syscalls.monotonicNanoseconds()
            guard now < deadline else { return false }
            var poll = pollfd(fd: descriptor.raw, events: Int16(POLLIN) | Self.pollReadHangUp, revents: 0)
            guard Glibc.poll(&poll, 1, Int32((deadline - now) / 1_000_000) + 1) == 1 else { continue }
            if poll.revents & (Self.pollReadHangUp | Int16(POLLHUP | POLLERR)) != 0 { return true }
            let n = buffer.withUnsafeMutableBytes { Glibc.recv(descriptor.raw, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) } as Int
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { return true }
        }
    }

    /// Closes a connection without resetting it: ends this side, then reads
    /// and drops what the peer still sends (64 KiB, `milliseconds` at most).
    /// Closing with request bytes unread makes the kernel send a reset, which
    /// can destroy the answer before the peer has read it.
    consuming func close(lingerMilliseconds milliseconds: Int32) {
        _ = Glibc.shutdown(descriptor.raw, Int32(SHUT_WR))
        let deadline = Syscalls.monotonicNanoseconds() + UInt64(max(milliseconds, 0)) * 1_000_000
        var drained = 0
        while drained < 1 << 16 {
            let now = Syscalls.monotonicNanoseconds()
            guard now < deadline,
                  let bytes = receive(upTo: 16 * 1024, timeoutMilliseconds: Int32((deadline - now) / 1_000_000) + 1)
            else { break }
            drained += bytes.count
        }
    }
}
