/* The board's state: the last projection, recent calls and the server's clock. */
#include "board_model.h"

#include "pm_err.h"
#include "pm_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bm_init(board_model *m, unsigned speed)
{
    memset(m, 0, sizeof *m);
    m->speed = speed ? speed : 1;
}

void bm_free(board_model *m)
{
    free(m->waiting);
    m->waiting = NULL;
    m->nwaiting = 0;
}

void bm_clear(board_model *m)
{
    unsigned speed = m->speed;
    bm_free(m);
    bm_init(m, speed);
}

void bm_copy_text(char *dst, size_t n, const char *src)
{
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)(src ? src : "");
    while (*s && o + 1 < n) {
        size_t len = *s < 0x80 ? 1 : *s >= 0xf0 ? 4 : *s >= 0xe0 ? 3 : *s >= 0xc0 ? 2 : 1;
        size_t have = 1;
        while (have < len && (s[have] & 0xc0) == 0x80)
            have++;
        int control = *s < 0x20 || *s == 0x7f || (*s == 0xc2 && len == 2 && s[1] < 0xa0) ||
                      (*s >= 0x80 && *s < 0xc0) || have < len;
        if (control) {
            dst[o++] = '?';
            s += have;
            continue;
        }
        if (o + len >= n)
            break;
        memcpy(dst + o, s, len);
        o += len;
        s += len;
    }
    dst[o] = 0;
}

uint64_t bm_clock(const board_model *m, uint64_t now_ms)
{
    if (!m->anchor_ms)
        return pm_wall_s();
    uint64_t dt = now_ms > m->anchor_ms ? now_ms - m->anchor_ms : 0;
    return m->anchor_asof + dt * m->speed / 1000;
}

uint64_t bm_call_age(const board_model *m, const bm_call *c, uint64_t now_ms)
{
    uint64_t now = bm_clock(m, now_ms);
    return now > c->at ? (now - c->at) / m->speed : 0;
}

size_t bm_live_calls(const board_model *m, uint64_t now_ms, const bm_call **out)
{
    size_t n = 0;
    for (size_t i = 0; i < m->ncalls; i++)
        if (bm_call_age(m, &m->calls[i], now_ms) < BM_FADE_S)
            out[n++] = &m->calls[i];
    return n;
}

void bm_wait_text(const board_model *m, const bm_ticket *t, uint64_t now_ms, char *buf, size_t n)
{
    uint64_t now = bm_clock(m, now_ms);
    uint64_t left = t->est > now ? t->est - now : 0;
    unsigned long long min = (left + 59) / 60;
    if (left <= BM_SOON_S)
        snprintf(buf, n, "soon");
    else if (min < 90)
        snprintf(buf, n, "~%llu min", min);
    else /* a rough guess this far ahead: to five minutes */
        snprintf(buf, n, "~%llu h %02llu", (min + 2) / 5 * 5 / 60, (min + 2) / 5 * 5 % 60);
}

static int by_estimate(const void *x, const void *y)
{
    const bm_ticket *a = x, *b = y;
    if (a->est != b->est)
        return a->est < b->est ? -1 : 1;
    return strcmp(a->ticket, b->ticket);
}

static int newest_first(const void *x, const void *y)
{
    const bm_call *a = x, *b = y;
    if (a->at != b->at)
        return a->at > b->at ? -1 : 1;
    return a->seq > b->seq ? -1 : a->seq < b->seq;
}

static int is_waiting(const board_model *m, const char *ticket)
{
    for (size_t i = 0; i < m->nwaiting; i++)
        if (strcmp(m->waiting[i].ticket, ticket) == 0)
            return 1;
    return 0;
}

/* Merges the projection's calls into those remembered: a call stays on the board for a
 * while after the patient went on to the provider (and left the projection's list), but
 * not when the ticket is back in the waiting list (the call was undone). A ticket called
 * again (to another room) replaces its earlier call. */
static void merge_calls(board_model *m, const Pm__BoardState *b, uint64_t now_ms)
{
    bm_call before = m->ncalls ? m->calls[0] : (bm_call){{0}, {0}, 0, 0};
    bm_call all[BM_CALLS * 2];
    size_t n = 0;
    size_t given = b->n_calls < BM_CALLS ? b->n_calls : BM_CALLS;
    /* oldest first, so that the newest of those learnt together gets the highest seq */
    for (size_t i = given; i-- > 0;) {
        bm_call *c = &all[n];
        bm_copy_text(c->ticket, sizeof c->ticket, b->calls[i]->ticket);
        bm_copy_text(c->room, sizeof c->room, b->calls[i]->room);
        c->at = b->calls[i]->at;
        if (!*c->ticket || is_waiting(m, c->ticket))
            continue;
        c->seq = 0;
        for (size_t k = 0; k < m->ncalls && !c->seq; k++)
            if (strcmp(m->calls[k].ticket, c->ticket) == 0 &&
                strcmp(m->calls[k].room, c->room) == 0 && m->calls[k].at == c->at)
                c->seq = m->calls[k].seq;
        if (!c->seq)
            c->seq = ++m->call_seq;
        n++;
    }
    size_t from_board = n;
    for (size_t i = 0; i < m->ncalls; i++) {
        const bm_call *old = &m->calls[i];
        int drop = is_waiting(m, old->ticket);
        for (size_t k = 0; k < from_board && !drop; k++)
            drop = strcmp(all[k].ticket, old->ticket) == 0;
        if (!drop)
            all[n++] = *old;
    }
    qsort(all, n, sizeof all[0], newest_first);
    m->ncalls = n < BM_CALLS ? n : BM_CALLS;
    memcpy(m->calls, all, sizeof all[0] * m->ncalls);
    if (m->have_state && m->ncalls && m->calls[0].seq != before.seq &&
        bm_call_age(m, &m->calls[0], now_ms) < BM_FADE_S)
        m->flash_until_ms = now_ms + BM_FLASH_MS;
}

int bm_apply(board_model *m, const Pm__BoardState *b, uint64_t now_ms, int fresh)
{
    size_t n = b->n_waiting < BM_WAITING ? b->n_waiting : BM_WAITING;
    bm_ticket *w = calloc(n ? n : 1, sizeof *w);
    if (!w)
        return PM_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const Pm__BoardTicket *t = b->waiting[i];
        bm_copy_text(w[i].ticket, sizeof w[i].ticket, t->ticket);
        w[i].est = t->estimated_start ? t->estimated_start : b->as_of + (uint64_t)t->wait_min * 60;
    }
    qsort(w, n, sizeof *w, by_estimate);
    free(m->waiting);
    m->waiting = w;
    m->nwaiting = n;
    if (fresh || !m->anchor_ms || b->as_of > bm_clock(m, now_ms)) {
        m->anchor_asof = b->as_of;
        m->anchor_ms = now_ms ? now_ms : 1;
    }
    bm_copy_text(m->location, sizeof m->location, b->location);
    bm_copy_text(m->name, sizeof m->name, *b->location_name ? b->location_name : b->location);
    merge_calls(m, b, now_ms);
    m->have_state = 1;
    return PM_OK;
}
