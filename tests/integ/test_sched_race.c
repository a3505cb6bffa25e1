/* Fifty desks book the same provider at the same time for fifty different patients, all
 * at once: exactly one gets the slot, the other 49 are told SLOT_FULL naming the winner.
 * Once as the writes come, once with --writer-delay-ms so that they land in one batch
 * (one write transaction, each request in its own nested one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pm_time.h"
#include "sched_help.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NRACERS 50

static ts_server S;
static sh_clock K;
static pc_client *M, *R;
static uint8_t token[32]; /* the receptionist's session, shared by every racer */
static char mrns[NRACERS][24];
static pm_arena A;
static const char *DAY = "2026-06-01";

struct racer {
    int idx;
    pc_client *c;
    time_t start;
    int rc;
    uint64_t appt;
    uint64_t t_send_us, t_done_us;
    size_t nconflicts;
    uint64_t conflict0;
    char err[256];
};

static pthread_barrier_t barrier;

static int setup(void **state)
{
    (void)state;
    sh_tz();
    pm_arena_init(&A, 0);
    if (ts_init(&S, NULL))
        return -1;
    sh_clock_init(&K, &S, sh_local("2026-05-01", 8, 0));
    if (ts_start(&S, NULL))
        return -1;
    M = ts_manager(&S);
    R = M ? ts_user(&S, M, "racer", PM__ROLE__RECEPTIONIST) : NULL;
    if (!R)
        return -1;
    memcpy(token, pc_token(R), 32);
    pm_arena a;
    pm_arena_init(&a, 0);
    sh_block mornings = {0, 8 * 60, 12 * 60, NULL, 1, NULL};
    int rc = sh_location(M, &a, "main", "Main Street") ||
             sh_provider(M, &a, "dr-race", "Dr Race", "main") ||
             sh_visit_type(M, &a, "checkup", 30, 0, NULL) ||
             sh_template(M, &a, "dr-race", "2026-01-01", NULL, &mornings, 1, NULL, 0);
    for (int i = 0; i < NRACERS && !rc; i++) {
        char last[32];
        snprintf(last, sizeof last, "Racer%02d", i);
        rc = sh_patient(R, &a, "Quick", last, mrns[i]);
        pm_arena_free(&a);
    }
    if (rc)
        fprintf(stderr, "set-up: %s / %s\n", pc_last_error(M), pc_last_error(R));
    pm_arena_free(&a);
    return rc ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    pc_free(R);
    pc_free(M);
    int rc = ts_stop(&S, SIGTERM);
    if (rc == 0)
        ts_cleanup(&S);
    return rc;
}

static int test_done(void **state)
{
    (void)state;
    pm_arena_free(&A);
    return 0;
}

static void *racer_main(void *arg)
{
    struct racer *r = arg;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Book *b = sh_book_req(&a, mrns[r->idx], "dr-race", "checkup", r->start);
    pthread_barrier_wait(&barrier);
    r->t_send_us = pm_mono_us();
    Pm__Appointment *ap = NULL;
    r->rc = sh_book(r->c, &a, b, &ap);
    r->t_done_us = pm_mono_us();
    if (r->rc == PM_OK) {
        r->appt = ap->id;
    } else {
        snprintf(r->err, sizeof r->err, "%s", pc_last_error(r->c));
        const Pm__Error *e = pc_last_error_detail(r->c);
        if (e) {
            r->nconflicts = e->n_conflicts;
            r->conflict0 = e->n_conflicts ? e->conflicts[0] : 0;
        }
    }
    pm_arena_free(&a);
    return NULL;
}

static pc_client *racer_client(void)
{
    pc_opts o = {.host = "127.0.0.1",
                 .port = S.port,
                 .ca_file = S.ca,
                 .client_name = "racer",
                 .timeout_ms = 60000};
    pc_client *c = pc_new(&o);
    if (!c)
        return NULL;
    pc_set_token(c, token, 32);
    if (pc_connect(c) != PM_OK) {
        fprintf(stderr, "racer connect: %s\n", pc_last_error(c));
        pc_free(c);
        return NULL;
    }
    return c;
}

static void race(const char *label, time_t start)
{
    pm_arena *a = &A;
    static struct racer rs[NRACERS];
    pthread_t th[NRACERS];
    uint64_t c0 = pm_mono_us();
    for (int i = 0; i < NRACERS; i++) {
        memset(&rs[i], 0, sizeof rs[i]);
        rs[i].idx = i;
        rs[i].start = start;
        rs[i].c = racer_client();
        assert_non_null(rs[i].c);
    }
    uint64_t connect_us = pm_mono_us() - c0;
    Pm__Stats *st;
    SH_EXPECT(M, sh_stats(M, a, &st), PM_OK);
    uint64_t commits0 = st->commits, writes0 = st->committed_writes;
    pthread_barrier_init(&barrier, NULL, NRACERS + 1);
    for (int i = 0; i < NRACERS; i++)
        pthread_create(&th[i], NULL, racer_main, &rs[i]);
    uint64_t t0 = pm_mono_us();
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < NRACERS; i++)
        pthread_join(th[i], NULL);
    uint64_t wall_us = pm_mono_us() - t0;
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < NRACERS; i++) {
        pc_free(rs[i].c);
        rs[i].c = NULL;
    }

    int ok = 0, full = 0, winner = -1;
    uint64_t first_send = UINT64_MAX, last_send = 0, lat[NRACERS];
    for (int i = 0; i < NRACERS; i++) {
        if (rs[i].rc == PM_OK) {
            ok++;
            winner = i;
        } else if (rs[i].rc == PM_E_SLOT_FULL) {
            full++;
        } else {
            print_error("racer %d: %s: %s\n", i, pm_strerror(rs[i].rc), rs[i].err);
        }
        if (rs[i].t_send_us < first_send)
            first_send = rs[i].t_send_us;
        if (rs[i].t_send_us > last_send)
            last_send = rs[i].t_send_us;
        lat[i] = rs[i].t_done_us - rs[i].t_send_us;
    }
    ts_latency lt;
    ts_latency_of(lat, NRACERS, &lt);
    SH_EXPECT(M, sh_stats(M, a, &st), PM_OK);
    print_message("      %s: %d clients connected in %.1f ms; sends spread over %.2f ms; all "
                  "answered in %.1f ms\n",
                  label, NRACERS, (double)connect_us / 1000.0,
                  (double)(last_send - first_send) / 1000.0, (double)wall_us / 1000.0);
    print_message("      %s: answers p50 %.1f ms, p99 %.1f ms, max %.1f ms; winner racer %d "
                  "(%.1f ms); %d booked, %d SLOT_FULL\n",
                  label, (double)lt.p50_us / 1000.0, (double)lt.p99_us / 1000.0,
                  (double)lt.max_us / 1000.0, winner,
                  winner >= 0 ? (double)lat[winner] / 1000.0 : 0.0, ok, full);
    print_message("      %s: %llu commit(s) for %llu write(s); largest batch since start %llu\n",
                  label, (unsigned long long)(st->commits - commits0),
                  (unsigned long long)(st->committed_writes - writes0),
                  (unsigned long long)st->max_batch);
    if (winner >= 0 && full)
        for (int i = 0; i < NRACERS; i++)
            if (i != winner) {
                print_message("      a loser heard: %s\n", rs[i].err);
                break;
            }
    assert_int_equal(ok, 1);
    assert_int_equal(full, NRACERS - 1);
    /* each refusal names the appointment that won */
    for (int i = 0; i < NRACERS; i++) {
        if (i == winner)
            continue;
        assert_int_equal(rs[i].nconflicts, 1);
        assert_int_equal(rs[i].conflict0, rs[winner].appt);
    }
    /* and the schedule holds exactly that one */
    Pm__Schedule *s;
    SH_EXPECT(M, sh_schedule(M, a, "dr-race", NULL, NULL, DAY, 1, &s), PM_OK);
    int at_start = 0;
    for (size_t i = 0; i < s->days[0]->n_appointments; i++) {
        const Pm__Appointment *x = s->days[0]->appointments[i];
        if (x->start == start) {
            at_start++;
            assert_int_equal(x->status, PM__APPOINTMENT_STATUS__BOOKED);
            assert_int_equal(x->id, rs[winner].appt);
            assert_string_equal(x->patient_mrn, mrns[winner]);
        }
    }
    assert_int_equal(at_start, 1);
    /* nobody else holds that time in their own list either */
    for (int i = 0; i < NRACERS; i += 7) {
        Pm__AppointmentList *al;
        SH_EXPECT(M, sh_patient_appts(M, a, mrns[i], 0, &al), PM_OK);
        int has = 0;
        for (size_t k = 0; k < al->n_appointments; k++)
            has += al->appointments[k]->start == start &&
                   al->appointments[k]->status == PM__APPOINTMENT_STATUS__BOOKED;
        assert_int_equal(has, i == winner);
    }
}

static void test_race_as_it_comes(void **state)
{
    (void)state;
    race("as it comes", sh_local(DAY, 9, 0));
}

static void test_race_one_batch(void **state)
{
    (void)state;
    pc_free(R);
    pc_free(M);
    R = M = NULL;
    assert_int_equal(ts_stop(&S, SIGTERM), 0);
    assert_int_equal(ts_start(&S, "--writer-delay-ms 200"), 0);
    M = ts_manager(&S);
    assert_non_null(M);
    race("--writer-delay-ms 200", sh_local(DAY, 10, 0));
    Pm__Stats *st;
    SH_EXPECT(M, sh_stats(M, &A, &st), PM_OK);
    /* the 50 bookings were decided inside one write transaction (or nearly) */
    assert_true(st->max_batch >= 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_race_as_it_comes, test_done),
        cmocka_unit_test_teardown(test_race_one_batch, test_done),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
