#include "CPerfProbeUnwind.h"

#include <libunwind.h>
#include <stdbool.h>
#include <string.h>

// libunwind exports it for remote unwinding but declares it in no public header.
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
                                              unw_dyn_info_t *di, unw_proc_info_t *pi,
                                              int need_unwind_info, void *arg);

// PERF_REG_X86_* indices of the sampled registers.
enum { PERF_AX = 0, PERF_BX, PERF_CX, PERF_DX, PERF_SI, PERF_DI, PERF_BP, PERF_SP, PERF_IP,
       PERF_R8 = 16 };

// DW_EH_PE_datarel | DW_EH_PE_sdata4: the search table encoding linkers emit.
#define EH_PE_DATAREL_SDATA4 0x3b

_Static_assert(UNW_X86_64_RIP == 16, "libunwind's x86-64 register numbering changed");

struct context {
    const CPerfProbeUnwind_Sample *sample;
    bool beyond_stack;
};

static const CPerfProbeUnwind_Segment *find_segment(const CPerfProbeUnwind_Sample *s, uint64_t addr) {
    size_t low = 0, high = s->segment_count;
    while (low < high) {
        size_t mid = (low + high) / 2;
        if (s->segments[mid].start <= addr) low = mid + 1; else high = mid;
    }
    if (low == 0) return NULL;
    const CPerfProbeUnwind_Segment *seg = &s->segments[low - 1];
    return addr - seg->start < seg->size ? seg : NULL;
}

/// Reads `size` bytes of the target at `addr` from the stack copy or a module file.
/// Addresses come from the target's registers and stack: every bound is
/// checked by subtraction, so that no sum can wrap around 2^64.
static bool read_target(struct context *ctx, uint64_t addr, void *out, size_t size) {
    const CPerfProbeUnwind_Sample *s = ctx->sample;
    uint64_t sp = s->registers[PERF_SP];
    if (addr >= sp && addr - sp <= s->stack_size && size <= s->stack_size - (addr - sp)) {
        memcpy(out, s->stack + (addr - sp), size);
        return true;
    }
    const CPerfProbeUnwind_Segment *seg = find_segment(s, addr);
    if (seg && size <= seg->size - (addr - seg->start)) {
        memcpy(out, seg->bytes + (addr - seg->start), size);
        return true;
    }
    // Above the copied stack and in no module: a frame the copy did not reach.
    if (addr >= sp && addr - sp >= s->stack_size) ctx->beyond_stack = true;
    return false;
}

/// Whether `ip` is the rt_sigreturn trampoline (`mov $15, %rax; syscall`, as
/// glibc's and musl's __restore_rt): the frame of a signal handler's return.
/// (libunwind's unw_is_signal_frame describes the frame it last looked up,
/// not necessarily the cursor's current one.)
static bool is_sigreturn(struct context *ctx, uint64_t ip) {
    static const uint8_t code[] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};
    uint8_t bytes[sizeof(code)];
    bool beyond = ctx->beyond_stack;
    bool readable = read_target(ctx, ip, bytes, sizeof(bytes));
    ctx->beyond_stack = beyond;
    return readable && memcmp(bytes, code, sizeof(code)) == 0;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *valp, int write, void *arg) {
    (void)as;
    if (write) return -UNW_EINVAL;
    if (!read_target(arg, addr, valp, sizeof(*valp))) {
        *valp = 0;
        return -UNW_EINVAL;
    }
    return 0;
}

static int access_reg(unw_addr_space_t as, unw_regnum_t regnum, unw_word_t *valp, int write, void *arg) {
    (void)as;
    static const int perf_index[] = {
        [UNW_X86_64_RAX] = PERF_AX, [UNW_X86_64_RDX] = PERF_DX, [UNW_X86_64_RCX] = PERF_CX,
        [UNW_X86_64_RBX] = PERF_BX, [UNW_X86_64_RSI] = PERF_SI, [UNW_X86_64_RDI] = PERF_DI,
        [UNW_X86_64_RBP] = PERF_BP, [UNW_X86_64_RSP] = PERF_SP,
        [UNW_X86_64_R8] = PERF_R8, [UNW_X86_64_R9] = PERF_R8 + 1, [UNW_X86_64_R10] = PERF_R8 + 2,
        [UNW_X86_64_R11] = PERF_R8 + 3, [UNW_X86_64_R12] = PERF_R8 + 4, [UNW_X86_64_R13] = PERF_R8 + 5,
        [UNW_X86_64_R14] = PERF_R8 + 6, [UNW_X86_64_R15] = PERF_R8 + 7, [UNW_X86_64_RIP] = PERF_IP,
    };
    if (write || regnum < 0 || regnum > UNW_X86_64_RIP) return -UNW_EBADREG;
    *valp = ((struct context *)arg)->sample->registers[perf_index[regnum]];
    return 0;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t regnum, unw_fpreg_t *val, int write, void *arg) {
    (void)as; (void)regnum; (void)val; (void)write; (void)arg;
    return -UNW_EINVAL;
}

static int resume(unw_addr_space_t as, unw_cursor_t *cursor, void *arg) {
    (void)as; (void)cursor; (void)arg;
    return -UNW_EINVAL;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len, unw_word_t *offp, void *arg) {
    (void)as; (void)addr; (void)buf; (void)len; (void)offp; (void)arg;
    return -UNW_EINVAL;
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *dilap, void *arg) {
    (void)as; (void)dilap; (void)arg;
    return -UNW_ENOINFO;
}

static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg) {
    (void)as; (void)pi; (void)arg; // libunwind frees table-format info itself
}

/// Reads a DW_EH_PE-encoded count or pointer of .eh_frame_hdr (the absolute
/// or pc-relative 4- and 8-byte forms that linkers emit); returns its size.
static size_t encoded_size(uint8_t encoding) {
    switch (encoding & 0x0f) {
    case 0x03: case 0x0b: return 4; // udata4, sdata4
    case 0x04: case 0x0c: return 8; // udata8, sdata8
    default: return 0;
    }
}

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi, int need_unwind_info, void *arg) {
    struct context *ctx = arg;
    const CPerfProbeUnwind_Segment *seg = find_segment(ctx->sample, ip);
    if (!seg || seg->eh_frame_hdr == 0) return -UNW_ENOINFO;
    // .eh_frame_hdr: version, eh_frame_ptr encoding, fde_count encoding,
    // table encoding, eh_frame_ptr, fde_count, then the sorted search table.
    uint8_t header[4];
    if (!read_target(ctx, seg->eh_frame_hdr, header, sizeof(header)) || header[0] != 1) return -UNW_ENOINFO;
    size_t pointer_size = encoded_size(header[1]), count_size = encoded_size(header[2]);
    if (pointer_size == 0 || count_size == 0 || header[3] != EH_PE_DATAREL_SDATA4) return -UNW_ENOINFO;
    uint64_t count_address = seg->eh_frame_hdr + 4 + pointer_size;
    uint64_t fde_count = 0;
    if (!read_target(ctx, count_address, &fde_count, count_size)) return -UNW_ENOINFO;
    unw_dyn_info_t di;
    memset(&di, 0, sizeof(di));
    di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
    di.start_ip = seg->code_start;
    di.end_ip = seg->code_end;
    di.u.rti.segbase = seg->eh_frame_hdr;
    di.u.rti.table_data = count_address + count_size;
    // Entries are two 4-byte values; table_len counts words.
    di.u.rti.table_len = fde_count * 8 / sizeof(unw_word_t);
    return UNW_OBJ(dwarf_search_unwind_table)(as, ip, &di, pi, need_unwind_info, arg);
}

static unw_accessors_t accessors = {
    .find_proc_info = find_proc_info,
    .put_unwind_info = put_unwind_info,
    .get_dyn_info_list_addr = get_dyn_info_list_addr,
    .access_mem = access_mem,
    .access_reg = access_reg,
    .access_fpreg = access_fpreg,
    .resume = resume,
    .get_proc_name = get_proc_name,
};

void *CPerfProbeUnwind_create(void) {
    unw_addr_space_t space = unw_create_addr_space(&accessors, 0);
    // The per-thread cache needs no lock (the global one masks signals around
    // every use); the caller flushes it when the code behind addresses changes.
    if (space) unw_set_caching_policy(space, UNW_CACHE_PER_THREAD);
    return space;
}

void CPerfProbeUnwind_flush(void *space) {
    unw_flush_cache(space, 0, 0);
}

void CPerfProbeUnwind_destroy(void *space) {
    unw_destroy_addr_space(space);
}

int CPerfProbeUnwind_unwind(void *space, const CPerfProbeUnwind_Sample *sample,
                            uint64_t *ips, int max_frames, CPerfProbeUnwind_Outcome *outcome) {
    struct context ctx = {.sample = sample, .beyond_stack = false};
    unw_cursor_t cursor;
    int n = 0;
    *outcome = CPerfProbeUnwind_failed;
    if (max_frames <= 0) return 0;
    if (unw_init_remote(&cursor, space, &ctx) != 0) {
        ips[n++] = sample->registers[PERF_IP];
        return n;
    }
    int step;
    bool exact = true; // the sampled IP
    do {
        unw_word_t ip = 0;
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0) break;
        if (ip == 0) {
            // A caller's return address of 0 ends a stack by convention (as
            // Go's goroutines and hand-written thread entries end theirs).
            if (n > 0) *outcome = CPerfProbeUnwind_complete;
            break;
        }
        bool signal_frame = is_sigreturn(&ctx, ip);
        ips[n++] = exact || signal_frame ? ip : ip - 1;
        // The frame under a signal trampoline was interrupted, not calling.
        exact = signal_frame;
        step = n < max_frames ? unw_step(&cursor) : -UNW_EINVAL;
        if (step == 0) *outcome = CPerfProbeUnwind_complete;
        else if (step < 0) *outcome = ctx.beyond_stack || n == max_frames ? CPerfProbeUnwind_truncated : CPerfProbeUnwind_failed;
    } while (step > 0);
    return n;
}
