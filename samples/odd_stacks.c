/* Ground truth for the heap probe on stacks that are not a thread's: a
 * signal handler running on a small sigaltstack and a ucontext fiber, each
 * stack 3 pages whose top page is unmapped, as coroutine libraries and JITs
 * lay them out. alloc_in_handler and alloc_in_fiber each allocate 256 KiB
 * (kept, so both are sampled often) ROUNDS times. Exits 0 and prints the
 * rounds; a probe that copies past the stack's mapping kills it with SIGSEGV.
 * Usage: odd_stacks [ROUNDS] */
#define _GNU_SOURCE
#include "memory.h"
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define PAGE 4096
#define BLOCK (256 * 1024)

static void *kept[4096];
static int held;
static ucontext_t main_context, fiber_context;

/* Three pages of stack, the page above them unmapped. */
static char *small_stack(void) {
    char *region = mmap(0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) abort();
    munmap(region + 3 * PAGE, PAGE);
    return region;
}

HOT void alloc_in_handler(void) {
    if (held < 4096) kept[held++] = touched_malloc(BLOCK);
}

static void on_signal(int signo) {
    (void)signo;
    alloc_in_handler();
}

HOT void alloc_in_fiber(void) {
    if (held < 4096) kept[held++] = touched_malloc(BLOCK);
}

static void fiber(void) {
    for (;;) {
        alloc_in_fiber();
        swapcontext(&fiber_context, &main_context);
    }
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 200;
    stack_t alternate = {.ss_sp = small_stack(), .ss_size = 3 * PAGE};
    if (sigaltstack(&alternate, 0) != 0) abort();
    struct sigaction action = {.sa_handler = on_signal, .sa_flags = SA_ONSTACK};
    sigaction(SIGUSR1, &action, 0);
    getcontext(&fiber_context);
    fiber_context.uc_stack.ss_sp = small_stack();
    fiber_context.uc_stack.ss_size = 3 * PAGE;
    fiber_context.uc_link = 0;
    makecontext(&fiber_context, fiber, 0);
    for (int i = 0; i < rounds; i++) {
        raise(SIGUSR1);
        swapcontext(&main_context, &fiber_context);
    }
    printf("rounds %d\n", rounds);
    return 0;
}
