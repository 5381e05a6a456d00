// libunwind's generic (remote) API: unw_* are macros for _Ux86_64_*.
#include <libunwind.h>
