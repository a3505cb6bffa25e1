/* A 5-row block font for the waiting-room board: ticket codes and room names large
 * enough to read across a room. Letters (shown upper-case), digits, space and a few
 * signs; text with any other character cannot be drawn and is shown in plain text. */
#ifndef BOARD_FONT_H
#define BOARD_FONT_H

#define BF_ROWS 5

/* The character code the font draws as an arrow (a control character, which text from
 * the server never holds once copied for the screen). */
#define BF_ARROW '\x01'

/* Width in font pixels of text (glyphs and the one-pixel gaps between them), or -1 when
 * a character is not in the font. */
int bf_pixels(const char *text);

/* Paints text with its top-left corner at (y, x), each font pixel xs cells wide and ys
 * rows tall, through paint(ud, y, x) for each cell to fill. */
void bf_draw(const char *text, int y, int x, int xs, int ys, void (*paint)(void *ud, int y, int x),
             void *ud);

#endif
