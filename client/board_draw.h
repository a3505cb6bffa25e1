/* Paints the waiting-room board with curses, sized to the terminal on every call: the
 * location and the time, the newest call in the block font as large as fits, the calls
 * before it, and the tickets waiting with their waits. */
#ifndef BOARD_DRAW_H
#define BOARD_DRAW_H

#include <stdint.h>

#include "board_model.h"

typedef struct bd_status {
    const char *notice;  /* small, in the bottom corner (e.g. reconnecting), or NULL */
    const char *message; /* instead of the board: why there is none, or NULL */
} bd_status;

/* After initscr: colours, and whether block characters can be used. */
void bd_start(void);
/* Whether the terminal takes UTF-8 (after bd_start). */
int bd_utf8(void);
void bd_draw(const board_model *m, const bd_status *st, uint64_t now_ms);
/* Whether the screen changes within the next second by itself (a flashing call). */
int bd_animating(const board_model *m, uint64_t now_ms);

#endif
