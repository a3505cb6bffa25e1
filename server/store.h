/* The store: one LMDB environment with named databases, read on the loop thread through
 * one cached read-only transaction, written only by the writer thread.
 *
 * The writer takes every job queued while the previous commit ran, runs them in one
 * transaction (a job that fails after writing makes the batch run again with a nested
 * transaction per job, so it is rolled back alone), commits the batch with one fsync, and
 * only then hands the jobs back to the loop, in commit order. A job's answer
 * is therefore never released before it is durable. A batch takes at most
 * STORE_FAIR_SHARE jobs of any one connection. */
#ifndef STORE_H
#define STORE_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pm_arena.h"

enum store_db {
    DB_META,       /* string -> value: schema, practice settings, counters */
    DB_ACCOUNTS,   /* id(u64) -> pm.StoredAccount */
    DB_ACCT_NAME,  /* folded username -> id(u64) */
    DB_LOGIN_FAIL, /* folded username -> pm.LoginFailures */
    DB_SESSIONS,   /* sha256(token) -> pm.StoredSession */
    DB_PATIENTS,   /* id(u64) -> pm.Patient */
    DB_PAT_NAME,   /* kind(1) folded-name 0 [folded-first 0] id(u64) -> "" */
    DB_PAT_DOB,    /* "YYYYMMDD" id(u64) -> "" */
    DB_PAT_PHONE,  /* digits 0 id(u64) -> "" */
    DB_AUDIT,      /* seq(u64) -> pm.AuditEntry */
    DB_RECORDS,    /* record 0 kind(u8) ... -> ...: what names a record (a patient's MRN), see
                      enum rec_kind; one record's entries sit together, so what one change
                      writes about a patient lands on one page */
    DB_AUDIT_USER, /* username 0 block(u64) -> "": the user has entries in that block */
    DB_EVENTS,     /* seq(u64) -> pm.Event */
    DB_IDEM,       /* key account(u64) -> pm.StoredAnswer */
    DB_IDEM_TIME,  /* time(u64) key account(u64) -> "" */
    DB_SETUP,      /* kind ':' code... -> Location, Room, Provider, VisitType, Template,
                      Holiday, Exception (see sched_setup.c) */
    DB_EXC_IDX,    /* provider 0 end(u64) id(u64) -> start(u64) ("" before 2026-11) */
    DB_APPTS,      /* id(u64) -> pm.Appointment */
    DB_APPT_PROV,  /* provider 0 start(u64) id(u64) -> end(u64) status(u8) location */
    DB_APPT_ROOM,  /* room 0 start(u64) id(u64) -> end(u64) status(u8) */
    DB_SERIES,     /* id(u64) -> pm.StoredSeries */
    DB_WAITLIST,   /* id(u64) -> pm.WaitlistEntry */
    DB_WAIT_IDX,   /* 255-priority(u8) created(u64) id(u64) -> "" (waiting entries) */
    DB_OFFERS,     /* id(u64) -> pm.Offer */
    DB_OFFER_EXP,  /* expires(u64) id(u64) -> "" (open offers) */
    DB_OFFER_SLOT, /* provider 0 start(u64) entry(u64) -> offer id(u64) */
    DB_COUNT
};

/* The kinds of entry in DB_RECORDS, after the record's name and its 0. */
enum rec_kind {
    REC_APPT = 'a',  /* start(u64) id(u64) -> end(u64) status(u8): the patient's appointments */
    REC_AUDIT = 'l', /* seq(u64) -> "": audit entries naming the record */
};

/* Schema 2: DB_RECORDS replaced audit_rec (record 0 seq) and appt_pat (mrn 0 start id).
 * Schema 3: appt_loc went; the provider index's values name the location. */
#define STORE_SCHEMA_VERSION 3

/* The start of an index key naming something: the name (at most max bytes), 0, then the
 * kind byte when kind is not 0. Returns its length (at most max + 2). */
size_t store_name_prefix(uint8_t *k, const char *name, size_t max, int kind);

typedef struct store store;

/* Brings data of an older schema (from) to this one, in txn, the opening transaction
 * (migrate.c). */
int store_migrate(MDB_txn *txn, store *st, uint64_t from);
typedef struct wjob wjob;

/* What a job sees while it runs on the writer thread. */
typedef struct wctx {
    store *st;
    MDB_txn *txn; /* the transaction to work in (see struct wjob) */
    uint64_t now; /* UTC seconds, one value for the whole batch */
    wjob *job;
} wctx;

/* A unit of work for the writer. The owner embeds it in a larger struct. */
struct wjob {
    /* Runs on the writer thread. Returns 0 to keep the changes, or an error to roll this
     * job back alone. It writes only through the store_* helpers below, which note each
     * write: a job runs in the batch's own transaction, and only when one fails after
     * writing is the batch run again with every job in its own nested transaction (a
     * nested transaction costs ~10 us a job, and most failures come from checks made
     * before anything is written). So it may run more than once (that, and after the map
     * grows), and must reset whatever it produces. */
    int (*run)(wjob *job, wctx *ctx);
    /* After a failed run, still on the writer thread and in the batch's transaction
     * (the job's writes undone): a chance to record the failure (audit). Returns
     * PM_E_MAP_FULL when the batch must be redone in a bigger map. */
    int (*failed)(wjob *job, wctx *ctx, int rc);
    /* On the loop thread after the batch committed (status = run's result) or failed
     * to commit (status = PM_E_STORAGE, nothing of it saved). */
    void (*done)(wjob *job);
    int status;
    int committed;  /* set when the batch holding this job is durable */
    uint64_t owner; /* the connection that asked (0: the server itself); a batch holds at
                     * most STORE_FAIR_SHARE jobs of one connection */
    wjob *next;
};

/* A connection's jobs in one batch at most: one connection's flood of writes makes its
 * own commits many, not everyone's commit long. Its further jobs wait, in their order. */
#define STORE_FAIR_SHARE 16

enum store_mode { STORE_OPEN, STORE_CREATE, STORE_READONLY };
/* Opens the environment in dir: an existing practice, a new one, or read-only for the
 * offline tools (which may run beside a serving practiced). */
int store_open(store **out, const char *dir, enum store_mode mode);
void store_close(store *st);
MDB_env *store_env(store *st);
MDB_dbi store_dbi(store *st, enum store_db db);
uint64_t store_map_size(store *st);

/* Loop thread only: a read transaction for the duration of one request. */
int store_read_begin(store *st, MDB_txn **txn);
void store_read_end(store *st);

/* Starts the writer thread; finished jobs are handed back on loop. */
int store_writer_start(store *st, uv_loop_t *loop);
/* Queues a job (any thread). */
void store_submit(store *st, wjob *job);
/* Stops the writer after the queued jobs ran; returns once it has exited. */
void store_writer_stop(store *st);
/* At most n jobs per commit (1: one commit per write, for comparison). */
void store_set_max_batch(store *st, unsigned n);
/* Test hook: the writer sleeps this long before each batch, so jobs pile up. */
void store_set_writer_delay(store *st, unsigned ms);

typedef struct store_stats {
    uint64_t commits;
    uint64_t jobs;
    uint64_t max_batch;
    uint64_t failed_commits;
    uint64_t map_grows;
    uint64_t run_us;    /* time running the batches' jobs (every attempt of a batch) */
    uint64_t commit_us; /* time in the batches' commits: page writes and syncs */
    uint64_t isolated;  /* batches run again with a nested transaction per job, because
                         * one failed after writing */
} store_stats;
void store_get_stats(store *st, store_stats *out);

/* One-off transactions for init, offline tools and tests (not while serving). */
int store_txn_begin(store *st, int write, MDB_txn **txn);
int store_txn_commit(MDB_txn *txn);

/* ---- helpers for handlers ---- */

/* Gets key and decodes the value as desc into arena a. PM_E_NOT_FOUND when absent. */
int store_get_pb(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                 const ProtobufCMessageDescriptor *desc, pm_arena *a, void **out);
/* Encodes msg and puts it under key. */
int store_put_pb(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                 const ProtobufCMessage *msg);
/* The same for a key known to sort after every key in the database (sequence numbers,
 * new ids): LMDB then fills pages instead of splitting them in half. */
int store_append_pb(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                    const ProtobufCMessage *msg);
int store_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
              size_t vlen);
int store_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen);
/* Makes room for a value of vlen bytes under key (MDB_RESERVE, with flags such as
 * MDB_APPEND) and points *out at it, for the caller to fill before its next write. */
int store_reserve(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, size_t vlen,
                  unsigned flags, void **out);
/* Deletes the cursor's entry. */
int store_cursor_del(MDB_cursor *cur);
/* What a sweep does with an entry. */
enum store_sweep { SWEEP_KEEP, SWEEP_DELETE, SWEEP_STOP };
/* Where a sweep that stopped at max_read goes on from next time ("" from the start). */
typedef struct store_sweep_pos {
    uint8_t key[128];
    size_t len;
} store_sweep_pos;
/* Goes through dbi from its first key (or from pos, when given), deleting the entries
 * judge says to, until judge says stop, max are deleted or max_read are read; *removed
 * says how many went, and pos where to go on. judge may write elsewhere (through the
 * helpers) and return an error, which ends the sweep. */
int store_sweep(MDB_txn *txn, MDB_dbi dbi, unsigned max, unsigned max_read, store_sweep_pos *pos,
                int (*judge)(const MDB_val *k, const MDB_val *v, void *arg, enum store_sweep *what),
                void *arg, unsigned *removed);
/* A transaction of the job's own inside ctx->txn, for work it may take back: what it
 * writes there counts as written (struct wjob) only if it is committed. */
int store_child_begin(wctx *ctx, MDB_txn **child, uint64_t *mark);
int store_child_commit(MDB_txn *child);
void store_child_abort(MDB_txn *child, uint64_t mark);
/* u64 counter in DB_META under name: returns the next value (starting at first). */
int store_next_id(MDB_txn *txn, store *st, const char *name, uint64_t first, uint64_t *out);
int store_meta_get_str(MDB_txn *txn, store *st, const char *name, char *out, size_t n);
int store_meta_put_str(MDB_txn *txn, store *st, const char *name, const char *val);
int store_meta_get_u64(MDB_txn *txn, store *st, const char *name, uint64_t *out);
int store_meta_put_u64(MDB_txn *txn, store *st, const char *name, uint64_t v);
/* Largest u64 key in a u64-keyed database, 0 when empty. */
int store_last_u64(MDB_txn *txn, MDB_dbi dbi, uint64_t *out);

#endif
