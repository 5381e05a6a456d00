/* Ground truth: nearly all CPU in machine code this program writes into
 * anonymous executable memory at run time, named jit_spin_loop in
 * /tmp/perf-PID.map (the file JIT compilers write for profilers).
 * Usage: jit SECONDS */
#define _GNU_SOURCE
#include "common.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 2;
    /* mov rax, rdi; loop: dec rax; jnz loop; ret */
    static const unsigned char code[] = {0x48, 0x89, 0xf8, 0x48, 0xff, 0xc8, 0x75, 0xfb, 0xc3};
    unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return 1;
    memcpy(page, code, sizeof(code));
    char map[64];
    snprintf(map, sizeof(map), "/tmp/perf-%d.map", getpid());
    FILE *f = fopen(map, "w");
    if (!f) return 1;
    fprintf(f, "%lx %zx jit_spin_loop\n", (unsigned long)page, sizeof(code));
    fclose(f);
    long (*spin)(long) = (long (*)(long))page;
    double end = thread_cpu_seconds() + seconds;
    while (thread_cpu_seconds() < end) sample_sink += spin(2000000);
    unlink(map);
    return 0;
}
