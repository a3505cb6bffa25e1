/* Patient flow on the day: check-in with queue tickets, rooms, the provider, check-out,
 * walk-ins, the end of the day's no-shows, estimated waits and the waiting-room board. */
#ifndef FLOW_H
#define FLOW_H

#include <lmdb.h>
#include <stdint.h>

#include "store.h"

struct req;

typedef struct flow_config {
    uint32_t grace_s; /* arrived later than this after the time: late; not arrived: overdue */
    int auto_no_show; /* close each day by itself, instead of waiting for a manager */
} flow_config;
extern flow_config flow_cfg;

int flow_step(struct req *r, wctx *ctx);
int flow_walk_in(struct req *r, wctx *ctx);
int flow_close_day(struct req *r, wctx *ctx);
int flow_get(struct req *r, MDB_txn *txn);
int flow_get_board(struct req *r, MDB_txn *txn);
/* Notes that the write r changes location's board today: flow_boards_flush then sends the
 * board's new state once, after everything the handler changed. */
int flow_board_event(struct req *r, const char *location);
/* The board events noted on r (in the write's transaction, after its handler). */
int flow_boards_flush(struct req *r, wctx *ctx);
/* Loop, once a second: closes yesterday when auto_no_show is on. */
void flow_tick(void);

#endif
