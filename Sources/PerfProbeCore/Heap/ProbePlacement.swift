/// Where in a function to put an entry uprobe. A probe on an instruction the
/// kernel must single-step (glibc's `free` starts with `test %rdi,%rdi`)
/// costs several times one it emulates (the `je` that follows), so the probe
/// goes on the first emulated instruction that every call reaches with the
/// argument registers unchanged.
enum ProbePlacement {
    /// Bytes past the entry of that instruction in `code` (the function's
    /// first bytes); 0 when none is found within `limit` instructions. Only
    /// straight-line code is crossed (no jump before it), and only
    /// instructions known not to write `registers` (x86 numbering). A branch
    /// back to the chosen instruction would make it fire twice for a call:
    /// it is only used for frees, which are idempotent.
    static func offset(in code: ArraySlice<UInt8>, preserving registers: Set<Int>, limit: Int = 12) -> Int {
        var offset = 0
        for _ in 0..<limit {
            guard let instruction = X86Instruction.decode(code.dropFirst(offset)) else { break }
            if instruction.emulated { return offset }
            guard !instruction.changesControlFlow, let writes = instruction.writes, writes.isDisjoint(with: registers) else { break }
            offset += instruction.length
        }
        return 0
    }
}
