// ncurses' attributes and its screen size are macros Swift cannot import,
// and its globals (stdscr, stdout) are mutable state Swift 6 will not read.
#define _XOPEN_SOURCE_EXTENDED 1
#include <ncursesw/curses.h>
#include <ncursesw/term.h>

static inline int CNcurses_attribute_bold(void) { return (int)A_BOLD; }
static inline int CNcurses_attribute_reverse(void) { return (int)A_REVERSE; }
static inline int CNcurses_attribute_dim(void) { return (int)A_DIM; }
static inline SCREEN *CNcurses_open(void) { return newterm(NULL, stdout, stdin); }
static inline WINDOW *CNcurses_window(void) { return stdscr; }
static inline int CNcurses_rows(void) { return getmaxy(stdscr); }
static inline int CNcurses_columns(void) { return getmaxx(stdscr); }
static inline int CNcurses_key_left(void) { return KEY_LEFT; }
static inline int CNcurses_key_right(void) { return KEY_RIGHT; }
static inline int CNcurses_key_resize(void) { return KEY_RESIZE; }
static inline int CNcurses_key_backspace(void) { return KEY_BACKSPACE; }
static inline int CNcurses_key_enter(void) { return KEY_ENTER; }
