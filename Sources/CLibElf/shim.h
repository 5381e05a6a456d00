#include <libelf.h>
#include <gelf.h>
// libdw includes libelf.h: one module for both, so the two agree on its types.
#include <elfutils/libdw.h>
#include <dwarf.h>
