/* perfprobe's in-process heap probe, preloaded into a command by
 * `perfprobe run --heap` (LD_PRELOAD, with PERFPROBE_HEAP_FD naming the
 * agent's memfd; see include/heapprobe.h for the channel).
 *
 * It samples allocations by bytes: each thread counts down an exponentially
 * distributed number of bytes (mean PERFPROBE_HEAP_SAMPLE_BYTES, 512 KiB), so
 * an allocation is sampled with probability 1 - exp(-size/mean) — big ones
 * almost always, small ones rarely. An unsampled malloc costs a thread-local
 * subtraction before a tail call to glibc; an unsampled free, one load from a
 * small filter. For a sampled allocation it writes its registers and a copy
 * of its stack into the ring; the agent unwinds it with DWARF CFI, as it does
 * CPU samples, so no unwinder is loaded here and the program's own unwinding
 * (C++ exceptions) is untouched. Frees are written only for sampled addresses.
 *
 * Every entry point is async-signal-safe and reentrant: a signal handler that
 * allocates or frees while the probe runs in the same thread passes straight
 * through (`busy`) or appends its own record; no lock, no thread-local list,
 * no allocation, nothing done at thread exit. */
#define _GNU_SOURCE
#include "include/heapprobe.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* glibc's allocator under its internal names: no dlsym bootstrap needed. */
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

#define STACK_COPY 16384
/* Sampled live allocations: 64K slots, which at the default 512 KiB mean
 * hold the samples of ~16 GiB of live heap at half load. A slot is looked
 * for at most MAX_PROBES places from its hash; past that the sample is
 * dropped and counted (its free could not be matched). */
#define TABLE_BITS 16
#define TABLE_SIZE (1u << TABLE_BITS)
#define MAX_PROBES 64
#define TOMBSTONE ((uintptr_t)1)
/* How many live sampled addresses hash to each of 16K buckets: an unsampled
 * free reads one byte of this 16 KiB array, which stays in cache, instead of
 * probing the table. Counts saturate at 255 and then stay (a bucket that
 * full only costs its frees a table lookup). */
#define FILTER_BITS 14
#define FILTER_SIZE (1u << FILTER_BITS)
#define REGION_BYTES (TABLE_SIZE * sizeof(uintptr_t) + FILTER_SIZE)

static struct heapprobe_ring *ring;
static bool initialized; /* the constructor has run, with or without a ring */
static unsigned char *records;
static pid_t process_id;
static double mean_bytes = 512 * 1024;
/* Sampled, not yet freed addresses: open addressing, lock-free. */
static _Atomic(uintptr_t) *table;
/* Until the probe is set up (or when it cannot be), an all-zero filter: no
 * free is looked up. Never written, so its pages stay the shared zero page. */
static _Atomic(uint8_t) idle_filter[FILTER_SIZE];
static _Atomic(uint8_t) *filter = idle_filter;

/* initial-exec: a preloaded library's thread-locals sit in static TLS, read
 * straight through %fs, with no __tls_get_addr call on every malloc. */
#define THREAD_LOCAL __thread __attribute__((tls_model("initial-exec")))

/* Bytes to the next sample; at or below zero, the slow path decides. */
static THREAD_LOCAL long countdown;
static THREAD_LOCAL bool counting; /* countdown drawn for this thread */
static THREAD_LOCAL uint64_t rng_state;
static THREAD_LOCAL bool busy; /* inside the probe: allocations pass straight through */
static THREAD_LOCAL pid_t thread_id;

/* A forked child is a new process sharing the ring. */
static void after_fork(void) {
    process_id = getpid();
    thread_id = 0;
}

static uint64_t next_random(void) {
    if (rng_state == 0) rng_state = (uint64_t)syscall(SYS_gettid) * 0x9e3779b97f4a7c15ull | 1;
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Bytes until the next sample: exponential with the configured mean. */
static long next_interval(void) {
    double u = ((next_random() >> 11) + 1) * (1.0 / 9007199254740993.0);
    return (long)(-log(u) * mean_bytes) + 1;
}

/* The memfd must be the agent's: a sealed memfd (a file the program opened
 * itself under that number cannot carry seals) holding the header. */
static struct heapprobe_ring *map_ring(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= (off_t)HEAPPROBE_HEADER_BYTES) return NULL;
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) return NULL;
    void *mapped = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mapped == MAP_FAILED) return NULL;
    struct heapprobe_ring *header = mapped;
    uint64_t capacity = header->capacity;
    if (header->magic != HEAPPROBE_MAGIC || header->header_bytes != HEAPPROBE_HEADER_BYTES ||
        capacity < 2 * STACK_COPY || (capacity & (capacity - 1)) != 0 ||
        capacity != (uint64_t)st.st_size - HEAPPROBE_HEADER_BYTES) {
        munmap(mapped, (size_t)st.st_size);
        return NULL;
    }
    return header;
}

static void set_up(void) {
    const char *fd = getenv("PERFPROBE_HEAP_FD");
    const char *bytes = getenv("PERFPROBE_HEAP_SAMPLE_BYTES");
    if (bytes && atof(bytes) >= 1) mean_bytes = atof(bytes);
    if (!fd) return;
    struct heapprobe_ring *mapped = map_ring(atoi(fd));
    if (!mapped) return;
    /* Mapped and touched once, never the target's allocator: a constant footprint. */
    void *region = mmap(NULL, REGION_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (region == MAP_FAILED) return;
    table = region;
    process_id = getpid();
    pthread_atfork(NULL, NULL, after_fork);
    records = (unsigned char *)mapped + HEAPPROBE_HEADER_BYTES;
    filter = (_Atomic(uint8_t) *)((unsigned char *)region + TABLE_SIZE * sizeof(uintptr_t));
    ring = mapped;
}

__attribute__((constructor)) static void heapprobe_init(void) {
    busy = true; /* getenv, mmap and friends may allocate */
    set_up();
    initialized = true;
    busy = false;
}

/* Claims `length` bytes (a multiple of 8) of the ring for one record, with
 * `headroom` bytes left free after it; NULL when they are not there. A claim
 * that would wrap is preceded by a pad. */
static unsigned char *claim(uint64_t length, uint64_t headroom) {
    uint64_t capacity = ring->capacity;
    uint64_t at = atomic_load_explicit((_Atomic uint64_t *)&ring->reserved, memory_order_relaxed);
    for (;;) {
        uint64_t consumed = atomic_load_explicit((_Atomic uint64_t *)&ring->consumed, memory_order_acquire);
        uint64_t offset = at & (capacity - 1);
        uint64_t pad = offset + length > capacity ? capacity - offset : 0;
        if (at - consumed + pad + length + headroom > capacity) return NULL;
        if (atomic_compare_exchange_weak_explicit((_Atomic uint64_t *)&ring->reserved, &at, at + pad + length,
                                                  memory_order_acq_rel, memory_order_relaxed)) {
            if (pad) atomic_store_explicit((_Atomic uint64_t *)(records + offset), pad | (uint64_t)HEAPPROBE_PAD << 32,
                                           memory_order_release);
            return records + ((at + pad) & (capacity - 1));
        }
    }
}

static void commit(unsigned char *record, uint64_t length, uint32_t type) {
    atomic_store_explicit((_Atomic uint64_t *)record, length | (uint64_t)type << 32, memory_order_release);
}

static void count(uint64_t *counter) {
    atomic_fetch_add_explicit((_Atomic uint64_t *)counter, 1, memory_order_relaxed);
}

static size_t slot_of(uintptr_t address) {
    return (size_t)((address >> 4) * 0x9e3779b97f4a7c15ull >> (64 - TABLE_BITS)) & (TABLE_SIZE - 1);
}

static size_t bucket_of(uintptr_t address) {
    return (size_t)((address >> 4) * 0xbf58476d1ce4e5b9ull >> (64 - FILTER_BITS)) & (FILTER_SIZE - 1);
}

/* Counts one more live sample in the address's bucket, saturating. */
static void filter_add(uintptr_t address) {
    _Atomic(uint8_t) *bucket = &filter[bucket_of(address)];
    uint8_t n = atomic_load_explicit(bucket, memory_order_relaxed);
    while (n < 255 && !atomic_compare_exchange_weak(bucket, &n, (uint8_t)(n + 1))) {
    }
}

static void filter_remove(uintptr_t address) {
    _Atomic(uint8_t) *bucket = &filter[bucket_of(address)];
    uint8_t n = atomic_load_explicit(bucket, memory_order_relaxed);
    while (n > 0 && n < 255 && !atomic_compare_exchange_weak(bucket, &n, (uint8_t)(n - 1))) {
    }
}

/* False when no slot was free within MAX_PROBES of its hash. */
static bool remember(uintptr_t address) {
    for (size_t i = slot_of(address), n = 0; n < MAX_PROBES; i = (i + 1) & (TABLE_SIZE - 1), n++) {
        uintptr_t current = atomic_load_explicit(&table[i], memory_order_relaxed);
        if ((current == 0 || current == TOMBSTONE) &&
            atomic_compare_exchange_strong(&table[i], &current, address)) {
            filter_add(address);
            return true;
        }
    }
    return false;
}

/* Whether `address` was sampled; forgets it if so. */
static bool forget(uintptr_t address) {
    for (size_t i = slot_of(address), n = 0; n < MAX_PROBES; i = (i + 1) & (TABLE_SIZE - 1), n++) {
        uintptr_t current = atomic_load_explicit(&table[i], memory_order_relaxed);
        if (current == 0) return false;
        if (current == address && atomic_compare_exchange_strong(&table[i], &current, TOMBSTONE)) {
            filter_remove(address);
            return true;
        }
    }
    return false;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Copies up to `bytes` of the stack above `sp` into `to`; returns how much.
 * The stack may be a thread's, a small sigaltstack or a fiber's whose
 * mapping ends a few hundred bytes above `sp`: the kernel copies it
 * (process_vm_readv on this process), page by page, and stops at the first
 * page that is not mapped, where a plain copy would fault and kill the
 * program. A short copy is fine: the agent reports the stack as truncated.
 * Where the call is refused (a seccomp filter), nothing is copied. */
static size_t copy_stack(unsigned char *to, uintptr_t sp, size_t bytes) {
    enum { PAGE = 4096, PIECES = STACK_COPY / PAGE + 1 };
    struct iovec local = {.iov_base = to, .iov_len = bytes};
    struct iovec remote[PIECES];
    size_t pieces = 0, planned = 0;
    while (planned < bytes && pieces < PIECES) {
        uintptr_t at = sp + planned;
        size_t piece = PAGE - (at & (PAGE - 1));
        if (piece > bytes - planned) piece = bytes - planned;
        remote[pieces].iov_base = (void *)at;
        remote[pieces].iov_len = piece;
        pieces++;
        planned += piece;
    }
    ssize_t copied = process_vm_readv(process_id, &local, 1, remote, pieces, 0);
    return copied > 0 ? (size_t)copied & ~(size_t)7 : 0;
}

/* A plain copy of stack words, for where it cannot fault (below). The stack
 * holds other frames' locals and a sanitizer's redzones: this reads them on
 * purpose, so it is neither instrumented nor turned into a memcpy call. */
__attribute__((no_sanitize_address, optimize("no-tree-loop-distribute-patterns")))
static void copy_words(unsigned char *to, uintptr_t from, size_t bytes) {
    for (size_t i = 0; i < bytes / 8; i++) ((uint64_t *)to)[i] = ((const uint64_t *)from)[i];
}

/* The main thread's first frame: glibc's record of where its stack began. */
extern void *__libc_stack_end;

/* How much of the stack above `sp` is worth copying: up to the thread's
 * first frame when that is nearer than STACK_COPY — the main thread's
 * starts at __libc_stack_end; another glibc thread's lie below its thread
 * descriptor (pthread_self, at the top of its stack block, above its static
 * TLS) — else STACK_COPY. A shallow stack is copied in a page or two
 * instead of five. */
static size_t stack_extent(uintptr_t sp, bool *on_main_stack) {
    bool main_thread = thread_id == process_id;
    uintptr_t top = main_thread ? (uintptr_t)__libc_stack_end + 64 : (uintptr_t)pthread_self();
    *on_main_stack = false;
    if (sp < top && top - sp < STACK_COPY) {
        /* The kernel sets the main stack's mapping up at 128 KiB or more
         * below its first frame, so a stack pointer this near it is on that
         * mapping, whoever switched to it, and every byte above is there: a
         * plain copy cannot fault. Nothing like it holds for other threads
         * (a fiber's stack may be mapped just below a thread's block). */
        *on_main_stack = main_thread;
        return (size_t)((top - sp + 7) & ~(uintptr_t)7);
    }
    return STACK_COPY;
}

/* Writes a sampled allocation, with the registers of this frame and the
 * stack above it, into the ring; false when the ring is full (the sample is
 * dropped and counted rather than the program made to wait). noinline: the
 * agent unwinds from this function's own frame. */
__attribute__((noinline)) static bool write_sample(void *address, size_t size) {
    uint64_t r[HEAPPROBE_REGISTERS] = {0};
    /* PERF_REG_X86_: AX 0, BX 1, CX 2, DX 3, SI 4, DI 5, BP 6, SP 7, IP 8, R12..R15 20..23 */
    __asm__ volatile("leaq 0(%%rip), %0\n\t"
                     "movq %%rsp, %1\n\t"
                     "movq %%rbp, %2\n\t"
                     "movq %%rbx, %3\n\t"
                     "movq %%r12, %4\n\t"
                     "movq %%r13, %5\n\t"
                     "movq %%r14, %6\n\t"
                     "movq %%r15, %7\n\t"
                     : "=r"(r[8]), "=r"(r[7]), "=r"(r[6]), "=r"(r[1]), "=r"(r[20]), "=r"(r[21]), "=r"(r[22]), "=r"(r[23]));
    if (thread_id == 0) thread_id = (pid_t)syscall(SYS_gettid);
    bool on_main_stack;
    size_t extent = stack_extent((uintptr_t)r[7], &on_main_stack);
    const uint64_t length = sizeof(struct heapprobe_alloc) + extent;
    /* An eighth of the ring stays for frees: when the agent falls behind,
     * samples are dropped (counted, and never outstanding), not the frees
     * of samples already taken, which would overstate outstanding bytes.
     * 2 MiB holds 65,536 frees: one for every slot of the table. */
    unsigned char *at = claim(length, ring->capacity / 8);
    if (!at) return false;
    struct heapprobe_alloc *m = (struct heapprobe_alloc *)at;
    memcpy(m->registers, r, sizeof(r));
    m->pid = process_id;
    m->tid = thread_id;
    if (on_main_stack) copy_words(at + sizeof(*m), (uintptr_t)r[7], extent);
    m->stack_size = (uint32_t)(on_main_stack ? extent : copy_stack(at + sizeof(*m), (uintptr_t)r[7], extent));
    m->reserved = 0;
    m->address = (uintptr_t)address;
    m->size = size;
    double probability = -expm1(-(double)size / mean_bytes);
    m->weight = (uint64_t)((double)size / (probability > 0 ? probability : 1));
    m->time = now_ns();
    commit(at, length, HEAPPROBE_ALLOC);
    return true;
}

/* The slow path of every allocation: draws the first countdown, samples. */
__attribute__((noinline)) static void *sample_slow(void *address, size_t size) {
    if (!ring || busy) {
        /* Without an agent the fast path takes every call from now on. */
        if (!ring && initialized) countdown = __LONG_MAX__;
        return address;
    }
    busy = true;
    if (!counting) {
        countdown = next_interval() - (long)(size < (size_t)__LONG_MAX__ ? size : (size_t)__LONG_MAX__);
        counting = true;
    }
    if (countdown <= 0 && address) {
        /* Sampled: the next point of the Poisson process lies an exponential
         * interval past this block's end (the interval is memoryless), one
         * draw however many means the block spans. */
        countdown = next_interval();
        /* Remembered first: a free racing in from another thread must find it. */
        if (!remember((uintptr_t)address)) {
            count(&ring->untracked);
        } else if (!write_sample(address, size)) {
            forget((uintptr_t)address);
            count(&ring->dropped_allocations);
        }
    }
    if (countdown <= 0) countdown = next_interval(); /* a failed allocation */
    busy = false;
    return address;
}

/* The slow path of a free whose bucket holds live samples. */
__attribute__((noinline)) static void release_slow(void *address) {
    if (!ring || !forget((uintptr_t)address)) return;
    unsigned char *at = claim(sizeof(struct heapprobe_free), 0);
    if (!at) {
        count(&ring->dropped_frees);
        return;
    }
    struct heapprobe_free *m = (struct heapprobe_free *)at;
    m->pid = process_id;
    m->reserved = 0;
    m->address = (uintptr_t)address;
    m->time = now_ns();
    commit(at, sizeof(*m), HEAPPROBE_FREE);
}

static inline void released(void *address) {
    if (__builtin_expect(atomic_load_explicit(&filter[bucket_of((uintptr_t)address)], memory_order_relaxed) != 0, 0))
        release_slow(address);
}

/* The fast paths end in tail calls to glibc: no frame of the probe's. */
static inline bool unsampled(size_t size) {
    return (countdown -= (long)(size < (size_t)__LONG_MAX__ ? size : (size_t)__LONG_MAX__)) > 0;
}

void *malloc(size_t size) {
    if (__builtin_expect(unsampled(size), 1)) return __libc_malloc(size);
    return sample_slow(__libc_malloc(size), size);
}

void *calloc(size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) total = (size_t)__LONG_MAX__;
    if (__builtin_expect(unsampled(total), 1)) return __libc_calloc(n, size);
    return sample_slow(__libc_calloc(n, size), total);
}

void free(void *address) {
    if (address) released(address);
    __libc_free(address);
}

void *realloc(void *address, size_t size) {
    if (address) released(address);
    if (__builtin_expect(unsampled(size), 1)) return __libc_realloc(address, size);
    return sample_slow(__libc_realloc(address, size), size);
}

void *memalign(size_t alignment, size_t size) {
    unsampled(size);
    return countdown > 0 ? __libc_memalign(alignment, size) : sample_slow(__libc_memalign(alignment, size), size);
}

void *aligned_alloc(size_t alignment, size_t size) { return memalign(alignment, size); }
void *valloc(size_t size) { return memalign((size_t)sysconf(_SC_PAGESIZE), size); }

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = memalign(alignment, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
