/* Requests: decode, the auth gate, the permission table, and the three ways a request
 * runs: a read on the loop's read transaction, a write on the writer thread, or a
 * custom path (login and password work on the thread pool, subscriptions).
 *
 * Every request ends in req_finish(), which sends its answer and then publishes the
 * events its write produced. Audited requests send nothing before their audit entry is
 * durable. */
#ifndef DISPATCH_H
#define DISPATCH_H

#include <stdint.h>

#include "net.h"
#include "pm_arena.h"
#include "store.h"

typedef struct req req;
typedef struct op op;

enum op_kind { OP_READ, OP_WRITE, OP_CUSTOM };

/* Who may do what: one row per request type; anything without a row is refused. */
struct op {
    Pm__Envelope__BodyCase body;
    const char *name;
    unsigned roles; /* bit (1 << role) per allowed role */
    unsigned flags; /* OPF_* */
    enum op_kind kind;
    int (*read)(req *r, MDB_txn *txn);
    int (*write)(req *r, wctx *ctx);
    void (*custom)(req *r);
    const char *audit; /* action recorded in the audit log, or NULL */
};

#define ROLE_BIT(r)  (1u << (r))
#define OPF_PRELOGIN 1u /* allowed before login */
#define OPF_ANY_ROLE 2u /* any logged-in account, whatever its role */
#define OPF_ONE_TIME 4u /* allowed while a one-time password must still be changed */

struct req_event {
    sframe *frame;
    char topics[4][64];
    size_t ntopics;
};

struct req {
    wjob job;
    conn *c;
    const op *op;
    uint64_t id;
    uint8_t *frame; /* the request's bytes; env points into the arena */
    uint32_t frame_len;
    uint32_t write_runs; /* times write_run ran it (a batch is redone after the map grew) */
    Pm__Envelope *env;
    pm_arena arena;
    uint64_t t0_us;

    /* who, copied from the session when the request arrived */
    uint64_t account_id;
    int role;
    const char *username;
    const char *device;
    const char *location; /* display devices: the location whose board they show */

    /* the answer */
    Pm__Envelope *resp; /* success body, built in the arena */
    int status;
    const char *err_msg;
    const char *err_field;
    Pm__FieldError **fields;
    size_t nfields;
    uint64_t *conflicts; /* appointments a booking conflicts with (arena) */
    size_t nconflicts;
    uint32_t retry_after_ms;
    sframe *answer; /* packed answer; built on the thread that finished the work */

    /* what the audit entry says about it */
    const char *audit_action; /* overrides the op's (the server's own jobs) */
    const char *audit_record;
    const char *audit_detail;
    const char **audit_also; /* further records disclosed (search results) */
    size_t naudit_also;

    /* events produced by a write, published after the answer */
    struct req_event *events;
    size_t nevents;
    /* locations whose waiting-room board the write changed: one board event each, once
     * the handler is done (flow.c), however many of its appointments moved */
    char **boards; /* in the request's arena */
    size_t nboards, boards_cap;

    void *ext; /* custom paths keep their state here */
    /* Custom paths: runs on the loop after their write committed, instead of
     * req_finish (which it must call in the end). */
    void (*done_hook)(req *r);

    /* dispatch.c's own bookkeeping */
    int (*write_fn)(req *r, wctx *ctx);
    uint64_t handler_us;
    int answer_status; /* the status the packed answer carries */
    int replayed;      /* answered from a stored first answer */
};

/* Takes a complete frame (ownership of body) from a connection. */
void dispatch_frame(conn *c, uint8_t *body, uint32_t len);

/* The permission table's answer for a request type and role. */
int perm_allowed(Pm__Envelope__BodyCase body, int role);
const op *op_find(Pm__Envelope__BodyCase body);

/* Handlers' tools. */
int req_fail(req *r, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Adds a field-level problem; returns PM_E_INVALID_ARGUMENT. */
int req_field_error(req *r, const char *field, const char *msg);
/* A new response envelope of the given body case (its body is set by the caller). */
Pm__Envelope *req_respond(req *r, Pm__Envelope__BodyCase body);
/* Writes ev to the event log in the job's transaction, under up to four topics, and
 * queues it for publishing after the commit. */
int req_event(req *r, wctx *ctx, const char *const *topics, size_t ntopics, Pm__Event *ev);

/* A request the server makes of itself (expiring offers...): no connection, acting as
 * "practiced"; submit it with req_submit_write. Its events are published as usual. */
req *req_system(const char *action);
/* Forgets an error a handler set, when the request goes on regardless. */
void req_clear_error(req *r);

/* Sends the answer, publishes events, frees the request. Loop thread. */
void req_finish(req *r);
/* Queues r on the writer with the op's write handler (custom paths use it too). */
void req_submit_write(req *r, int (*fn)(req *r, wctx *ctx));
/* Queues only the audit entry, then finishes (reads of patient data, denials). */
void req_submit_audit(req *r);

/* Latency statistics, for GetStats. */
void dispatch_fill_stats(req *r, Pm__Stats *st);

#endif
