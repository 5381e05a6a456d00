// The BPF programs of `attach --heap`: run by the kernel at each allocator
// uprobe hit in the target, they write the hit into a BPF ring buffer. No
// perf event follows the target's threads, so a thread start costs the
// target nothing (an inherited tracepoint event cost a walk of every ftrace
// event per thread start).
#define _GNU_SOURCE
#include "CPerfProbe.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

// struct pt_regs (x86-64), the programs' context: byte offsets.
enum {
    REGS_R15 = 0, REGS_R14 = 8, REGS_R13 = 16, REGS_R12 = 24, REGS_BP = 32, REGS_BX = 40,
    REGS_R11 = 48, REGS_R10 = 56, REGS_R9 = 64, REGS_R8 = 72, REGS_AX = 80, REGS_CX = 88,
    REGS_DX = 96, REGS_SI = 104, REGS_DI = 112, REGS_IP = 128, REGS_FLAGS = 144, REGS_SP = 152,
};

// pt_regs offset of each PERF_REG_X86_* slot (-1: not a user register perfprobe reads).
static const int perf_register_offsets[CPERFPROBE_PROBE_REGISTERS] = {
    REGS_AX, REGS_BX, REGS_CX, REGS_DX, REGS_SI, REGS_DI, REGS_BP, REGS_SP, REGS_IP, REGS_FLAGS,
    -1, -1, -1, -1, -1, -1,
    REGS_R8, REGS_R9, REGS_R10, REGS_R11, REGS_R12, REGS_R13, REGS_R14, REGS_R15,
};

// What an entry record holds after its header, in order.
static const int entry_register_offsets[] = {
    REGS_DI, REGS_SI, REGS_DX, REGS_CX, REGS_R8, REGS_R9, REGS_IP, REGS_SP,
};
_Static_assert(sizeof entry_register_offsets / sizeof entry_register_offsets[0] == 8, "entry layout");

typedef struct {
    struct bpf_insn insns[512];
    int count;
    int overflow;
} program;

static void emit(program *p, struct bpf_insn insn) {
    if (p->count < (int)(sizeof p->insns / sizeof p->insns[0])) p->insns[p->count++] = insn;
    else p->overflow = 1;
}

#define INSN(...) emit(p, (struct bpf_insn){__VA_ARGS__})

static void mov_imm(program *p, int dst, int32_t imm) {
    INSN(.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = dst, .imm = imm);
}
static void mov_reg(program *p, int dst, int src) {
    INSN(.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = dst, .src_reg = src);
}
static void add_imm(program *p, int dst, int32_t imm) {
    INSN(.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = dst, .imm = imm);
}
static void add_reg(program *p, int dst, int src) {
    INSN(.code = BPF_ALU64 | BPF_ADD | BPF_X, .dst_reg = dst, .src_reg = src);
}
static void load64(program *p, int dst, int src, int16_t off) {
    INSN(.code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = dst, .src_reg = src, .off = off);
}
static void store64(program *p, int dst, int16_t off, int src) {
    INSN(.code = BPF_STX | BPF_MEM | BPF_DW, .dst_reg = dst, .src_reg = src, .off = off);
}
static void store32(program *p, int dst, int16_t off, int src) {
    INSN(.code = BPF_STX | BPF_MEM | BPF_W, .dst_reg = dst, .src_reg = src, .off = off);
}
static void store_imm64(program *p, int dst, int16_t off, int32_t imm) {
    INSN(.code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = dst, .off = off, .imm = imm);
}
static void store_imm32(program *p, int dst, int16_t off, int32_t imm) {
    INSN(.code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = dst, .off = off, .imm = imm);
}
static void load_map(program *p, int dst, int map_fd) {
    INSN(.code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = dst, .src_reg = BPF_PSEUDO_MAP_FD, .imm = map_fd);
    INSN(0);
}
static void load_imm64(program *p, int dst, uint64_t value) {
    INSN(.code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = dst, .imm = (int32_t)(uint32_t)value);
    INSN(.imm = (int32_t)(uint32_t)(value >> 32));
}
static void call(program *p, int helper) {
    INSN(.code = BPF_JMP | BPF_CALL, .imm = helper);
}
/// A forward jump whose offset is set later by `land`; returns its index.
static int jump_if_imm(program *p, int op, int reg, int32_t imm) {
    INSN(.code = BPF_JMP | op | BPF_K, .dst_reg = reg, .imm = imm);
    return p->count - 1;
}
static int jump_if_reg(program *p, int op, int reg, int src) {
    INSN(.code = BPF_JMP | op | BPF_X, .dst_reg = reg, .src_reg = src);
    return p->count - 1;
}
static void land(program *p, int jump) {
    if (jump >= 0 && jump < p->count) p->insns[jump].off = (int16_t)(p->count - jump - 1);
}
static void exit_zero(program *p) {
    mov_imm(p, BPF_REG_0, 0);
    INSN(.code = BPF_JMP | BPF_EXIT);
}

/// r0 = &counters[slot] (or 0: the lookup failed). Clobbers r1–r5.
static void counter(program *p, int counters_fd, int32_t slot) {
    store_imm32(p, BPF_REG_10, -4, slot);
    mov_reg(p, BPF_REG_2, BPF_REG_10);
    add_imm(p, BPF_REG_2, -4);
    load_map(p, BPF_REG_1, counters_fd);
    call(p, BPF_FUNC_map_lookup_elem);
}

/// counters[slot] += 1.
static void count(program *p, int counters_fd, int32_t slot) {
    counter(p, counters_fd, slot);
    int missing = jump_if_imm(p, BPF_JEQ, BPF_REG_0, 0);
    mov_imm(p, BPF_REG_1, 1);
    INSN(.code = BPF_STX | BPF_ATOMIC | BPF_DW, .dst_reg = BPF_REG_0, .src_reg = BPF_REG_1, .imm = BPF_ADD);
    land(p, missing);
}

/// Sets the flag that turns the free filter off.
static void record_every_free(program *p, int counters_fd) {
    counter(p, counters_fd, CPERFPROBE_PROBE_UNFILTERED);
    int missing = jump_if_imm(p, BPF_JEQ, BPF_REG_0, 0);
    store_imm64(p, BPF_REG_0, 0, 1);
    land(p, missing);
}

/// r1 = &key, with the u64 in `reg` stored at r10-16, for the sampled-blocks hash.
static void sampled_key(program *p, int reg) {
    store64(p, BPF_REG_10, -16, reg);
    mov_reg(p, BPF_REG_2, BPF_REG_10);
    add_imm(p, BPF_REG_2, -16);
}

/// r7 = a reserved record of `size` with its header written (tag, stack
/// bytes 0, pid and tid in the agent's pid namespace, time); a failed
/// reservation counts a loss in `slot` and exits.
static void reserve_record(program *p, const CPerfProbe_ProbeProgramSpec *spec, uint32_t size, int32_t slot) {
    load_map(p, BPF_REG_1, spec->ring_fd);
    mov_imm(p, BPF_REG_2, (int32_t)size);
    mov_imm(p, BPF_REG_3, 0);
    call(p, BPF_FUNC_ringbuf_reserve);
    int reserved = jump_if_imm(p, BPF_JNE, BPF_REG_0, 0);
    count(p, spec->counters_fd, slot);
    exit_zero(p);
    land(p, reserved);
    mov_reg(p, BPF_REG_7, BPF_REG_0);
    store_imm32(p, BPF_REG_7, 0, (int32_t)spec->tag);
    store_imm32(p, BPF_REG_7, 4, 0);
    // struct bpf_pidns_info {pid (the thread), tgid (the process)}; zeros
    // when the namespace does not match, which the agent rejects.
    load_imm64(p, BPF_REG_1, spec->pid_namespace_device);
    load_imm64(p, BPF_REG_2, spec->pid_namespace_inode);
    mov_reg(p, BPF_REG_3, BPF_REG_7);
    add_imm(p, BPF_REG_3, 8);
    mov_imm(p, BPF_REG_4, 8);
    call(p, BPF_FUNC_get_ns_current_pid_tgid);
    // CLOCK_MONOTONIC, the clock of the agent's perf events.
    call(p, BPF_FUNC_ktime_get_ns);
    store64(p, BPF_REG_7, 16, BPF_REG_0);
}

static void submit_and_exit(program *p) {
    mov_reg(p, BPF_REG_1, BPF_REG_7);
    // Not woken per record: the agent drains the ring on its own clock.
    mov_imm(p, BPF_REG_2, BPF_RB_NO_WAKEUP);
    call(p, BPF_FUNC_ringbuf_submit);
    exit_zero(p);
}

/// Writes the entry record of the call in r6's registers, then exits.
static void record_entry(program *p, const CPerfProbe_ProbeProgramSpec *spec) {
    reserve_record(p, spec, CPERFPROBE_PROBE_ENTRY_BYTES, CPERFPROBE_PROBE_ENTRY_LOSSES);
    for (int i = 0; i < 8; i++) {
        load64(p, BPF_REG_1, BPF_REG_6, (int16_t)entry_register_offsets[i]);
        store64(p, BPF_REG_7, (int16_t)(CPERFPROBE_PROBE_HEADER_BYTES + 8 * i), BPF_REG_1);
    }
    // At the function's first instruction, the stack's top word is the
    // return address (zeros when unreadable).
    mov_reg(p, BPF_REG_1, BPF_REG_7);
    add_imm(p, BPF_REG_1, CPERFPROBE_PROBE_HEADER_BYTES + 64);
    mov_imm(p, BPF_REG_2, 8);
    load64(p, BPF_REG_3, BPF_REG_6, REGS_SP);
    call(p, BPF_FUNC_probe_read_user);
    submit_and_exit(p);
}

static void build_entry(program *p, const CPerfProbe_ProbeProgramSpec *spec) {
    mov_reg(p, BPF_REG_6, BPF_REG_1);
    int16_t pointer = (int16_t)perf_register_offsets[spec->pointer_register];
    if (spec->kind == CPERFPROBE_PROBE_REALLOC_ENTRY) {
        // Its block, if sampled, is no longer: forgotten (a later block at
        // the same address is another's).
        load64(p, BPF_REG_8, BPF_REG_6, pointer);
        sampled_key(p, BPF_REG_8);
        load_map(p, BPF_REG_1, spec->sampled_fd);
        call(p, BPF_FUNC_map_delete_elem);
    } else if (spec->kind == CPERFPROBE_PROBE_FREE_ENTRY) {
        count(p, spec->counters_fd, CPERFPROBE_PROBE_FREE_HITS);
        load64(p, BPF_REG_8, BPF_REG_6, pointer);
        int null = jump_if_imm(p, BPF_JEQ, BPF_REG_8, 0);
        sampled_key(p, BPF_REG_8);
        load_map(p, BPF_REG_1, spec->sampled_fd);
        call(p, BPF_FUNC_map_delete_elem);
        int sampled = jump_if_imm(p, BPF_JEQ, BPF_REG_0, 0);
        counter(p, spec->counters_fd, CPERFPROBE_PROBE_UNFILTERED);
        int missing = jump_if_imm(p, BPF_JEQ, BPF_REG_0, 0);
        load64(p, BPF_REG_1, BPF_REG_0, 0);
        int unfiltered = jump_if_imm(p, BPF_JNE, BPF_REG_1, 0);
        // Returns without a block not yet handled by the agent: one of them
        // may be this block's.
        counter(p, spec->counters_fd, CPERFPROBE_PROBE_RETURNS_WITHOUT_BLOCK);
        int missing2 = jump_if_imm(p, BPF_JEQ, BPF_REG_0, 0);
        load64(p, BPF_REG_9, BPF_REG_0, 0);
        counter(p, spec->counters_fd, CPERFPROBE_PROBE_RETURNS_HANDLED);
        int missing3 = jump_if_imm(p, BPF_JEQ, BPF_REG_0, 0);
        load64(p, BPF_REG_1, BPF_REG_0, 0);
        int pending = jump_if_reg(p, BPF_JNE, BPF_REG_1, BPF_REG_9);
        land(p, null);
        land(p, missing);
        land(p, missing2);
        land(p, missing3);
        exit_zero(p);
        land(p, sampled);
        land(p, unfiltered);
        land(p, pending);
    }
    record_entry(p, spec);
}

static void build_return(program *p, const CPerfProbe_ProbeProgramSpec *spec) {
    mov_reg(p, BPF_REG_6, BPF_REG_1);
    // Bernoulli: on when a random u32 is below the threshold.
    call(p, BPF_FUNC_get_prandom_u32);
    mov_reg(p, BPF_REG_8, BPF_REG_0);
    store_imm32(p, BPF_REG_10, -4, 0);
    mov_reg(p, BPF_REG_2, BPF_REG_10);
    add_imm(p, BPF_REG_2, -4);
    load_map(p, BPF_REG_1, spec->threshold_fd);
    call(p, BPF_FUNC_map_lookup_elem);
    int found = jump_if_imm(p, BPF_JNE, BPF_REG_0, 0);
    exit_zero(p);
    land(p, found);
    load64(p, BPF_REG_1, BPF_REG_0, 0);
    int chosen = jump_if_reg(p, BPF_JLT, BPF_REG_8, BPF_REG_1);
    exit_zero(p);
    land(p, chosen);

    // The block is remembered as sampled, so that its free is recorded;
    // without room for it, every free is recorded from now on. Without one
    // in RAX, counted until the agent has handled it.
    load64(p, BPF_REG_8, BPF_REG_6, REGS_AX);
    int none = jump_if_imm(p, BPF_JEQ, BPF_REG_8, 0);
    sampled_key(p, BPF_REG_8);
    store_imm64(p, BPF_REG_10, -24, 1);
    mov_reg(p, BPF_REG_3, BPF_REG_10);
    add_imm(p, BPF_REG_3, -24);
    mov_imm(p, BPF_REG_4, BPF_ANY);
    load_map(p, BPF_REG_1, spec->sampled_fd);
    call(p, BPF_FUNC_map_update_elem);
    int remembered = jump_if_imm(p, BPF_JEQ, BPF_REG_0, 0);
    record_every_free(p, spec->counters_fd);
    int full = jump_if_imm(p, BPF_JA, BPF_REG_0, 0);
    land(p, none);
    count(p, spec->counters_fd, CPERFPROBE_PROBE_RETURNS_WITHOUT_BLOCK);
    land(p, remembered);
    land(p, full);

    uint32_t pages = spec->stack_pages;
    reserve_record(p, spec, CPERFPROBE_PROBE_RETURN_BYTES + pages * 4096, CPERFPROBE_PROBE_RETURN_LOSSES);
    for (int i = 0; i < CPERFPROBE_PROBE_REGISTERS; i++) {
        int16_t slot = (int16_t)(CPERFPROBE_PROBE_HEADER_BYTES + 8 * i);
        if (perf_register_offsets[i] < 0) {
            store_imm64(p, BPF_REG_7, slot, 0);
        } else {
            load64(p, BPF_REG_1, BPF_REG_6, (int16_t)perf_register_offsets[i]);
            store64(p, BPF_REG_7, slot, BPF_REG_1);
        }
    }
    // The stack from its pointer up, page by page until a page cannot be
    // read (the end of the stack's mapping): first to the end of the
    // pointer's page (r9 bytes, 1…4096), then whole pages. The length
    // copied so far goes in the header's second word.
    load64(p, BPF_REG_8, BPF_REG_6, REGS_SP);
    mov_reg(p, BPF_REG_9, BPF_REG_8);
    INSN(.code = BPF_ALU64 | BPF_AND | BPF_K, .dst_reg = BPF_REG_9, .imm = 4095);
    mov_imm(p, BPF_REG_1, 4096);
    INSN(.code = BPF_ALU64 | BPF_SUB | BPF_X, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_9);
    mov_reg(p, BPF_REG_9, BPF_REG_1);
    int failed[64];
    int failures = 0;
    mov_reg(p, BPF_REG_1, BPF_REG_7);
    add_imm(p, BPF_REG_1, CPERFPROBE_PROBE_RETURN_BYTES);
    mov_reg(p, BPF_REG_2, BPF_REG_9);
    mov_reg(p, BPF_REG_3, BPF_REG_8);
    call(p, BPF_FUNC_probe_read_user);
    failed[failures++] = jump_if_imm(p, BPF_JNE, BPF_REG_0, 0);
    store32(p, BPF_REG_7, 4, BPF_REG_9);
    for (uint32_t k = 1; k < pages && failures < 64; k++) {
        int32_t done = (int32_t)((k - 1) * 4096);
        mov_reg(p, BPF_REG_1, BPF_REG_7);
        add_reg(p, BPF_REG_1, BPF_REG_9);
        add_imm(p, BPF_REG_1, CPERFPROBE_PROBE_RETURN_BYTES + done);
        mov_imm(p, BPF_REG_2, 4096);
        mov_reg(p, BPF_REG_3, BPF_REG_8);
        add_reg(p, BPF_REG_3, BPF_REG_9);
        add_imm(p, BPF_REG_3, done);
        call(p, BPF_FUNC_probe_read_user);
        failed[failures++] = jump_if_imm(p, BPF_JNE, BPF_REG_0, 0);
        mov_reg(p, BPF_REG_1, BPF_REG_9);
        add_imm(p, BPF_REG_1, done + 4096);
        store32(p, BPF_REG_7, 4, BPF_REG_1);
    }
    for (int i = 0; i < failures; i++) land(p, failed[i]);
    submit_and_exit(p);
}

static long bpf_call(int command, union bpf_attr *attr) {
    return syscall(__NR_bpf, command, attr, sizeof *attr);
}

static int map_create(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t max_entries, uint32_t flags) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_type = type;
    attr.key_size = key_size;
    attr.value_size = value_size;
    attr.max_entries = max_entries;
    attr.map_flags = flags;
    return (int)bpf_call(BPF_MAP_CREATE, &attr);
}

int CPerfProbe_bpf_array_create(uint32_t entries) {
    return map_create(BPF_MAP_TYPE_ARRAY, 4, 8, entries, 0);
}

int CPerfProbe_bpf_ringbuf_create(uint32_t bytes) {
    return map_create(BPF_MAP_TYPE_RINGBUF, 0, 0, bytes, 0);
}

int CPerfProbe_bpf_hash_create(uint32_t entries) {
    return map_create(BPF_MAP_TYPE_HASH, 8, 1, entries, BPF_F_NO_PREALLOC);
}

int CPerfProbe_bpf_array_set(int map_fd, uint32_t key, uint64_t value) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_fd = (uint32_t)map_fd;
    attr.key = (uint64_t)(uintptr_t)&key;
    attr.value = (uint64_t)(uintptr_t)&value;
    return (int)bpf_call(BPF_MAP_UPDATE_ELEM, &attr);
}

int CPerfProbe_bpf_hash_insert(int map_fd, uint64_t key) {
    union bpf_attr attr;
    uint8_t value = 1;
    memset(&attr, 0, sizeof attr);
    attr.map_fd = (uint32_t)map_fd;
    attr.key = (uint64_t)(uintptr_t)&key;
    attr.value = (uint64_t)(uintptr_t)&value;
    attr.flags = BPF_ANY;
    return (int)bpf_call(BPF_MAP_UPDATE_ELEM, &attr);
}

int CPerfProbe_bpf_array_get(int map_fd, uint32_t key, uint64_t *value) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_fd = (uint32_t)map_fd;
    attr.key = (uint64_t)(uintptr_t)&key;
    attr.value = (uint64_t)(uintptr_t)value;
    return (int)bpf_call(BPF_MAP_LOOKUP_ELEM, &attr);
}

/// BPF_PROG_LOAD of `p` as a program of `type`; the verifier's complaint in
/// `log` when there is room for it. Returns its fd, or -1 and errno.
static int load_program(const program *p, uint32_t type, char *log, size_t log_size) {
    if (p->overflow) {
        errno = E2BIG;
        return -1;
    }
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = type;
    attr.insns = (uint64_t)(uintptr_t)p->insns;
    attr.insn_cnt = (uint32_t)p->count;
    attr.license = (uint64_t)(uintptr_t)"GPL";
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = (uint32_t)log_size;
    attr.log_level = log_size > 0 ? 1 : 0;
    return (int)bpf_call(BPF_PROG_LOAD, &attr);
}

int CPerfProbe_probe_program(const CPerfProbe_ProbeProgramSpec *spec, char *log, size_t log_size) {
    static _Thread_local program p;
    memset(&p, 0, sizeof p);
    if (spec->stack_pages > 16 || spec->pointer_register >= CPERFPROBE_PROBE_REGISTERS
        || perf_register_offsets[spec->pointer_register] < 0) {
        errno = EINVAL;
        return -1;
    }
    if (spec->kind == CPERFPROBE_PROBE_RETURN) build_return(&p, spec);
    else build_entry(&p, spec);
    return load_program(&p, BPF_PROG_TYPE_KPROBE, log, log_size);
}

// --off-cpu's program on the sched:sched_switch tracepoint, run at every
// switch on the machine. The thread leaving (the current task) opens an
// interval in `open` when its process is in `targets`, and one switch-out
// in settings[KEEP_ONE_IN] also writes its stacks to the ring: the kernel's
// and, copied here, the user registers and stack (or the frame-pointer
// chain). The thread arriving closes its interval into the ring. No perf
// sample is made: it returns 1, so other tools' events on the tracepoint
// see every switch as if it were not there.
enum {
    SW_STACK = -16,     // u64 key: a thread id
    SW_VALUE = -40,     // struct { u64 start; u32 tgid; u32 flags; u64 run time; }
    SW_COUNT = -48,     // u64 spill
    SW_SIZE = -56,      // u64 spill
    SW_END = -64,       // u64: the end of the interval being written
    SW_THREAD = -72,    // u64 spill: pid_tgid
};

/// r0 = lookup(map, r10 + key_offset). Clobbers r1–r5.
static void lookup(program *p, int map_fd, int16_t key_offset) {
    mov_reg(p, BPF_REG_2, BPF_REG_10);
    add_imm(p, BPF_REG_2, key_offset);
    load_map(p, BPF_REG_1, map_fd);
    call(p, BPF_FUNC_map_lookup_elem);
}

/// Copies the user stack above the stack pointer in the record at r8 (up
/// to CPERFPROBE_SWITCH_USER_STACK bytes; less where the stack ends:
/// each try stops at a page end nearer the pointer), storing the size.
static void copy_user_stack(program *p) {
    int done[3], n = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        load64(p, BPF_REG_3, BPF_REG_8, (int16_t)(CPERFPROBE_SWITCH_REGISTERS_OFFSET + 8 * 7));
        if (attempt == 0) {
            mov_imm(p, BPF_REG_2, CPERFPROBE_SWITCH_USER_STACK);
        } else {
            // To the end of the pointer's page, and one page more first.
            mov_reg(p, BPF_REG_4, BPF_REG_3);
            INSN(.code = BPF_ALU64 | BPF_AND | BPF_K, .dst_reg = BPF_REG_4, .imm = 4095);
            mov_imm(p, BPF_REG_2, attempt == 1 ? 8192 : 4096);
            INSN(.code = BPF_ALU64 | BPF_SUB | BPF_X, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_4);
        }
        store64(p, BPF_REG_10, SW_SIZE, BPF_REG_2);
        mov_reg(p, BPF_REG_1, BPF_REG_8);
        add_imm(p, BPF_REG_1, CPERFPROBE_SWITCH_USER_OFFSET);
        call(p, BPF_FUNC_probe_read_user);
        load64(p, BPF_REG_1, BPF_REG_10, SW_SIZE);
        done[n++] = jump_if_imm(p, BPF_JEQ, BPF_REG_0, 0);
    }
    mov_imm(p, BPF_REG_1, 0);
    for (int i = 0; i < n; i++) land(p, done[i]);
    store64(p, BPF_REG_8, 32, BPF_REG_1);
}

/// r0 = a record of `size` reserved in the ring; when there is no room,
/// counts a loss in `slot` and jumps to where the returned jump lands.
static int reserve_or_count(program *p, int ring_fd, int32_t size, int settings_fd, int32_t slot) {
    load_map(p, BPF_REG_1, ring_fd);
    mov_imm(p, BPF_REG_2, size);
    mov_imm(p, BPF_REG_3, 0);
    call(p, BPF_FUNC_ringbuf_reserve);
    int reserved = jump_if_imm(p, BPF_JNE, BPF_REG_0, 0);
    count(p, settings_fd, slot);
    int lost = jump_if_imm(p, BPF_JA, 0, 0);
    land(p, reserved);
    return lost;
}

/// The stack record of the switch-out whose thread is in r9 (pid_tgid)
/// and time in r7. Clobbers r8.
static void record_stacks(program *p, const CPerfProbe_SwitchProgramSpec *spec) {
    int out = reserve_or_count(p, spec->ring_fd, CPERFPROBE_SWITCH_STACK_BYTES, spec->settings_fd, CPERFPROBE_SWITCH_STACK_LOSSES);
    mov_reg(p, BPF_REG_8, BPF_REG_0);
    store_imm32(p, BPF_REG_8, 0, CPERFPROBE_SWITCH_STACK_RECORD);
    store32(p, BPF_REG_8, 4, BPF_REG_9);
    mov_reg(p, BPF_REG_1, BPF_REG_9);
    INSN(.code = BPF_ALU64 | BPF_RSH | BPF_K, .dst_reg = BPF_REG_1, .imm = 32);
    store32(p, BPF_REG_8, 8, BPF_REG_1);
    store_imm32(p, BPF_REG_8, 12, spec->copy_user_stack ? 0 : 1);
    store64(p, BPF_REG_8, 16, BPF_REG_7);
    // The kernel's stack where the thread left.
    mov_reg(p, BPF_REG_1, BPF_REG_6);
    mov_reg(p, BPF_REG_2, BPF_REG_8);
    add_imm(p, BPF_REG_2, CPERFPROBE_SWITCH_KERNEL_OFFSET);
    mov_imm(p, BPF_REG_3, CPERFPROBE_SWITCH_KERNEL_FRAMES * 8);
    mov_imm(p, BPF_REG_4, 0);
    call(p, BPF_FUNC_get_stack);
    store64(p, BPF_REG_8, 24, BPF_REG_0);
    if (spec->copy_user_stack) {
        // The registers it will return to user space with.
        call(p, BPF_FUNC_get_current_task_btf);
        mov_reg(p, BPF_REG_1, BPF_REG_0);
        call(p, BPF_FUNC_task_pt_regs);
        for (int i = 0; i < CPERFPROBE_PROBE_REGISTERS; i++) {
            if (perf_register_offsets[i] < 0) continue;
            load64(p, BPF_REG_1, BPF_REG_0, (int16_t)perf_register_offsets[i]);
            store64(p, BPF_REG_8, (int16_t)(CPERFPROBE_SWITCH_REGISTERS_OFFSET + 8 * i), BPF_REG_1);
        }
        copy_user_stack(p);
    } else {
        mov_reg(p, BPF_REG_1, BPF_REG_6);
        mov_reg(p, BPF_REG_2, BPF_REG_8);
        add_imm(p, BPF_REG_2, CPERFPROBE_SWITCH_USER_OFFSET);
        mov_imm(p, BPF_REG_3, CPERFPROBE_SWITCH_KERNEL_FRAMES * 8);
        mov_imm(p, BPF_REG_4, BPF_F_USER_STACK);
        call(p, BPF_FUNC_get_stack);
        store64(p, BPF_REG_8, 32, BPF_REG_0);
    }
    mov_reg(p, BPF_REG_1, BPF_REG_8);
    mov_imm(p, BPF_REG_2, BPF_RB_NO_WAKEUP);
    call(p, BPF_FUNC_ringbuf_submit);
    land(p, out);
}

/// Writes the interval whose open-map value r8 points to, ending at the
/// u64 at SW_END, of the thread at SW_STACK, with `flags` added to its
/// own. Clobbers r1–r5 and r9.
static void record_interval(program *p, const CPerfProbe_SwitchProgramSpec *spec, int32_t flags) {
    int forget = reserve_or_count(p, spec->ring_fd, CPERFPROBE_SWITCH_INTERVAL_BYTES, spec->settings_fd, CPERFPROBE_SWITCH_INTERVAL_LOSSES);
    mov_reg(p, BPF_REG_9, BPF_REG_0);
    store_imm32(p, BPF_REG_9, 0, CPERFPROBE_SWITCH_INTERVAL_RECORD);
    load64(p, BPF_REG_1, BPF_REG_10, SW_STACK);
    store32(p, BPF_REG_9, 4, BPF_REG_1);
    INSN(.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_8, .off = 8);
    store32(p, BPF_REG_9, 8, BPF_REG_1);
    INSN(.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_8, .off = 12);
    if (flags) INSN(.code = BPF_ALU64 | BPF_OR | BPF_K, .dst_reg = BPF_REG_1, .imm = flags);
    store32(p, BPF_REG_9, 12, BPF_REG_1);
    load64(p, BPF_REG_1, BPF_REG_8, 0);
    store64(p, BPF_REG_9, 16, BPF_REG_1);
    load64(p, BPF_REG_1, BPF_REG_10, SW_END);
    store64(p, BPF_REG_9, 24, BPF_REG_1);
    mov_reg(p, BPF_REG_1, BPF_REG_9);
    mov_imm(p, BPF_REG_2, BPF_RB_NO_WAKEUP);
    call(p, BPF_FUNC_ringbuf_submit);
    land(p, forget);
}

static void build_switch_tracker(program *p, const CPerfProbe_SwitchProgramSpec *spec) {
    mov_reg(p, BPF_REG_6, BPF_REG_1);
    // The time is read only for followed threads: most switches are others'.
    mov_imm(p, BPF_REG_7, 0);
    call(p, BPF_FUNC_get_current_pid_tgid);
    mov_reg(p, BPF_REG_9, BPF_REG_0);

    // The thread leaving: followed when its process is.
    mov_reg(p, BPF_REG_1, BPF_REG_9);
    INSN(.code = BPF_ALU64 | BPF_RSH | BPF_K, .dst_reg = BPF_REG_1, .imm = 32);
    store64(p, BPF_REG_10, SW_STACK, BPF_REG_1);
    lookup(p, spec->targets_fd, SW_STACK);
    int not_followed = jump_if_imm(p, BPF_JEQ, BPF_REG_0, 0);
    call(p, BPF_FUNC_ktime_get_ns);
    mov_reg(p, BPF_REG_7, BPF_REG_0);
    INSN(.code = BPF_ALU | BPF_MOV | BPF_X, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_9);
    store64(p, BPF_REG_10, SW_STACK, BPF_REG_1);
    // Its run time, which the switch has just brought up to date.
    call(p, BPF_FUNC_get_current_task_btf);
    load64(p, BPF_REG_1, BPF_REG_0, (int16_t)spec->runtime_offset);
    store64(p, BPF_REG_10, SW_VALUE + 16, BPF_REG_1);
    // Still open: its return to a CPU was not traced (the kernel traces no
    // switch out of some tasks). It returned as long before now as it has
    // run since it left (no earlier than it left).
    lookup(p, spec->open_fd, SW_STACK);
    int fresh = jump_if_imm(p, BPF_JEQ, BPF_REG_0, 0);
    mov_reg(p, BPF_REG_8, BPF_REG_0);
    load64(p, BPF_REG_1, BPF_REG_10, SW_VALUE + 16);
    load64(p, BPF_REG_2, BPF_REG_8, 16);
    INSN(.code = BPF_ALU64 | BPF_SUB | BPF_X, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_2);
    mov_reg(p, BPF_REG_3, BPF_REG_7);
    load64(p, BPF_REG_2, BPF_REG_8, 0);
    INSN(.code = BPF_ALU64 | BPF_SUB | BPF_X, .dst_reg = BPF_REG_3, .src_reg = BPF_REG_2);
    int within = jump_if_reg(p, BPF_JLE, BPF_REG_1, BPF_REG_3);
    mov_reg(p, BPF_REG_1, BPF_REG_3);
    land(p, within);
    mov_reg(p, BPF_REG_2, BPF_REG_7);
    INSN(.code = BPF_ALU64 | BPF_SUB | BPF_X, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_1);
    store64(p, BPF_REG_10, SW_END, BPF_REG_2);
    store64(p, BPF_REG_10, SW_THREAD, BPF_REG_9);
    record_interval(p, spec, CPERFPROBE_SWITCH_RETURN_UNSEEN);
    load64(p, BPF_REG_9, BPF_REG_10, SW_THREAD);
    land(p, fresh);
    INSN(.code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_8, .src_reg = BPF_REG_6, .off = (int16_t)spec->prev_state_offset);
    // Exiting (dead or zombie): no interval to close, ever.
    int dying = jump_if_imm(p, BPF_JSET, BPF_REG_8, 0x30);
    int live = jump_if_imm(p, BPF_JA, 0, 0);
    land(p, dying);
    mov_reg(p, BPF_REG_2, BPF_REG_10);
    add_imm(p, BPF_REG_2, SW_STACK);
    load_map(p, BPF_REG_1, spec->open_fd);
    call(p, BPF_FUNC_map_delete_elem);
    int dead = jump_if_imm(p, BPF_JA, 0, 0);
    land(p, live);
    // Runnable when it left (preempted, or yielding): no state bit.
    INSN(.code = BPF_ALU64 | BPF_AND | BPF_K, .dst_reg = BPF_REG_8, .imm = 0xff);
    int waits = jump_if_imm(p, BPF_JNE, BPF_REG_8, 0);
    mov_imm(p, BPF_REG_8, CPERFPROBE_SWITCH_RUNNABLE);
    int flagged = jump_if_imm(p, BPF_JA, 0, 0);
    land(p, waits);
    mov_imm(p, BPF_REG_8, 0);
    land(p, flagged);
    // One in settings[KEEP_ONE_IN] (0 or 1: each) gets its stacks.
    counter(p, spec->settings_fd, CPERFPROBE_SWITCH_OUTS);
    int no_counter = jump_if_imm(p, BPF_JEQ, BPF_REG_0, 0);
    mov_imm(p, BPF_REG_1, 1);
    INSN(.code = BPF_STX | BPF_ATOMIC | BPF_DW, .dst_reg = BPF_REG_0, .src_reg = BPF_REG_1, .imm = BPF_ADD | BPF_FETCH);
    store64(p, BPF_REG_10, SW_COUNT, BPF_REG_1);
    counter(p, spec->settings_fd, CPERFPROBE_SWITCH_KEEP_ONE_IN);
    int no_setting = jump_if_imm(p, BPF_JEQ, BPF_REG_0, 0);
    load64(p, BPF_REG_2, BPF_REG_0, 0);
    int every = jump_if_imm(p, BPF_JLE, BPF_REG_2, 1);
    load64(p, BPF_REG_1, BPF_REG_10, SW_COUNT);
    INSN(.code = BPF_ALU64 | BPF_MOD | BPF_X, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_2);
    int skip = jump_if_imm(p, BPF_JNE, BPF_REG_1, 0);
    land(p, no_counter);
    land(p, no_setting);
    land(p, every);
    INSN(.code = BPF_ALU64 | BPF_OR | BPF_K, .dst_reg = BPF_REG_8, .imm = CPERFPROBE_SWITCH_SAMPLED);
    land(p, skip);
    store64(p, BPF_REG_10, SW_VALUE, BPF_REG_7);
    mov_reg(p, BPF_REG_1, BPF_REG_9);
    INSN(.code = BPF_ALU64 | BPF_RSH | BPF_K, .dst_reg = BPF_REG_1, .imm = 32);
    store32(p, BPF_REG_10, SW_VALUE + 8, BPF_REG_1);
    store32(p, BPF_REG_10, SW_VALUE + 12, BPF_REG_8);
    load_map(p, BPF_REG_1, spec->open_fd);
    mov_reg(p, BPF_REG_2, BPF_REG_10);
    add_imm(p, BPF_REG_2, SW_STACK);
    mov_reg(p, BPF_REG_3, BPF_REG_10);
    add_imm(p, BPF_REG_3, SW_VALUE);
    mov_imm(p, BPF_REG_4, BPF_ANY);
    call(p, BPF_FUNC_map_update_elem);
    int opened = jump_if_imm(p, BPF_JEQ, BPF_REG_0, 0);
    count(p, spec->settings_fd, CPERFPROBE_SWITCH_OPEN_FULL);
    int unopened = jump_if_imm(p, BPF_JA, 0, 0);
    land(p, opened);
    INSN(.code = BPF_JMP | BPF_JSET | BPF_K, .dst_reg = BPF_REG_8, .imm = CPERFPROBE_SWITCH_SAMPLED, .off = 1);
    int unsampled = jump_if_imm(p, BPF_JA, 0, 0);
    record_stacks(p, spec);
    land(p, unsampled);
    land(p, unopened);
    land(p, dead);
    land(p, not_followed);

    // The thread arriving: closes its interval, if one is open.
    INSN(.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_6, .off = (int16_t)spec->next_pid_offset);
    int idle = jump_if_imm(p, BPF_JEQ, BPF_REG_1, 0);
    store64(p, BPF_REG_10, SW_STACK, BPF_REG_1);
    lookup(p, spec->open_fd, SW_STACK);
    int none = jump_if_imm(p, BPF_JEQ, BPF_REG_0, 0);
    mov_reg(p, BPF_REG_8, BPF_REG_0);
    int timed = jump_if_imm(p, BPF_JNE, BPF_REG_7, 0);
    call(p, BPF_FUNC_ktime_get_ns);
    mov_reg(p, BPF_REG_7, BPF_REG_0);
    land(p, timed);
    store64(p, BPF_REG_10, SW_END, BPF_REG_7);
    record_interval(p, spec, 0);
    mov_reg(p, BPF_REG_2, BPF_REG_10);
    add_imm(p, BPF_REG_2, SW_STACK);
    load_map(p, BPF_REG_1, spec->open_fd);
    call(p, BPF_FUNC_map_delete_elem);
    land(p, none);
    land(p, idle);
    mov_imm(p, BPF_REG_0, 1);
    INSN(.code = BPF_JMP | BPF_EXIT);
}

int CPerfProbe_switch_program(const CPerfProbe_SwitchProgramSpec *spec, char *log, size_t log_size) {
    static _Thread_local program p;
    memset(&p, 0, sizeof p);
    build_switch_tracker(&p, spec);
    return load_program(&p, BPF_PROG_TYPE_TRACEPOINT, log, log_size);
}

// --off-cpu's program on sched:sched_process_fork: a process (or thread)
// created by a followed process is followed from its first instruction —
// the agent would learn of it only when it reads the fork record, after a
// child that sleeps at once has gone to sleep. A thread's id is not a
// process's: the agent removes it when it reads the record. Returns 1, as
// the switch program does.
static void build_fork_follower(program *p, int targets_fd, int32_t child_pid_offset) {
    mov_reg(p, BPF_REG_6, BPF_REG_1);
    call(p, BPF_FUNC_get_current_pid_tgid);
    INSN(.code = BPF_ALU64 | BPF_RSH | BPF_K, .dst_reg = BPF_REG_0, .imm = 32);
    store64(p, BPF_REG_10, -8, BPF_REG_0);
    lookup(p, targets_fd, -8);
    int not_followed = jump_if_imm(p, BPF_JEQ, BPF_REG_0, 0);
    INSN(.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_1, .src_reg = BPF_REG_6, .off = (int16_t)child_pid_offset);
    store64(p, BPF_REG_10, -8, BPF_REG_1);
    INSN(.code = BPF_ST | BPF_MEM | BPF_B, .dst_reg = BPF_REG_10, .off = -16, .imm = 1);
    load_map(p, BPF_REG_1, targets_fd);
    mov_reg(p, BPF_REG_2, BPF_REG_10);
    add_imm(p, BPF_REG_2, -8);
    mov_reg(p, BPF_REG_3, BPF_REG_10);
    add_imm(p, BPF_REG_3, -16);
    mov_imm(p, BPF_REG_4, BPF_ANY);
    call(p, BPF_FUNC_map_update_elem);
    land(p, not_followed);
    mov_imm(p, BPF_REG_0, 1);
    INSN(.code = BPF_JMP | BPF_EXIT);
}

int CPerfProbe_fork_program(int targets_fd, int32_t child_pid_offset, char *log, size_t log_size) {
    static _Thread_local program p;
    memset(&p, 0, sizeof p);
    build_fork_follower(&p, targets_fd, child_pid_offset);
    return load_program(&p, BPF_PROG_TYPE_TRACEPOINT, log, log_size);
}

int CPerfProbe_bpf_open_intervals_create(uint32_t entries) {
    return map_create(BPF_MAP_TYPE_HASH, 8, 24, entries, 0);
}

int CPerfProbe_bpf_map_next(int map_fd, const uint64_t *key, uint64_t *next, void *value) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_fd = (uint32_t)map_fd;
    attr.key = (uint64_t)(uintptr_t)key;
    attr.next_key = (uint64_t)(uintptr_t)next;
    if (bpf_call(BPF_MAP_GET_NEXT_KEY, &attr) != 0) return -1;
    memset(&attr, 0, sizeof attr);
    attr.map_fd = (uint32_t)map_fd;
    attr.key = (uint64_t)(uintptr_t)next;
    attr.value = (uint64_t)(uintptr_t)value;
    return bpf_call(BPF_MAP_LOOKUP_ELEM, &attr) == 0 ? 0 : 1;
}

int CPerfProbe_bpf_map_remove(int map_fd, uint64_t key) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_fd = (uint32_t)map_fd;
    attr.key = (uint64_t)(uintptr_t)&key;
    return (int)bpf_call(BPF_MAP_DELETE_ELEM, &attr);
}

int CPerfProbe_bpf_map_put(int map_fd, uint64_t key, const void *value, uint64_t flags) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_fd = (uint32_t)map_fd;
    attr.key = (uint64_t)(uintptr_t)&key;
    attr.value = (uint64_t)(uintptr_t)value;
    attr.flags = flags;
    return (int)bpf_call(BPF_MAP_UPDATE_ELEM, &attr);
}

uint64_t CPerfProbe_load_acquire_u64(const void *address) {
    return __atomic_load_n((const uint64_t *)address, __ATOMIC_ACQUIRE);
}

uint32_t CPerfProbe_load_acquire_u32(const void *address) {
    return __atomic_load_n((const uint32_t *)address, __ATOMIC_ACQUIRE);
}

void CPerfProbe_store_release_u64(void *address, uint64_t value) {
    __atomic_store_n((uint64_t *)address, value, __ATOMIC_RELEASE);
}
