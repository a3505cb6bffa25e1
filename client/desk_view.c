/* Drawing the desk: the model and the screen's state in, characters out. Every frame is
 * drawn whole into curses' buffer and sent with one doupdate(), which writes only the
 * cells that changed: nothing flickers and the selection stays where it was. At 80x24
 * the panes are stacked; from 120 columns they stand side by side with more detail. */
#define NCURSES_WIDECHAR 1
#include "desk.h"

#include <curses.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#define MIN_COLS 60
#define MIN_ROWS 12
#define WIDE     120 /* panes side by side from here */

enum { C_HEAD = 1, C_WARN, C_WAIT, C_ROOM, C_SEEN, C_DONE, C_ERR, C_OK };

static int pane_lines[PANE_COUNT];
static int utf8;

typedef struct dv_box {
    int y, x, h, w;
} dv_box;

void desk_view_start(void)
{
    setlocale(LC_ALL, "");
    utf8 = MB_CUR_MAX > 1;
    initscr();
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    if (has_colors()) {
        start_color();
        use_default_colors();
        init_pair(C_HEAD, COLOR_BLACK, COLOR_CYAN);
        init_pair(C_WARN, COLOR_RED, -1);
        init_pair(C_WAIT, COLOR_YELLOW, -1);
        init_pair(C_ROOM, COLOR_CYAN, -1);
        init_pair(C_SEEN, COLOR_GREEN, -1);
        init_pair(C_DONE, COLOR_BLUE, -1);
        init_pair(C_ERR, COLOR_WHITE, COLOR_RED);
        init_pair(C_OK, COLOR_BLACK, COLOR_GREEN);
    }
}

void desk_view_stop(void)
{
    endwin();
}

int desk_view_pane_lines(enum desk_pane p)
{
    return pane_lines[p] > 1 ? pane_lines[p] : 1;
}

static attr_t color(int pair)
{
    return has_colors() ? COLOR_PAIR(pair) : 0;
}

/* Writes s (UTF-8) at y, x in exactly w columns: cut at a character's edge, padded with
 * spaces. Bytes that are not text in this locale show as '?'. */
static void put(int y, int x, int w, const char *s, attr_t attr)
{
    if (w <= 0 || y < 0 || y >= LINES || x >= COLS)
        return;
    if (x + w > COLS)
        w = COLS - x;
    wchar_t buf[512];
    int used = 0, n = 0;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t len = strlen(s);
    while (len && n < (int)(sizeof buf / sizeof buf[0]) - 1) {
        wchar_t wc;
        size_t k = utf8 ? mbrtowc(&wc, s, len, &st) : 1;
        if (!utf8)
            wc = (unsigned char)*s < 0x80 ? (wchar_t)*s : L'?';
        if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
            memset(&st, 0, sizeof st);
            wc = L'?';
            k = 1;
        }
        int cw = wcwidth(wc);
        if (cw < 0) {
            wc = L'?';
            cw = 1;
        }
        if (used + cw > w)
            break;
        buf[n++] = wc;
        used += cw;
        s += k;
        len -= k;
    }
    while (used < w && n < (int)(sizeof buf / sizeof buf[0]) - 1) {
        buf[n++] = L' ';
        used++;
    }
    buf[n] = 0;
    attron(attr);
    mvaddwstr(y, x, buf);
    attroff(attr);
}

static void hhmm(int64_t t, char *buf, size_t n)
{
    struct tm tm;
    time_t tt = (time_t)t;
    localtime_r(&tt, &tm);
    strftime(buf, n, "%H:%M", &tm);
}

/* "4m", "1h05" */
static void span(int64_t seconds, char *buf, size_t n)
{
    if (seconds < 0)
        seconds = 0;
    int64_t m = seconds / 60;
    if (m < 60)
        snprintf(buf, n, "%lldm", (long long)m);
    else
        snprintf(buf, n, "%lldh%02lld", (long long)(m / 60), (long long)(m % 60));
}

/* ---- the header, the help and the status line ---- */

static void draw_header(desk *d)
{
    char day[40], clock[16], left[400], right[80];
    int64_t now = desk_now(d);
    time_t tt = (time_t)now;
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(clock, sizeof clock, "%H:%M:%S", &tm);
    struct tm dt = {0};
    if (sscanf(d->m.date, "%d-%d-%d", &dt.tm_year, &dt.tm_mon, &dt.tm_mday) == 3) {
        dt.tm_year -= 1900;
        dt.tm_mon -= 1;
        dt.tm_hour = 12;
        dt.tm_isdst = -1;
        mktime(&dt);
        strftime(day, sizeof day, "%a %d %b %Y", &dt);
    } else {
        desk_copy(day, sizeof day, d->m.date);
    }
    snprintf(left, sizeof left, " %s | %s | %s%s | %s", d->practice, d->location_name, day,
             strcmp(d->m.date, d->today) ? " (view only)" : "", clock);
    if (d->conn == CONN_LIVE) {
        snprintf(right, sizeof right, "live ");
    } else {
        uint64_t now_ms = desk_mono_ms();
        unsigned secs = d->retry_at > now_ms ? (unsigned)((d->retry_at - now_ms + 999) / 1000) : 0;
        snprintf(right, sizeof right, "reconnecting%s (next try in %us) ",
                 utf8 ? "\xe2\x80\xa6" : "...", secs);
    }
    int rw = (int)strlen(right);
    put(0, 0, COLS, left, color(C_HEAD) | A_BOLD);
    put(0, COLS - rw, rw, right,
        d->conn == CONN_LIVE ? color(C_HEAD) | A_BOLD : color(C_ERR) | A_BOLD);
}

static const char *help_text(const desk *d, int wide)
{
    if (d->modal.kind == MODAL_PICK)
        return " Up/Down choose  Enter take it  Esc cancel";
    if (d->modal.kind == MODAL_INPUT)
        return " Type, then Enter  Esc cancel";
    if (d->modal.kind == MODAL_INFO)
        return d->modal.keys[0] ? d->modal.keys : " Any key closes";
    if (wide)
        return " Up/Down move  Tab pane  i check in  r room  p with provider  o check out  u undo"
               "  w walk-in  / find patient  b book  n/N day  t today  q quit";
    return " i in r room p prov o out u undo  w walk-in / find b book  n/N day Tab q";
}

/* The byte where s is cut to fit w columns, at a space when there is one. */
static size_t cut_at(const char *s, int w)
{
    size_t end = 0, space = 0;
    int cols = 0;
    for (size_t i = 0; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 || !utf8) {
            if (cols == w)
                return space ? space : i;
            cols++;
        }
        if (s[i] == ' ')
            space = i;
        end = i + 1;
    }
    return end;
}

/* The status line; a message too long for it takes the help line too. */
static void draw_footer(desk *d)
{
    if (d->status[0] && d->status_until && desk_mono_ms() > d->status_until)
        d->status[0] = 0;
    attr_t attr = d->status_err ? color(C_ERR) | A_BOLD : 0;
    size_t cut = cut_at(d->status, COLS);
    if (!d->status[cut]) {
        put(LINES - 2, 0, COLS, help_text(d, COLS >= 110), A_REVERSE);
        put(LINES - 1, 0, COLS, d->status, attr);
        return;
    }
    char first[sizeof d->status];
    snprintf(first, sizeof first, "%.*s", (int)cut, d->status);
    put(LINES - 2, 0, COLS, first, attr);
    put(LINES - 1, 0, COLS, d->status + cut + (d->status[cut] == ' '), attr);
}

/* ---- the panes ---- */

static void status_text(const desk *d, const desk_appt *a, char *buf, size_t n)
{
    const char *room = ds_name(&d->s.rooms, a->room);
    switch (a->status) {
    case PM__APPOINTMENT_STATUS__BOOKED:
        snprintf(buf, n, "booked");
        break;
    case PM__APPOINTMENT_STATUS__ARRIVED:
        snprintf(buf, n, "%s arrived", a->ticket);
        break;
    case PM__APPOINTMENT_STATUS__ROOMED:
        snprintf(buf, n, "%s in %s", a->ticket, room);
        break;
    case PM__APPOINTMENT_STATUS__WITH_PROVIDER:
        snprintf(buf, n, "%s with provider", a->ticket);
        break;
    case PM__APPOINTMENT_STATUS__CHECKED_OUT:
        snprintf(buf, n, "%s checked out", a->ticket);
        break;
    case PM__APPOINTMENT_STATUS__NO_SHOW:
        snprintf(buf, n, "no-show");
        break;
    case PM__APPOINTMENT_STATUS__CANCELLED:
        snprintf(buf, n, "cancelled");
        break;
    case PM__APPOINTMENT_STATUS__HELD:
        snprintf(buf, n, "held for an offer");
        break;
    default:
        snprintf(buf, n, "?");
    }
}

static attr_t status_attr(int status)
{
    switch (status) {
    case PM__APPOINTMENT_STATUS__ARRIVED:
        return color(C_WAIT) | A_BOLD;
    case PM__APPOINTMENT_STATUS__ROOMED:
        return color(C_ROOM) | A_BOLD;
    case PM__APPOINTMENT_STATUS__WITH_PROVIDER:
        return color(C_SEEN);
    case PM__APPOINTMENT_STATUS__CHECKED_OUT:
    case PM__APPOINTMENT_STATUS__NO_SHOW:
        return A_DIM;
    default:
        return 0;
    }
}

static int is_overdue(const desk *d, const desk_appt *a)
{
    if (a->status != PM__APPOINTMENT_STATUS__BOOKED)
        return 0;
    /* the server says so in its answers; between them, by the grace it gave with the day */
    int64_t grace = d->grace_s ? d->grace_s : 600;
    return a->overdue || (strcmp(d->m.date, d->today) == 0 && desk_now(d) > a->start + grace);
}

static const char *flag_text(const desk *d, const desk_appt *a)
{
    if (is_overdue(d, a))
        return "OVERDUE";
    if (a->walk_in)
        return "walk-in";
    if (a->late)
        return "late";
    return "";
}

static void pane_title(const desk *d, enum desk_pane p, const dv_box *b, const char *text)
{
    int active = d->pane == p && d->modal.kind == MODAL_NONE;
    char buf[300];
    snprintf(buf, sizeof buf, "%s %s", active ? ">>" : "  ", text);
    put(b->y, b->x, b->w, buf, active ? A_REVERSE | A_BOLD : A_BOLD | A_UNDERLINE);
}

/* Moves the pane's first line so the selected line shows, with its heading if it fits. */
static void scroll_to(desk_sel *s, size_t sel_line, size_t nlines, int h, int heading_above)
{
    size_t rows = (size_t)(h > 0 ? h : 1);
    if (sel_line < s->top)
        s->top = sel_line;
    if (heading_above && s->top == sel_line && sel_line > 0)
        s->top = sel_line - 1;
    if (sel_line >= s->top + rows)
        s->top = sel_line - rows + 1;
    if (nlines <= rows)
        s->top = 0;
    else if (s->top > nlines - rows)
        s->top = nlines - rows;
}

static void provider_heading(const desk *d, const char *provider, char *buf, size_t n)
{
    if (!*provider) {
        snprintf(buf, n, "-- Walk-ins for the next free provider");
        return;
    }
    const desk_pace *p = strcmp(d->m.date, d->today) == 0 ? dm_pace(&d->m, provider) : NULL;
    char pace[80] = "";
    if (p && p->running_late_min > 0)
        snprintf(pace, sizeof pace, ", running %d min late", p->running_late_min);
    if (p && p->waiting)
        snprintf(pace + strlen(pace), sizeof pace - strlen(pace), ", %u waiting", p->waiting);
    snprintf(buf, n, "-- %s%s", ds_name(&d->s.providers, provider), pace);
}

static void schedule_line(const desk *d, const desk_appt *a, const dv_box *b, int y, int selected)
{
    char when[8], state[64], line[600];
    int wide = b->w >= 90;
    hhmm(a->start, when, sizeof when);
    status_text(d, a, state, sizeof state);
    int name_w = b->w - (wide ? 60 : 50);
    if (name_w < 8)
        name_w = 8;
    char name[DESK_NAME_MAX + 16];
    desk_copy(name, sizeof name, a->name);
    int x = b->x;
    attr_t sel = selected ? A_REVERSE : 0;
    snprintf(line, sizeof line, "%c%s ", selected ? '>' : ' ', when);
    put(y, x, 7, line, sel);
    x += 7;
    put(y, x, name_w + 1, name, sel | A_BOLD);
    x += name_w + 1;
    if (wide) {
        put(y, x, 9, a->mrn, sel);
        x += 9;
    }
    put(y, x, 13, ds_name(&d->s.visit_types, a->visit_type), sel);
    x += 13;
    put(y, x, 21, state, sel | status_attr(a->status));
    x += 21;
    const char *flag = flag_text(d, a);
    put(y, x, b->x + b->w - x, flag,
        sel | (is_overdue(d, a) || a->late ? color(C_WARN) | A_BOLD : 0));
}

static void draw_schedule(desk *d, const dv_box *b)
{
    const desk_appt **rows = calloc(d->m.n ? d->m.n : 1, sizeof *rows);
    /* a line is an appointment or, when appt is NULL, the heading of provider */
    struct line {
        const desk_appt *appt;
        const char *provider;
    } *lines = calloc(d->m.n * 2 + 1, sizeof *lines);
    if (!rows || !lines) {
        free(rows);
        free(lines);
        return;
    }
    size_t n = dm_schedule_rows(&d->m, rows), nl = 0, sel_line = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(rows[i]->provider, rows[i - 1]->provider) != 0)
            lines[nl++] = (struct line){NULL, rows[i]->provider};
        if (rows[i]->id == d->sel[PANE_SCHEDULE].id)
            sel_line = nl;
        lines[nl++] = (struct line){rows[i], rows[i]->provider};
    }
    char title[200];
    snprintf(title, sizeof title, "Schedule: %zu appointment%s", n, n == 1 ? "" : "s");
    pane_title(d, PANE_SCHEDULE, b, title);
    int h = b->h - 1;
    pane_lines[PANE_SCHEDULE] = h;
    desk_sel *s = &d->sel[PANE_SCHEDULE];
    scroll_to(s, sel_line, nl, h, sel_line > 0 && !lines[sel_line - 1].appt);
    for (int r = 0; r < h; r++) {
        size_t i = s->top + (size_t)r;
        int y = b->y + 1 + r;
        if (i >= nl) {
            put(y, b->x, b->w, n || r ? "" : "  No appointments this day.", A_DIM);
            continue;
        }
        if (!lines[i].appt) {
            char head[300];
            provider_heading(d, lines[i].provider, head, sizeof head);
            put(y, b->x, b->w, head, A_BOLD);
            continue;
        }
        schedule_line(d, lines[i].appt, b, y,
                      d->pane == PANE_SCHEDULE && lines[i].appt->id == s->id);
    }
    free(rows);
    free(lines);
}

static void estimate_text(const desk *d, const desk_appt *a, char *buf, size_t n)
{
    int64_t now = desk_now(d);
    char at[16], in[32];
    buf[0] = 0;
    if (!a->estimated_start)
        return;
    hhmm((int64_t)a->estimated_start, at, sizeof at);
    if ((int64_t)a->estimated_start <= now) {
        snprintf(buf, n, "est %s now", at);
        return;
    }
    span((int64_t)a->estimated_start - now, in, sizeof in);
    snprintf(buf, n, "est %s ~%s", at, in);
}

static void waiting_line(const desk *d, const desk_appt *a, const dv_box *b, int y, int selected)
{
    char state[64], waited[48], w[32], est[64];
    int wide = b->w >= 75;
    attr_t sel = selected ? A_REVERSE : 0;
    if (a->status == PM__APPOINTMENT_STATUS__ROOMED)
        snprintf(state, sizeof state, "in %s", ds_name(&d->s.rooms, a->room));
    else
        snprintf(state, sizeof state, "arrived");
    span(desk_now(d) - (int64_t)a->arrived_at, w, sizeof w);
    snprintf(waited, sizeof waited, "waited %s", w);
    estimate_text(d, a, est, sizeof est);
    int name_w = b->w - 48 - (wide ? 14 : 0);
    if (name_w < 8)
        name_w = 8;
    int x = b->x;
    char head[40];
    snprintf(head, sizeof head, "%c%s", selected ? '>' : ' ', a->ticket);
    put(y, x, 7, head, sel | A_BOLD);
    x += 7;
    put(y, x, name_w + 1, a->name, sel | A_BOLD);
    x += name_w + 1;
    if (wide) {
        put(y, x, 14, *a->provider ? ds_name(&d->s.providers, a->provider) : "next free", sel);
        x += 14;
    }
    put(y, x, 13, state, sel | status_attr(a->status));
    x += 13;
    put(y, x, 13, waited, sel);
    x += 13;
    put(y, x, b->x + b->w - x, est, sel);
}

static void draw_waiting(desk *d, const dv_box *b)
{
    const desk_appt **rows = calloc(d->m.n ? d->m.n : 1, sizeof *rows);
    if (!rows)
        return;
    size_t n = dm_waiting_rows(&d->m, rows), sel_line = 0, roomed = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i]->id == d->sel[PANE_WAITING].id)
            sel_line = i;
        roomed += rows[i]->status == PM__APPOINTMENT_STATUS__ROOMED;
    }
    char title[160];
    snprintf(title, sizeof title, "Waiting room: %zu waiting, %zu in a room", n - roomed, roomed);
    pane_title(d, PANE_WAITING, b, title);
    int h = b->h - 1;
    pane_lines[PANE_WAITING] = h;
    desk_sel *s = &d->sel[PANE_WAITING];
    scroll_to(s, sel_line, n, h, 0);
    for (int r = 0; r < h; r++) {
        size_t i = s->top + (size_t)r;
        int y = b->y + 1 + r;
        if (i >= n) {
            put(y, b->x, b->w, n || r ? "" : "  Nobody is waiting.", A_DIM);
            continue;
        }
        waiting_line(d, rows[i], b, y, d->pane == PANE_WAITING && rows[i]->id == s->id);
    }
    free(rows);
}

/* ---- dialogs ---- */

static dv_box modal_box(const desk_modal *m)
{
    int rows = m->kind == MODAL_PICK ? (int)m->nitems : m->kind == MODAL_INFO ? (int)m->nlines : 1;
    dv_box b;
    b.w = COLS - 4 < 76 ? COLS - 4 : 76;
    b.h = rows + 4;
    if (b.h > LINES - 4)
        b.h = LINES - 4;
    b.y = (LINES - b.h) / 2;
    b.x = (COLS - b.w) / 2;
    return b;
}

static void frame(const dv_box *b, const char *title)
{
    for (int r = 0; r < b->h; r++)
        put(b->y + r, b->x, b->w, "", 0);
    attron(A_BOLD);
    mvaddch(b->y, b->x, ACS_ULCORNER);
    mvhline(b->y, b->x + 1, ACS_HLINE, b->w - 2);
    mvaddch(b->y, b->x + b->w - 1, ACS_URCORNER);
    mvvline(b->y + 1, b->x, ACS_VLINE, b->h - 2);
    mvvline(b->y + 1, b->x + b->w - 1, ACS_VLINE, b->h - 2);
    mvaddch(b->y + b->h - 1, b->x, ACS_LLCORNER);
    mvhline(b->y + b->h - 1, b->x + 1, ACS_HLINE, b->w - 2);
    mvaddch(b->y + b->h - 1, b->x + b->w - 1, ACS_LRCORNER);
    attroff(A_BOLD);
    char t[160];
    snprintf(t, sizeof t, " %s ", title);
    int tw = (int)strlen(t) < b->w - 4 ? (int)strlen(t) : b->w - 4;
    put(b->y, b->x + 2, tw, t, A_BOLD);
}

static void draw_pick(desk_modal *m, const dv_box *b)
{
    int h = b->h - 4;
    desk_sel s = {.top = m->top};
    scroll_to(&s, m->sel, m->nitems, h, 0);
    m->top = s.top;
    for (int r = 0; r < h; r++) {
        size_t i = m->top + (size_t)r;
        if (i >= m->nitems)
            break;
        char line[220];
        snprintf(line, sizeof line, "%c %s", i == m->sel ? '>' : ' ', m->items[i].label);
        put(b->y + 2 + r, b->x + 2, b->w - 4, line, i == m->sel ? A_REVERSE : 0);
    }
}

static int text_columns(const char *s)
{
    int cols = 0;
    for (; *s; s++)
        cols += ((unsigned char)*s & 0xC0) != 0x80 || !utf8;
    return cols;
}

static void draw_modal(desk *d)
{
    desk_modal *m = &d->modal;
    dv_box b = modal_box(m);
    if (b.h < 5 || b.w < 20)
        return;
    frame(&b, m->title);
    if (m->kind == MODAL_PICK) {
        draw_pick(m, &b);
    } else if (m->kind == MODAL_INFO) {
        for (size_t i = 0; i < m->nlines && (int)i < b.h - 4; i++)
            put(b.y + 2 + (int)i, b.x + 2, b.w - 4, m->lines[i], i == 0 ? A_BOLD : 0);
    } else {
        char line[200];
        snprintf(line, sizeof line, "> %s", m->input);
        put(b.y + 2, b.x + 2, b.w - 4, line, A_BOLD);
        int cx = b.x + 4 + text_columns(m->input);
        move(b.y + 2, cx < b.x + b.w - 2 ? cx : b.x + b.w - 3);
    }
}

/* ---- the whole screen ---- */

static void draw_locked(desk *d)
{
    char msg[400];
    snprintf(msg, sizeof msg, "Session ended: %s %s log in again with 'practice login'",
             d->locked_msg, utf8 ? "\xe2\x80\x94" : "-");
    int y = LINES / 2 - 1;
    put(y, 2, COLS - 4, msg, A_BOLD);
    put(y + 2, 2, COLS - 4, "Press any key to leave.", 0);
}

static void draw_too_small(void)
{
    char msg[120];
    snprintf(msg, sizeof msg, "The desk needs %dx%d at least; this terminal is %dx%d.", MIN_COLS,
             MIN_ROWS, COLS, LINES);
    put(LINES / 2, 0, COLS, msg, A_BOLD);
}

static void layout(dv_box *sched, dv_box *wait)
{
    int top = 1, body = LINES - 3;
    if (COLS >= WIDE) {
        int sw = COLS - (COLS * 2 / 5 > 60 ? COLS * 2 / 5 : 60) - 1;
        *sched = (dv_box){top, 0, body, sw};
        *wait = (dv_box){top, sw + 1, body, COLS - sw - 1};
        return;
    }
    int wh = body / 3 + 1;
    *sched = (dv_box){top, 0, body - wh, COLS};
    *wait = (dv_box){top + body - wh, 0, wh, COLS};
}

void desk_draw(desk *d)
{
    erase();
    curs_set(0);
    if (d->conn == CONN_LOCKED) {
        draw_locked(d);
    } else if (COLS < MIN_COLS || LINES < MIN_ROWS) {
        draw_too_small();
    } else {
        dv_box sched, wait;
        layout(&sched, &wait);
        draw_header(d);
        draw_schedule(d, &sched);
        draw_waiting(d, &wait);
        if (COLS >= WIDE)
            mvvline(1, sched.w, ACS_VLINE, LINES - 3);
        draw_footer(d);
        if (d->modal.kind != MODAL_NONE)
            draw_modal(d);
        if (d->modal.kind == MODAL_INPUT)
            curs_set(1);
    }
    wnoutrefresh(stdscr);
    doupdate();
    d->dirty = 0;
}
