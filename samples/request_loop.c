/* Ground truth: an ordinary request loop whose allocations repeat with a
 * fixed cycle. Per request, parse_fields makes 50 short-lived allocations
 * of 64–832 bytes (sizes in a fixed order, all freed before the request
 * ends), then remember_session keeps one 2 KiB block forever: 51 calls a
 * cycle, the leak always the 51st. Paced at RATE requests a second on one
 * thread, or each on a thread of its own (a thread-per-connection server's
 * shape) with "threads". It prints "ready" after its first request; at
 * exit, its own truth — the achieved request rate over
 * its run and in its slowest whole second, and what those make per stack:
 *   requests 5400 in 6.00 s: 900.0/s (slowest second 899): remember_session leaks 1843200 B/s, parse_fields 45000.0 allocations/s
 * Usage: request_loop SECONDS [RATE] [threads] */
#include "memory.h"
#include <pthread.h>
#include <stdio.h>

#define FIELDS 50
#define SESSION_BYTES 2048

struct session { struct session *next; char data[SESSION_BYTES - sizeof(struct session *)]; };
static struct session *sessions;

/* Each field is written and read back, so no allocation can be elided. */
HOT uint64_t parse_fields(uint64_t request) {
    char *fields[FIELDS];
    uint64_t sum = 0;
    for (int i = 0; i < FIELDS; i++) {
        size_t size = 64 + 16 * (size_t)(i % 49);
        fields[i] = malloc(size);
        if (!fields[i]) abort();
        memset(fields[i], (int)(request + i), size);
    }
    for (int i = 0; i < FIELDS; i++) {
        sum += (unsigned char)fields[i][i];
        free(fields[i]);
    }
    return sum;
}

HOT void remember_session(uint64_t request) {
    struct session *s = malloc(sizeof *s);
    if (!s) abort();
    memset(s->data, (int)request, sizeof s->data);
    s->next = sessions; /* kept forever: the leak */
    sessions = s;
}

static void *serve(void *request) {
    sample_sink += parse_fields((uint64_t)(uintptr_t)request);
    remember_session((uint64_t)(uintptr_t)request);
    return 0;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 6;
    double rate = argc > 2 ? atof(argv[2]) : 900;
    int threads = argc > 3 && strcmp(argv[3], "threads") == 0;
    if (!(seconds > 0) || !(rate > 0) || (argc > 3 && !threads)) {
        fprintf(stderr, "usage: request_loop SECONDS [RATE] [threads]\n");
        return 2;
    }
    long total = (long)(seconds * rate), slowest = -1, inSecond = 0, second = 1;
    double start = monotonic_seconds();
    for (long request = 0; request < total; request++) {
        if (threads) {
            pthread_t thread;
            if (pthread_create(&thread, 0, serve, (void *)(uintptr_t)request) != 0) abort();
            pthread_join(thread, 0);
        } else {
            serve((void *)(uintptr_t)request);
        }
        if (request == 0) {
            puts("ready");
            fflush(stdout);
        }
        inSecond++;
        if (monotonic_seconds() - start >= second) {
            if (slowest < 0 || inSecond < slowest) slowest = inSecond;
            inSecond = 0;
            second++;
        }
        sleep_until(start, (request + 1) / rate);
    }
    double elapsed = monotonic_seconds() - start, achieved = total / elapsed;
    printf("requests %ld in %.2f s: %.1f/s (slowest second %ld): remember_session leaks %.0f B/s, parse_fields %.1f allocations/s\n",
           total, elapsed, achieved, slowest, achieved * SESSION_BYTES, achieved * FIELDS);
    return 0;
}
