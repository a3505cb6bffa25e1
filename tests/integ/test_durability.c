/* Group commit, restarts, clean shutdown with requests in flight, and hot backup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"
#include "pm_err.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NTHREADS 10

static pthread_barrier_t barrier;

struct worker {
    ts_server *s;
    uint8_t token[32];
    pc_client *c;
    int stale_update; /* this one sends an update from a stale version */
    const char *mrn;  /* the patient it updates */
    int rc;
    char out_mrn[24];
    char name[32];
};

static pc_client *client_for(ts_server *s, const uint8_t token[32])
{
    pc_opts o = {.host = "127.0.0.1", .port = s->port, .ca_file = s->ca, .timeout_ms = 60000};
    pc_client *c = pc_new(&o);
    pc_set_token(c, token, 32);
    if (pc_connect(c) != PM_OK) {
        pc_free(c);
        return NULL;
    }
    return c;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pm_arena a;
    pm_arena_init(&a, 0);
    pthread_barrier_wait(&barrier);
    if (w->stale_update) {
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_UPDATE_PATIENT), *resp = NULL;
        Pm__UpdatePatient *u = pm_msg_new(&a, &pm__update_patient__descriptor);
        Pm__Patient *p = pm_msg_new(&a, &pm__patient__descriptor);
        p->mrn = (char *)w->mrn;
        p->version = 1; /* it is at 2 already */
        p->first_name = "Stale";
        p->last_name = "Writer";
        p->date_of_birth = "1950-05-05";
        u->patient = p;
        e->update_patient = u;
        w->rc = pc_call(w->c, e, &a, &resp);
    } else {
        Pm__Patient *p;
        w->rc = ts_create_patient(w->c, &a, "Batch", w->name, "1980-01-01", NULL, &p);
        if (w->rc == PM_OK)
            snprintf(w->out_mrn, sizeof w->out_mrn, "%s", p->mrn);
    }
    pm_arena_free(&a);
    return NULL;
}

static Pm__Stats *stats(pc_client *c, pm_arena *a)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_GET_STATS), *resp = NULL;
    e->get_stats = pm_msg_new(a, &pm__get_stats__descriptor);
    assert_int_equal(pc_call(c, e, a, &resp), PM_OK);
    return resp->stats;
}

/* Ten requests land in one batch; the one that fails (a stale update) fails alone and
 * the other nine are committed, answered and durable across a restart. */
static void test_group_commit_one_fails(void **state)
{
    (void)state;
    ts_server s;
    assert_int_equal(ts_init(&s, NULL), 0);
    assert_int_equal(ts_start(&s, "--writer-delay-ms 300"), 0);
    pc_client *m = ts_manager(&s);
    assert_non_null(m);
    uint8_t token[32];
    memcpy(token, pc_token(m), 32);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Patient *p, *q;
    assert_int_equal(ts_create_patient(m, &a, "Target", "Patient", "1950-05-05", NULL, &p), PM_OK);
    assert_int_equal(ts_get_patient(m, &a, p->mrn, &q), PM_OK);
    q->notes = "second version";
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_UPDATE_PATIENT), *resp = NULL;
    e->update_patient = pm_msg_new(&a, &pm__update_patient__descriptor);
    e->update_patient->patient = q;
    assert_int_equal(pc_call(m, e, &a, &resp), PM_OK);
    uint64_t commits_before = stats(m, &a)->commits;

    struct worker w[NTHREADS];
    pthread_t th[NTHREADS];
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].s = &s;
        w[i].c = client_for(&s, token);
        assert_non_null(w[i].c);
        w[i].stale_update = i == 4;
        w[i].mrn = p->mrn;
        snprintf(w[i].name, sizeof w[i].name, "Worker%02d", i);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < NTHREADS; i++) {
        if (i == 4)
            assert_int_equal(w[i].rc, PM_E_CONFLICT);
        else
            assert_int_equal(w[i].rc, PM_OK);
        pc_free(w[i].c);
    }
    Pm__Stats *st = stats(m, &a);
    /* ten requests, far fewer commits: they were batched */
    print_message("      10 concurrent writes took %llu commit(s); largest batch %llu\n",
                  (unsigned long long)(st->commits - commits_before),
                  (unsigned long long)st->max_batch);
    assert_true(st->max_batch >= 5);
    assert_true(st->commits - commits_before <= 4);
    pc_free(m);

    /* a restart keeps every committed write, the failed one changed nothing */
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    assert_int_equal(ts_start(&s, NULL), 0);
    m = client_for(&s, token); /* the session survives the restart too */
    assert_non_null(m);
    for (int i = 0; i < NTHREADS; i++) {
        if (i == 4)
            continue;
        Pm__Patient *r;
        assert_int_equal(ts_get_patient(m, &a, w[i].out_mrn, &r), PM_OK);
        assert_string_equal(r->last_name, w[i].name);
    }
    assert_int_equal(ts_get_patient(m, &a, p->mrn, &q), PM_OK);
    assert_int_equal(q->version, 2);
    assert_string_equal(q->first_name, "Target");
    pc_free(m);
    pm_arena_free(&a);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    char out[2048];
    assert_int_equal(ts_sh(out, sizeof out, "%s check --data %s", ts_practiced(), s.dir), 0);
    assert_non_null(strstr(out, "patients: 10"));
    ts_cleanup(&s);
}

/* SIGTERM while writes are waiting for their commit: each is answered, then the server
 * closes connections and exits 0. */
static void test_sigterm_answers_in_flight(void **state)
{
    (void)state;
    ts_server s;
    assert_int_equal(ts_init(&s, NULL), 0);
    assert_int_equal(ts_start(&s, "--writer-delay-ms 700"), 0);
    pc_client *m = ts_manager(&s);
    assert_non_null(m);
    uint8_t token[32];
    memcpy(token, pc_token(m), 32);
    pc_free(m);
    /* let the writer go idle so the next batch starts with its delay */
    usleep(800000);
    struct worker w[4];
    pthread_t th[4];
    pthread_barrier_init(&barrier, NULL, 4);
    for (int i = 0; i < 4; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].c = client_for(&s, token);
        assert_non_null(w[i].c);
        snprintf(w[i].name, sizeof w[i].name, "Inflight%d", i);
    }
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    usleep(300000); /* the requests are in the writer's queue now */
    kill(s.pid, SIGTERM);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(w[i].rc, PM_OK);
        pc_free(w[i].c);
    }
    assert_int_equal(ts_stop(&s, 0), 0); /* it is stopping already: wait for it */
    assert_true(ts_log_has(&s, "answering"));
    assert_true(ts_log_has(&s, "stopped"));
    assert_int_equal(ts_start(&s, NULL), 0);
    m = client_for(&s, token);
    assert_non_null(m);
    pm_arena a;
    pm_arena_init(&a, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ts_get_patient(m, &a, w[i].out_mrn, NULL), PM_OK);
    pm_arena_free(&a);
    pc_free(m);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    ts_cleanup(&s);
}

struct writer_loop {
    ts_server *s;
    uint8_t token[32];
    int stop; /* __atomic */
    int created;
};

static void *keep_writing(void *arg)
{
    struct writer_loop *wl = arg;
    pc_client *c = client_for(wl->s, wl->token);
    if (!c)
        return NULL;
    pm_arena a;
    pm_arena_init(&a, 0);
    while (!__atomic_load_n(&wl->stop, __ATOMIC_ACQUIRE)) {
        char last[32];
        snprintf(last, sizeof last, "Busy%d", wl->created);
        if (ts_create_patient(c, &a, "Hot", last, "1970-07-07", "555 0100", NULL) == PM_OK)
            wl->created++;
        pm_arena_free(&a);
    }
    pc_free(c);
    return NULL;
}

/* A backup taken while writes go on is consistent, checks clean and serves. */
static void test_hot_backup(void **state)
{
    (void)state;
    ts_server s;
    assert_int_equal(ts_init(&s, NULL), 0);
    assert_int_equal(ts_start(&s, NULL), 0);
    pc_client *m = ts_manager(&s);
    assert_non_null(m);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Patient *p;
    assert_int_equal(ts_create_patient(m, &a, "Before", "Backup", "1966-06-16", NULL, &p), PM_OK);
    char mrn[24];
    snprintf(mrn, sizeof mrn, "%s", p->mrn);
    struct writer_loop wl = {.s = &s};
    memcpy(wl.token, pc_token(m), 32);
    pthread_t th;
    pthread_create(&th, NULL, keep_writing, &wl);
    usleep(300000);
    char out[4096], bdir[240];
    snprintf(bdir, sizeof bdir, "%.200s/../backup", s.dir);
    int rc =
        ts_sh(out, sizeof out, "%s backup --data %s --out %s 2>&1", ts_practiced(), s.dir, bdir);
    usleep(200000);
    __atomic_store_n(&wl.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    assert_int_equal(rc, 0);
    assert_true(wl.created > 0);
    /* refuses to overwrite */
    assert_int_not_equal(
        ts_sh(out, sizeof out, "%s backup --data %s --out %s 2>&1", ts_practiced(), s.dir, bdir),
        0);
    assert_int_equal(ts_sh(out, sizeof out, "%s check --data %s", ts_practiced(), bdir), 0);
    assert_non_null(strstr(out, "ok"));
    /* the backup runs as a practice of its own */
    ts_server b = s;
    snprintf(b.dir, sizeof b.dir, "%s", bdir);
    snprintf(b.log, sizeof b.log, "%s.backup.log", s.dir);
    b.pid = 0;
    assert_int_equal(ts_start(&b, NULL), 0);
    pc_client *bm = client_for(&b, wl.token);
    assert_non_null(bm);
    assert_int_equal(ts_get_patient(bm, &a, mrn, NULL), PM_OK);
    pc_free(bm);
    assert_int_equal(ts_stop(&b, SIGTERM), 0);
    pc_free(m);
    pm_arena_free(&a);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    ts_sh(NULL, 0, "rm -f %s", b.log);
    ts_cleanup(&s);
}

/* A second server on the same data directory is refused. */
static void test_one_server_per_practice(void **state)
{
    (void)state;
    ts_server s;
    assert_int_equal(ts_init(&s, NULL), 0);
    assert_int_equal(ts_start(&s, NULL), 0);
    char out[2048];
    assert_int_not_equal(ts_sh(out, sizeof out, "%s serve --data %s --listen 127.0.0.1:0 2>&1",
                               ts_practiced(), s.dir),
                         0);
    assert_non_null(strstr(out, "already serving"));
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    ts_cleanup(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_commit_one_fails),
        cmocka_unit_test(test_sigterm_answers_in_flight),
        cmocka_unit_test(test_hot_backup),
        cmocka_unit_test(test_one_server_per_practice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
