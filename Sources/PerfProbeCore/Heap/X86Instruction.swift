/// Just enough x86-64 decoding to place a uprobe: an instruction's length,
/// whether the kernel emulates it (a probe there costs one trap; elsewhere the
/// kernel also single-steps a copy, several times the cost), whether it
/// changes control flow, and which general registers it may write.
struct X86Instruction: Hashable, Sendable {
    var length: Int
    /// arch/x86/kernel/uprobes.c emulates relative jumps, jcc and calls, nop,
    /// and push of a register, when they carry no legacy prefix.
    var emulated: Bool
    var changesControlFlow: Bool
    /// Registers (x86 numbering: rax 0, rcx 1, rdx 2, rbx 3, rsp 4, rbp 5,
    /// rsi 6, rdi 7, r8–r15 8–15) it may write; nil when not known.
    var writes: Set<Int>?

    static let rsp = 4

    /// Decodes the instruction at the start of `code`; nil when it is not one
    /// of the common forms this decoder knows (VEX, x87, system instructions…).
    static func decode(_ code: ArraySlice<UInt8>) -> X86Instruction? {
        var cursor = Cursor(bytes: code)
        var prefixed = false, operandSize16 = false
        while let byte = cursor.peek(), [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65].contains(byte) {
            prefixed = true
            if byte == 0x66 { operandSize16 = true }
            cursor.skip(1)
        }
        var rex: UInt8 = 0
        if let byte = cursor.peek(), byte & 0xf0 == 0x40 {
            rex = byte
            cursor.skip(1)
        }
        guard let opcode = cursor.next() else { return nil }
        let rexB = Int(rex & 1) << 3, rexW = rex & 8 != 0
        let immediate32 = operandSize16 ? 2 : 4

        func result(_ cursor: Cursor, emulated: Bool = false, jumps: Bool = false, writes: Set<Int>?) -> X86Instruction? {
            guard cursor.valid else { return nil }
            return X86Instruction(length: cursor.offset, emulated: emulated && !prefixed, changesControlFlow: jumps, writes: writes)
        }

        if opcode == 0x0f {
            guard let second = cursor.next() else { return nil }
            switch second {
            case 0x80...0x8f: // jcc rel32
                cursor.skip(4)
                return result(cursor, emulated: true, jumps: true, writes: [])
            case 0x1e, 0x1f: // endbr64 and other hint nops, nop r/m
                _ = cursor.modRM(rex: rex)
                return result(cursor, writes: [])
            case 0x40...0x4f, 0xaf, 0xb6, 0xb7, 0xbe, 0xbf: // cmovcc, imul, movzx, movsx
                guard let operand = cursor.modRM(rex: rex) else { return nil }
                return result(cursor, writes: [operand.reg])
            case 0x10, 0x11, 0x28, 0x29, 0x57, 0x6f, 0x7f, 0xd6, 0xef: // SSE moves and zeroing: vector registers only
                _ = cursor.modRM(rex: rex)
                return result(cursor, writes: [])
            default:
                return nil
            }
        }

        switch opcode {
        case 0x00...0x3f where opcode & 7 < 6:
            // The eight ALU operations: r/m,reg  reg,r/m  al,imm8  eax,imm32.
            let isCompare = opcode >= 0x38
            switch opcode & 7 {
            case 0, 1, 2, 3:
                guard let operand = cursor.modRM(rex: rex) else { return nil }
                let target = opcode & 7 < 2 ? operand.registerOperand : operand.reg
                return result(cursor, writes: isCompare ? [] : target.map { [$0] } ?? [])
            default:
                cursor.skip(opcode & 7 == 4 ? 1 : immediate32)
                return result(cursor, writes: isCompare ? [] : [0])
            }
        case 0x50...0x57: // push reg: emulated with no REX or REX.B alone
            return result(cursor, emulated: rex == 0 || rex == 0x41, writes: [rsp])
        case 0x58...0x5f: // pop reg
            return result(cursor, writes: [Int(opcode & 7) | rexB, rsp])
        case 0x63, 0x8b, 0x8d: // movsxd, mov reg,r/m, lea
            guard let operand = cursor.modRM(rex: rex) else { return nil }
            return result(cursor, writes: [operand.reg])
        case 0x69, 0x6b: // imul reg,r/m,imm
            guard let operand = cursor.modRM(rex: rex) else { return nil }
            cursor.skip(opcode == 0x69 ? immediate32 : 1)
            return result(cursor, writes: [operand.reg])
        case 0x70...0x7f: // jcc rel8
            cursor.skip(1)
            return result(cursor, emulated: true, jumps: true, writes: [])
        case 0x80, 0x81, 0x83: // ALU r/m,imm; /7 is cmp
            guard let operand = cursor.modRM(rex: rex) else { return nil }
            cursor.skip(opcode == 0x81 ? immediate32 : 1)
            return result(cursor, writes: operand.reg & 7 == 7 ? [] : operand.registerOperand.map { [$0] } ?? [])
        case 0x84, 0x85: // test
            _ = cursor.modRM(rex: rex)
            return result(cursor, writes: [])
        case 0x88, 0x89: // mov r/m,reg
            guard let operand = cursor.modRM(rex: rex) else { return nil }
            return result(cursor, writes: operand.registerOperand.map { [$0] } ?? [])
        case 0x90 where rex & 1 == 0: // nop (with REX.B it is xchg r8,rax)
            return result(cursor, emulated: true, writes: [])
        case 0xa8, 0xa9: // test al/eax,imm
            cursor.skip(opcode == 0xa8 ? 1 : immediate32)
            return result(cursor, writes: [])
        case 0xb0...0xbf: // mov reg,imm
            cursor.skip(opcode < 0xb8 ? 1 : (rexW ? 8 : immediate32))
            return result(cursor, writes: [Int(opcode & 7) | rexB])
        case 0xc6, 0xc7: // mov r/m,imm
            guard let operand = cursor.modRM(rex: rex) else { return nil }
            cursor.skip(opcode == 0xc6 ? 1 : immediate32)
            return result(cursor, writes: operand.registerOperand.map { [$0] } ?? [])
        case 0xc0, 0xc1, 0xd0...0xd3: // shifts and rotates of r/m by imm8, 1 or cl
            guard let operand = cursor.modRM(rex: rex) else { return nil }
            cursor.skip(opcode <= 0xc1 ? 1 : 0)
            return result(cursor, writes: operand.registerOperand.map { [$0] } ?? [])
        case 0xc2, 0xc3: // ret
            cursor.skip(opcode == 0xc2 ? 2 : 0)
            return result(cursor, jumps: true, writes: [rsp])
        case 0xe8, 0xe9, 0xeb: // call rel32, jmp rel32, jmp rel8
            cursor.skip(opcode == 0xeb ? 1 : 4)
            return result(cursor, emulated: true, jumps: true, writes: nil)
        default:
            return nil
        }
    }

    /// Reads bytes of one instruction; running past the end marks it invalid.
    private struct Cursor {
        let bytes: ArraySlice<UInt8>
        var offset = 0
        var valid = true

        struct Operand {
            /// ModRM.reg with REX.R.
            var reg: Int
            /// ModRM.rm with REX.B when it names a register (mod 3), else nil (memory).
            var registerOperand: Int?
        }

        init(bytes: ArraySlice<UInt8>) { self.bytes = bytes }

        func peek() -> UInt8? {
            offset < bytes.count ? bytes[bytes.startIndex + offset] : nil
        }

        mutating func next() -> UInt8? {
            defer { offset += 1 }
            return peek()
        }

        mutating func skip(_ count: Int) {
            offset += count
            if offset > bytes.count { valid = false }
        }

        /// Decodes ModRM, with its SIB byte and displacement.
        mutating func modRM(rex: UInt8) -> Operand? {
            guard let byte = next() else {
                valid = false
                return nil
            }
            let mod = byte >> 6, rm = byte & 7
            let reg = Int(byte >> 3 & 7) | Int(rex & 4) << 1
            if mod == 3 { return Operand(reg: reg, registerOperand: Int(rm) | Int(rex & 1) << 3) }
            if rm == 4 {
                guard let sib = next() else {
                    valid = false
                    return nil
                }
                if mod == 0 && sib & 7 == 5 { skip(4) }
            } else if mod == 0 && rm == 5 {
                skip(4) // rip-relative
            }
            skip(mod == 1 ? 1 : mod == 2 ? 4 : 0)
            return Operand(reg: reg, registerOperand: nil)
        }
    }
}
