/* The board's screen. Layout, top to bottom: the location's name and the time; the
 * newest call in the block font (one line "A-017 -> ROOM 3" or two, whichever is
 * larger), a sentence saying it, and the calls before it; the waiting tickets in
 * columns, in the block font when the screen is big enough for at least a few rows of
 * them, else in plain text; a status line whose corner says when the board is
 * reconnecting. Everything is recomputed from the terminal's size on each call. */
#include "board_draw.h"

#include "board_font.h"

#include <curses.h>
#include <langinfo.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum { PAIR_HEADER = 1, PAIR_CALL, PAIR_FLASH, PAIR_TICKET, PAIR_NOTICE, PAIR_DIM };

#define BIG_WAITING_MIN 8 /* the waiting list goes big only when this many fit */

static int utf8;
static int colors;

void bd_start(void)
{
    const char *cs = nl_langinfo(CODESET);
    utf8 = cs && strcmp(cs, "UTF-8") == 0;
    colors = has_colors();
    if (!colors)
        return;
    start_color();
    short bg = COLOR_BLACK;
    if (use_default_colors() == OK)
        bg = -1;
    init_pair(PAIR_HEADER, COLOR_CYAN, bg);
    init_pair(PAIR_CALL, COLOR_YELLOW, bg);
    init_pair(PAIR_FLASH, COLOR_WHITE, bg);
    init_pair(PAIR_TICKET, COLOR_WHITE, bg);
    init_pair(PAIR_NOTICE, COLOR_WHITE, COLOR_RED);
    init_pair(PAIR_DIM, COLOR_BLUE, bg);
}

int bd_utf8(void)
{
    return utf8;
}

static attr_t pair(int p)
{
    return colors ? (attr_t)COLOR_PAIR(p) : 0;
}

static const char *arrow(void)
{
    return utf8 ? "\xe2\x86\x92" : "->";
}

/* Characters (code points) in s; every one is taken as one column wide. */
static int text_cols(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* Prints at most maxw columns of s at (y, x). */
static void put(int y, int x, int maxw, const char *s, attr_t a)
{
    if (y < 0 || y >= LINES || x >= COLS || maxw <= 0)
        return;
    if (x < 0)
        x = 0;
    if (maxw > COLS - x)
        maxw = COLS - x;
    size_t bytes = 0;
    int cols = 0;
    while (s[bytes] && cols < maxw) {
        bytes++;
        while (((unsigned char)s[bytes] & 0xc0) == 0x80)
            bytes++;
        cols++;
    }
    attron(a);
    mvaddnstr(y, x, s, (int)bytes);
    attroff(a);
}

static void center(int y, const char *s, attr_t a)
{
    int w = text_cols(s);
    put(y, w >= COLS ? 0 : (COLS - w) / 2, COLS, s, a);
}

typedef struct painter {
    attr_t a;
    int top, bottom; /* rows it may paint */
} painter;

static void paint_cell(void *ud, int y, int x)
{
    const painter *p = ud;
    if (y < p->top || y >= p->bottom || x < 0 || x >= COLS)
        return;
    if (utf8) {
        attron(p->a);
        mvaddstr(y, x, "\xe2\x96\x88");
        attroff(p->a);
    } else {
        attron(p->a | A_REVERSE);
        mvaddch(y, x, ' ');
        attroff(p->a | A_REVERSE);
    }
}

/* Big text, centred horizontally, top row y. */
static void big_line(const char *text, int y, int xs, int ys, int top, int bottom, attr_t a)
{
    int w = bf_pixels(text) * xs;
    painter p = {a, top, bottom};
    bf_draw(text, y, (COLS - w) / 2, xs, ys, paint_cell, &p);
}

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

/* The widest pixel (x cells for pixels y rows tall) at which text of this many pixels
 * fits cols, from twice as wide as tall (a cell is about half as wide as it is tall, so
 * 2:1 looks square) down to square; 0 when none does. */
static int best_x(int pixels, int y, int cols)
{
    for (int x = 2 * y; x >= y && pixels > 0; x--)
        if (pixels * x <= cols)
            return x;
    return 0;
}

/* The newest call, as large as the rows [top, bottom) allow: "A-017 -> ROOM 3" on one
 * line, or the ticket over "-> ROOM 3" (the ticket as wide as fits), or the ticket
 * alone (the sentence under it names the room), whichever shows the ticket largest. */
static void draw_call(const board_model *m, const bm_call *c, int top, int bottom, uint64_t now_ms)
{
    int cols = COLS - 2, rows = bottom - top;
    char one[BM_TICKET_MAX + BM_ROOM_MAX + 8], second[BM_ROOM_MAX + 4];
    snprintf(one, sizeof one, "%s %c %s", c->ticket, BF_ARROW, c->room);
    snprintf(second, sizeof second, "%c %s", BF_ARROW, c->room);
    int p_one = bf_pixels(one), p_ticket = bf_pixels(c->ticket), p_second = bf_pixels(second);
    int best = 0, kind = 0, y = 0, x1 = 0, x2 = 0;
    for (int ys = rows / BF_ROWS; ys >= 1 && !best; ys--) {
        int x = best_x(p_one, ys, cols);
        if (x)
            best = x * ys, kind = 1, y = ys, x1 = x;
    }
    for (int ys = rows / (2 * BF_ROWS + 1); ys >= 1; ys--) {
        int a = best_x(p_ticket, ys, cols), b = best_x(p_second, ys, cols);
        if (a && b && a * ys > best) {
            best = a * ys, kind = 2, y = ys, x1 = a, x2 = b;
            break;
        }
    }
    for (int ys = rows / BF_ROWS; ys >= 1 && !best; ys--) {
        int x = best_x(p_ticket, ys, cols);
        if (x)
            best = x * ys, kind = 3, y = ys, x1 = x;
    }
    int flashing = now_ms < m->flash_until_ms && (now_ms / 500) % 2 == 0;
    attr_t a = A_BOLD | pair(flashing ? PAIR_FLASH : PAIR_CALL);
    int h = kind == 2 ? 2 * BF_ROWS * y + y : BF_ROWS * y;
    int row = top + (rows - h) / 2;
    if (kind == 1) {
        big_line(one, row, x1, y, top, bottom, a);
    } else if (kind == 2) {
        big_line(c->ticket, row, x1, y, top, bottom, a);
        big_line(second, row + BF_ROWS * y + y, x2, y, top, bottom, a);
    } else if (kind == 3) {
        big_line(c->ticket, row, x1, y, top, bottom, a);
    } else {
        char text[BM_TICKET_MAX + BM_ROOM_MAX + 16];
        snprintf(text, sizeof text, "%s %s %s", c->ticket, arrow(), c->room);
        center(top + rows / 2, text, a);
    }
}

/* The calls: the newest large with a sentence under it, the ones before in a line. */
static void draw_calls(const board_model *m, int top, int bottom, uint64_t now_ms)
{
    const bm_call *live[BM_CALLS];
    size_t n = bm_live_calls(m, now_ms, live);
    if (!n) {
        center(top + (bottom - top) / 2 - 1, "Please take a seat.", A_BOLD | pair(PAIR_TICKET));
        center(top + (bottom - top) / 2, "Your ticket number will be called here.",
               pair(PAIR_TICKET));
        return;
    }
    draw_call(m, live[0], top, bottom - 2, now_ms);
    char line[BM_TICKET_MAX + BM_ROOM_MAX + 48];
    snprintf(line, sizeof line, "Ticket %s, please go to %s", live[0]->ticket, live[0]->room);
    center(bottom - 2, line, A_BOLD | pair(PAIR_CALL));
    if (n < 2)
        return;
    char before[512] = "Also called:";
    for (size_t i = 1; i < n; i++) {
        char one[BM_TICKET_MAX + BM_ROOM_MAX + 16];
        snprintf(one, sizeof one, "%s  %s %s %s", i > 1 ? "  " : "", live[i]->ticket, arrow(),
                 live[i]->room);
        if (text_cols(before) + text_cols(one) > COLS - 2 ||
            strlen(before) + strlen(one) >= sizeof before)
            break;
        strcat(before, one);
    }
    center(bottom - 1, before, pair(bm_call_age(m, live[1], now_ms) >= BM_DIM_S ? PAIR_DIM : 0));
}

static void big_entry(char *buf, size_t n, const char *ticket, const char *wait)
{
    snprintf(buf, n, "%s %s", ticket, wait);
    for (char *p = buf; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
}

/* The waiting tickets in columns (down, then across) in rows [top, bottom). */
static void draw_waiting(const board_model *m, int top, int bottom, uint64_t now_ms)
{
    char head[64];
    snprintf(head, sizeof head, "Waiting: %zu", m->nwaiting);
    put(top, 1, COLS - 2, head, A_BOLD | pair(PAIR_HEADER));
    put(top, COLS - 17 > 20 ? COLS - 17 : 40, 16, "estimated wait", pair(PAIR_HEADER));
    top++;
    int rows = bottom - top;
    if (rows <= 0)
        return;
    if (!m->nwaiting) {
        put(top, 3, COLS - 4, "Nobody is waiting.", pair(PAIR_TICKET));
        return;
    }
    size_t longest = 1;
    for (size_t i = 0; i < m->nwaiting; i++)
        if (strlen(m->waiting[i].ticket) > longest)
            longest = strlen(m->waiting[i].ticket);
    /* big: sized for the widest entry there could be, so it does not jump about */
    char probe[BM_TICKET_MAX + 16], text[BM_TICKET_MAX + 48];
    /* the widest waits bm_wait_text writes: "~99 min" and, from 90 minutes, "~12 h 05" */
    snprintf(probe, sizeof probe, "%.*s ~99 H 55", (int)longest, "00000000000000000000000");
    int px = bf_pixels(probe), xs = 0, ys = 0, fits = 0;
    /* a ticket prefix the font cannot draw (free text: "A&E") puts the list in plain text */
    for (size_t i = 0; i < m->nwaiting && px > 0; i++)
        if (bf_pixels(m->waiting[i].ticket) < 0)
            px = -1;
    for (int y = rows / (BF_ROWS + 1); y >= 1 && !fits && px > 0; y--)
        for (int x = 2 * y; x >= y && !fits; x--) {
            int per_row = (rows + y) / ((BF_ROWS + 1) * y);
            int per_col = COLS / (px * x + 3 * x);
            if ((long)per_row * per_col >= BIG_WAITING_MIN)
                fits = 1, xs = x, ys = y;
        }
    int cell_w, cell_h;
    if (fits) {
        cell_w = px * xs + 3 * xs;
        cell_h = (BF_ROWS + 1) * ys;
    } else {
        cell_w = (int)longest + 14;
        cell_h = 1;
    }
    int ncols = max_int(1, COLS / cell_w), nrows = max_int(1, (rows + (fits ? ys : 0)) / cell_h);
    size_t cap = (size_t)ncols * (size_t)nrows;
    size_t shown = m->nwaiting <= cap ? m->nwaiting : cap - 1;
    int x0 = fits ? (COLS - ncols * cell_w + 3 * xs) / 2 : 3;
    for (size_t i = 0; i < shown; i++) {
        int col = (int)(i / (size_t)nrows), row = (int)(i % (size_t)nrows);
        int y = top + row * cell_h, x = x0 + col * cell_w;
        char wait[32];
        bm_wait_text(m, &m->waiting[i], now_ms, wait, sizeof wait);
        if (fits) {
            big_entry(text, sizeof text, m->waiting[i].ticket, wait);
            painter p = {A_BOLD | pair(PAIR_TICKET), top, bottom};
            bf_draw(text, y, x, xs, ys, paint_cell, &p);
        } else {
            put(y, x, (int)longest, m->waiting[i].ticket, A_BOLD | pair(PAIR_TICKET));
            put(y, x + (int)longest + 2, 10, wait, pair(PAIR_TICKET));
        }
    }
    if (shown < m->nwaiting) {
        snprintf(text, sizeof text, "+%zu more", m->nwaiting - shown);
        int col = (int)(shown / (size_t)nrows), row = (int)(shown % (size_t)nrows);
        put(top + row * cell_h, x0 + col * cell_w, cell_w, text, A_BOLD | pair(PAIR_TICKET));
    }
}

static void draw_header(const board_model *m, uint64_t now_ms)
{
    time_t now = (time_t)bm_clock(m, now_ms);
    struct tm tm;
    char clock[16] = "";
    if (localtime_r(&now, &tm))
        strftime(clock, sizeof clock, "%H:%M", &tm);
    int cw = text_cols(clock);
    put(0, 1, COLS - cw - 4, m->name, A_BOLD | pair(PAIR_HEADER));
    put(0, COLS - cw - 1, cw, clock, A_BOLD | pair(PAIR_HEADER));
    if (LINES > 1)
        mvhline(1, 0, ACS_HLINE, COLS);
}

static void draw_notice(const char *notice)
{
    if (!notice || !*notice)
        return;
    char text[256];
    snprintf(text, sizeof text, " %s ", notice);
    int w = text_cols(text);
    if (w > COLS)
        w = COLS;
    put(LINES - 1, COLS - w, w, text, A_BOLD | (colors ? pair(PAIR_NOTICE) : A_REVERSE));
}

static void draw_message(const char *msg)
{
    /* one line per '\n', centred as a block */
    int lines = 1;
    for (const char *p = msg; *p; p++)
        lines += *p == '\n';
    int y = (LINES - lines) / 2;
    char buf[256];
    for (const char *p = msg; *p || p == msg; y++) {
        size_t len = strcspn(p, "\n");
        snprintf(buf, sizeof buf, "%.*s", (int)len, p);
        center(y, buf, y == (LINES - lines) / 2 ? A_BOLD : 0);
        p += len;
        if (*p == '\n')
            p++;
        else
            break;
    }
}

void bd_draw(const board_model *m, const bd_status *st, uint64_t now_ms)
{
    erase();
    if (st->message || !m->have_state) {
        if (m->have_state || st->message)
            draw_header(m, now_ms);
        draw_message(st->message ? st->message : "Connecting to the practice's server...");
        draw_notice(st->notice);
        refresh();
        return;
    }
    draw_header(m, now_ms);
    if (LINES < 8 || COLS < 24) {
        /* too small for a layout: what matters most, one line each */
        const bm_call *live[BM_CALLS];
        size_t n = bm_live_calls(m, now_ms, live);
        char line[256];
        int y = 2;
        if (n) {
            snprintf(line, sizeof line, "%s %s %s", live[0]->ticket, arrow(), live[0]->room);
            put(y++, 0, COLS, line, A_BOLD | pair(PAIR_CALL));
        }
        for (size_t i = 0; i < m->nwaiting && y < LINES - 1; i++) {
            char wait[32];
            bm_wait_text(m, &m->waiting[i], now_ms, wait, sizeof wait);
            snprintf(line, sizeof line, "%s %s", m->waiting[i].ticket, wait);
            put(y++, 0, COLS, line, 0);
        }
        draw_notice(st->notice);
        refresh();
        return;
    }
    int body = LINES - 3; /* between the header and the status line */
    int wait_rows = max_int(4, body / 3);
    int calls_bottom = 2 + body - wait_rows;
    draw_calls(m, 2, calls_bottom - 1, now_ms);
    mvhline(calls_bottom - 1, 0, ACS_HLINE, COLS);
    draw_waiting(m, calls_bottom, LINES - 1, now_ms);
    draw_notice(st->notice);
    refresh();
}

int bd_animating(const board_model *m, uint64_t now_ms)
{
    return now_ms < m->flash_until_ms;
}
