/// The Prometheus text exposition of `/metrics`: HELP and TYPE for every
/// metric, target metrics under `perfprobe_target_`. Pure.
struct MetricsText {
    /// Whether a process is attached (with --match, none while waiting for it to start again).
    var attached: Bool
    var attachments: Int
    var cpuUserSeconds: Double
    var cpuSystemSeconds: Double
    var residentBytes: UInt64
    var threads: Int
    var voluntarySwitches: UInt64
    var involuntarySwitches: UInt64
    var minorFaults: UInt64
    var majorFaults: UInt64
    var samples: Int
    /// Samples by process (several with --tree or --match).
    var processes: [(pid: ProcessID, name: String, samples: Int)] = []
    var lost: UInt64
    var phase: String
    var agentResidentBytes: UInt64
    var agentCPUSeconds: Double
    /// With --off-cpu: seconds the target's threads were blocked, by reason.
    var blockedSeconds: [String: Double]?
    /// With --push: windows delivered, and dropped (queue full or failed).
    var pushed: Int?
    var pushDropped: Int?

    func render() -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ values: [(labels: String, value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in values { out += "\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(value)\n" }
        }
        metric("perfprobe_target_attached", "gauge", "1 while a target process is attached, 0 while waiting for one.",
               [("", attached ? "1" : "0")])
        metric("perfprobe_target_attachments_total", "counter", "Processes attached so far (a --match'ed process restarting adds one).",
               [("", "\(attachments)")])
        metric("perfprobe_target_cpu_seconds_total", "counter", "CPU time of the target process, by mode.",
               [("mode=\"user\"", "\(cpuUserSeconds)"), ("mode=\"system\"", "\(cpuSystemSeconds)")])
        metric("perfprobe_target_resident_memory_bytes", "gauge", "Resident set size of the target process.", [("", "\(residentBytes)")])
        metric("perfprobe_target_threads", "gauge", "Threads of the target process.", [("", "\(threads)")])
        metric("perfprobe_target_context_switches_total", "counter", "Context switches of the target's threads, by kind.",
               [("kind=\"voluntary\"", "\(voluntarySwitches)"), ("kind=\"involuntary\"", "\(involuntarySwitches)")])
        metric("perfprobe_target_page_faults_total", "counter", "Page faults of the target process, by kind.",
               [("kind=\"minor\"", "\(minorFaults)"), ("kind=\"major\"", "\(majorFaults)")])
        if let blockedSeconds {
            metric("perfprobe_target_blocked_seconds_total", "counter", "Time the target's threads spent off the CPU (--off-cpu), by reason.",
                   OffCPUReport.reasons.map { ("reason=\"\($0)\"", "\(blockedSeconds[$0] ?? 0)") })
        }
        metric("perfprobe_samples_total", "counter", "CPU samples taken of the target.", [("", "\(samples)")])
        metric("perfprobe_process_samples_total", "counter", "CPU samples taken of each process profiled (several with --tree or --match).",
               processes.map { ("pid=\"\($0.pid)\",name=\"\(Self.escape($0.name))\"", "\($0.samples)") })
        metric("perfprobe_lost_samples_total", "counter", "Samples and records the kernel dropped.", [("", "\(lost)")])
        metric("perfprobe_phase_info", "gauge", "The current load phase (value always 1).", [("phase=\"\(Self.escape(phase))\"", "1")])
        metric("perfprobe_agent_peak_resident_memory_bytes", "gauge", "Peak resident set size of perfprobe itself.", [("", "\(agentResidentBytes)")])
        metric("perfprobe_agent_cpu_seconds_total", "counter", "CPU time of perfprobe itself.", [("", "\(agentCPUSeconds)")])
        if let pushed, let pushDropped {
            metric("perfprobe_push_windows_total", "counter", "Window profiles pushed, by outcome.",
                   [("outcome=\"sent\"", "\(pushed)"), ("outcome=\"dropped\"", "\(pushDropped)")])
        }
        return out
    }

    /// A label value: backslash, quote and newline escaped.
    static func escape(_ value: String) -> String {
        value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
            .replacing("\n", with: "\\n")
    }
}
