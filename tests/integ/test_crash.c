/* The crash test: clients write concurrently and record every answer they got; the
 * server is killed with SIGKILL at a random moment; after each restart every
 * acknowledged write is there, and `practiced check` finds the data consistent.
 *
 * PM_CRASH_ROUNDS sets the number of rounds (default 20; the long mode is 500). */
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
#include <time.h>
#include <unistd.h>

#define WRITERS   4
#define MAX_ACKED 200000

struct acked {
    char mrn[24];
    char last[32];
    uint32_t version;
    char notes[16];
};

static struct acked *acked;
static size_t nacked;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static ts_server S;
static uint8_t token[32];

struct writer {
    int id;
    int round;
    unsigned seed;
};

static size_t record(const char *mrn, const char *last, uint32_t version, const char *notes)
{
    pthread_mutex_lock(&mu);
    size_t i = nacked < MAX_ACKED ? nacked++ : MAX_ACKED - 1;
    snprintf(acked[i].mrn, sizeof acked[i].mrn, "%s", mrn);
    snprintf(acked[i].last, sizeof acked[i].last, "%s", last);
    snprintf(acked[i].notes, sizeof acked[i].notes, "%s", notes);
    acked[i].version = version;
    pthread_mutex_unlock(&mu);
    return i;
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    pc_opts o = {
        .host = "127.0.0.1", .port = S.port, .ca_file = S.ca, .retries = -1, .timeout_ms = 20000};
    pc_client *c = pc_new(&o);
    pc_set_token(c, token, 32);
    if (pc_connect(c) != PM_OK) {
        pc_free(c);
        return NULL;
    }
    pm_arena a;
    pm_arena_init(&a, 0);
    size_t mine[64];
    size_t nmine = 0;
    for (int i = 0;; i++) {
        int rc;
        if (nmine && rand_r(&w->seed) % 3 == 0) {
            /* update one of ours from the version we were told */
            size_t k = mine[rand_r(&w->seed) % nmine];
            pthread_mutex_lock(&mu);
            struct acked cur = acked[k];
            pthread_mutex_unlock(&mu);
            Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_UPDATE_PATIENT), *resp = NULL;
            Pm__UpdatePatient *u = pm_msg_new(&a, &pm__update_patient__descriptor);
            Pm__Patient *p = pm_msg_new(&a, &pm__patient__descriptor);
            char notes[16];
            snprintf(notes, sizeof notes, "n%d", i);
            p->mrn = cur.mrn;
            p->version = cur.version;
            p->first_name = "Crash";
            p->last_name = cur.last;
            p->date_of_birth = "1977-07-17";
            p->notes = notes;
            u->patient = p;
            e->update_patient = u;
            rc = pc_call(c, e, &a, &resp);
            if (rc == PM_OK) {
                pthread_mutex_lock(&mu);
                acked[k].version = resp->patient_ok->patient->version;
                snprintf(acked[k].notes, sizeof acked[k].notes, "%s", notes);
                pthread_mutex_unlock(&mu);
            }
        } else {
            char last[32];
            snprintf(last, sizeof last, "R%dW%dN%d", w->round, w->id, i);
            Pm__Patient *p;
            rc = ts_create_patient(c, &a, "Crash", last, "1977-07-17", "+1 555 0100", &p);
            if (rc == PM_OK) {
                size_t k = record(p->mrn, last, p->version, "");
                if (nmine < 64)
                    mine[nmine++] = k;
            }
        }
        pm_arena_free(&a);
        if (rc != PM_OK && rc != PM_E_CONFLICT)
            break; /* the server is gone */
    }
    pc_free(c);
    return NULL;
}

static void verify_one(pc_client *c, pm_arena *a, size_t i, int round, size_t *lost)
{
    Pm__Patient *p;
    int rc = ts_get_patient(c, a, acked[i].mrn, &p);
    if (rc != PM_OK) {
        print_error("round %d: acknowledged patient %s is missing (%s)\n", round, acked[i].mrn,
                    pc_last_error(c));
        (*lost)++;
    } else {
        assert_string_equal(p->last_name, acked[i].last);
        /* an update in flight at the kill may have committed unanswered: never older */
        assert_true(p->version >= acked[i].version);
        if (p->version == acked[i].version && acked[i].version > 1)
            assert_string_equal(p->notes, acked[i].notes);
    }
    pm_arena_free(a);
}

/* Every write acknowledged in this round, and a sample of the earlier ones. */
static void verify_all(int round, size_t from, unsigned *seed)
{
    pc_client *c = pc_new(&(pc_opts){.host = "127.0.0.1", .port = S.port, .ca_file = S.ca});
    pc_set_token(c, token, 32);
    assert_int_equal(pc_connect(c), PM_OK);
    pm_arena a;
    pm_arena_init(&a, 0);
    size_t lost = 0;
    for (size_t i = from; i < nacked; i++)
        verify_one(c, &a, i, round, &lost);
    for (int k = 0; k < 300 && from > 0; k++)
        verify_one(c, &a, (size_t)rand_r(seed) % from, round, &lost);
    pc_free(c);
    assert_int_equal(lost, 0);
}

static void test_sigkill_rounds(void **state)
{
    (void)state;
    int rounds = getenv("PM_CRASH_ROUNDS") ? atoi(getenv("PM_CRASH_ROUNDS")) : 20;
    acked = calloc(MAX_ACKED, sizeof *acked);
    assert_non_null(acked);
    assert_int_equal(ts_init(&S, NULL), 0);
    assert_int_equal(ts_start(&S, NULL), 0);
    pc_client *m = ts_manager(&S);
    assert_non_null(m);
    memcpy(token, pc_token(m), 32);
    pc_free(m);
    unsigned seed = (unsigned)time(NULL);
    print_message("      seed %u, %d rounds\n", seed, rounds);
    for (int round = 1; round <= rounds; round++) {
        size_t before = nacked;
        struct writer w[WRITERS];
        pthread_t th[WRITERS];
        for (int i = 0; i < WRITERS; i++) {
            w[i] =
                (struct writer){.id = i, .round = round, .seed = seed + (unsigned)(round * 31 + i)};
            pthread_create(&th[i], NULL, writer_main, &w[i]);
        }
        usleep((useconds_t)(100000 + rand_r(&seed) % 500000));
        assert_int_equal(ts_stop(&S, SIGKILL), 128 + SIGKILL);
        for (int i = 0; i < WRITERS; i++)
            pthread_join(th[i], NULL);
        assert_int_equal(ts_start(&S, NULL), 0);
        verify_all(round, before, &seed);
        char out[4096];
        int rc = ts_sh(out, sizeof out, "%s check --data %s", ts_practiced(), S.dir);
        if (rc)
            print_error("round %d: practiced check:\n%s\n", round, out);
        assert_int_equal(rc, 0);
        print_message("      round %d: %zu acknowledged writes so far (+%zu), all present\n", round,
                      nacked, nacked - before);
    }
    assert_true(nacked > (size_t)rounds);
    assert_int_equal(ts_stop(&S, SIGTERM), 0);
    char out[4096];
    int rc = ts_sh(out, sizeof out, "%s check --data %s", ts_practiced(), S.dir);
    if (rc)
        print_error("%s\n", out);
    assert_int_equal(rc, 0);
    ts_cleanup(&S);
    free(acked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_rounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
