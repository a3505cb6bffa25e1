/* practice board: the waiting-room display (board.c, board_model.c, board_draw.c,
 * board_font.c). */
#ifndef BOARD_H
#define BOARD_H

#include "cli.h"

extern const cli_cmd cli_board_cmds[]; /* board */

#endif
