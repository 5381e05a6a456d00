#ifndef C_PERF_PROBE_UNWIND_H
#define C_PERF_PROBE_UNWIND_H

#include <stddef.h>
#include <stdint.h>

/// A range of the target's address space whose bytes perfprobe has: one
/// PT_LOAD segment of a module, from the module's file mapped by the agent.
typedef struct CPerfProbeUnwind_Segment {
    uint64_t start;
    uint64_t size;
    const uint8_t *bytes;
    /// The module's code, as mapped in the target (`unw_dyn_info_t` range).
    uint64_t code_start;
    uint64_t code_end;
    /// Where the module's .eh_frame_hdr is mapped in the target; 0: none.
    uint64_t eh_frame_hdr;
} CPerfProbeUnwind_Segment;

/// Number of registers in PERF_SAMPLE_REGS_USER order (PERF_REG_X86_*).
#define CPerfProbeUnwind_REGISTER_COUNT 24

/// What one sample gives the unwinder: registers and a copy of the user
/// stack from the stack pointer up, and the segments of its process.
typedef struct CPerfProbeUnwind_Sample {
    const CPerfProbeUnwind_Segment *segments; // sorted by start
    size_t segment_count;
    uint64_t registers[CPerfProbeUnwind_REGISTER_COUNT];
    const uint8_t *stack;
    size_t stack_size;
} CPerfProbeUnwind_Sample;

typedef enum CPerfProbeUnwind_Outcome {
    /// unw_step reached the outermost frame (its CFI ends the stack).
    CPerfProbeUnwind_complete = 0,
    /// A frame needed stack memory above the copy: the copy was too short.
    CPerfProbeUnwind_truncated = 1,
    /// No unwind information, or it led somewhere unreadable.
    CPerfProbeUnwind_failed = 2,
} CPerfProbeUnwind_Outcome;

/// A libunwind address space with perfprobe's accessors (unw_create_addr_space
/// is a macro). Returns NULL on failure.
void *CPerfProbeUnwind_create(void);
void CPerfProbeUnwind_destroy(void *space);
/// Forgets cached unwind rules: call when the next sample's process, or its
/// mappings, differ from the last one's. Use a space from one thread only.
void CPerfProbeUnwind_flush(void *space);

/// Unwinds one sample with DWARF CFI; writes up to `max_frames` addresses to
/// look up — where the thread was, then each caller's return address minus
/// one (inside its call), but the exact address of a signal trampoline and of
/// the frame a signal interrupted — and returns how many. Never reads the
/// target's memory, only the sample's copy and the module files.
int CPerfProbeUnwind_unwind(void *space, const CPerfProbeUnwind_Sample *sample,
                            uint64_t *ips, int max_frames,
                            CPerfProbeUnwind_Outcome *outcome);

#endif
