/* The board's block font: each glyph is five rows of 'X' (ink) and '.' (paper). Digits
 * are all five wide so that ticket numbers line up. */
#include "board_font.h"

#include <stddef.h>
#include <string.h>

typedef struct glyph {
    char c;
    const char *rows[BF_ROWS];
} glyph;

static const glyph font[] = {
    {'A', {".XXX.", "X...X", "XXXXX", "X...X", "X...X"}},
    {'B', {"XXXX.", "X...X", "XXXX.", "X...X", "XXXX."}},
    {'C', {".XXXX", "X....", "X....", "X....", ".XXXX"}},
    {'D', {"XXXX.", "X...X", "X...X", "X...X", "XXXX."}},
    {'E', {"XXXXX", "X....", "XXXX.", "X....", "XXXXX"}},
    {'F', {"XXXXX", "X....", "XXXX.", "X....", "X...."}},
    {'G', {".XXXX", "X....", "X..XX", "X...X", ".XXXX"}},
    {'H', {"X...X", "X...X", "XXXXX", "X...X", "X...X"}},
    {'I', {"XXX", ".X.", ".X.", ".X.", "XXX"}},
    {'J', {"..XXX", "...X.", "...X.", "X..X.", ".XX.."}},
    {'K', {"X...X", "X..X.", "XXX..", "X..X.", "X...X"}},
    {'L', {"X....", "X....", "X....", "X....", "XXXXX"}},
    {'M', {"X...X", "XX.XX", "X.X.X", "X...X", "X...X"}},
    {'N', {"X...X", "XX..X", "X.X.X", "X..XX", "X...X"}},
    {'O', {".XXX.", "X...X", "X...X", "X...X", ".XXX."}},
    {'P', {"XXXX.", "X...X", "XXXX.", "X....", "X...."}},
    {'Q', {".XXX.", "X...X", "X.X.X", "X..X.", ".XX.X"}},
    {'R', {"XXXX.", "X...X", "XXXX.", "X..X.", "X...X"}},
    {'S', {".XXXX", "X....", ".XXX.", "....X", "XXXX."}},
    {'T', {"XXXXX", "..X..", "..X..", "..X..", "..X.."}},
    {'U', {"X...X", "X...X", "X...X", "X...X", ".XXX."}},
    {'V', {"X...X", "X...X", "X...X", ".X.X.", "..X.."}},
    {'W', {"X...X", "X...X", "X.X.X", "XX.XX", "X...X"}},
    {'X', {"X...X", ".X.X.", "..X..", ".X.X.", "X...X"}},
    {'Y', {"X...X", ".X.X.", "..X..", "..X..", "..X.."}},
    {'Z', {"XXXXX", "...X.", "..X..", ".X...", "XXXXX"}},
    {'0', {".XXX.", "X..XX", "X.X.X", "XX..X", ".XXX."}},
    {'1', {"..X..", ".XX..", "..X..", "..X..", ".XXX."}},
    {'2', {"XXXX.", "....X", ".XXX.", "X....", "XXXXX"}},
    {'3', {"XXXX.", "....X", ".XXX.", "....X", "XXXX."}},
    {'4', {"X...X", "X...X", "XXXXX", "....X", "....X"}},
    {'5', {"XXXXX", "X....", "XXXX.", "....X", "XXXX."}},
    {'6', {".XXX.", "X....", "XXXX.", "X...X", ".XXX."}},
    {'7', {"XXXXX", "....X", "...X.", "..X..", "..X.."}},
    {'8', {".XXX.", "X...X", ".XXX.", "X...X", ".XXX."}},
    {'9', {".XXX.", "X...X", ".XXXX", "....X", ".XXX."}},
    {'-', {"....", "....", "XXXX", "....", "...."}},
    {' ', {"...", "...", "...", "...", "..."}},
    {'.', {".", ".", ".", ".", "X"}},
    {':', {".", "X", ".", "X", "."}},
    {'/', {"....X", "...X.", "..X..", ".X...", "X...."}},
    {'(', {".X", "X.", "X.", "X.", ".X"}},
    {')', {"X.", ".X", ".X", ".X", "X."}},
    {'~', {".....", ".XX.X", "X.XX.", ".....", "....."}},
    {BF_ARROW, {"..X..", "...X.", "XXXXX", "...X.", "..X.."}},
};

static const glyph *find(char c)
{
    if (c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
    for (size_t i = 0; i < sizeof font / sizeof font[0]; i++)
        if (font[i].c == c)
            return &font[i];
    return NULL;
}

int bf_pixels(const char *text)
{
    int w = 0;
    for (const char *p = text; *p; p++) {
        const glyph *g = find(*p);
        if (!g)
            return -1;
        w += (int)strlen(g->rows[0]) + (p == text ? 0 : 1);
    }
    return w;
}

void bf_draw(const char *text, int y, int x, int xs, int ys, void (*paint)(void *ud, int y, int x),
             void *ud)
{
    for (const char *p = text; *p; p++) {
        const glyph *g = find(*p);
        if (!g)
            return;
        int w = (int)strlen(g->rows[0]);
        for (int r = 0; r < BF_ROWS; r++)
            for (int col = 0; col < w; col++)
                if (g->rows[r][col] == 'X')
                    for (int dy = 0; dy < ys; dy++)
                        for (int dx = 0; dx < xs; dx++)
                            paint(ud, y + r * ys + dy, x + col * xs + dx);
        x += (w + 1) * xs;
    }
}
