/* What the waiting-room board knows and shows: the last projection the server sent
 * (tickets waiting with their estimated start, the latest calls to a room), the calls
 * seen recently, and an estimate of the server's scheduling clock to count waits down
 * between events. Only what a BoardState holds is kept: no name ever reaches here.
 * No curses: board_draw.c paints it. */
#ifndef BOARD_MODEL_H
#define BOARD_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "practiced.pb-c.h"

#define BM_TICKET_MAX 24
#define BM_ROOM_MAX   72
#define BM_NAME_MAX   128
#define BM_CALLS      6    /* calls remembered, newest first */
#define BM_WAITING    1000 /* tickets kept; a waiting room never holds more */
#define BM_FADE_S     120  /* a call is shown this long (real seconds) after it was made */
#define BM_DIM_S      60   /* ... and dimmed after this */
#define BM_FLASH_MS   8000 /* a new call is highlighted this long */
#define BM_SOON_S     120  /* a wait this short reads "soon" */

typedef struct bm_ticket {
    char ticket[BM_TICKET_MAX];
    uint64_t est; /* estimated start, server clock (UTC seconds) */
} bm_ticket;

typedef struct bm_call {
    char ticket[BM_TICKET_MAX];
    char room[BM_ROOM_MAX];
    uint64_t at;  /* server clock */
    uint64_t seq; /* the order this board learnt of it (calls in one second tie on at) */
} bm_call;

typedef struct board_model {
    char location[40];
    char name[BM_NAME_MAX];
    bm_ticket *waiting;
    size_t nwaiting;
    bm_call calls[BM_CALLS];
    size_t ncalls;
    uint64_t call_seq;
    int have_state;
    /* the server's clock: anchor_asof at anchor_ms (monotonic), running speed times
     * real time */
    uint64_t anchor_asof, anchor_ms;
    unsigned speed;
    uint64_t flash_until_ms;
} board_model;

void bm_init(board_model *m, unsigned speed);
void bm_free(board_model *m);
/* Forgets the board (the display's access was withdrawn). */
void bm_clear(board_model *m);

/* Takes a projection. fresh: a GetBoard answer, which sets the clock; an event moves
 * the clock only forwards (a replayed event is old). 0, or PM_E_NOMEM. */
int bm_apply(board_model *m, const Pm__BoardState *b, uint64_t now_ms, int fresh);

/* The server's clock now, estimated (wall time before any projection came). */
uint64_t bm_clock(const board_model *m, uint64_t now_ms);
/* Real seconds since a call was made. */
uint64_t bm_call_age(const board_model *m, const bm_call *c, uint64_t now_ms);
/* The calls to show, newest first (those not yet faded): their number, at most BM_CALLS. */
size_t bm_live_calls(const board_model *m, uint64_t now_ms, const bm_call **out);
/* A ticket's wait as people read it: "soon", "~12 min", "~2 h 15". */
void bm_wait_text(const board_model *m, const bm_ticket *t, uint64_t now_ms, char *buf, size_t n);

/* Copies text for the screen: control characters become '?', at most n-1 bytes, cut at a
 * character boundary. */
void bm_copy_text(char *dst, size_t n, const char *src);

#endif
