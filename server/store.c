#include "store.h"

#include "pm_err.h"
#include "pm_log.h"
#include "pm_time.h"
#include "pm_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INITIAL_MAP (1ull << 30) /* virtual; the file grows only as data does */
#define MAX_BATCH   512          /* bounds the dirty pages of one transaction */

struct share {
    uint64_t owner;
    unsigned n;
};

static const char *const db_names[DB_COUNT] = {
    [DB_META] = "meta",           [DB_ACCOUNTS] = "accounts",
    [DB_ACCT_NAME] = "acct_name", [DB_LOGIN_FAIL] = "login_fail",
    [DB_SESSIONS] = "sessions",   [DB_PATIENTS] = "patients",
    [DB_PAT_NAME] = "pat_name",   [DB_PAT_DOB] = "pat_dob",
    [DB_PAT_PHONE] = "pat_phone", [DB_AUDIT] = "audit",
    [DB_RECORDS] = "records",     [DB_AUDIT_USER] = "audit_user",
    [DB_EVENTS] = "events",       [DB_IDEM] = "idem",
    [DB_IDEM_TIME] = "idem_time", [DB_SETUP] = "setup",
    [DB_EXC_IDX] = "exc_idx",     [DB_APPTS] = "appts",
    [DB_APPT_PROV] = "appt_prov", [DB_APPT_ROOM] = "appt_room",
    [DB_SERIES] = "series",       [DB_WAITLIST] = "waitlist",
    [DB_WAIT_IDX] = "wait_idx",   [DB_OFFERS] = "offers",
    [DB_OFFER_EXP] = "offer_exp", [DB_OFFER_SLOT] = "offer_slot",
};

struct store {
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    uint64_t map_size;
    /* Readers hold it shared around a read transaction; growing the map holds it
     * exclusively, since LMDB must not resize under an active transaction. */
    pthread_rwlock_t maplock;
    MDB_txn *rtxn; /* the loop's cached read transaction */

    pthread_t writer;
    int writer_running;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    wjob *queue, **queue_tail;
    wjob *done, **done_tail;
    int stop;
    unsigned delay_ms;
    unsigned max_batch;
    store_stats stats;
    uv_async_t async;
};

MDB_env *store_env(store *st)
{
    return st->env;
}

MDB_dbi store_dbi(store *st, enum store_db db)
{
    return st->dbi[db];
}

uint64_t store_map_size(store *st)
{
    return __atomic_load_n(&st->map_size, __ATOMIC_RELAXED);
}

void store_set_writer_delay(store *st, unsigned ms)
{
    st->delay_ms = ms;
}

void store_set_max_batch(store *st, unsigned n)
{
    st->max_batch = n < 1 ? 1 : n > MAX_BATCH ? MAX_BATCH : n;
}

size_t store_name_prefix(uint8_t *k, const char *name, size_t max, int kind)
{
    size_t n = strnlen(name, max);
    memcpy(k, name, n);
    k[n++] = 0;
    if (kind)
        k[n++] = (uint8_t)kind;
    return n;
}

/* The schema of the data, 0 for none; a read-only opening refuses data that needs a
 * migration, which only a writable one can make. */
static int read_schema(store *st, enum store_mode mode, uint64_t *schema)
{
    MDB_txn *txn;
    *schema = 0;
    int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return pm_err_from_mdb(rc);
    rc = mdb_dbi_open(txn, db_names[DB_META], 0, &st->dbi[DB_META]);
    int r = rc == 0              ? store_meta_get_u64(txn, st, "schema", schema)
            : rc == MDB_NOTFOUND ? PM_E_NOT_FOUND
                                 : pm_err_from_mdb(rc);
    mdb_txn_abort(txn);
    if (r == PM_E_NOT_FOUND) {
        if (mode == STORE_CREATE)
            return PM_OK;
        pm_error("store: no practice here (run 'practiced init' first)");
        return PM_E_CONFIG;
    }
    if (r)
        return r;
    if (*schema > STORE_SCHEMA_VERSION) {
        pm_error("store: data has schema %llu, this practiced knows up to %d; upgrade practiced",
                 (unsigned long long)*schema, STORE_SCHEMA_VERSION);
        return PM_E_CONFIG;
    }
    if (*schema < STORE_SCHEMA_VERSION && mode == STORE_READONLY) {
        pm_error("store: data has schema %llu, from an older practiced; start 'practiced serve' "
                 "on it once to bring it to schema %d",
                 (unsigned long long)*schema, STORE_SCHEMA_VERSION);
        return PM_E_CONFIG;
    }
    return PM_OK;
}

static int grow_map(store *st);

static int open_dbs(store *st, enum store_mode mode)
{
    uint64_t schema;
    int r = read_schema(st, mode, &schema);
    if (r)
        return r;
    for (;;) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(st->env, NULL, mode == STORE_READONLY ? MDB_RDONLY : 0, &txn);
        if (rc)
            return pm_err_from_mdb(rc);
        for (int i = 0; i < DB_COUNT && !rc; i++) {
            rc = mdb_dbi_open(txn, db_names[i], mode == STORE_READONLY ? 0 : MDB_CREATE,
                              &st->dbi[i]);
            if (rc == MDB_NOTFOUND) {
                mdb_txn_abort(txn);
                pm_error("store: no practice here (database %s missing)", db_names[i]);
                return PM_E_CONFIG;
            }
        }
        r = rc            ? pm_err_from_mdb(rc)
            : schema == 0 ? store_meta_put_u64(txn, st, "schema", STORE_SCHEMA_VERSION)
                          : PM_OK;
        /* Migrations from older schema versions, in this transaction. */
        if (!r && schema && schema < STORE_SCHEMA_VERSION && !(r = store_migrate(txn, st, schema)))
            r = store_meta_put_u64(txn, st, "schema", STORE_SCHEMA_VERSION);
        if (!r)
            r = pm_err_from_mdb(mdb_txn_commit(txn));
        else
            mdb_txn_abort(txn);
        /* A migration may need more room than the map has: the file is its size. */
        if (r != PM_E_MAP_FULL || mode == STORE_READONLY || grow_map(st) != PM_OK)
            return r;
    }
}

int store_open(store **out, const char *dir, enum store_mode mode)
{
    store *st = calloc(1, sizeof *st);
    if (!st)
        return PM_E_NOMEM;
    pthread_rwlock_init(&st->maplock, NULL);
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cond, NULL);
    st->queue_tail = &st->queue;
    st->done_tail = &st->done;
    st->max_batch = MAX_BATCH;
    int rc = mdb_env_create(&st->env);
    if (rc)
        goto fail;
    /* Tests start with a small map to make it fill and grow (LMDB keeps at least what is
     * in use). */
    const char *test_kib = getenv("PRACTICED_TEST_MAP_KIB");
    uint64_t map = test_kib && atoll(test_kib) > 0 ? (uint64_t)atoll(test_kib) << 10 : INITIAL_MAP;
    if ((rc = mdb_env_set_maxdbs(st->env, DB_COUNT + 4)) ||
        (rc = mdb_env_set_mapsize(st->env, map)) || (rc = mdb_env_set_maxreaders(st->env, 126)))
        goto fail;
    rc = mdb_env_open(st->env, dir, MDB_NOTLS | (mode == STORE_READONLY ? MDB_RDONLY : 0), 0600);
    if (rc) {
        pm_error("store: cannot open %s: %s", dir, mdb_strerror(rc));
        goto fail;
    }
    int dead = 0;
    mdb_reader_check(st->env, &dead);
    if (dead)
        pm_info("store: cleared %d stale reader slot(s)", dead);
    MDB_envinfo info;
    mdb_env_info(st->env, &info);
    st->map_size = info.me_mapsize;
    int r = open_dbs(st, mode);
    if (r) {
        mdb_env_close(st->env);
        st->env = NULL;
        store_close(st);
        return r;
    }
    *out = st;
    return PM_OK;
fail:
    if (st->env)
        mdb_env_close(st->env);
    st->env = NULL;
    store_close(st);
    return pm_err_from_mdb(rc);
}

void store_close(store *st)
{
    if (!st)
        return;
    if (st->rtxn)
        mdb_txn_abort(st->rtxn);
    if (st->env)
        mdb_env_close(st->env);
    pthread_rwlock_destroy(&st->maplock);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cond);
    free(st);
}

int store_read_begin(store *st, MDB_txn **txn)
{
    pthread_rwlock_rdlock(&st->maplock);
    int rc =
        st->rtxn ? mdb_txn_renew(st->rtxn) : mdb_txn_begin(st->env, NULL, MDB_RDONLY, &st->rtxn);
    if (rc) {
        pthread_rwlock_unlock(&st->maplock);
        pm_error("store: read transaction: %s", mdb_strerror(rc));
        return PM_E_STORAGE;
    }
    *txn = st->rtxn;
    return PM_OK;
}

void store_read_end(store *st)
{
    mdb_txn_reset(st->rtxn);
    pthread_rwlock_unlock(&st->maplock);
}

int store_txn_begin(store *st, int write, MDB_txn **txn)
{
    return pm_err_from_mdb(mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, txn));
}

int store_txn_commit(MDB_txn *txn)
{
    return pm_err_from_mdb(mdb_txn_commit(txn));
}

void store_get_stats(store *st, store_stats *out)
{
    pthread_mutex_lock(&st->mu);
    *out = st->stats;
    pthread_mutex_unlock(&st->mu);
}

/* ---- writer ---- */

static int grow_map(store *st)
{
    pthread_rwlock_wrlock(&st->maplock);
    uint64_t size = st->map_size * 2;
    int rc = mdb_env_set_mapsize(st->env, size);
    if (rc == 0)
        __atomic_store_n(&st->map_size, size, __ATOMIC_RELAXED);
    pthread_rwlock_unlock(&st->maplock);
    if (rc) {
        pm_error("store: cannot grow the map to %llu MiB: %s", (unsigned long long)(size >> 20),
                 mdb_strerror(rc));
        return PM_E_STORAGE;
    }
    pm_info("store: map grown to %llu MiB", (unsigned long long)(size >> 20));
    pthread_mutex_lock(&st->mu);
    st->stats.map_grows++;
    pthread_mutex_unlock(&st->mu);
    return PM_OK;
}

/* Writes made on this thread through the helpers below: a job that fails after writing
 * needs its own nested transaction to be undone alone. */
static __thread uint64_t writes_noted;

/* Runs a job in its own nested transaction, which is kept if it succeeds. */
static int run_nested(wctx *ctx)
{
    MDB_txn *txn = ctx->txn, *child;
    uint64_t mark;
    int r = store_child_begin(ctx, &child, &mark);
    if (r)
        return r == PM_E_MAP_FULL ? r : PM_E_STORAGE;
    ctx->txn = child;
    r = ctx->job->run(ctx->job, ctx);
    if (r == PM_OK)
        r = store_child_commit(child);
    else
        store_child_abort(child, mark);
    ctx->txn = txn;
    return r;
}

enum batch_result { BATCH_DONE, BATCH_GROW_MAP, BATCH_ISOLATE };

/* Runs one batch, each job in the batch's transaction or, when nested, each in its own
 * nested one. *rc is the commit's result. Adds the time spent committing to *commit_us. */
static enum batch_result run_batch_once(store *st, wjob *batch, int nested, int *rc_out,
                                        uint64_t *commit_us)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc) {
        pm_error("store: cannot begin a write transaction: %s", mdb_strerror(rc));
        if (rc == MDB_MAP_RESIZED)
            return BATCH_GROW_MAP;
        *rc_out = PM_E_STORAGE;
        return BATCH_DONE;
    }
    uint64_t now = pm_wall_s();
    for (wjob *j = batch; j; j = j->next) {
        wctx ctx = {.st = st, .txn = txn, .now = now, .job = j};
        uint64_t w0 = writes_noted;
        int r = nested ? run_nested(&ctx) : j->run(j, &ctx);
        if (r == PM_E_MAP_FULL) {
            mdb_txn_abort(txn);
            return BATCH_GROW_MAP;
        }
        /* undone alone only in a nested transaction: a failure after writing, or one of
         * LMDB's own (a failed read leaves the transaction unusable; so can one a job made
         * something else of, which the commit finds below) */
        if (r && !nested &&
            (writes_noted != w0 || r == PM_E_STORAGE || r == PM_E_INTERNAL || r == PM_E_NOMEM)) {
            mdb_txn_abort(txn);
            return BATCH_ISOLATE;
        }
        j->status = r;
        if (r && j->failed && j->failed(j, &ctx, r) == PM_E_MAP_FULL) {
            mdb_txn_abort(txn);
            return BATCH_GROW_MAP;
        }
    }
    uint64_t t1 = pm_mono_us();
    rc = mdb_txn_commit(txn);
    *commit_us += pm_mono_us() - t1;
    if (rc == MDB_MAP_FULL)
        return BATCH_GROW_MAP;
    /* a job left the transaction unusable and went on (a failed read it took for "not
     * there"): in its own nested transaction it fails alone and the others commit */
    if (rc == MDB_BAD_TXN && !nested)
        return BATCH_ISOLATE;
    if (rc)
        pm_error("store: commit failed, %s; the batch's requests get a storage error",
                 mdb_strerror(rc));
    *rc_out = rc ? PM_E_STORAGE : PM_OK;
    return BATCH_DONE;
}

static void run_batch(store *st, wjob *batch, size_t n)
{
    int rc = PM_OK, nested = 0;
    uint64_t t0 = pm_mono_us(), commit_us = 0;
    for (;;) {
        enum batch_result br = run_batch_once(st, batch, nested, &rc, &commit_us);
        if (br == BATCH_DONE)
            break;
        if (br == BATCH_ISOLATE) {
            pm_debug("store: a request failed after writing; its batch of %zu runs again, each "
                     "request in its own nested transaction",
                     n);
            nested = 1;
            continue;
        }
        if (grow_map(st) != PM_OK) {
            rc = PM_E_STORAGE;
            break;
        }
    }
    uint64_t all_us = pm_mono_us() - t0; /* every attempt, and growing the map */
    pthread_mutex_lock(&st->mu);
    st->stats.run_us += all_us > commit_us ? all_us - commit_us : 0;
    st->stats.commit_us += commit_us;
    st->stats.isolated += (uint64_t)nested;
    if (rc == PM_OK) {
        st->stats.commits++;
        st->stats.jobs += n;
        if (n > st->stats.max_batch)
            st->stats.max_batch = n;
    } else {
        st->stats.failed_commits++;
    }
    pthread_mutex_unlock(&st->mu);
    for (wjob *j = batch; j; j = j->next) {
        j->committed = rc == PM_OK;
        if (rc != PM_OK)
            j->status = PM_E_STORAGE;
    }
}

/* Whether owner already has its share of the batch being taken (counting this job if
 * not). seen: 2 * MAX_BATCH slots, open addressing; a batch has at most MAX_BATCH owners. */
static int over_share(struct share *seen, uint64_t owner)
{
    size_t i = (size_t)(owner * 0x9E3779B97F4A7C15ull >> 54) & (2 * MAX_BATCH - 1);
    while (seen[i].owner && seen[i].owner != owner)
        i = (i + 1) & (2 * MAX_BATCH - 1);
    if (seen[i].n >= STORE_FAIR_SHARE)
        return 1;
    seen[i].owner = owner;
    seen[i].n++;
    return 0;
}

/* Takes the next batch off the queue (st->mu held): in queue order, everything that
 * queued during the last commit up to max_batch jobs, at most STORE_FAIR_SHARE of one
 * connection's; what is left stays queued in its order. */
static wjob *take_batch(store *st, size_t *n_out, wjob **last_out)
{
    struct share seen[2 * MAX_BATCH];
    memset(seen, 0, sizeof seen);
    wjob *batch = NULL, **bt = &batch, *last = NULL, **qp = &st->queue;
    size_t n = 0;
    while (*qp && n < st->max_batch) {
        wjob *j = *qp;
        if (j->owner && over_share(seen, j->owner)) {
            qp = &j->next;
            continue;
        }
        *qp = j->next;
        j->next = NULL;
        *bt = last = j;
        bt = &j->next;
        n++;
    }
    if (!*qp) /* else the last job is still queued, and so is its tail */
        st->queue_tail = qp;
    *n_out = n;
    *last_out = last;
    return batch;
}

static void *writer_main(void *arg)
{
    store *st = arg;
    for (;;) {
        pthread_mutex_lock(&st->mu);
        while (!st->queue && !st->stop)
            pthread_cond_wait(&st->cond, &st->mu);
        if (!st->queue) {
            pthread_mutex_unlock(&st->mu);
            break;
        }
        unsigned delay = st->delay_ms;
        if (delay) {
            pthread_mutex_unlock(&st->mu);
            usleep(delay * 1000u);
            pthread_mutex_lock(&st->mu);
        }
        size_t n;
        wjob *last, *batch = take_batch(st, &n, &last);
        pthread_mutex_unlock(&st->mu);

        run_batch(st, batch, n);

        pthread_mutex_lock(&st->mu);
        *st->done_tail = batch;
        st->done_tail = &last->next;
        pthread_mutex_unlock(&st->mu);
        uv_async_send(&st->async);
    }
    return NULL;
}

/* Loop thread: releases finished jobs in commit order. */
static void on_done(uv_async_t *h)
{
    store *st = h->data;
    pthread_mutex_lock(&st->mu);
    wjob *j = st->done;
    st->done = NULL;
    st->done_tail = &st->done;
    pthread_mutex_unlock(&st->mu);
    while (j) {
        wjob *next = j->next;
        j->next = NULL;
        j->done(j);
        j = next;
    }
}

int store_writer_start(store *st, uv_loop_t *loop)
{
    int rc = uv_async_init(loop, &st->async, on_done);
    if (rc)
        return pm_err_from_uv(rc);
    st->async.data = st;
    if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
        uv_close((uv_handle_t *)&st->async, NULL);
        return PM_E_INTERNAL;
    }
    st->writer_running = 1;
    return PM_OK;
}

void store_submit(store *st, wjob *job)
{
    job->next = NULL;
    pthread_mutex_lock(&st->mu);
    *st->queue_tail = job;
    st->queue_tail = &job->next;
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->mu);
}

void store_writer_stop(store *st)
{
    if (!st->writer_running)
        return;
    pthread_mutex_lock(&st->mu);
    st->stop = 1;
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->writer, NULL);
    st->writer_running = 0;
    on_done(&st->async);
    uv_close((uv_handle_t *)&st->async, NULL);
}

/* ---- helpers ---- */

int store_get_pb(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                 const ProtobufCMessageDescriptor *desc, pm_arena *a, void **out)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc)
        return pm_err_from_mdb(rc);
    *out = protobuf_c_message_unpack(desc, pm_arena_pbc(a), v.mv_size, v.mv_data);
    if (!*out) {
        pm_error("store: a stored %s does not decode", desc->short_name);
        return PM_E_INTERNAL;
    }
    return PM_OK;
}

int store_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val, size_t vlen)
{
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    writes_noted++;
    return pm_err_from_mdb(mdb_put(txn, dbi, &k, &v, 0));
}

int store_reserve(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, size_t vlen,
                  unsigned flags, void **out)
{
    MDB_val k = {klen, (void *)key}, v = {vlen, NULL};
    writes_noted++;
    int rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE | flags);
    *out = rc ? NULL : v.mv_data;
    return pm_err_from_mdb(rc);
}

int store_sweep(MDB_txn *txn, MDB_dbi dbi, unsigned max, unsigned max_read, store_sweep_pos *pos,
                int (*judge)(const MDB_val *k, const MDB_val *v, void *arg, enum store_sweep *what),
                void *arg, unsigned *removed)
{
    MDB_cursor *cur;
    *removed = 0;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return pm_err_from_mdb(rc);
    MDB_val k = {pos ? pos->len : 0, pos ? pos->key : NULL}, v;
    int err = PM_OK;
    unsigned read = 0;
    rc = k.mv_size ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                   : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (; rc == 0 && *removed < max && read < max_read;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), read++) {
        enum store_sweep what = SWEEP_KEEP;
        if ((err = judge(&k, &v, arg, &what)) || what == SWEEP_STOP)
            break;
        if (what == SWEEP_DELETE) {
            if ((err = store_cursor_del(cur)))
                break;
            (*removed)++;
        }
    }
    if (pos) /* stopped early: on from this key next time; at the end: from the start */
        pos->len = rc == 0 && k.mv_size <= sizeof pos->key ? k.mv_size : 0;
    if (pos && pos->len)
        memcpy(pos->key, k.mv_data, pos->len);
    mdb_cursor_close(cur);
    if (err)
        return err;
    return rc == 0 || rc == MDB_NOTFOUND ? PM_OK : pm_err_from_mdb(rc);
}

int store_child_begin(wctx *ctx, MDB_txn **child, uint64_t *mark)
{
    *mark = writes_noted;
    return pm_err_from_mdb(mdb_txn_begin(ctx->st->env, ctx->txn, 0, child));
}

int store_child_commit(MDB_txn *child)
{
    return pm_err_from_mdb(mdb_txn_commit(child));
}

void store_child_abort(MDB_txn *child, uint64_t mark)
{
    mdb_txn_abort(child);
    writes_noted = mark;
}

int store_cursor_del(MDB_cursor *cur)
{
    writes_noted++;
    return pm_err_from_mdb(mdb_cursor_del(cur, 0));
}

static int put_pb(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                  const ProtobufCMessage *msg, unsigned flags)
{
    void *p;
    int rc = store_reserve(txn, dbi, key, klen, protobuf_c_message_get_packed_size(msg), flags, &p);
    if (rc)
        return rc;
    protobuf_c_message_pack(msg, p);
    return PM_OK;
}

int store_put_pb(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                 const ProtobufCMessage *msg)
{
    return put_pb(txn, dbi, key, klen, msg, 0);
}

int store_append_pb(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                    const ProtobufCMessage *msg)
{
    return put_pb(txn, dbi, key, klen, msg, MDB_APPEND);
}

int store_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen)
{
    MDB_val k = {klen, (void *)key};
    writes_noted++;
    return pm_err_from_mdb(mdb_del(txn, dbi, &k, NULL));
}

int store_meta_get_u64(MDB_txn *txn, store *st, const char *name, uint64_t *out)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    int rc = mdb_get(txn, st->dbi[DB_META], &k, &v);
    if (rc)
        return pm_err_from_mdb(rc);
    if (v.mv_size != 8)
        return PM_E_INTERNAL;
    *out = pm_get_u64(v.mv_data);
    return PM_OK;
}

int store_meta_put_u64(MDB_txn *txn, store *st, const char *name, uint64_t val)
{
    uint8_t b[8];
    pm_put_u64(b, val);
    return store_put(txn, st->dbi[DB_META], name, strlen(name), b, 8);
}

int store_meta_get_str(MDB_txn *txn, store *st, const char *name, char *out, size_t n)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    int rc = mdb_get(txn, st->dbi[DB_META], &k, &v);
    if (rc)
        return pm_err_from_mdb(rc);
    if (v.mv_size >= n)
        return PM_E_INTERNAL;
    memcpy(out, v.mv_data, v.mv_size);
    out[v.mv_size] = 0;
    return PM_OK;
}

int store_meta_put_str(MDB_txn *txn, store *st, const char *name, const char *val)
{
    return store_put(txn, st->dbi[DB_META], name, strlen(name), val, strlen(val));
}

int store_next_id(MDB_txn *txn, store *st, const char *name, uint64_t first, uint64_t *out)
{
    uint64_t v = first;
    int rc = store_meta_get_u64(txn, st, name, &v);
    if (rc == PM_E_NOT_FOUND)
        v = first;
    else if (rc)
        return rc;
    rc = store_meta_put_u64(txn, st, name, v + 1);
    if (rc)
        return rc;
    *out = v;
    return PM_OK;
}

int store_last_u64(MDB_txn *txn, MDB_dbi dbi, uint64_t *out)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return pm_err_from_mdb(rc);
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) {
        *out = 0;
        return PM_OK;
    }
    if (rc)
        return pm_err_from_mdb(rc);
    if (k.mv_size != 8)
        return PM_E_INTERNAL;
    *out = pm_get_u64(k.mv_data);
    return PM_OK;
}
