extension ProfileReport.StackQuality {
    /// The functions a thread's stack begins with: the program's and the
    /// dynamic loader's entry points, the libc frames that start `main` and
    /// a thread's start routine, the clone calls that begin threads, and
    /// Go's goroutine, thread and bootstrap entries. A stack whose outermost
    /// frame is none of these lost its callers, whatever ended the unwinding.
    static let threadEntries: Set<String> = [
        "_start", "_dl_start", "_dl_start_user", "__libc_start_main", "__libc_start_call_main",
        "clone", "__clone", "clone3", "__clone3", "start_thread",
        "runtime.goexit", "runtime.mstart", "runtime.clone", "runtime.rt0_go", "_rt0_amd64", "_rt0_amd64_linux",
    ]

    /// Whether `frame` can be a thread's outermost frame (Go's assembly
    /// functions carry an ABI suffix: `runtime.goexit.abi0`).
    static func isThreadEntry(_ frame: SymbolizedFrame) -> Bool {
        guard !frame.kernel else { return false }
        let name = frame.function.hasSuffix(".abi0") ? String(frame.function.dropLast(5)) : frame.function
        return threadEntries.contains(name)
    }

    static func measure(capture: Capture, profile: Profile) -> Self {
        let samples = Double(max(capture.samples, 1))
        func percent(_ outcome: UnwindOutcome) -> Double {
            Double(capture.unwinding.outcomes[outcome] ?? 0) * 100 / samples
        }
        var frames = 0
        var unsymbolized = 0
        var rooted = 0
        var modulesWithoutSymbols = Set<String>()
        for stack in profile.stacks {
            if let outermost = stack.frames.last, isThreadEntry(profile.functions[outermost]) { rooted += stack.count }
            // Unwound frames: each location's own function, not the functions inlined into it (always named).
            let unwound = stack.locations.map { $0.compactMap { profile.locations?[safe: $0]?.lines.last?.function } } ?? stack.frames
            for index in unwound {
                frames += stack.count
                let function = profile.functions[index]
                if !function.symbolized {
                    unsymbolized += stack.count
                    modulesWithoutSymbols.insert(function.module)
                }
            }
        }
        return Self(
            unwoundToRootPercent: Double(rooted) * 100 / Double(max(profile.totalSamples, 1)),
            splicedPercent: percent(.spliced),
            truncatedPercent: percent(.truncated),
            unwindErrorPercent: percent(.failed),
            framePointerPercent: percent(.framePointer),
            unsymbolizedFramesPercent: frames == 0 ? 0 : Double(unsymbolized) * 100 / Double(frames),
            lostSamples: capture.lostSamples,
            meanUnwindMicroseconds: Double(capture.unwinding.nanoseconds) / 1000 / samples,
            modulesWithoutUnwindInfo: capture.unwinding.modulesWithoutUnwindInfo,
            modulesWithoutSymbols: modulesWithoutSymbols.sorted())
    }
}
