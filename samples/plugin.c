/* A library that dlopen_host loads after start: its CPU time must be
 * attributed to plugin_work in libplugin.so. */
#include "common.h"

HOT void plugin_work(double seconds) { SPIN_FOR_CPU(seconds); }
