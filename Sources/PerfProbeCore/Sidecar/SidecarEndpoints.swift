import FoundationEssentials
import Synchronization

/// The sidecar's HTTP endpoints: `/healthz`, `/metrics` (Prometheus),
/// `POST /phase`, `/debug/pprof/profile?seconds=N` (as Go's net/http/pprof
/// serves it), with --off-cpu `/debug/pprof/offcpu?seconds=N`, with --heap
/// `/debug/pprof/heap`. Each runs on its request's own thread.
struct SidecarEndpoints: Sendable {
    let following: SidecarTarget
    let state: SidecarState
    let symbolizer: SharedSymbolizer
    let pusher: ProfilePusher?
    let target: ProfileReport.Target
    let configuration: SamplerConfiguration
    let token: BearerToken?
    /// Profile requests under way: each holds a connection for its seconds.
    let profiling = ProfileRequests()

    static let maxProfileSeconds = 300
    /// Profile requests at once; more get 429 at once, so that the server's
    /// other connection slots stay free for /metrics and /healthz.
    static let maxConcurrentProfiles = 3

    final class ProfileRequests: Sendable {
        let count = Atomic<Int>(0)
    }

    func respond(_ request: HTTPRequest, client: borrowing Socket) -> HTTPResponse {
        if request.path == "/healthz" && request.method == "GET" { return HTTPResponse(status: 200, text: "ok\n") }
        if let token, !token.accepts(authorization: request.authorization) {
            return HTTPResponse(status: 401, text: "unauthorized: send Authorization: Bearer TOKEN (the --token-file's)\n",
                                headers: ["WWW-Authenticate: Bearer"])
        }
        switch (request.method, request.path) {
        case ("GET", "/metrics"):
            return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(metrics().utf8))
        case ("POST", "/phase"):
            return setPhase(request.body)
        case ("GET", "/debug/pprof/profile"):
            return profile(seconds: request.query["seconds"], client: client, as: PprofCPUFormat())
        case ("GET", "/debug/pprof/offcpu"):
            guard configuration.offCPU else {
                return HTTPResponse(status: 404, text: "off-CPU time is not recorded: start the sidecar with --off-cpu\n")
            }
            return profile(seconds: request.query["seconds"], client: client, as: PprofOffCPUFormat())
        case ("GET", "/debug/pprof/heap"):
            return heap()
        case (_, "/healthz"), (_, "/metrics"), (_, "/phase"), (_, "/debug/pprof/profile"), (_, "/debug/pprof/offcpu"), (_, "/debug/pprof/heap"):
            return HTTPResponse(status: 405, text: "method not allowed\n")
        default:
            return HTTPResponse(status: 404, text: "not found: /healthz, /metrics, POST /phase, /debug/pprof/profile?seconds=N, /debug/pprof/offcpu?seconds=N, /debug/pprof/heap\n")
        }
    }

    private func metrics() -> String {
        let pid = following.current?.pid
        let stat = pid.flatMap { try? Syscalls.readFile("/proc/\($0)/stat") }.flatMap { ProcessStat.parse(Substring(decoding: $0, as: UTF8.self)) }
        let ticks = Double(Syscalls.clockTicksPerSecond())
        let totals = state.totals
        let agent = AgentUsage.measure()
        return MetricsText(
            attached: pid != nil, attachments: following.attachments,
            cpuUserSeconds: Double(stat?.userTicks ?? 0) / ticks, cpuSystemSeconds: Double(stat?.systemTicks ?? 0) / ticks,
            residentBytes: (stat?.residentPages ?? 0) * UInt64(Syscalls.pageSize()), threads: stat?.threads ?? 0,
            voluntarySwitches: totals.latest?.voluntaryContextSwitches ?? 0,
            involuntarySwitches: totals.latest?.involuntaryContextSwitches ?? 0,
            minorFaults: stat?.minorFaults ?? 0, majorFaults: stat?.majorFaults ?? 0, samples: totals.samples, processes: state.processes, lost: totals.lost,
            phase: state.phase, agentResidentBytes: agent.peakRssBytes, agentCPUSeconds: agent.cpuSeconds,
            blockedSeconds: configuration.offCPU ? state.blockedSeconds : nil,
            pushed: pusher.map { $0.sent.load(ordering: .relaxed) }, pushDropped: pusher.map { $0.dropped.load(ordering: .relaxed) }).render()
    }

    /// `{"name": "peak_load"}`.
    private func setPhase(_ body: [UInt8]) -> HTTPResponse {
        struct Phase: Decodable { var name: String }
        guard let phase = try? JSONDecoder().decode(Phase.self, from: Data(body)) else {
            return HTTPResponse(status: 400, text: "expected {\"name\": \"PHASE\"}\n")
        }
        guard PhaseSchedule.isValidName(phase.name) else {
            return HTTPResponse(status: 400, text: "a phase name is 1-64 letters, digits, _ . or -\n")
        }
        // What was sampled so far belongs to the phase that is ending.
        if let slice = following.takeSlice() { state.add(slice) }
        state.setPhase(phase.name)
        return HTTPResponse(status: 200, text: "phase \(phase.name)\n")
    }

    /// The live heap by allocating stack so far (with --heap and a known allocator), as pprof.
    private func heap() -> HTTPResponse {
        guard let attached = following.current else { return HTTPResponse(status: 503, text: "no process attached\n") }
        guard attached.tracesAllocations else {
            return HTTPResponse(status: 404, text: "allocations are not traced: start the sidecar with --heap (on a process with a known allocator)\n")
        }
        // The heap is a state: the latest slice carries all of it, however old.
        guard let capture = state.latest, capture.heap != nil else {
            return HTTPResponse(status: 503, text: "no allocations sampled yet\n")
        }
        let report = symbolizer.report(capture, target: target, configuration: configuration)
        guard let data = try? PprofHeapFormat().render(report) else { return HTTPResponse(status: 503, text: "cannot encode\n") }
        return HTTPResponse(status: 200, contentType: "application/octet-stream", body: Array(data))
    }

    /// The CPU (or off-CPU) profile of the next `seconds` (30 by default), as pprof.
    private func profile(seconds text: String?, client: borrowing Socket, as format: some ReportFormat) -> HTTPResponse {
        guard let seconds = Int(text ?? "30"), (1...Self.maxProfileSeconds).contains(seconds) else {
            return HTTPResponse(status: 400, text: "seconds must be 1 to \(Self.maxProfileSeconds)\n")
        }
        guard profiling.count.wrappingAdd(1, ordering: .relaxed).newValue <= Self.maxConcurrentProfiles else {
            profiling.count.wrappingSubtract(1, ordering: .relaxed)
            return HTTPResponse(status: 429, text: "\(Self.maxConcurrentProfiles) profiles are being taken already\n",
                                headers: ["Retry-After: \(seconds)"])
        }
        defer { profiling.count.wrappingSubtract(1, ordering: .relaxed) }
        let from = Syscalls.monotonicNanoseconds()
        let end = from + UInt64(seconds) * 1_000_000_000
        guard !client.waitForHangUp(seconds: Double(seconds)) else { return HTTPResponse(status: 400, text: "client gone\n") }
        // Slices are cut every second: wait for one that covers the end — a
        // loaded machine may cut it late — unless the client goes away first.
        var patience = 50
        while (state.latest?.endNanoseconds ?? 0) < end && patience > 0 {
            guard !client.waitForHangUp(seconds: 0.1) else { return HTTPResponse(status: 400, text: "client gone\n") }
            patience -= 1
        }
        guard let capture = state.merged(since: from) else { return HTTPResponse(status: 503, text: "sampling has stopped\n") }
        let report = symbolizer.report(capture, target: target, configuration: configuration)
        guard let data = try? format.render(report) else { return HTTPResponse(status: 503, text: "cannot encode\n") }
        return HTTPResponse(status: 200, contentType: "application/octet-stream", body: Array(data))
    }
}
