#ifndef PERFPROBE_HEAPPROBE_H
#define PERFPROBE_HEAPPROBE_H

#include <stdint.h>

/* The heap probe's channel to the agent: a sealed memfd the agent creates
 * and the command inherits (its number in PERFPROBE_HEAP_FD). The probe maps
 * it before main and never touches the fd again, so a program that closes
 * or reuses that number loses nothing and receives nothing. The first page
 * is this header; the ring of records follows. Any thread of any process of
 * the command (forks share the mapping; an exec maps it again) appends
 * records without a lock or a system call; the agent drains the ring a
 * hundred times a second, so an idle thread holds nothing back and nothing
 * is lost at exit. A full ring drops the record, counted here, never waits. */

#define HEAPPROBE_MAGIC 0x32706870u /* "php2" */
#define HEAPPROBE_HEADER_BYTES 4096u

struct heapprobe_ring {
    uint32_t magic;
    uint32_t header_bytes;
    uint64_t capacity; /* bytes of records after the header, a power of two */
    /* Bytes writers have claimed, ever; each claim starts a record. */
    _Alignas(64) uint64_t reserved;
    /* Bytes the agent has read and zeroed, ever. */
    _Alignas(64) uint64_t consumed;
    /* Records that found the ring full, and samples the table could not hold. */
    _Alignas(64) uint64_t dropped_allocations;
    uint64_t dropped_frees;
    uint64_t untracked;
};

/* A record starts with one 64-bit word, written last (release): its length
 * in bytes (a multiple of 8, the word included) and its type above bit 32.
 * Zero means claimed but not yet written. A record never wraps: a claim
 * that would is preceded by a pad to the ring's end. */
#define HEAPPROBE_ALLOC 1
#define HEAPPROBE_FREE 2
#define HEAPPROBE_PAD 3
/* Registers in PERF_REG_X86_* order, as the agent's unwinder expects. */
#define HEAPPROBE_REGISTERS 24

struct heapprobe_free {
    uint64_t word;
    int32_t pid;
    uint32_t reserved;
    uint64_t address;
    uint64_t time; /* CLOCK_MONOTONIC ns */
};

struct heapprobe_alloc {
    uint64_t word;
    int32_t pid;
    int32_t tid;
    uint32_t stack_size; /* bytes of stack copied after this header */
    uint32_t reserved;
    uint64_t address;
    uint64_t size;
    /* Bytes this sample stands for: size / P(sampled). */
    uint64_t weight;
    uint64_t time; /* CLOCK_MONOTONIC ns */
    uint64_t registers[HEAPPROBE_REGISTERS];
    /* followed by the stack copied from registers[SP] up, padded to 8 bytes */
};

#endif
