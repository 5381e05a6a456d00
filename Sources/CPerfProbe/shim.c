#define _GNU_SOURCE
#include "CPerfProbe.h"
#include "../../probes/heapprobe/include/heapprobe.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <limits.h>
#include <zlib.h>
#include <zstd.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sched.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <unistd.h>

_Static_assert(sizeof(struct perf_event_attr) >= PERF_ATTR_SIZE_VER7,
               "perf_event_attr is older than the fields perfprobe sets");

int CPerfProbe_event_open(const CPerfProbe_EventConfig *config, pid_t pid,
                          int cpu, int group_fd) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = config->type;
    attr.config = config->config;
    attr.config1 = config->config1;
    attr.config2 = config->config2;
    // CLOCK_MONOTONIC, the agent's clock: uprobe records are matched with
    // its timeline, and events sharing a ring must share a clock.
    attr.use_clockid = 1;
    attr.clockid = CLOCK_MONOTONIC;
    attr.freq = config->use_frequency;
    if (config->use_frequency)
        attr.sample_freq = config->sample_period_or_frequency;
    else
        attr.sample_period = config->sample_period_or_frequency;
    attr.sample_type = config->sample_type;
    attr.read_format = config->read_format;
    attr.sample_regs_user = config->sample_regs_user;
    attr.sample_stack_user = config->sample_stack_user;
    attr.sample_max_stack = config->sample_max_stack;
    if (config->wakeup_watermark > 0) {
        attr.watermark = 1;
        attr.wakeup_watermark = config->wakeup_watermark;
    } else {
        attr.wakeup_events = 1;
    }
    attr.disabled = config->disabled;
    attr.inherit = config->inherit;
    attr.enable_on_exec = config->enable_on_exec;
    attr.exclude_kernel = config->exclude_kernel;
    attr.exclude_hv = 1;
    attr.exclude_callchain_kernel = config->exclude_callchain_kernel;
    attr.exclude_callchain_user = config->exclude_callchain_user;
    if (config->side_band) {
        attr.mmap = 1;
        attr.mmap2 = 1;
        attr.comm = 1;
        attr.comm_exec = 1;
        attr.task = 1;
        attr.sample_id_all = 1;
    }
    unsigned long flags = PERF_FLAG_FD_CLOEXEC;
    if (config->pid_is_cgroup)
        flags |= PERF_FLAG_PID_CGROUP;
    return (int)syscall(SYS_perf_event_open, &attr, pid, cpu, group_fd, flags);
}

int CPerfProbe_event_enable(int fd) {
    return ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
}

int CPerfProbe_event_disable(int fd) {
    return ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
}

int CPerfProbe_event_set_output(int fd, int ring_fd) {
    return ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, ring_fd);
}

int CPerfProbe_event_id(int fd, uint64_t *id) {
    return ioctl(fd, PERF_EVENT_IOC_ID, id);
}

int CPerfProbe_event_set_bpf(int fd, int program_fd) {
    return ioctl(fd, PERF_EVENT_IOC_SET_BPF, program_fd);
}

long CPerfProbe_gzip(const void *data, size_t length, void **out) {
    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    // 15 window bits + 16: a gzip header and trailer rather than zlib's.
    if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    uLong bound = deflateBound(&stream, (uLong)length);
    unsigned char *buffer = malloc(bound);
    if (!buffer) {
        deflateEnd(&stream);
        return -1;
    }
    stream.next_in = (Bytef *)data;
    stream.avail_in = (uInt)length;
    stream.next_out = buffer;
    stream.avail_out = (uInt)bound;
    int status = deflate(&stream, Z_FINISH);
    long size = (long)stream.total_out;
    deflateEnd(&stream);
    if (status != Z_STREAM_END) {
        free(buffer);
        return -1;
    }
    *out = buffer;
    return size;
}

long CPerfProbe_zstd_decompress(const void *data, size_t length, void *out, size_t capacity) {
    size_t size = ZSTD_decompress(out, capacity, data, length);
    return ZSTD_isError(size) ? -1 : (long)size;
}

long CPerfProbe_zlib_decompress(const void *data, size_t length, void *out, size_t capacity) {
    uLongf size = capacity;
    if (length > ULONG_MAX || uncompress(out, &size, data, (uLong)length) != Z_OK) return -1;
    return (long)size;
}

int CPerfProbe_listen_tcp(const char *host, int port, int *bound_port) {
    struct sockaddr_in address;
    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    socklen_t length = sizeof(address);
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    *bound_port = ntohs(address.sin_port);
    return fd;
}

int CPerfProbe_connect_tcp(const char *host, int port, int timeout_ms) {
    struct addrinfo hints, *found = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char service[16];
    snprintf(service, sizeof(service), "%d", port);
    if (getaddrinfo(host, service, &hints, &found) != 0) {
        errno = EHOSTUNREACH;
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *entry = found; entry && fd < 0; entry = entry->ai_next) {
        fd = socket(entry->ai_family, entry->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, entry->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, entry->ai_addr, entry->ai_addrlen) != 0 && errno != EINPROGRESS) {
            close(fd);
            fd = -1;
            continue;
        }
        struct pollfd wait = {.fd = fd, .events = POLLOUT};
        int error = 0;
        socklen_t length = sizeof(error);
        if (poll(&wait, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
            close(fd);
            fd = -1;
            errno = error ? error : ETIMEDOUT;
        }
    }
    freeaddrinfo(found);
    return fd;
}

pid_t CPerfProbe_thread_id(void) {
    return gettid();
}

void CPerfProbe_name_thread(const char *name) {
    char shortened[16];
    strncpy(shortened, name, sizeof shortened - 1);
    shortened[sizeof shortened - 1] = 0;
    pthread_setname_np(pthread_self(), shortened);
}

int CPerfProbe_allocate_and_free(const char *library, uint64_t count, uint64_t size) {
    /* RTLD_NOLOAD: only a library already mapped, matched by file identity. */
    void *handle = dlopen(library, RTLD_NOW | RTLD_NOLOAD);
    if (!handle) return -1;
    void *(*allocate)(size_t) = (void *(*)(size_t))dlsym(handle, "malloc");
    void (*release)(void *) = (void (*)(void *))dlsym(handle, "free");
    int result = -1;
    if (allocate && release) {
        for (uint64_t i = 0; i < count; i++) {
            void *volatile block = allocate(size);
            release(block);
        }
        result = 0;
    }
    dlclose(handle);
    return result;
}

uint64_t CPerfProbe_ring_load_head(const void *control_page) {
    const struct perf_event_mmap_page *page = control_page;
    return __atomic_load_n(&page->data_head, __ATOMIC_ACQUIRE);
}

void CPerfProbe_ring_store_tail(void *control_page, uint64_t tail) {
    struct perf_event_mmap_page *page = control_page;
    __atomic_store_n(&page->data_tail, tail, __ATOMIC_RELEASE);
}

uint64_t CPerfProbe_ring_data_offset(const void *control_page) {
    return ((const struct perf_event_mmap_page *)control_page)->data_offset;
}

uint64_t CPerfProbe_ring_data_size(const void *control_page) {
    return ((const struct perf_event_mmap_page *)control_page)->data_size;
}

static int startup_nice;

int CPerfProbe_startup_nice(void) { return startup_nice; }

bool CPerfProbe_raise_priority(void) {
    struct sched_param lowest_real_time = {.sched_priority = 1};
    return sched_setscheduler(0, SCHED_FIFO, &lowest_real_time) == 0 || setpriority(PRIO_PROCESS, 0, -20) == 0;
}

// Runs before the Swift runtime's initializers and main: records the nice
// value to give commands, and raises the priority of an agent started
// without the `perfprobe` launcher (which raises it before loading). Beside
// a process that saturates the CPUs every page an agent of normal priority
// touches waits for a turn.
__attribute__((constructor(101))) static void raise_priority_early(int argc, char **argv, char **envp) {
    (void)envp;
    startup_nice = getpriority(PRIO_PROCESS, 0);
    if (argc > 1 && (strcmp(argv[1], "attach") == 0 || strcmp(argv[1], "sidecar") == 0))
        CPerfProbe_raise_priority();
}

pid_t CPerfProbe_spawn_gated(const char *path, char *const argv[],
                             char *const envp[], int nice, int output_fd, int *gate_fd, int *status_fd) {
    int gate[2], status[2];
    if (pipe2(gate, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(status, O_CLOEXEC) != 0) {
        int saved = errno;
        close(gate[0]);
        close(gate[1]);
        errno = saved;
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        // Only async-signal-safe calls from here to execve.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        // An ignored signal stays ignored across exec: the agent may ignore SIGPIPE.
        signal(SIGPIPE, SIG_DFL);
        close(gate[1]);
        close(status[0]);
        // The agent may run at a raised priority; the command gets the one perfprobe was started with.
        struct sched_param normal = {0};
        sched_setscheduler(0, SCHED_OTHER, &normal);
        setpriority(PRIO_PROCESS, 0, nice);
        char go;
        ssize_t n;
        do {
            n = read(gate[0], &go, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1)
            _exit(127); // the agent went away before sampling was ready
        if (output_fd >= 0) {
            setpgid(0, 0);
            int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (null < 0 || dup2(null, 0) < 0 || dup2(output_fd, 1) < 0 || dup2(output_fd, 2) < 0)
                _exit(127);
        }
        execve(path, argv, envp);
        int err = errno;
        ssize_t ignored = write(status[1], &err, sizeof(err));
        (void)ignored;
        _exit(127);
    }
    int saved = errno;
    close(gate[0]);
    close(status[1]);
    if (pid < 0) {
        close(gate[1]);
        close(status[0]);
        errno = saved;
        return -1;
    }
    *gate_fd = gate[1];
    *status_fd = status[0];
    return pid;
}

int CPerfProbe_spawn_open_gate(int gate_fd, int status_fd) {
    char go = 1;
    ssize_t n;
    do {
        n = write(gate_fd, &go, 1);
    } while (n < 0 && errno == EINTR);
    int err = 0;
    do {
        n = read(status_fd, &err, sizeof(err));
    } while (n < 0 && errno == EINTR);
    // EOF: execve succeeded and closed the CLOEXEC end.
    return n == (ssize_t)sizeof(err) ? err : 0;
}

static void stop_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

void CPerfProbe_block_stop_signals(void) {
    sigset_t set;
    stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int CPerfProbe_wait_stop_signal(pid_t *sender) {
    sigset_t set;
    stop_signals(&set);
    siginfo_t info;
    int signo;
    do {
        signo = sigwaitinfo(&set, &info);
    } while (signo < 0 && errno == EINTR);
    *sender = (info.si_code == SI_USER || info.si_code == SI_QUEUE) ? info.si_pid : 0;
    return signo;
}

void CPerfProbe_raise_stop_signal(int signo) {
    kill(getpid(), signo);
}

const char *CPerfProbe_signal_abbreviation(int signo) {
    return sigabbrev_np(signo);
}

int CPerfProbe_wake_fd(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

extern char *__cxa_demangle(const char *mangled, char *buffer, size_t *length, int *status);
extern char *swift_demangle(const char *mangled, size_t length, char *buffer, size_t *buffer_size, uint32_t flags)
    __attribute__((weak));

char *CPerfProbe_demangle_cxx(const char *name) {
    int status = 0;
    char *result = __cxa_demangle(name, NULL, NULL, &status);
    return status == 0 ? result : NULL;
}

char *CPerfProbe_demangle_swift(const char *name) {
    if (!swift_demangle) return NULL;
    return swift_demangle(name, strlen(name), NULL, NULL, 0);
}

int CPerfProbe_heap_ring_create(uint64_t capacity) {
    if (capacity < 65536 || (capacity & (capacity - 1)) != 0) {
        errno = EINVAL;
        return -1;
    }
    int fd = memfd_create("perfprobe-heap", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    size_t size = HEAPPROBE_HEADER_BYTES + capacity;
    void *mapped = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0 ||
        (mapped = mmap(NULL, HEAPPROBE_HEADER_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    struct heapprobe_ring *ring = mapped;
    ring->magic = HEAPPROBE_MAGIC;
    ring->header_bytes = HEAPPROBE_HEADER_BYTES;
    ring->capacity = capacity;
    munmap(mapped, HEAPPROBE_HEADER_BYTES);
    return fd;
}

size_t CPerfProbe_heap_ring_take(void *header, uint64_t capacity, uint64_t *consumed, void *out, size_t out_length,
                                 int *status) {
    struct heapprobe_ring *ring = header;
    unsigned char *records = (unsigned char *)header + HEAPPROBE_HEADER_BYTES;
    uint64_t at = *consumed;
    uint64_t reserved = __atomic_load_n(&ring->reserved, __ATOMIC_ACQUIRE);
    size_t copied = 0;
    *status = 0;
    if (reserved - at > capacity) {
        *status = 2;
        return 0;
    }
    while (at < reserved) {
        uint64_t offset = at & (capacity - 1);
        uint64_t word = __atomic_load_n((uint64_t *)(records + offset), __ATOMIC_ACQUIRE);
        uint64_t length = word & 0xffffffffu, type = word >> 32;
        if (word == 0) {
            *status = 1;
            break;
        }
        if (length < 8 || length % 8 != 0 || length > capacity - offset || length > reserved - at ||
            type < HEAPPROBE_ALLOC || type > HEAPPROBE_PAD) {
            *status = 2;
            break;
        }
        if (type != HEAPPROBE_PAD) {
            if (length > out_length - copied) break;
            memcpy((unsigned char *)out + copied, records + offset, length);
            copied += length;
        }
        memset(records + offset, 0, length);
        at += length;
    }
    *consumed = at;
    __atomic_store_n(&ring->consumed, at, __ATOMIC_RELEASE);
    return copied;
}

uint64_t CPerfProbe_heap_ring_skip(void *header, uint64_t capacity, uint64_t *consumed) {
    struct heapprobe_ring *ring = header;
    unsigned char *records = (unsigned char *)header + HEAPPROBE_HEADER_BYTES;
    uint64_t reserved = __atomic_load_n(&ring->reserved, __ATOMIC_ACQUIRE);
    uint64_t skipped = reserved - *consumed;
    /* A writer that moved `reserved` out of reach leaves the whole ring to clear. */
    if (skipped > capacity) skipped = capacity;
    for (uint64_t done = 0; done < skipped;) {
        uint64_t offset = (*consumed + done) & (capacity - 1);
        uint64_t piece = capacity - offset < skipped - done ? capacity - offset : skipped - done;
        memset(records + offset, 0, piece);
        done += piece;
    }
    *consumed = reserved;
    __atomic_store_n(&ring->consumed, reserved, __ATOMIC_RELEASE);
    return skipped;
}

void CPerfProbe_heap_ring_counters(const void *header, uint64_t *dropped_allocations, uint64_t *dropped_frees,
                                   uint64_t *untracked) {
    const struct heapprobe_ring *ring = header;
    *dropped_allocations = __atomic_load_n(&ring->dropped_allocations, __ATOMIC_RELAXED);
    *dropped_frees = __atomic_load_n(&ring->dropped_frees, __ATOMIC_RELAXED);
    *untracked = __atomic_load_n(&ring->untracked, __ATOMIC_RELAXED);
}

int CPerfProbe_wait_exited(pid_t pid, int *code, int *signo) {
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) != 0)
        if (errno != EINTR) return -1;
    *code = info.si_code == CLD_EXITED ? info.si_status : 0;
    *signo = info.si_code == CLD_EXITED ? 0 : info.si_status;
    return 0;
}

int CPerfProbe_terminal_columns(int fd) {
    struct winsize size;
    if (ioctl(fd, TIOCGWINSZ, &size) != 0 || size.ws_col == 0)
        return -1;
    return size.ws_col;
}
