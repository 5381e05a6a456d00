#ifndef C_PERF_PROBE_H
#define C_PERF_PROBE_H

#include <linux/perf_event.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/// The fields of `struct perf_event_attr` that perfprobe sets. The kernel
/// struct has bitfields and anonymous unions that Swift imports poorly, so
/// Swift fills this plain struct and the shim builds the real one.
typedef struct CPerfProbe_EventConfig {
    uint32_t type;
    uint64_t config;
    /// The uprobe PMU's path (a `const char *`, read during the call) and file
    /// offset of the probed instruction; zero for other events.
    uint64_t config1;
    uint64_t config2;
    /// Sampling frequency in Hz when `use_frequency`, else the period.
    uint64_t sample_period_or_frequency;
    bool use_frequency;
    uint64_t sample_type;
    uint64_t read_format;
    uint64_t sample_regs_user;
    uint32_t sample_stack_user;
    uint16_t sample_max_stack;
    /// Wake a poller once this many bytes are in the ring (0: every sample).
    uint32_t wakeup_watermark;
    bool disabled;
    bool inherit;
    bool enable_on_exec;
    bool exclude_kernel;
    bool exclude_callchain_kernel;
    bool exclude_callchain_user;
    /// mmap/mmap2/comm/comm_exec/task records, each with a sample_id trailer.
    bool side_band;
    /// The pid argument is an fd of a cgroup v2 directory: per-CPU events
    /// then count only that cgroup's tasks (PERF_FLAG_PID_CGROUP).
    bool pid_is_cgroup;
} CPerfProbe_EventConfig;

/// perf_event_open(2) has no glibc wrapper. Returns an fd, or -1 and errno.
int CPerfProbe_event_open(const CPerfProbe_EventConfig *config, pid_t pid,
                          int cpu, int group_fd);

/// ioctl(2) is variadic, which Swift cannot call.
int CPerfProbe_event_enable(int fd);
int CPerfProbe_event_disable(int fd);
/// PERF_EVENT_IOC_SET_OUTPUT: make `fd` write its records into `ring_fd`'s ring.
int CPerfProbe_event_set_output(int fd, int ring_fd);
/// PERF_EVENT_IOC_ID: the id PERF_SAMPLE_IDENTIFIER stamps on `fd`'s records
/// (and on those of the events it passes to new threads).
int CPerfProbe_event_id(int fd, uint64_t *id);

/// The records `attach --heap`'s BPF programs write into a BPF ring
/// buffer, little-endian. Every record starts with a header: u32 tag (the
/// program's), u32 stack bytes copied (returns), u32 thread id, u32
/// process id (the agent's pid namespace), u64 CLOCK_MONOTONIC ns.
enum {
    CPERFPROBE_PROBE_HEADER_BYTES = 24,
    /// An entry: then the registers DI, SI, DX, CX, R8, R9, IP, SP and the
    /// stack's top word (the return address), u64 each.
    CPERFPROBE_PROBE_ENTRY_BYTES = CPERFPROBE_PROBE_HEADER_BYTES + 72,
    /// A return: then the user registers indexed by PERF_REG_X86_* (zeros
    /// for the segment registers), then the stack copy.
    CPERFPROBE_PROBE_REGISTERS = 24,
    CPERFPROBE_PROBE_RETURN_BYTES = CPERFPROBE_PROBE_HEADER_BYTES + 8 * CPERFPROBE_PROBE_REGISTERS,
    /// Slots of the counters array: records the ring had no room for
    /// (entries, returns); hits of the freeing functions' probes (recorded
    /// or not); a flag that, once set, has every free recorded (a sampled
    /// block found no room among those remembered); chosen returns without
    /// a block in RAX (an out-parameter function's, whose block only the
    /// agent can find in the stack copy; a failure), and how many of them
    /// the agent has handled (written by the agent alone): while the two
    /// differ, every free is recorded.
    CPERFPROBE_PROBE_ENTRY_LOSSES = 0,
    CPERFPROBE_PROBE_RETURN_LOSSES = 1,
    CPERFPROBE_PROBE_FREE_HITS = 2,
    CPERFPROBE_PROBE_UNFILTERED = 3,
    CPERFPROBE_PROBE_RETURNS_WITHOUT_BLOCK = 4,
    CPERFPROBE_PROBE_RETURNS_HANDLED = 5,
    CPERFPROBE_PROBE_COUNTERS = 6,
};

typedef enum CPerfProbe_ProbeKind {
    /// Every call recorded (allocating functions' entries).
    CPERFPROBE_PROBE_ENTRY = 0,
    /// Every call recorded, its pointer forgotten as a sampled block (realloc).
    CPERFPROBE_PROBE_REALLOC_ENTRY = 1,
    /// Recorded only when its pointer is a sampled block (or the flag is set),
    /// which is then forgotten: frees of blocks never sampled change nothing.
    CPERFPROBE_PROBE_FREE_ENTRY = 2,
    /// Recorded at random (the threshold), with registers and the stack;
    /// the block returned (RAX) remembered as sampled.
    CPERFPROBE_PROBE_RETURN = 3,
} CPerfProbe_ProbeKind;

typedef struct CPerfProbe_ProbeProgramSpec {
    CPerfProbe_ProbeKind kind;
    uint32_t tag;
    /// BPF_MAP_TYPE_RINGBUF the records go to.
    int ring_fd;
    /// Array of CPERFPROBE_PROBE_COUNTERS u64.
    int counters_fd;
    /// Returns: array of one u64, probability × 2^32 that a hit is recorded.
    int threshold_fd;
    /// Hash of the sampled blocks' addresses (u64 → u8).
    int sampled_fd;
    /// Frees and reallocs: the pointer's register, as PERF_REG_X86_*.
    uint32_t pointer_register;
    /// Returns: pages of stack copied at most (≤ 16).
    uint32_t stack_pages;
    /// st_dev and st_ino of the agent's /proc/self/ns/pid.
    uint64_t pid_namespace_device;
    uint64_t pid_namespace_inode;
} CPerfProbe_ProbeProgramSpec;

/// Loads the program `spec` describes. Returns its fd, or -1 and errno,
/// the verifier's complaint in `log` when there is room for it.
int CPerfProbe_probe_program(const CPerfProbe_ProbeProgramSpec *spec, char *log, size_t log_size);
/// --off-cpu's program on sched:sched_switch (`CPerfProbe_switch_program`).
typedef struct CPerfProbe_SwitchProgramSpec {
    /// Hash of the followed processes' ids (u64 → u8).
    int targets_fd;
    /// Hash of the open intervals by thread id (u64 → {u64 start; u32 tgid;
    /// u32 flags; u64 the thread's run time, ns, when it left}).
    int open_fd;
    /// Array of CPERFPROBE_SWITCH_SETTINGS u64.
    int settings_fd;
    /// BPF_MAP_TYPE_RINGBUF the records go to.
    int ring_fd;
    /// The tracepoint's fields, as its format file places them.
    int32_t prev_state_offset;
    int32_t next_pid_offset;
    /// task_struct's se.sum_exec_runtime, as the kernel's BTF places it.
    int32_t runtime_offset;
    /// 1: the user registers and stack (DWARF); 0: the frame-pointer chain.
    uint32_t copy_user_stack;
} CPerfProbe_SwitchProgramSpec;

enum {
    CPERFPROBE_SWITCH_KEEP_ONE_IN = 0,
    CPERFPROBE_SWITCH_OUTS = 1,
    CPERFPROBE_SWITCH_INTERVAL_LOSSES = 2,
    CPERFPROBE_SWITCH_STACK_LOSSES = 3,
    CPERFPROBE_SWITCH_OPEN_FULL = 4,
    CPERFPROBE_SWITCH_SETTINGS = 5,
};

/// Records: {u32 kind; u32 tid; u32 pid; u32 flags; u64 time; then for an
/// interval u64 end, for stacks i64 kernel bytes, i64 user bytes, 24 user
/// registers by PERF_REG_X86_*, the kernel frames, the user part (a stack
/// copy, or with flags 1 the frame-pointer chain)}. An interval's time is
/// its start; a stack record's time is the start of the interval it opens.
enum {
    CPERFPROBE_SWITCH_STACK_RECORD = 1,
    CPERFPROBE_SWITCH_INTERVAL_RECORD = 2,
    CPERFPROBE_SWITCH_INTERVAL_BYTES = 32,
    CPERFPROBE_SWITCH_REGISTERS_OFFSET = 40,
    CPERFPROBE_SWITCH_KERNEL_OFFSET = 40 + 24 * 8,
    CPERFPROBE_SWITCH_KERNEL_FRAMES = 127,
    CPERFPROBE_SWITCH_USER_OFFSET = 40 + 24 * 8 + 127 * 8,
    CPERFPROBE_SWITCH_USER_STACK = 8192,
    CPERFPROBE_SWITCH_STACK_BYTES = 40 + 24 * 8 + 127 * 8 + 8192,
};

/// Interval flags: left the CPU runnable; its stacks were taken; open
/// since before profiling (set by the agent); its return to a CPU was not
/// traced, and its end is its thread's next switch-out less the time the
/// thread ran in between.
enum {
    CPERFPROBE_SWITCH_RUNNABLE = 1,
    CPERFPROBE_SWITCH_SAMPLED = 2,
    CPERFPROBE_SWITCH_BEFORE = 4,
    CPERFPROBE_SWITCH_RETURN_UNSEEN = 8,
};

/// Loads --off-cpu's program (BPF_PROG_TYPE_TRACEPOINT). Returns its fd, or
/// -1 and errno, the verifier's complaint in `log` when there is room.
int CPerfProbe_switch_program(const CPerfProbe_SwitchProgramSpec *spec, char *log, size_t log_size);
/// Loads --off-cpu's program on sched:sched_process_fork: a process forked
/// by a process in `targets_fd` joins it (BPF_PROG_TYPE_TRACEPOINT).
int CPerfProbe_fork_program(int targets_fd, int32_t child_pid_offset, char *log, size_t log_size);
/// A hash of up to `entries` open intervals (u64 key, 24-byte value).
int CPerfProbe_bpf_open_intervals_create(uint32_t entries);
/// The key after `key` (NULL: the first) in `next`, and its value: 0; 1
/// when that key went before its value could be read; -1 (and errno) at the end.
int CPerfProbe_bpf_map_next(int map_fd, const uint64_t *key, uint64_t *next, void *value);
/// Removes `key` from a map with u64 keys. 0, or -1 and errno.
int CPerfProbe_bpf_map_remove(int map_fd, uint64_t key);
/// Sets `key` to `value` (BPF_ANY, BPF_NOEXIST, …). 0, or -1 and errno.
int CPerfProbe_bpf_map_put(int map_fd, uint64_t key, const void *value, uint64_t flags);
/// BPF_MAP_CREATE: an array of `entries` u64 (zeros), a ring buffer of
/// `bytes` (a power of two, a multiple of the page size). Returns the fd,
/// or -1 and errno.
int CPerfProbe_bpf_array_create(uint32_t entries);
int CPerfProbe_bpf_ringbuf_create(uint32_t bytes);
/// A hash of up to `entries` u64 keys (u8 values), allocated as filled.
int CPerfProbe_bpf_hash_create(uint32_t entries);
/// Inserts `key` with the value 1. 0, or -1 and errno.
int CPerfProbe_bpf_hash_insert(int map_fd, uint64_t key);
/// An array map's u64 at `key`: set, read. 0, or -1 and errno.
int CPerfProbe_bpf_array_set(int map_fd, uint32_t key, uint64_t value);
int CPerfProbe_bpf_array_get(int map_fd, uint32_t key, uint64_t *value);
/// A BPF ring buffer's positions and record headers, with the ordering its
/// producer (the kernel) pairs with.
uint64_t CPerfProbe_load_acquire_u64(const void *address);
uint32_t CPerfProbe_load_acquire_u32(const void *address);
void CPerfProbe_store_release_u64(void *address, uint64_t value);
/// PERF_EVENT_IOC_SET_BPF: runs `program_fd` on each hit of `fd`'s
/// tracepoint in every process an event on that tracepoint follows; a hit
/// the program returns 0 for reaches no event.
int CPerfProbe_event_set_bpf(int fd, int program_fd);

/// gzip-compresses `length` bytes (zlib, best compression) into a malloc'd
/// buffer at `*out`. Returns its size, or -1.
long CPerfProbe_gzip(const void *data, size_t length, void **out);

/// Decompresses the zstd frame of `length` bytes at `data` into `capacity`
/// bytes at `out` (the size the ELF compression header promises). Returns
/// the decompressed size, or -1 when it is not a valid frame or does not fit.
long CPerfProbe_zstd_decompress(const void *data, size_t length, void *out, size_t capacity);

/// The same for a zlib stream (ELFCOMPRESS_ZLIB).
long CPerfProbe_zlib_decompress(const void *data, size_t length, void *out, size_t capacity);

/// A listening TCP socket on IPv4 `host`:`port` (0: any free port),
/// close-on-exec; `*bound_port` is the port it got. Returns the fd, or -1
/// and errno (EINVAL for a host that is not a dotted IPv4 address).
int CPerfProbe_listen_tcp(const char *host, int port, int *bound_port);

/// A TCP connection to `host` (a name or address) and `port`, made within
/// `timeout_ms`; close-on-exec. Returns the fd, or -1 and errno.
int CPerfProbe_connect_tcp(const char *host, int port, int timeout_ms);

/// gettid(2): Swift's Glibc import does not set _GNU_SOURCE.
pid_t CPerfProbe_thread_id(void);
/// Names the calling thread (the kernel keeps 15 bytes), for ps and perf.
void CPerfProbe_name_thread(const char *name);

/// Calls malloc(size) and free `count` times, as `library` (a file this
/// process maps, the target's allocator library) defines them: to time a
/// uprobe hit on the same code the target runs. Looked up in the library
/// itself, so that an interposer (a sanitizer's allocator) is not what gets
/// timed. Returns -1 when the library is not loaded or lacks either.
int CPerfProbe_allocate_and_free(const char *library, uint64_t count, uint64_t size);

/// The ring's `data_head`, read with acquire semantics so the record bytes
/// before it are visible (the kernel publishes with a release store).
uint64_t CPerfProbe_ring_load_head(const void *control_page);
/// Publishes `data_tail` with release semantics: the kernel may overwrite
/// bytes before it only once our reads of them are done.
void CPerfProbe_ring_store_tail(void *control_page, uint64_t tail);
uint64_t CPerfProbe_ring_data_offset(const void *control_page);
uint64_t CPerfProbe_ring_data_size(const void *control_page);

/// perfprobe's nice value as started, read before any change of priority.
int CPerfProbe_startup_nice(void);
/// Makes the calling thread real-time at the lowest priority (else nice
/// -20); threads it starts inherit it. False when not permitted.
bool CPerfProbe_raise_priority(void);

/// Forks a child that waits at a gate, then execs `path`. Sampling must be set
/// up on the child's pid before its first instruction, and fork in a Swift
/// process is only safe when the child runs nothing but async-signal-safe C.
/// Returns the pid (or -1 and errno); `*gate_fd` opens the gate, `*status_fd`
/// reports an exec failure. `output_fd` -1: the child keeps the agent's
/// terminal; otherwise it runs in a process group of its own (a terminal's
/// Ctrl-C is the agent's), stdin from /dev/null, stdout and stderr to `output_fd`.
pid_t CPerfProbe_spawn_gated(const char *path, char *const argv[],
                             char *const envp[], int nice, int output_fd, int *gate_fd, int *status_fd);
/// Lets the gated child exec. Returns 0, or the errno with which exec failed.
int CPerfProbe_spawn_open_gate(int gate_fd, int status_fd);

/// Waits for child `pid` to end without reaping it (WNOWAIT), so that its
/// /proc files still hold its final counts. Returns 0 with *signo 0 and
/// *code its exit code, or *signo the signal that ended it; -1 on error.
int CPerfProbe_wait_exited(pid_t pid, int *code, int *signo);

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and the threads it
/// creates later), so that one thread can take them with sigwaitinfo.
void CPerfProbe_block_stop_signals(void);
/// Waits for a blocked stop signal; `*sender` is the sending pid, 0 when the
/// kernel (a terminal) sent it.
int CPerfProbe_wait_stop_signal(pid_t *sender);
/// Sends `signo` to this process, to wake the thread in wait_stop_signal.
void CPerfProbe_raise_stop_signal(int signo);

/// eventfd(2): Swift's Glibc module does not export <sys/eventfd.h>.
/// A close-on-exec, non-blocking eventfd, or -1 and errno.
int CPerfProbe_wake_fd(void);

/// The heap probe's ring (probes/heapprobe/include/heapprobe.h): a sealed
/// memfd of a header page and `capacity` bytes (a power of two), header
/// written. Returns its fd, close-on-exec (dup it for the command), or -1 and errno.
int CPerfProbe_heap_ring_create(uint64_t capacity);

/// Copies the records written since `*consumed` (pads left out) into `out`,
/// back to back, up to `out_length` bytes; zeroes what it read and publishes
/// `*consumed` for the writers. The ring is shared with the target: nothing
/// in it is believed beyond the mapping's bounds. Returns the bytes copied;
/// `*status` is 1 when it stopped at a claimed record not yet written, 2 at
/// something no writer of the probe's makes, else 0.
size_t CPerfProbe_heap_ring_take(void *header, uint64_t capacity, uint64_t *consumed, void *out, size_t out_length,
                                 int *status);

/// Gives up on the records claimed but not written by `reserved` (a writer
/// that died mid-record): zeroes them and moves `*consumed` there. Returns the
/// bytes skipped.
uint64_t CPerfProbe_heap_ring_skip(void *header, uint64_t capacity, uint64_t *consumed);

/// The ring's counters of dropped records (ring full) and untracked samples (table full).
void CPerfProbe_heap_ring_counters(const void *header, uint64_t *dropped_allocations, uint64_t *dropped_frees,
                                   uint64_t *untracked);

/// C++ (Itanium ABI) names through libstdc++'s __cxa_demangle. Returns a
/// malloc'd string, or NULL when `name` is not a C++ name.
char *CPerfProbe_demangle_cxx(const char *name);
/// Swift names through the Swift runtime's swift_demangle (which no other
/// profiler calls). Returns a malloc'd string, or NULL.
char *CPerfProbe_demangle_swift(const char *name);

/// sigabbrev_np needs _GNU_SOURCE, which Swift's Glibc import does not set.
/// "ABRT" for SIGABRT; NULL for an unknown number.
const char *CPerfProbe_signal_abbreviation(int signo);

/// The width of the terminal on `fd`, or -1 (not a terminal, or unknown).
int CPerfProbe_terminal_columns(int fd);

#endif
