#ifndef PERFPROBE_HEAPPROBE_H
#define PERFPROBE_HEAPPROBE_H

#include <stdint.h>

/* The records the heap probe sends to the agent, one per SOCK_SEQPACKET
 * message (so records from many threads never interleave). */

#define HEAPPROBE_ALLOC 1
#define HEAPPROBE_FREES 2
/* Frees a thread batches before sending them. */
#define HEAPPROBE_FREE_BATCH 64
/* Registers in PERF_REG_X86_* order, as the agent's unwinder expects. */
#define HEAPPROBE_REGISTERS 24

/* Frees of sampled allocations, batched per thread. */
struct heapprobe_frees {
    uint32_t type; /* HEAPPROBE_FREES */
    int32_t pid;
    uint32_t count;
    uint32_t reserved;
    struct {
        uint64_t address;
        uint64_t time; /* CLOCK_MONOTONIC ns */
    } entries[HEAPPROBE_FREE_BATCH];
};

struct heapprobe_alloc {
    uint32_t type; /* HEAPPROBE_ALLOC */
    int32_t pid;
    int32_t tid;
    uint32_t stack_size; /* bytes of stack that follow this header */
    uint64_t address;
    uint64_t size;
    /* Bytes this sample stands for: size / P(sampled). */
    uint64_t weight;
    uint64_t time; /* CLOCK_MONOTONIC ns */
    /* Samples this process dropped (socket full) since its last record. */
    uint64_t dropped;
    uint64_t registers[HEAPPROBE_REGISTERS];
    /* followed by stack_size bytes copied from registers[SP] up */
};

#endif
