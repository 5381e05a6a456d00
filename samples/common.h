/* Helpers for the ground-truth samples: work measured in CPU time, so the
 * share of samples each function should get is known exactly. */
#ifndef SAMPLES_COMMON_H
#define SAMPLES_COMMON_H

#include <stdint.h>
#include <time.h>

/* Each hot function keeps its own name and frame in every stack: not inlined,
 * and under GCC not cloned (.constprop) either. Callers use the result after
 * the call, so no call becomes a tail call. */
#if defined(__clang__)
#define HOT __attribute__((noinline))
#else
#define HOT __attribute__((noipa))
#endif

static volatile uint64_t sample_sink;

static inline double thread_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Arithmetic the compiler cannot fold away: about 1 ns per iteration. */
#define SPIN(iterations)                                             \
    do {                                                             \
        uint64_t x_ = sample_sink + 1;                               \
        for (uint64_t i_ = 0; i_ < (iterations); i_++)               \
            x_ = x_ * 6364136223846793005ULL + 1442695040888963407ULL; \
        sample_sink = x_;                                            \
    } while (0)

/* Spins in the calling function until this thread has used `seconds` of CPU. */
#define SPIN_FOR_CPU(seconds)                                        \
    do {                                                             \
        double end_ = thread_cpu_seconds() + (seconds);              \
        while (thread_cpu_seconds() < end_) SPIN(200000);             \
    } while (0)

#endif
