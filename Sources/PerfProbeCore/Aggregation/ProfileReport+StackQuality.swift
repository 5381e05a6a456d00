extension ProfileReport.StackQuality {
    static func measure(capture: Capture, profile: Profile) -> Self {
        let samples = Double(max(capture.samples, 1))
        func percent(_ outcome: UnwindOutcome) -> Double {
            Double(capture.unwindOutcomes[outcome] ?? 0) * 100 / samples
        }
        var frames = 0
        var unsymbolized = 0
        var modulesWithoutSymbols = Set<String>()
        for stack in profile.stacks {
            for index in stack.frames {
                frames += stack.count
                let function = profile.functions[index]
                if !function.symbolized {
                    unsymbolized += stack.count
                    modulesWithoutSymbols.insert(function.module)
                }
            }
        }
        return Self(
            unwoundToRootPercent: percent(.complete),
            splicedPercent: percent(.spliced),
            truncatedPercent: percent(.truncated),
            unwindErrorPercent: percent(.failed),
            framePointerPercent: percent(.framePointer),
            unsymbolizedFramesPercent: frames == 0 ? 0 : Double(unsymbolized) * 100 / Double(frames),
            lostSamples: capture.lostSamples,
            meanUnwindMicroseconds: Double(capture.unwindNanoseconds) / 1000 / samples,
            modulesWithoutUnwindInfo: capture.modulesWithoutUnwindInfo,
            modulesWithoutSymbols: modulesWithoutSymbols.sorted())
    }
}
