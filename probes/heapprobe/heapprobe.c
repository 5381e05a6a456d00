/* perfprobe's in-process heap probe, preloaded into a command by
 * `perfprobe run --heap` (LD_PRELOAD, with PERFPROBE_HEAP_FD naming a
 * SOCK_SEQPACKET socket to the agent).
 *
 * It samples allocations by bytes: each thread counts down an exponentially
 * distributed number of bytes (mean PERFPROBE_HEAP_SAMPLE_BYTES, 512 KiB), so
 * an allocation is sampled with probability 1 - exp(-size/mean) — big ones
 * almost always, small ones rarely. Unsampled calls cost a thread-local
 * subtraction and, for free, a lookup in an almost empty table. For a sampled
 * allocation it sends its registers and a copy of its stack; the agent unwinds
 * it with DWARF CFI, as it does CPU samples, so no unwinder is loaded here and
 * the program's own unwinding (C++ exceptions) is untouched. Frees are sent
 * only for sampled addresses. Records are batched per thread and sent as one
 * message when the batch is full or 50 ms old, and at thread and process
 * exit: each send costs the program a system call and a wakeup of the agent. */
#define _GNU_SOURCE
#include "include/heapprobe.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
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
#define BATCH_BYTES (256 * 1024)
#define MIN_BATCH_BYTES (sizeof(struct heapprobe_alloc) + STACK_COPY + sizeof(struct heapprobe_frees))
#define BATCH_AGE_NS 50000000ull
/* Sampled live allocations: 64K slots, which at the default 512 KiB mean
 * hold the samples of ~16 GiB of live heap at half load. A slot is looked
 * for at most MAX_PROBES places from its hash; past that the sample is
 * dropped and counted (its free could not be matched). */
#define TABLE_BITS 16
#define TABLE_SIZE (1u << TABLE_BITS)
#define MAX_PROBES 64
#define TOMBSTONE ((uintptr_t)1)

static int channel = -1;
/* A message must fit the socket's send buffer: the batch is sized to half of it. */
static size_t batch_limit = BATCH_BYTES;
static pid_t process_id;
static atomic_ulong dropped;
static double mean_bytes = 512 * 1024;
/* Sampled, not yet freed addresses: open addressing, lock-free. */
static _Atomic(uintptr_t) *table;
/* The probe's own memory, mapped and touched once at start (the table, the
 * filter): never the target's allocator, and never growing while it runs —
 * pages faulted in as random slots were first used looked like a leak. */
/* How many live sampled addresses hash to each of 64K buckets: an unsampled
 * free checks this small array (in cache) instead of probing the table. */
#define FILTER_SIZE (1u << 16)
static _Atomic(uint16_t) *filter;
#define REGION_BYTES (TABLE_SIZE * sizeof(uintptr_t) + FILTER_SIZE * sizeof(uint16_t))

/* initial-exec: a preloaded library's thread-locals sit in static TLS, read
 * straight through %fs, with no __tls_get_addr call on every malloc. */
#define THREAD_LOCAL __thread __attribute__((tls_model("initial-exec")))

static THREAD_LOCAL long countdown;
static THREAD_LOCAL bool counting; /* countdown drawn for this thread */
static THREAD_LOCAL uint64_t rng_state;
static THREAD_LOCAL bool busy; /* inside the probe: allocations pass straight through */
static THREAD_LOCAL pid_t thread_id;
static THREAD_LOCAL struct heapprobe_frees frees;
/* Records waiting to be sent: allocated on a thread's first sample. */
static THREAD_LOCAL unsigned char *batch;
static THREAD_LOCAL size_t batch_used;
static THREAD_LOCAL uint64_t batch_started;
static pthread_key_t thread_exit;

/* A forked child is a new process with the same socket. */
static void after_fork(void) {
    process_id = getpid();
    thread_id = 0;
    frees.count = 0; /* the parent's to report */
    batch_used = 0;
    atomic_store(&dropped, 0);
}

/* Sends the thread's batch. Blocking: it may hold frees, and a lost free
 * would look like a leak (samples are dropped before they get here). */
static void flush_batch(void) {
    if (batch_used == 0 || channel < 0) return;
    if (send(channel, batch, batch_used, MSG_NOSIGNAL) < 0 && errno == EPIPE) channel = -1;
    batch_used = 0;
}

/* Room for `size` more bytes in the batch, flushing it first if need be. */
static unsigned char *reserve(size_t size) {
    if (!batch) {
        /* Mapped, not the target's heap, and touched now: a constant footprint. */
        void *mapped = mmap(NULL, BATCH_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (mapped == MAP_FAILED) return NULL;
        batch = mapped;
        pthread_setspecific(thread_exit, &batch);
    }
    if (batch_used + size > batch_limit) flush_batch();
    if (batch_used == 0) batch_started = 0;
    return batch + batch_used;
}

static void append_frees(void) {
    if (frees.count == 0) return;
    frees.type = HEAPPROBE_FREES;
    frees.pid = process_id;
    size_t size = offsetof(struct heapprobe_frees, entries) + frees.count * sizeof(frees.entries[0]);
    unsigned char *at = reserve(size);
    if (!at) return;
    memcpy(at, &frees, size);
    batch_used += size;
    frees.count = 0;
}

/* Sends what the batch holds once it is old enough (or `now` is 0: always). */
static void flush_if_due(uint64_t now) {
    if (batch_used == 0 && frees.count == 0) return;
    if (now != 0 && batch_started != 0 && now - batch_started < BATCH_AGE_NS) return;
    append_frees();
    flush_batch();
}

static void flush_at_thread_exit(void *unused) {
    (void)unused;
    busy = true;
    flush_if_due(0);
    munmap(batch, BATCH_BYTES);
    batch = NULL;
}

__attribute__((destructor)) static void heapprobe_fini(void) {
    busy = true;
    flush_if_due(0);
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

__attribute__((constructor)) static void heapprobe_init(void) {
    const char *fd = getenv("PERFPROBE_HEAP_FD");
    const char *bytes = getenv("PERFPROBE_HEAP_SAMPLE_BYTES");
    if (bytes && atof(bytes) >= 1) mean_bytes = atof(bytes);
    if (!fd) return;
    void *region = mmap(NULL, REGION_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (region == MAP_FAILED) return;
    table = region;
    filter = (_Atomic(uint16_t) *)((unsigned char *)region + TABLE_SIZE * sizeof(uintptr_t));
    process_id = getpid();
    pthread_atfork(NULL, NULL, after_fork);
    pthread_key_create(&thread_exit, flush_at_thread_exit);
    int sndbuf = 0;
    socklen_t length = sizeof(sndbuf);
    if (getsockopt(atoi(fd), SOL_SOCKET, SO_SNDBUF, &sndbuf, &length) != 0) return; /* not our socket */
    if ((size_t)sndbuf / 2 < batch_limit) batch_limit = (size_t)sndbuf / 2;
    if (batch_limit < MIN_BATCH_BYTES) return; /* cannot send a sample whole */
    channel = atoi(fd);
}

static size_t slot_of(uintptr_t address) {
    return (size_t)((address >> 4) * 0x9e3779b97f4a7c15ull >> (64 - TABLE_BITS)) & (TABLE_SIZE - 1);
}

static size_t bucket_of(uintptr_t address) {
    return (size_t)((address >> 4) * 0xbf58476d1ce4e5b9ull >> 48) & (FILTER_SIZE - 1);
}

/* False when no slot was free within MAX_PROBES of its hash. */
static bool remember(uintptr_t address) {
    for (size_t i = slot_of(address), n = 0; n < MAX_PROBES; i = (i + 1) & (TABLE_SIZE - 1), n++) {
        uintptr_t current = atomic_load_explicit(&table[i], memory_order_relaxed);
        if ((current == 0 || current == TOMBSTONE) &&
            atomic_compare_exchange_strong(&table[i], &current, address)) {
            atomic_fetch_add(&filter[bucket_of(address)], 1);
            return true;
        }
    }
    return false;
}

/* Whether `address` was sampled; forgets it if so. */
static bool forget(uintptr_t address) {
    if (atomic_load_explicit(&filter[bucket_of(address)], memory_order_relaxed) == 0) return false;
    for (size_t i = slot_of(address), n = 0; n < MAX_PROBES; i = (i + 1) & (TABLE_SIZE - 1), n++) {
        uintptr_t current = atomic_load_explicit(&table[i], memory_order_relaxed);
        if (current == 0) return false;
        if (current == address && atomic_compare_exchange_strong(&table[i], &current, TOMBSTONE)) {
            atomic_fetch_sub(&filter[bucket_of(address)], 1);
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

/* Adds a sampled allocation, with the registers of this frame and the stack
 * above it, to the batch; false when it cannot (no memory for the batch, or
 * the socket full): the sample is dropped and counted rather than the program
 * made to wait. noinline: the agent unwinds from this function's own frame. */
__attribute__((noinline)) static bool send_sample(void *address, size_t size) {
    unsigned char *at = reserve(sizeof(struct heapprobe_alloc) + STACK_COPY);
    if (!at) {
        atomic_fetch_add(&dropped, 1);
        return false;
    }
    struct heapprobe_alloc *m = (struct heapprobe_alloc *)at;
    uint64_t *r = m->registers;
    memset(r, 0, sizeof(m->registers));
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
    size_t copy = copy_stack((unsigned char *)m + sizeof(*m), (uintptr_t)r[7], STACK_COPY);
    if (thread_id == 0) thread_id = (pid_t)syscall(SYS_gettid);
    m->type = HEAPPROBE_ALLOC;
    m->pid = process_id;
    m->tid = thread_id;
    m->stack_size = (uint32_t)copy;
    m->address = (uintptr_t)address;
    m->size = size;
    double probability = -expm1(-(double)size / mean_bytes);
    m->weight = (uint64_t)((double)size / (probability > 0 ? probability : 1));
    m->time = now_ns();
    m->dropped = atomic_exchange(&dropped, 0);
    batch_used += sizeof(*m) + copy;
    if (batch_started == 0) batch_started = m->time;
    flush_if_due(m->time);
    return true;
}

static void *sampled(void *address, size_t size) {
    if (!address || channel < 0 || busy) return address;
    if (!counting) {
        countdown = next_interval();
        counting = true;
    }
    countdown -= (long)size;
    if (countdown > 0) return address;
    busy = true;
    while (countdown <= 0) countdown += next_interval();
    // Remembered first: a free racing in from another thread must find it.
    if (!remember((uintptr_t)address)) {
        atomic_fetch_add(&dropped, 1);
    } else if (!send_sample(address, size)) {
        forget((uintptr_t)address);
    }
    busy = false;
    return address;
}

static void released(void *address) {
    if (!address || channel < 0) return;
    if (!forget((uintptr_t)address)) return;
    uint64_t now = now_ns();
    frees.entries[frees.count].address = (uintptr_t)address;
    frees.entries[frees.count].time = now;
    frees.count++;
    // Order against allocation records does not matter: each free carries its time.
    busy = true;
    if (frees.count == HEAPPROBE_FREE_BATCH) append_frees();
    if (batch_started == 0) batch_started = now;
    if (!batch) reserve(0);
    flush_if_due(now);
    busy = false;
}

void *malloc(size_t size) { return sampled(__libc_malloc(size), size); }
void *calloc(size_t n, size_t size) { return sampled(__libc_calloc(n, size), n * size); }
void *memalign(size_t alignment, size_t size) { return sampled(__libc_memalign(alignment, size), size); }
void *aligned_alloc(size_t alignment, size_t size) { return sampled(__libc_memalign(alignment, size), size); }
void *valloc(size_t size) { return sampled(__libc_memalign((size_t)sysconf(_SC_PAGESIZE), size), size); }

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (!p) return ENOMEM;
    *out = sampled(p, size);
    return 0;
}

void free(void *address) {
    released(address);
    __libc_free(address);
}

void *realloc(void *address, size_t size) {
    released(address);
    return sampled(__libc_realloc(address, size), size);
}
