/* Ground truth: spends SECONDS of CPU in host_work, then dlopens libplugin.so
 * (next to this binary) and spends SECONDS in its plugin_work.
 * Usage: dlopen_host SECONDS */
#include "common.h"
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

HOT void host_work(double seconds) { SPIN_FOR_CPU(seconds); }

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1;
    host_work(seconds);
    char self[PATH_MAX], path[PATH_MAX + 16];
    strncpy(self, argv[0], sizeof(self) - 1);
    self[sizeof(self) - 1] = 0;
    snprintf(path, sizeof(path), "%s/libplugin.so", dirname(self));
    void *plugin = dlopen(path, RTLD_NOW);
    if (!plugin) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    void (*work)(double) = (void (*)(double))dlsym(plugin, "plugin_work");
    work(seconds);
    sample_sink++;
    return 0;
}
