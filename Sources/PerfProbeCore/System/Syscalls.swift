import CPerfProbe
import Glibc

/// The raw system calls perfprobe makes, each a thin wrapper that turns the C
/// convention (-1 and errno) into a thrown `Errno`. The only Swift file that
/// calls into C for the kernel; everything else goes through these.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public var description: String { String(cString: strerror(rawValue)) }

    public static let notPermitted = Errno(EPERM)
    public static let noSuchProcess = Errno(ESRCH)
    public static let noSuchFile = Errno(ENOENT)
    public static let accessDenied = Errno(EACCES)
    public static let notSupported = Errno(EOPNOTSUPP)
    public static let noDevice = Errno(ENODEV)
    public static let inputOutput = Errno(EIO)
    public static let invalidArgument = Errno(EINVAL)
}

/// The kernel refused a BPF program: its errno and the verifier's last words.
public struct BPFRefusal: Error, Sendable, CustomStringConvertible {
    public let errno: Errno
    public let verifier: String
    public var description: String { verifier.isEmpty ? errno.description : "\(errno): \(SymbolName.sanitized(verifier))" }
}

/// Runs `body` until it stops failing with EINTR; reads errno right after the call.
@inline(never)
func valueOrErrno<T: FixedWidthInteger>(retryOnInterrupt: Bool = true, _ body: () -> T) throws(Errno) -> T {
    while true {
        let value = body()
        if value != -1 { return value }
        let err = errno
        if retryOnInterrupt && err == EINTR { continue }
        throw Errno(err)
    }
}

enum Syscalls {
    static func perfEventOpen(_ config: CPerfProbe_EventConfig, pid: Int32, cpu: Int32, groupFD: Int32 = -1) throws(Errno) -> Int32 {
        var config = config
        return try valueOrErrno(retryOnInterrupt: false) { CPerfProbe_event_open(&config, pid, cpu, groupFD) }
    }

    static func perfEventEnable(_ fd: Int32) throws(Errno) {
        _ = try valueOrErrno { CPerfProbe_event_enable(fd) }
    }

    static func perfEventDisable(_ fd: Int32) throws(Errno) {
        _ = try valueOrErrno { CPerfProbe_event_disable(fd) }
    }

    static func perfEventSetOutput(_ fd: Int32, ringFD: Int32) throws(Errno) {
        _ = try valueOrErrno { CPerfProbe_event_set_output(fd, ringFD) }
    }

    /// The PERF_SAMPLE_IDENTIFIER the event's records carry.
    static func perfEventID(_ fd: Int32) throws(Errno) -> UInt64 {
        var id: UInt64 = 0
        _ = try valueOrErrno { CPerfProbe_event_id(fd, &id) }
        return id
    }


    /// Loads one of `attach --heap`'s programs (`CPerfProbe_probe_program`);
    /// the verifier's complaint, when it refuses, in the error.
    static func probeProgram(_ spec: CPerfProbe_ProbeProgramSpec) throws(BPFRefusal) -> Int32 {
        var spec = spec
        return try loadProgram { CPerfProbe_probe_program(&spec, $0, $1) }
    }

    /// Loads --off-cpu's program on sched:sched_switch (`CPerfProbe_switch_program`).
    static func switchProgram(_ spec: CPerfProbe_SwitchProgramSpec) throws(BPFRefusal) -> Int32 {
        var spec = spec
        return try loadProgram { CPerfProbe_switch_program(&spec, $0, $1) }
    }

    /// Loads --off-cpu's program on sched:sched_process_fork (`CPerfProbe_fork_program`).
    static func forkProgram(targets: Int32, childPIDOffset: Int32) throws(BPFRefusal) -> Int32 {
        try loadProgram { CPerfProbe_fork_program(targets, childPIDOffset, $0, $1) }
    }

    private static func loadProgram(_ load: (UnsafeMutablePointer<CChar>?, Int) -> Int32) throws(BPFRefusal) -> Int32 {
        let fd = load(nil, 0)
        guard fd < 0 else { return fd }
        let code = Errno(errno)
        // Loaded again with a log only to say why: a log too small for the
        // verifier's trace fails even a sound program (ENOSPC).
        var log = [CChar](repeating: 0, count: 1 << 16)
        let retry = log.withUnsafeMutableBufferPointer { load($0.baseAddress, $0.count) }
        if retry >= 0 { return retry }
        let text = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw BPFRefusal(errno: code, verifier: text.split(separator: "\n").suffix(2).joined(separator: "; "))
    }

    /// A hash of up to `entries` open off-CPU intervals, preallocated: the
    /// program inserts and deletes one per switch.
    static func bpfOpenIntervalsCreate(entries: UInt32) throws(Errno) -> Int32 {
        try valueOrErrno(retryOnInterrupt: false) { CPerfProbe_bpf_open_intervals_create(entries) }
    }

    /// Every entry of a map with u64 keys and `valueSize`-byte values, of
    /// up to `capacity` entries, each once. A program deleting entries
    /// meanwhile can send the walk back to the first key (the kernel's answer
    /// for a key no longer there): entries seen again are skipped, and the
    /// walk is bounded by four times the capacity.
    static func bpfMapEntries(_ map: Int32, valueSize: Int, capacity: Int) -> [UInt64: [UInt8]] {
        var entries: [UInt64: [UInt8]] = [:]
        var key: UInt64 = 0
        var next: UInt64 = 0
        var value = [UInt8](repeating: 0, count: valueSize)
        var first = true
        for _ in 0..<4 * capacity {
            let found = value.withUnsafeMutableBytes { buffer in
                first ? CPerfProbe_bpf_map_next(map, nil, &next, buffer.baseAddress)
                      : withUnsafePointer(to: key) { CPerfProbe_bpf_map_next(map, $0, &next, buffer.baseAddress) }
            }
            if found < 0 { break }
            if found == 0, entries[next] == nil { entries[next] = value }
            key = next
            first = false
        }
        return entries
    }

    /// Removes `key` from a map with u64 keys.
    static func bpfMapRemove(_ map: Int32, key: UInt64) {
        _ = CPerfProbe_bpf_map_remove(map, key)
    }

    /// Sets `key` of a map with u64 keys; `onlyNew`: unless it is there.
    static func bpfMapPut(_ map: Int32, key: UInt64, value: [UInt8], onlyNew: Bool) throws(Errno) {
        _ = try valueOrErrno { value.withUnsafeBytes { CPerfProbe_bpf_map_put(map, key, $0.baseAddress, onlyNew ? 1 /* BPF_NOEXIST */ : 0 /* BPF_ANY */) } }
    }

    static func bpfArrayCreate(entries: UInt32) throws(Errno) -> Int32 {
        try valueOrErrno(retryOnInterrupt: false) { CPerfProbe_bpf_array_create(entries) }
    }

    /// Inserts `key` (value 1) into a hash made by `bpfHashCreate`.
    static func bpfHashInsert(_ map: Int32, key: UInt64) throws(Errno) {
        _ = try valueOrErrno { CPerfProbe_bpf_hash_insert(map, key) }
    }

    static func bpfHashCreate(entries: UInt32) throws(Errno) -> Int32 {
        try valueOrErrno(retryOnInterrupt: false) { CPerfProbe_bpf_hash_create(entries) }
    }

    static func bpfRingCreate(bytes: UInt32) throws(Errno) -> Int32 {
        try valueOrErrno(retryOnInterrupt: false) { CPerfProbe_bpf_ringbuf_create(bytes) }
    }

    static func bpfArraySet(_ map: Int32, key: UInt32, _ value: UInt64) throws(Errno) {
        _ = try valueOrErrno { CPerfProbe_bpf_array_set(map, key, value) }
    }

    static func bpfArrayGet(_ map: Int32, key: UInt32) -> UInt64? {
        var value: UInt64 = 0
        return CPerfProbe_bpf_array_get(map, key, &value) == 0 ? value : nil
    }

    /// A read-only shared mapping of `length` bytes of `fd` from `offset`.
    static func mmapShared(_ fd: Int32, length: Int, offset: Int) throws(Errno) -> UnsafeMutableRawPointer {
        let address = Glibc.mmap(nil, length, PROT_READ, MAP_SHARED, fd, off_t(offset))
        if address == MAP_FAILED || address == nil { throw Errno(errno) }
        return address!
    }

    static func perfEventSetBPF(_ fd: Int32, program: Int32) throws(Errno) {
        _ = try valueOrErrno { CPerfProbe_event_set_bpf(fd, program) }
    }

    /// Nanoseconds for `count` malloc/free pairs of `library`'s own; nil when it is not loaded here.
    static func timeAllocateAndFree(library: String, count: Int, size: Int) -> UInt64? {
        let start = monotonicNanoseconds()
        guard CPerfProbe_allocate_and_free(library, UInt64(count), UInt64(size)) == 0 else { return nil }
        return monotonicNanoseconds() - start
    }

    static func currentProcessID() -> Int32 { getpid() }

    /// The calendar fields of a time in the local time zone.
    static func localTime(secondsSinceEpoch: Int) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        var seconds = time_t(secondsSinceEpoch)
        var local = tm()
        localtime_r(&seconds, &local)
        return (Int(local.tm_year) + 1900, Int(local.tm_mon) + 1, Int(local.tm_mday), Int(local.tm_hour), Int(local.tm_min), Int(local.tm_sec))
    }

    static func exit(_ code: Int32) -> Never { Glibc.exit(code) }

    /// perfprobe's nice value as started, read before any change.
    static func startupNice() -> Int32 { CPerfProbe_startup_nice() }

    /// Makes the calling thread real-time (SCHED_FIFO at the lowest
    /// priority: it runs whenever it is runnable, ahead of every normal
    /// thread; the kernel's RT throttling still keeps 5% for those), else
    /// nice -20. Threads it starts inherit it. False when not permitted.
    static func raisePriority() -> Bool { CPerfProbe_raise_priority() }

    static func currentThreadID() -> ThreadID { ThreadID(CPerfProbe_thread_id()) }

    /// Device and inode of a file (following links): to tell whether two paths are one file.
    static func fileIdentity(_ path: String) -> (device: UInt64, inode: UInt64)? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return (UInt64(status.st_dev), UInt64(status.st_ino))
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Reads up to `count` bytes; an fd of a perf counter answers in one read.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try valueOrErrno { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    static func mmapShared(_ fd: Int32, length: Int, writable: Bool) throws(Errno) -> UnsafeMutableRawPointer {
        let prot = PROT_READ | (writable ? PROT_WRITE : 0)
        let address = Glibc.mmap(nil, length, prot, MAP_SHARED, fd, 0)
        if address == MAP_FAILED || address == nil { throw Errno(errno) }
        return address!
    }

    static func munmap(_ address: UnsafeMutableRawPointer, length: Int) {
        _ = Glibc.munmap(address, length)
    }

    /// Waits for any of `fds` to become readable; returns early on EINTR.
    /// Returns those that hung up (POLLHUP, POLLERR, POLLNVAL): a poller
    /// that kept them would return at once, every time.
    @discardableResult
    static func pollReadable(_ fds: [Int32], timeoutMilliseconds: Int32) -> [Int32] {
        var entries = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = entries.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t($0.count), timeoutMilliseconds) }
        return entries.filter { $0.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 }.map(\.fd)
    }

    /// An eventfd that another thread writes to wake a poller.
    static func eventFD() throws(Errno) -> Int32 {
        try valueOrErrno { CPerfProbe_wake_fd() }
    }

    /// Resets a non-blocking eventfd, so that poll stops reporting it.
    static func drainEventFD(_ fd: Int32) {
        var count: UInt64 = 0
        _ = Glibc.read(fd, &count, 8)
    }

    static func signalEventFD(_ fd: Int32) {
        var one: UInt64 = 1
        _ = Glibc.write(fd, &one, 8)
    }

    /// User plus system CPU time of this process, all threads.
    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// A duplicate of `fd` at 3 or above, inherited across exec.
    static func duplicate(_ fd: Int32) throws(Errno) -> Int32 {
        try valueOrErrno { fcntl(fd, F_DUPFD, 3) }
    }

    static func pageSize() -> Int { Int(sysconf(Int32(_SC_PAGESIZE))) }
    static func clockTicksPerSecond() -> Int { Int(sysconf(Int32(_SC_CLK_TCK))) }

    /// CLOCK_MONOTONIC in nanoseconds: the clock perfprobe's events stamp records with.
    /// Runs `body` on a new detached thread named `name` (the kernel keeps 15 bytes of it).
    static func startThread(named name: String, _ body: @escaping @Sendable () -> Void) {
        final class Start {
            let name: String
            let body: @Sendable () -> Void
            init(name: String, body: @escaping @Sendable () -> Void) {
                self.name = name
                self.body = body
            }
        }
        let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { context in
            let start = Unmanaged<AnyObject>.fromOpaque(context!).takeRetainedValue() as! Start
            CPerfProbe_name_thread(start.name)
            start.body()
            return nil
        }, start)
        // Without a thread the agent cannot work at all: as Foundation's Thread, a crash.
        precondition(created == 0, "pthread_create: \(Errno(created))")
        pthread_detach(thread)
    }

    /// Starts a thread that owns `value` (a connection, say): handed over
    /// whole, so no other thread can close or use it.
    static func startThread<Value: ~Copyable & Sendable>(named name: String, handing value: consuming Value,
                                                         _ body: @escaping @Sendable (consuming Value) -> Void) {
        let handoff = Handoff(value)
        startThread(named: name) {
            guard let value = handoff.value.take() else { return }
            body(value)
        }
    }

    static func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
    }

    /// CLOCK_BOOTTIME: /proc's process start times count from boot.
    static func bootTimeNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_BOOTTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func kill(_ pid: Int32, _ signal: Int32) throws(Errno) {
        _ = try valueOrErrno { Glibc.kill(pid, signal) }
    }

    /// Whether a process exists (signal 0 checks without sending).
    static func processExists(_ pid: Int32) -> Bool {
        Glibc.kill(pid, 0) == 0 || errno == EPERM
    }

    struct WaitStatus: Sendable {
        var exitCode: Int32?
        var signal: Int32?
    }

    /// Blocks until child `pid` has ended, leaving it a zombie for a final
    /// reading of its /proc files; `waitForExit` reaps it. Nil when it is not our child.
    static func waitForEnd(_ pid: Int32) -> WaitStatus? {
        var code: Int32 = 0, signal: Int32 = 0
        guard CPerfProbe_wait_exited(pid, &code, &signal) == 0 else { return nil }
        return WaitStatus(exitCode: signal == 0 ? code : nil, signal: signal == 0 ? nil : signal)
    }

    /// Blocks until child `pid` exits; nil when it is not our child.
    static func waitForExit(_ pid: Int32) -> WaitStatus? {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, 0)
            if r == pid { break }
            if r == -1 && errno == EINTR { continue }
            return nil
        }
        // WIFEXITED/WEXITSTATUS are macros: decode the status word by hand.
        let termSignal = status & 0x7f
        if termSignal == 0 { return WaitStatus(exitCode: (status >> 8) & 0xff, signal: nil) }
        return WaitStatus(exitCode: nil, signal: termSignal)
    }

    /// `nice`: the child's scheduling priority (the agent's may be raised);
    /// `output`: see `CPerfProbe_spawn_gated`.
    static func spawnGated(path: String, arguments: [String], environment: [String], nice: Int32,
                           output: Int32 = -1) throws(Errno) -> (pid: Int32, gate: Int32, status: Int32) {
        var gate: Int32 = -1
        var status: Int32 = -1
        let pid = withCStringArray(arguments) { argv in
            withCStringArray(environment) { envp in
                CPerfProbe_spawn_gated(path, argv, envp, nice, output, &gate, &status)
            }
        }
        if pid == -1 { throw Errno(errno) }
        return (pid, gate, status)
    }

    /// Lets the gated child exec; throws the errno of a failed exec. The
    /// caller closes both fds after.
    static func openGate(_ gate: Int32, status: Int32) throws(Errno) {
        let err = CPerfProbe_spawn_open_gate(gate, status)
        if err != 0 { throw Errno(err) }
    }

    static func blockStopSignals() { CPerfProbe_block_stop_signals() }

    static func ignoreBrokenPipe() { signal(SIGPIPE, SIG_IGN) }

    static let terminate = SIGTERM, killSignal = SIGKILL

    /// Whether `fd` is a terminal.
    static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// The width of the terminal on `fd`; nil when it is none or says none.
    static func terminalColumns(_ fd: Int32) -> Int? {
        let columns = CPerfProbe_terminal_columns(fd)
        return columns > 0 ? Int(columns) : nil
    }

    static func waitStopSignal() -> (signal: Int32, sender: Int32) {
        var sender: Int32 = 0
        let signo = CPerfProbe_wait_stop_signal(&sender)
        return (signo, sender)
    }

    static func raiseStopSignal(_ signo: Int32) { CPerfProbe_raise_stop_signal(signo) }

    static func signalName(_ signo: Int32) -> String {
        guard let abbrev = CPerfProbe_signal_abbreviation(signo) else { return "signal \(signo)" }
        return "SIG" + String(cString: abbrev)
    }

    private static func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

extension Syscalls {
    /// Reads a whole file, e.g. a /proc file whose size the kernel reports as 0.
    static func readFile(_ path: String) throws(Errno) -> [UInt8] {
        var bytes: [UInt8] = []
        try readChunks(path) { bytes += $0 }
        return bytes
    }

    /// Hands a file to `body` in chunks of up to 64 KiB, as read.
    static func readChunks(_ path: String, _ body: (ArraySlice<UInt8>) -> Void) throws(Errno) {
        let fd = try valueOrErrno { Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        defer { _ = Glibc.close(fd) }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try valueOrErrno { chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
            if n == 0 { return }
            body(chunk[0..<n])
        }
    }

    static func listDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

extension Syscalls {
    /// open(2) of a file perfprobe does not trust: a final symlink is not
    /// followed (ELOOP) and a FIFO or device does not block (O_NONBLOCK).
    /// Opens `path` to read without blocking on a FIFO or taking a terminal.
    static func openForReading(_ path: String) throws(Errno) -> Int32 {
        try valueOrErrno { Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
    }

    static func openDirectory(_ path: String) throws(Errno) -> Int32 {
        try valueOrErrno { Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    }

    static func openUntrusted(_ path: String) throws(Errno) -> Int32 {
        try valueOrErrno { Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) }
    }

    /// fstat(2): type, owner, size and identity.
    static func fileStatus(_ fd: Int32) throws(Errno) -> (regular: Bool, owner: UInt32, size: UInt64, device: UInt64, inode: UInt64) {
        var status = stat()
        _ = try valueOrErrno { fstat(fd, &status) }
        return ((status.st_mode & S_IFMT) == S_IFREG, status.st_uid, UInt64(max(status.st_size, 0)),
                UInt64(status.st_dev), UInt64(status.st_ino))
    }

    /// The owner of a path (following links): a process's uid is its /proc/PID's owner.
    static func owner(of path: String) -> UInt32? {
        var status = stat()
        return stat(path, &status) == 0 ? status.st_uid : nil
    }

    /// pread(2) of up to `count` bytes at `offset`, until EOF or `count`.
    static func read(_ fd: Int32, at offset: Int, count: Int) throws(Errno) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = try valueOrErrno { bytes.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) } }
            if n == 0 { break }
            done += n
        }
        bytes.removeSubrange(done...)
        return bytes
    }
}

extension Syscalls {
    /// A file's permission bits (st_mode & 07777).
    static func fileMode(_ fd: Int32) throws(Errno) -> UInt32 {
        var status = stat()
        _ = try valueOrErrno { fstat(fd, &status) }
        return status.st_mode & 0o7777
    }
}

extension Syscalls {
    /// Writes all of `bytes` to `fd`.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(Errno) {
        var done = 0
        while done < bytes.count {
            done += try valueOrErrno { bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) } }
        }
    }

    /// Opens `path` to append to: created 0644 if missing when `create`
    /// (a symlink is then refused).
    static func openForAppending(_ path: String, create: Bool) throws(Errno) -> Int32 {
        try valueOrErrno { Glibc.open(path, O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT | O_NOFOLLOW : 0), 0o644) }
    }

    static func isWritable(_ path: String) -> Bool { access(path, W_OK) == 0 }

    /// Mounts tracefs at `path`: true when it is mounted (now or already).
    static func mountTracefs(at path: String) -> Bool {
        mount("tracefs", path, "tracefs", 0, nil) == 0 || errno == EBUSY
    }

    /// Makes `link` a symbolic link to `target`.
    static func symbolicLink(_ link: String, to target: String) -> Bool { symlink(target, link) == 0 }

    static func rename(_ from: String, to: String) throws(Errno) {
        _ = try valueOrErrno { Glibc.rename(from, to) }
    }

    static func removeFile(_ path: String) {
        _ = Glibc.unlink(path)
    }

    static func removeDirectory(_ path: String) {
        _ = Glibc.rmdir(path)
    }

    /// A directory of files (no subdirectories), and the files in it.
    static func removeTree(_ path: String) {
        for name in listDirectory(path) { _ = Glibc.unlink(path + "/" + name) }
        removeDirectory(path)
    }

    static func exists(_ path: String) -> Bool {
        var status = stat()
        return fstatat(AT_FDCWD, path, &status, 0) == 0
    }

    /// A new directory from a template ending in XXXXXX (mkdtemp).
    static func makeTemporaryDirectory(_ template: String) throws(Errno) -> String {
        var bytes = Array(template.utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw Errno(errno) }
        return String(decoding: bytes.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `path` and its missing parents, as `mkdir -p`.
    static func makeDirectories(_ path: String) throws(Errno) {
        if isDirectory(path) { return }
        let parent = parentPath(path)
        if parent != path && parent != "." && parent != "/" { try makeDirectories(parent) }
        if Glibc.mkdir(path, 0o755) != 0 && errno != EEXIST { throw Errno(errno) }
    }

    static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return fstatat(AT_FDCWD, path, &status, 0) == 0 && status.st_mode & S_IFMT == S_IFDIR
    }

    /// The folder `path` is in ("." for a bare name), trailing slashes ignored.
    static func parentPath(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    /// Creates `path` (which must not exist) holding `bytes`, flushed to disk:
    /// errors keep their errno (ENOSPC, EROFS, EDQUOT) for the message.
    static func writeNewFile(_ path: String, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
        let fd = try valueOrErrno { Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644) }
        defer { _ = Glibc.close(fd) }
        var done = 0
        while done < bytes.count {
            done += try valueOrErrno { Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done) }
        }
        _ = try valueOrErrno { fsync(fd) }
    }
}

/// Memory the kernel writes while the agent reads it: the perf event rings'
/// control pages and the BPF ring, read and advanced with the orderings
/// their protocols require (C11 atomics in the shim).
extension Syscalls {
    static func loadAcquire(_ address: UnsafeRawPointer) -> UInt64 { CPerfProbe_load_acquire_u64(address) }
    static func loadAcquire32(_ address: UnsafeRawPointer) -> UInt32 { CPerfProbe_load_acquire_u32(address) }
    static func storeRelease(_ address: UnsafeMutableRawPointer, _ value: UInt64) { CPerfProbe_store_release_u64(address, value) }

    /// A perf ring's head (acquire), and where and how large its data area is.
    static func perfRingHead(_ control: UnsafeRawPointer) -> UInt64 { CPerfProbe_ring_load_head(control) }
    static func perfRingData(_ control: UnsafeRawPointer) -> (offset: UInt64, size: UInt64) {
        (CPerfProbe_ring_data_offset(control), CPerfProbe_ring_data_size(control))
    }
    /// Frees a perf ring's bytes up to `tail` (release).
    static func perfRingSetTail(_ control: UnsafeMutableRawPointer, _ tail: UInt64) { CPerfProbe_ring_store_tail(control, tail) }
}

/// A value on its way to a new thread, taken once there.
private final class Handoff<Value: ~Copyable & Sendable>: @unchecked Sendable {
    var value: Value?
    init(_ value: consuming Value) { self.value = consume value }
}
