/* The store's writer on a real LMDB in a temporary directory: jobs that pile up commit as
 * one batch, a failing job is rolled back alone, answers are released on the loop thread
 * in submission order only after the commit, one connection's jobs take at most their
 * share of a batch, and a batch that fills the map is redone in a bigger one. Also runs under
 * ThreadSanitizer (label tsan). */
#include "tu.h"

#include "pm_err.h"
#include "pm_time.h"
#include "pm_util.h"
#include "practiced.pb-c.h"
#include "store.h"

#include <pthread.h>

#define MAX_JOBS 256

typedef struct tjob {
    wjob job;
    int idx;
    int fail;       /* returned by run after its writes, 0 to succeed */
    int fail_first; /* returned by run before it writes anything, 0 to go on */
    size_t big_len; /* run also writes nbig values of big_len bytes */
    int nbig;
    size_t fail_len; /* failed() writes a record this long */
    uint64_t id;     /* from store_next_id in its last run */
    /* written on the writer thread, read after done() */
    int runs;
    int failed_calls;
    int failed_rc;
    /* written in done() */
    int done_calls;
    int done_pos;
    int done_on_loop;
    int saw_whole_batch; /* done() could read every key its batch committed */
} tjob;

typedef struct fx {
    char dir[256];
    store *st;
    uv_loop_t loop;
    pthread_t loop_thread;
    int writer_started;
    tjob jobs[MAX_JOBS];
    int ndone;
    int order[MAX_JOBS];
    /* keys a done() callback checks are readable, "" to skip */
    int expect_keys[MAX_JOBS];
    int nexpect;
    char extra_dir[256]; /* a second directory some tests use, removed at teardown */
} fx;

static fx *F; /* for done(): the job's own struct has no room for the fixture */

static void job_key(char *out, size_t n, const char *what, int idx)
{
    snprintf(out, n, "%s-%03d", what, idx);
}

static int put_str(MDB_txn *txn, store *st, const char *key, const char *val)
{
    return store_put(txn, store_dbi(st, DB_META), key, strlen(key), val, strlen(val));
}

/* Writes its key, takes a counter value and writes any big values; then succeeds or
 * fails as told. Running it again (after the map grew) does the same again. */
static int job_run(wjob *j, wctx *ctx)
{
    tjob *t = (tjob *)j;
    t->runs++;
    if (t->fail_first)
        return t->fail_first;
    char key[32], val[32];
    job_key(key, sizeof key, "job", t->idx);
    job_key(val, sizeof val, "value", t->idx);
    int rc = put_str(ctx->txn, ctx->st, key, val);
    if (rc)
        return rc;
    if ((rc = store_next_id(ctx->txn, ctx->st, "seq.test", 1, &t->id)))
        return rc;
    for (int i = 0; i < t->nbig; i++) {
        char bk[32];
        snprintf(bk, sizeof bk, "big-%03d-%03d", t->idx, i);
        void *p;
        int rc2 =
            store_reserve(ctx->txn, store_dbi(ctx->st, DB_META), bk, strlen(bk), t->big_len, 0, &p);
        if (rc2)
            return rc2;
        memset(p, (int)(0x40 + i), t->big_len);
    }
    return t->fail;
}

/* Records the failure in the batch's transaction, as the audit log does. */
static int job_failed(wjob *j, wctx *ctx, int rc)
{
    tjob *t = (tjob *)j;
    t->failed_calls++;
    t->failed_rc = rc;
    char key[32];
    job_key(key, sizeof key, "failed", t->idx);
    if (t->fail_len) {
        void *p;
        int rc2 = store_reserve(ctx->txn, store_dbi(ctx->st, DB_META), key, strlen(key),
                                t->fail_len, 0, &p);
        if (rc2)
            return rc2;
        memset(p, 'f', t->fail_len);
        return PM_OK;
    }
    return put_str(ctx->txn, ctx->st, key, pm_err_name(rc));
}

static int key_present(store *st, const char *key)
{
    MDB_txn *txn;
    assert_int_equal(store_read_begin(st, &txn), PM_OK);
    MDB_val k = {strlen(key), (void *)key}, v;
    int rc = mdb_get(txn, store_dbi(st, DB_META), &k, &v);
    store_read_end(st);
    assert_true(rc == 0 || rc == MDB_NOTFOUND);
    return rc == 0;
}

static void job_done(wjob *j)
{
    tjob *t = (tjob *)j;
    fx *f = F;
    t->done_calls++;
    t->done_pos = f->ndone;
    t->done_on_loop = pthread_equal(pthread_self(), f->loop_thread);
    f->order[f->ndone++] = t->idx;
    /* what the batch wrote is durable before any of its answers goes out */
    int all = 1;
    for (int i = 0; i < f->nexpect; i++) {
        char key[32];
        job_key(key, sizeof key, "job", f->expect_keys[i]);
        all &= key_present(f->st, key);
    }
    t->saw_whole_batch = all;
}

static tjob *job_init(fx *f, int idx)
{
    tjob *t = &f->jobs[idx];
    memset(t, 0, sizeof *t);
    t->idx = idx;
    t->job.run = job_run;
    t->job.failed = job_failed;
    t->job.done = job_done;
    t->job.status = 12345;
    return t;
}

/* Runs the loop until want done() callbacks have run (10 s at most). */
static void run_until_done(fx *f, int want)
{
    uint64_t deadline = pm_mono_ms() + 10000;
    while (f->ndone < want) {
        if (pm_mono_ms() > deadline)
            fail_msg("only %d of %d jobs done after 10 s", f->ndone, want);
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(500);
    }
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    tu_mkdtemp(f->dir, sizeof f->dir, "store");
    if (store_open(&f->st, f->dir, STORE_CREATE) != PM_OK)
        return -1;
    if (uv_loop_init(&f->loop) != 0)
        return -1;
    f->loop_thread = pthread_self();
    F = f;
    *state = f;
    return 0;
}

static void start_writer(fx *f, unsigned delay_ms)
{
    store_set_writer_delay(f->st, delay_ms);
    assert_int_equal(store_writer_start(f->st, &f->loop), PM_OK);
    f->writer_started = 1;
}

static int teardown(void **state)
{
    fx *f = *state;
    if (!f)
        return 0;
    if (f->writer_started)
        store_writer_stop(f->st);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* the writer's async handle closes */
    int rc = uv_loop_close(&f->loop);
    store_close(f->st);
    tu_rmrf(f->dir);
    if (*f->extra_dir)
        tu_rmrf(f->extra_dir);
    free(f);
    F = NULL;
    return rc == 0 ? 0 : -1;
}

/* ---- group commit ---- */

/* Twenty jobs in one batch, one of which fails: after writing (fail_first = 0), which
 * undoes the batch and runs it again with a nested transaction per job, or before writing
 * anything (fail_first = 1), which needs no undoing. Either way the failed job's writes
 * are gone, its failure record is kept, and the others commit once, together. */
static void batch_with_failing_job(fx *f, int fail_first, int code)
{
    /* a failure of LMDB's own (say a read that failed) leaves the batch's transaction
     * unusable, written to or not: that too needs a nested transaction */
    int isolated = !fail_first || code == PM_E_STORAGE;
    enum { N = 20, BAD = 7 };
    for (int i = 0; i < N; i++)
        if (i != BAD)
            f->expect_keys[f->nexpect++] = i;
    /* the writer waits before its batch, so all twenty are queued by then */
    start_writer(f, 300);
    for (int i = 0; i < N; i++) {
        tjob *t = job_init(f, i);
        if (i == BAD && fail_first)
            t->fail_first = code;
        else if (i == BAD)
            t->fail = code;
        store_submit(f->st, &t->job);
    }
    run_until_done(f, N);

    store_stats s;
    store_get_stats(f->st, &s);
    assert_int_equal(s.commits, 1); /* one batch, one commit */
    assert_int_equal(s.jobs, N);
    assert_int_equal(s.max_batch, N);
    assert_int_equal(s.failed_commits, 0);
    assert_int_equal(s.map_grows, 0);
    assert_int_equal(s.isolated, isolated);

    for (int i = 0; i < N; i++) {
        tjob *t = &f->jobs[i];
        assert_int_equal(f->order[i], i); /* answers in submission order */
        assert_int_equal(t->done_calls, 1);
        assert_true(t->done_on_loop);
        assert_int_equal(t->job.committed, 1);
        /* the first run stopped at the failed job when it had written */
        assert_int_equal(t->runs, isolated && i <= BAD ? 2 : 1);
        assert_true(t->saw_whole_batch);
        char key[32];
        job_key(key, sizeof key, "job", i);
        if (i == BAD) {
            assert_int_equal(t->job.status, code);
            assert_int_equal(t->failed_calls, 1);
            assert_int_equal(t->failed_rc, code);
            /* its own writes are gone; its failure record is kept */
            assert_false(key_present(f->st, key));
            job_key(key, sizeof key, "failed", i);
            assert_true(key_present(f->st, key));
        } else {
            assert_int_equal(t->job.status, PM_OK);
            assert_int_equal(t->failed_calls, 0);
            assert_true(key_present(f->st, key));
            job_key(key, sizeof key, "failed", i);
            assert_false(key_present(f->st, key));
        }
    }
    /* the failed job's counter step was rolled back with it, or never taken: no gap */
    for (int i = 0; i < N; i++)
        if (i != BAD)
            assert_int_equal(f->jobs[i].id, (uint64_t)(i < BAD ? i + 1 : i));
    MDB_txn *txn;
    uint64_t next = 0;
    assert_int_equal(store_read_begin(f->st, &txn), PM_OK);
    assert_int_equal(store_meta_get_u64(txn, f->st, "seq.test", &next), PM_OK);
    store_read_end(f->st);
    assert_int_equal(next, N);
}

static void test_batch_with_job_failing_after_writes(void **state)
{
    batch_with_failing_job(*state, 0, PM_E_INVALID_ARGUMENT);
}

static void test_batch_with_job_failing_before_writing(void **state)
{
    batch_with_failing_job(*state, 1, PM_E_INVALID_ARGUMENT);
}

static void test_batch_with_job_failing_in_storage(void **state)
{
    batch_with_failing_job(*state, 1, PM_E_STORAGE);
}

/* Many jobs, from the loop and from other threads at once: every one is answered once,
 * on the loop thread, each thread's jobs in the order that thread queued them. */
struct submitter {
    fx *f;
    int first, n;
};

static void *submit_thread(void *arg)
{
    struct submitter *s = arg;
    for (int i = 0; i < s->n; i++)
        store_submit(s->f->st, &s->f->jobs[s->first + i].job);
    return NULL;
}

static void test_many_jobs_many_threads(void **state)
{
    fx *f = *state;
    enum { THREADS = 4, PER = 50, N = THREADS * PER };
    start_writer(f, 0);
    for (int i = 0; i < N; i++)
        job_init(f, i);
    pthread_t th[THREADS];
    struct submitter sub[THREADS];
    for (int k = 0; k < THREADS; k++) {
        sub[k] = (struct submitter){f, k * PER, PER};
        assert_int_equal(pthread_create(&th[k], NULL, submit_thread, &sub[k]), 0);
    }
    for (int k = 0; k < THREADS; k++)
        assert_int_equal(pthread_join(th[k], NULL), 0);
    run_until_done(f, N);

    int last[THREADS];
    for (int k = 0; k < THREADS; k++)
        last[k] = -1;
    for (int i = 0; i < N; i++) {
        int idx = f->order[i];
        int k = idx / PER;
        assert_true(idx > last[k]);
        last[k] = idx;
    }
    uint64_t ids_seen[N + 1];
    memset(ids_seen, 0, sizeof ids_seen);
    for (int i = 0; i < N; i++) {
        tjob *t = &f->jobs[i];
        assert_int_equal(t->done_calls, 1);
        assert_true(t->done_on_loop);
        assert_int_equal(t->job.committed, 1);
        assert_int_equal(t->job.status, PM_OK);
        /* the counter hands out 1..N, each once */
        assert_true(t->id >= 1 && t->id <= N);
        assert_int_equal(ids_seen[t->id], 0);
        ids_seen[t->id] = 1;
    }
    store_stats s;
    store_get_stats(f->st, &s);
    assert_int_equal(s.jobs, N);
    assert_true(s.commits >= 1 && s.commits <= N);
}

/* One connection's pile of jobs fills a batch only up to its share: the others' jobs and
 * the server's own go in the first batch beside it, its own follow in later batches, and
 * every connection's jobs are still answered in the order it queued them. */
static void test_fair_share(void **state)
{
    fx *f = *state;
    enum { FLOOD = 2 * STORE_FAIR_SHARE + 8, OTHER = 2, SERVER = 3 };
    enum { N = FLOOD + OTHER + SERVER };
    start_writer(f, 100); /* everything below queues before the first batch is taken */
    for (int i = 0; i < N; i++) {
        tjob *t = job_init(f, i);
        t->job.owner = i < FLOOD ? 7 : i < FLOOD + OTHER ? 9 : 0;
        store_submit(f->st, &t->job);
    }
    run_until_done(f, N);
    int pos = 0;
    for (int i = 0; i < STORE_FAIR_SHARE; i++) /* batch 1: the flood's share ... */
        assert_int_equal(f->order[pos++], i);
    for (int i = FLOOD; i < N; i++) /* ... and everyone else's, the server's included */
        assert_int_equal(f->order[pos++], i);
    for (int i = STORE_FAIR_SHARE; i < FLOOD; i++) /* then the rest of the flood, in order */
        assert_int_equal(f->order[pos++], i);
    store_stats s;
    store_get_stats(f->st, &s);
    assert_int_equal(s.commits, 3);
    assert_int_equal(s.max_batch, STORE_FAIR_SHARE + OTHER + SERVER);
    for (int i = 0; i < N; i++) {
        assert_int_equal(f->jobs[i].job.status, PM_OK);
        assert_int_equal(f->jobs[i].job.committed, 1);
    }
}

/* Stopping the writer runs what is queued and answers it before returning. */
static void test_stop_drains_queue(void **state)
{
    fx *f = *state;
    enum { N = 10 };
    start_writer(f, 100);
    for (int i = 0; i < N; i++)
        store_submit(f->st, &job_init(f, i)->job);
    store_writer_stop(f->st);
    f->writer_started = 0;
    assert_int_equal(f->ndone, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(f->order[i], i);
        assert_int_equal(f->jobs[i].job.committed, 1);
        assert_true(f->jobs[i].done_on_loop);
        char key[32];
        job_key(key, sizeof key, "job", i);
        assert_true(key_present(f->st, key));
    }
}

/* ---- a full map ---- */

/* The map starts at 1 GiB, which a unit test should not fill. Before the writer starts
 * (no transaction open) the environment's map is shrunk to 2 MiB through the store's own
 * MDB_env; the store's recorded size still says 1 GiB, so growing doubles that. */
#define SMALL_MAP (2u << 20)

static void shrink_map(fx *f)
{
    assert_int_equal(mdb_env_set_mapsize(store_env(f->st), SMALL_MAP), 0);
    MDB_envinfo info;
    assert_int_equal(mdb_env_info(store_env(f->st), &info), 0);
    assert_int_equal(info.me_mapsize, SMALL_MAP);
}

static void test_map_full_grows_and_redoes(void **state)
{
    fx *f = *state;
    shrink_map(f);
    uint64_t before = store_map_size(f->st);
    start_writer(f, 300);
    /* small, big (8 x 512 KiB: twice the map), small: one batch */
    tjob *a = job_init(f, 0);
    tjob *big = job_init(f, 1);
    big->nbig = 8;
    big->big_len = 512 * 1024;
    tjob *c = job_init(f, 2);
    f->expect_keys[f->nexpect++] = 0;
    f->expect_keys[f->nexpect++] = 1;
    f->expect_keys[f->nexpect++] = 2;
    store_submit(f->st, &a->job);
    store_submit(f->st, &big->job);
    store_submit(f->st, &c->job);
    run_until_done(f, 3);

    store_stats s;
    store_get_stats(f->st, &s);
    assert_int_equal(s.map_grows, 1);
    assert_int_equal(s.commits, 1);
    assert_int_equal(s.failed_commits, 0);
    assert_true(store_map_size(f->st) > before);
    assert_int_equal(store_map_size(f->st), before * 2);
    MDB_envinfo info;
    assert_int_equal(mdb_env_info(store_env(f->st), &info), 0);
    assert_int_equal(info.me_mapsize, store_map_size(f->st));

    /* the job before the big one ran again too: the whole batch was redone */
    assert_int_equal(a->runs, 2);
    assert_int_equal(big->runs, 2);
    assert_int_equal(c->runs, 1); /* the first attempt stopped at the big one */
    for (int i = 0; i < 3; i++) {
        tjob *t = &f->jobs[i];
        assert_int_equal(t->job.status, PM_OK);
        assert_int_equal(t->job.committed, 1);
        assert_int_equal(t->done_calls, 1);
        assert_int_equal(t->failed_calls, 0);
        assert_int_equal(f->order[i], i);
        assert_true(t->saw_whole_batch);
        /* counters advanced once per job, not once per run */
        assert_int_equal(t->id, (uint64_t)i + 1);
    }
    MDB_txn *txn;
    assert_int_equal(store_read_begin(f->st, &txn), PM_OK);
    uint64_t next = 0;
    assert_int_equal(store_meta_get_u64(txn, f->st, "seq.test", &next), PM_OK);
    assert_int_equal(next, 4);
    for (int i = 0; i < 8; i++) {
        char bk[32];
        snprintf(bk, sizeof bk, "big-%03d-%03d", 1, i);
        MDB_val k = {strlen(bk), bk}, v;
        assert_int_equal(mdb_get(txn, store_dbi(f->st, DB_META), &k, &v), 0);
        assert_int_equal(v.mv_size, 512 * 1024);
        const uint8_t *p = v.mv_data;
        assert_int_equal(p[0], 0x40 + i);
        assert_int_equal(p[v.mv_size - 1], 0x40 + i);
    }
    store_read_end(f->st);
}

/* A failed job whose failure record does not fit: failed() reports the full map, the
 * batch is redone in a bigger map, and the record is kept the second time. */
static void test_map_full_in_failed_callback(void **state)
{
    fx *f = *state;
    shrink_map(f);
    start_writer(f, 300);
    tjob *ok = job_init(f, 0);
    tjob *bad = job_init(f, 1);
    bad->fail = PM_E_CONFLICT;
    bad->fail_len = 3u << 20; /* more than the whole map */
    f->expect_keys[f->nexpect++] = 0;
    store_submit(f->st, &ok->job);
    store_submit(f->st, &bad->job);
    run_until_done(f, 2);

    store_stats s;
    store_get_stats(f->st, &s);
    assert_int_equal(s.map_grows, 1);
    assert_int_equal(s.commits, 1);
    /* run once in the batch's transaction (undone: bad failed after writing), then
     * nested, where bad's failure record fills the map, then nested in a bigger map */
    assert_int_equal(s.isolated, 1);
    assert_int_equal(ok->runs, 3);
    assert_int_equal(bad->runs, 3);
    assert_int_equal(bad->failed_calls, 2);
    assert_int_equal(bad->failed_rc, PM_E_CONFLICT);
    assert_int_equal(ok->job.status, PM_OK);
    assert_int_equal(bad->job.status, PM_E_CONFLICT);
    assert_int_equal(ok->job.committed, 1);
    assert_int_equal(bad->job.committed, 1);
    assert_true(key_present(f->st, "job-000"));
    assert_false(key_present(f->st, "job-001"));
    MDB_txn *txn;
    assert_int_equal(store_read_begin(f->st, &txn), PM_OK);
    MDB_val k = {strlen("failed-001"), "failed-001"}, v;
    assert_int_equal(mdb_get(txn, store_dbi(f->st, DB_META), &k, &v), 0);
    assert_int_equal(v.mv_size, 3u << 20);
    store_read_end(f->st);
}

/* ---- helpers, without the writer ---- */

static void test_next_id_and_meta(void **state)
{
    fx *f = *state;
    MDB_txn *txn;
    uint64_t id;
    assert_int_equal(store_txn_begin(f->st, 1, &txn), PM_OK);
    assert_int_equal(store_next_id(txn, f->st, "seq.patient", 10001, &id), PM_OK);
    assert_int_equal(id, 10001);
    assert_int_equal(store_next_id(txn, f->st, "seq.patient", 10001, &id), PM_OK);
    assert_int_equal(id, 10002);
    /* counters are independent; "first" only matters the first time */
    assert_int_equal(store_next_id(txn, f->st, "seq.account", 1, &id), PM_OK);
    assert_int_equal(id, 1);
    assert_int_equal(store_next_id(txn, f->st, "seq.patient", 1, &id), PM_OK);
    assert_int_equal(id, 10003);
    assert_int_equal(store_meta_put_str(txn, f->st, "practice.name", "Cabinet Núñez"), PM_OK);
    assert_int_equal(store_txn_commit(txn), PM_OK);

    /* an aborted transaction gives nothing away */
    assert_int_equal(store_txn_begin(f->st, 1, &txn), PM_OK);
    assert_int_equal(store_next_id(txn, f->st, "seq.patient", 10001, &id), PM_OK);
    assert_int_equal(id, 10004);
    mdb_txn_abort(txn);

    /* and the counters survive closing and opening again */
    store_close(f->st);
    f->st = NULL;
    assert_int_equal(store_open(&f->st, f->dir, STORE_OPEN), PM_OK);
    assert_int_equal(store_txn_begin(f->st, 1, &txn), PM_OK);
    assert_int_equal(store_next_id(txn, f->st, "seq.patient", 10001, &id), PM_OK);
    assert_int_equal(id, 10004);
    char name[64];
    assert_int_equal(store_meta_get_str(txn, f->st, "practice.name", name, sizeof name), PM_OK);
    assert_string_equal(name, "Cabinet Núñez");
    /* too small a buffer is an error, not a truncation */
    assert_int_not_equal(store_meta_get_str(txn, f->st, "practice.name", name, 5), PM_OK);
    assert_int_equal(store_meta_get_str(txn, f->st, "nothing", name, sizeof name), PM_E_NOT_FOUND);
    uint64_t u;
    assert_int_equal(store_meta_get_u64(txn, f->st, "nothing", &u), PM_E_NOT_FOUND);
    /* a value that is not 8 bytes is not a u64 */
    assert_int_equal(store_meta_get_u64(txn, f->st, "practice.name", &u), PM_E_INTERNAL);
    assert_int_equal(store_txn_commit(txn), PM_OK);
}

static void test_pb_round_trip(void **state)
{
    fx *f = *state;
    Pm__Patient p = PM__PATIENT__INIT;
    Pm__Phone ph = PM__PHONE__INIT;
    Pm__Phone *phones[1] = {&ph};
    p.mrn = "100016";
    p.version = 3;
    p.first_name = "José";
    p.last_name = "Núñez";
    p.date_of_birth = "1980-02-29";
    ph.number = "+34 612 345 678";
    ph.kind = PM__PHONE_KIND__MOBILE;
    p.phones = phones;
    p.n_phones = 1;
    p.created_at = 1700000000;

    MDB_txn *txn;
    MDB_dbi dbi = store_dbi(f->st, DB_PATIENTS);
    uint8_t k[8];
    assert_int_equal(store_txn_begin(f->st, 1, &txn), PM_OK);
    for (uint64_t id = 10001; id <= 10003; id++) {
        pm_put_u64(k, id);
        assert_int_equal(store_put_pb(txn, dbi, k, 8, &p.base), PM_OK);
    }
    /* something that does not decode as a patient */
    pm_put_u64(k, 99);
    assert_int_equal(store_put(txn, dbi, k, 8, "\xff\xff\xff\xff", 4), PM_OK);
    assert_int_equal(store_txn_commit(txn), PM_OK);

    pm_arena a;
    pm_arena_init(&a, 0);
    assert_int_equal(store_read_begin(f->st, &txn), PM_OK);
    void *m = NULL;
    pm_put_u64(k, 10002);
    assert_int_equal(store_get_pb(txn, dbi, k, 8, &pm__patient__descriptor, &a, &m), PM_OK);
    Pm__Patient *back = m;
    assert_non_null(back);
    assert_string_equal(back->mrn, "100016");
    assert_int_equal(back->version, 3);
    assert_string_equal(back->first_name, "José");
    assert_string_equal(back->last_name, "Núñez");
    assert_int_equal(back->n_phones, 1);
    assert_string_equal(back->phones[0]->number, "+34 612 345 678");
    assert_int_equal(back->phones[0]->kind, PM__PHONE_KIND__MOBILE);
    assert_int_equal(back->created_at, 1700000000);
    pm_put_u64(k, 10004);
    assert_int_equal(store_get_pb(txn, dbi, k, 8, &pm__patient__descriptor, &a, &m),
                     PM_E_NOT_FOUND);
    pm_put_u64(k, 99);
    assert_int_equal(store_get_pb(txn, dbi, k, 8, &pm__patient__descriptor, &a, &m), PM_E_INTERNAL);
    uint64_t last = 0;
    assert_int_equal(store_last_u64(txn, dbi, &last), PM_OK);
    assert_int_equal(last, 10003);
    assert_int_equal(store_last_u64(txn, store_dbi(f->st, DB_EVENTS), &last), PM_OK);
    assert_int_equal(last, 0);
    store_read_end(f->st);
    /* the decoded copy lives in the arena, past the transaction */
    assert_string_equal(back->first_name, "José");
    pm_arena_free(&a);

    /* deleting */
    assert_int_equal(store_txn_begin(f->st, 1, &txn), PM_OK);
    pm_put_u64(k, 10003);
    assert_int_equal(store_del(txn, dbi, k, 8), PM_OK);
    assert_int_equal(store_del(txn, dbi, k, 8), PM_E_NOT_FOUND);
    assert_int_equal(store_last_u64(txn, dbi, &last), PM_OK);
    assert_int_equal(last, 10002);
    assert_int_equal(store_txn_commit(txn), PM_OK);
}

/* Opening: an empty directory is no practice; read-only sees what was committed. */
static void test_open_modes(void **state)
{
    fx *f = *state;
    MDB_txn *txn;
    assert_int_equal(store_txn_begin(f->st, 1, &txn), PM_OK);
    assert_int_equal(store_meta_put_str(txn, f->st, "practice.name", "Test"), PM_OK);
    assert_int_equal(store_txn_commit(txn), PM_OK);

    store *ro = NULL;
    assert_int_equal(store_open(&ro, f->dir, STORE_READONLY), PM_OK);
    char name[16];
    assert_int_equal(store_txn_begin(ro, 0, &txn), PM_OK);
    assert_int_equal(store_meta_get_str(txn, ro, "practice.name", name, sizeof name), PM_OK);
    assert_string_equal(name, "Test");
    uint64_t schema = 0;
    assert_int_equal(store_meta_get_u64(txn, ro, "schema", &schema), PM_OK);
    assert_int_equal(schema, STORE_SCHEMA_VERSION);
    mdb_txn_abort(txn);
    store_close(ro);

    tu_mkdtemp(f->extra_dir, sizeof f->extra_dir, "store-empty");
    store *st = NULL;
    assert_int_equal(store_open(&st, f->extra_dir, STORE_OPEN), PM_E_CONFIG);
    assert_null(st);
    assert_int_equal(store_open(&st, f->extra_dir, STORE_READONLY), PM_E_CONFIG);
    assert_null(st);
}

/* ---- migrations ---- */

static void put_raw(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kl, const void *v, size_t vl)
{
    MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
    assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
}

/* name 0 [kind] a [b]: index keys as schema 1 (kind 0) and schema 2 wrote them */
static size_t old_key(uint8_t *k, const char *name, int kind, uint64_t a, int two, uint64_t b)
{
    size_t n = strlen(name) + 1;
    memcpy(k, name, n);
    if (kind)
        k[n++] = (uint8_t)kind;
    pm_put_u64(k + n, a);
    if (two)
        pm_put_u64(k + n + 8, b);
    return n + (two ? 16 : 8);
}

enum { PATIENTS = 300, APPTS = 20, AUDITS = 30 };
static const struct {
    const char *provider, *location;
} old_appts[] = {{"dr-a", "north"}, {"", "south"}, {"dr-b", "south"}};

/* A store as an older practiced left it, in f->extra_dir: every database of today's (made
 * by store_open, so that only the schema can tell), then the older layout. Schema 1: no
 * records; appt_pat and audit_rec instead. Schema 2: records. Both: the provider index's
 * values without the location, no walk-in for anyone (provider "") in it, and appt_loc. */
static void make_old_store(fx *f, int schema)
{
    tu_mkdtemp(f->extra_dir, sizeof f->extra_dir, "store-old");
    store *st;
    assert_int_equal(store_open(&st, f->extra_dir, STORE_CREATE), PM_OK);
    store_close(st);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, pat, rec, appts, prov, loc;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
    assert_int_equal(mdb_env_open(env, f->extra_dir, MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    uint8_t k[64], v[9];
    pm_put_u64(v, (uint64_t)schema);
    put_raw(txn, meta, "schema", 6, v, 8);
    assert_int_equal(mdb_dbi_open(txn, "records", 0, &rec), 0);
    if (schema == 1) {
        assert_int_equal(mdb_drop(txn, rec, 1), 0);
        assert_int_equal(mdb_dbi_open(txn, "appt_pat", MDB_CREATE, &pat), 0);
        assert_int_equal(mdb_dbi_open(txn, "audit_rec", MDB_CREATE, &rec), 0);
    } else {
        pat = rec;
    }
    int kind_a = schema == 1 ? 0 : REC_APPT, kind_l = schema == 1 ? 0 : REC_AUDIT;
    for (int p = 0; p < PATIENTS; p++) {
        char mrn[16];
        snprintf(mrn, sizeof mrn, "MRN%05d", p);
        for (int i = 0; i < APPTS; i++) {
            pm_put_u64(v, 5000 + (uint64_t)i);
            v[8] = (uint8_t)(i % 3);
            put_raw(txn, pat, k,
                    old_key(k, mrn, kind_a, 4000 + (uint64_t)i, 1, (uint64_t)(p * APPTS + i)), v,
                    9);
        }
        for (int i = 0; i < AUDITS; i++)
            put_raw(txn, rec, k, old_key(k, mrn, kind_l, (uint64_t)(i * PATIENTS + p + 1), 0, 0),
                    "", 0);
    }
    put_raw(txn, rec, k, old_key(k, "setup", kind_l, 7, 0, 0), "", 0);
    assert_int_equal(mdb_dbi_open(txn, "appts", 0, &appts), 0);
    assert_int_equal(mdb_dbi_open(txn, "appt_prov", 0, &prov), 0);
    assert_int_equal(mdb_dbi_open(txn, "appt_loc", MDB_CREATE, &loc), 0);
    for (int i = 0; i < 3; i++) {
        Pm__Appointment a = PM__APPOINTMENT__INIT;
        a.id = 900001 + (uint64_t)i;
        a.provider = (char *)old_appts[i].provider;
        a.location = (char *)old_appts[i].location;
        a.patient_mrn = "MRN00001";
        a.start = 7000 + i;
        a.end = 8000 + i;
        a.status = PM__APPOINTMENT_STATUS__BOOKED;
        uint8_t buf[256];
        size_t len = pm__appointment__pack(&a, buf);
        uint8_t ik[8];
        pm_put_u64(ik, a.id);
        put_raw(txn, appts, ik, 8, buf, len);
        pm_put_u64(v, (uint64_t)a.end);
        v[8] = (uint8_t)a.status;
        if (*a.provider)
            put_raw(txn, prov, k, old_key(k, a.provider, 0, (uint64_t)a.start, 1, a.id), v, 9);
        put_raw(txn, loc, k, old_key(k, a.location, 0, (uint64_t)a.start, 1, a.id), v, 9);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Opens the old store for serving, with a map only as big as its file so that the
 * migration has to grow it, and checks it is of today's layout; returns it open. */
static store *open_migrated(fx *f)
{
    store *st = NULL;
    setenv("PRACTICED_TEST_MAP_KIB", "1", 1);
    int rc = store_open(&st, f->extra_dir, STORE_OPEN);
    unsetenv("PRACTICED_TEST_MAP_KIB");
    assert_int_equal(rc, PM_OK);
    MDB_txn *txn;
    assert_int_equal(store_txn_begin(st, 0, &txn), PM_OK);
    uint64_t schema = 0;
    assert_int_equal(store_meta_get_u64(txn, st, "schema", &schema), PM_OK);
    assert_int_equal(schema, STORE_SCHEMA_VERSION);
    MDB_dbi gone;
    assert_int_equal(mdb_dbi_open(txn, "appt_pat", 0, &gone), MDB_NOTFOUND);
    assert_int_equal(mdb_dbi_open(txn, "audit_rec", 0, &gone), MDB_NOTFOUND);
    assert_int_equal(mdb_dbi_open(txn, "appt_loc", 0, &gone), MDB_NOTFOUND);

    /* the provider index names the location; the walk-in for anyone is under "" */
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, store_dbi(st, DB_APPT_PROV), &cur), 0);
    MDB_val key, val;
    static const int order[3] = {1, 0, 2}; /* "", "dr-a", "dr-b" */
    int g = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    for (int i = 0; i < 3; i++, g = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        assert_int_equal(g, 0);
        int j = order[i];
        size_t nl = strlen(old_appts[j].provider), ll = strlen(old_appts[j].location);
        assert_int_equal(key.mv_size, nl + 17);
        assert_memory_equal(key.mv_data, old_appts[j].provider, nl + 1);
        assert_int_equal(pm_get_u64((uint8_t *)key.mv_data + nl + 1), 7000 + j);
        assert_int_equal(pm_get_u64((uint8_t *)key.mv_data + nl + 9), 900001 + j);
        assert_int_equal(val.mv_size, 9 + ll);
        assert_int_equal(pm_get_u64(val.mv_data), 8000 + j);
        assert_int_equal(((uint8_t *)val.mv_data)[8], PM__APPOINTMENT_STATUS__BOOKED);
        assert_memory_equal((uint8_t *)val.mv_data + 9, old_appts[j].location, ll);
    }
    assert_int_equal(g, MDB_NOTFOUND);
    mdb_cursor_close(cur);

    /* records: one patient's entries in order, appointments (start, id -> end, status) then
     * the audit entries naming it, then the next patient's */
    MDB_stat ms;
    assert_int_equal(mdb_stat(txn, store_dbi(st, DB_RECORDS), &ms), 0);
    assert_int_equal(ms.ms_entries, PATIENTS * (APPTS + AUDITS) + 1);
    assert_int_equal(mdb_cursor_open(txn, store_dbi(st, DB_RECORDS), &cur), 0);
    uint8_t k[64];
    size_t pl = store_name_prefix(k, "MRN00007", 40, REC_APPT);
    key = (MDB_val){pl, k};
    g = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    for (int i = 0; i < APPTS + AUDITS; i++, g = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        assert_int_equal(g, 0);
        const uint8_t *kp = key.mv_data;
        assert_memory_equal(kp, "MRN00007", 9);
        if (i < APPTS) {
            assert_int_equal(kp[9], REC_APPT);
            assert_int_equal(key.mv_size, 26);
            assert_int_equal(pm_get_u64(kp + 10), 4000 + (uint64_t)i);
            assert_int_equal(pm_get_u64(kp + 18), 7 * APPTS + (uint64_t)i);
            assert_int_equal(val.mv_size, 9);
            assert_int_equal(pm_get_u64(val.mv_data), 5000 + (uint64_t)i);
            assert_int_equal(((uint8_t *)val.mv_data)[8], i % 3);
        } else {
            assert_int_equal(kp[9], REC_AUDIT);
            assert_int_equal(key.mv_size, 18);
            assert_int_equal(pm_get_u64(kp + 10), (uint64_t)((i - APPTS) * PATIENTS + 7 + 1));
            assert_int_equal(val.mv_size, 0);
        }
    }
    assert_int_equal(g, 0);
    assert_memory_equal(key.mv_data, "MRN00008", 9);
    pl = store_name_prefix(k, "setup", 40, REC_AUDIT);
    pm_put_u64(k + pl, 7);
    key = (MDB_val){pl + 8, k};
    assert_int_equal(mdb_cursor_get(cur, &key, &val, MDB_SET), 0);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    store_stats stats;
    store_get_stats(st, &stats);
    assert_true(stats.map_grows >= 1);
    return st;
}

/* Schema 1 (a patient's appointments in appt_pat, the audit index in audit_rec): the
 * entries move into records, each kind after the name; the provider index is written
 * again; the old databases go. Once done, it opens read-only as any other. */
static void test_schema1_migrates(void **state)
{
    fx *f = *state;
    make_old_store(f, 1);
    store *st = open_migrated(f);
    store_close(st);
    assert_int_equal(store_open(&st, f->extra_dir, STORE_READONLY), PM_OK);
    store_close(st);
}

/* Schema 2 (records already, the provider index without locations): refused read-only,
 * which only the schema can tell here (every database of today's is there); opened for
 * serving, the provider index is written again and appt_loc goes. */
static void test_schema2_migrates(void **state)
{
    fx *f = *state;
    make_old_store(f, 2);
    store *st = NULL;
    assert_int_equal(store_open(&st, f->extra_dir, STORE_READONLY), PM_E_CONFIG);
    assert_null(st);
    st = open_migrated(f);
    store_close(st);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_batch_with_job_failing_after_writes),
        T(test_batch_with_job_failing_before_writing),
        T(test_batch_with_job_failing_in_storage),
        T(test_many_jobs_many_threads),
        T(test_stop_drains_queue),
        T(test_fair_share),
        T(test_map_full_grows_and_redoes),
        T(test_map_full_in_failed_callback),
        T(test_next_id_and_meta),
        T(test_pb_round_trip),
        T(test_open_modes),
        T(test_schema1_migrates),
        T(test_schema2_migrates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
