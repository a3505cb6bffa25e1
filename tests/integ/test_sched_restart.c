/* Everything scheduling keeps survives a restart: set-up, appointments with their statuses
 * and histories, a series, waitlist entries and open offers. The server is stopped with
 * SIGTERM and started again on the same data; every read answers byte for byte as before,
 * the indexes still refuse what they refused, an open offer can still be accepted and
 * another still expires; practiced check passes. Then practiced check is shown a copy with
 * a scheduling index entry removed by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sched_help.h"

#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPTS "--offer-ttl 120 --late-cancel-hours 24"

static ts_server S;
static sh_clock K;
static pm_arena A;

/* What the first life made, for the second to check. */
static struct {
    char pa1[24], pa2[24], pa3[24], ps[24], po[24], p0[24], wa[24], wb[24], wc[24];
    uint64_t a1, a2, a3, ao, series[4], ewa, ewb, ewc, o1, o2, o1_appt, o2_appt;
    time_t a1_start, o2_expires;
    uint8_t rtoken[32];
} W;

static int test_done(void **state)
{
    (void)state;
    pm_arena_free(&A);
    return 0;
}

/* ---- snapshots: every read's answer, packed ---- */

#define SNAP_MAX 96

typedef struct snap {
    int n;
    char label[SNAP_MAX][48];
    uint8_t *data[SNAP_MAX];
    size_t len[SNAP_MAX];
} snap;

static void snap_add(snap *s, const char *label, const ProtobufCMessage *m)
{
    assert_true(s->n < SNAP_MAX);
    size_t n = protobuf_c_message_get_packed_size(m);
    s->data[s->n] = malloc(n ? n : 1);
    protobuf_c_message_pack(m, s->data[s->n]);
    s->len[s->n] = n;
    snprintf(s->label[s->n], sizeof s->label[0], "%s", label);
    s->n++;
}

static void snap_free(snap *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->data[i]);
    s->n = 0;
}

static void snapshot(pc_client *c, snap *s)
{
    pm_arena *a = &A;
    Pm__Setup *su;
    SH_EXPECT(c, sh_get_setup(c, a, NULL, &su), PM_OK);
    snap_add(s, "setup", &su->base);
    for (uint64_t id = 1;; id++) {
        Pm__Appointment *ap;
        int rc = sh_get(c, a, id, &ap);
        if (rc == PM_E_NOT_FOUND)
            break;
        SH_EXPECT(c, rc, PM_OK);
        char label[48];
        snprintf(label, sizeof label, "appointment %llu", (unsigned long long)id);
        snap_add(s, label, &ap->base);
    }
    Pm__Waitlist *wl;
    SH_EXPECT(c, sh_wait_list(c, a, 1, &wl), PM_OK);
    snap_add(s, "waitlist", &wl->base);
    SH_EXPECT(c, sh_wait_list(c, a, 0, &wl), PM_OK);
    snap_add(s, "waitlist (open)", &wl->base);
    static const char *const who[][3] = {
        {"dr-a", NULL, NULL}, {"dr-b", NULL, NULL}, {NULL, "main", NULL}, {NULL, NULL, "room-1"}};
    for (size_t i = 0; i < 4; i++) {
        Pm__Schedule *sc;
        SH_EXPECT(c, sh_schedule(c, a, who[i][0], who[i][1], who[i][2], "2026-05-10", 31, &sc),
                  PM_OK);
        char label[48];
        snprintf(label, sizeof label, "schedule %s",
                 who[i][0]   ? who[i][0]
                 : who[i][1] ? who[i][1]
                             : who[i][2]);
        snap_add(s, label, &sc->base);
    }
    const char *mrns[] = {W.pa1, W.pa2, W.pa3, W.ps, W.po, W.p0, W.wa, W.wb, W.wc};
    for (size_t i = 0; i < 9; i++)
        for (int past = 0; past < 2; past++) {
            Pm__AppointmentList *al;
            SH_EXPECT(c, sh_patient_appts(c, a, mrns[i], past, &al), PM_OK);
            char label[48];
            snprintf(label, sizeof label, "%s appointments of %s", past ? "past" : "upcoming",
                     mrns[i]);
            snap_add(s, label, &al->base);
        }
    Pm__SlotList *l;
    SH_EXPECT(c, sh_find(c, a, sh_slots_req(a, "checkup", NULL, "2026-05-10", "2026-06-10"), &l),
              PM_OK);
    snap_add(s, "free slots", &l->base);
}

/* ---- the first life ---- */

static void build(pc_client *M, pc_client *R)
{
    pm_arena *a = &A;
    sh_block mornings = {0, 8 * 60, 12 * 60, NULL, 0, NULL};
    sh_block afternoons = {0, 14 * 60, 18 * 60, NULL, 2, "checkup"};
    SH_EXPECT(M, sh_location(M, a, "main", "Main Street"), PM_OK);
    SH_EXPECT(M, sh_location(M, a, "annex", "Annex"), PM_OK);
    SH_EXPECT(M, sh_room(M, a, "room-1", "main"), PM_OK);
    SH_EXPECT(M, sh_room(M, a, "annex-1", "annex"), PM_OK);
    SH_EXPECT(M, sh_provider(M, a, "dr-a", "Dr A", "main"), PM_OK);
    SH_EXPECT(M, sh_provider(M, a, "dr-b", "Dr B", "main"), PM_OK);
    SH_EXPECT(M, sh_visit_type(M, a, "checkup", 30, 0, NULL), PM_OK);
    static const char *const only_a[] = {"dr-a", NULL};
    SH_EXPECT(M, sh_visit_type(M, a, "procedure", 30, 1, only_a), PM_OK);
    SH_EXPECT(M, sh_template(M, a, "dr-a", "2026-01-01", NULL, &mornings, 1, NULL, 0), PM_OK);
    SH_EXPECT(M, sh_template(M, a, "dr-a", "2026-07-01", "2026-08-31", &afternoons, 1, NULL, 0),
              PM_OK);
    SH_EXPECT(M, sh_template(M, a, "dr-b", "2026-01-01", NULL, &mornings, 1, NULL, 0), PM_OK);
    SH_EXPECT(M, sh_holiday(M, a, "2026-05-14", "Ascension", NULL), PM_OK);
    SH_EXPECT(M, sh_holiday(M, a, "2026-05-15", "Annex painting", "annex"), PM_OK);
    SH_EXPECT(R,
              sh_exception(R, a, "dr-a", sh_local("2026-05-20", 9, 0),
                           sh_local("2026-05-20", 10, 0), PM__EXCEPTION_KIND__TIME_OFF, "course",
                           NULL),
              PM_OK);

    SH_EXPECT(R, sh_patient(R, a, "Moved", "Procedure", W.pa1), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Late", "Canceller", W.pa2), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "No", "Show", W.pa3), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Series", "Person", W.ps), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "After", "Hours", W.po), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Slot", "Freer", W.p0), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Wait", "Alpha", W.wa), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Wait", "Bravo", W.wb), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Wait", "Charlie", W.wc), PM_OK);

    /* a no-show on the 10th, at 09:10 */
    Pm__Appointment *ap;
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, W.pa3, "dr-b", "checkup", sh_local("2026-05-10", 9, 0)), &ap),
        PM_OK);
    W.a3 = ap->id;
    sh_clock_set(&K, sh_local("2026-05-10", 9, 10));
    SH_EXPECT(R, sh_no_show(R, a, W.a3, 1, NULL), PM_OK);

    /* the rest on the 11th at noon */
    sh_clock_set(&K, sh_local("2026-05-11", 12, 0));
    SH_EXPECT(R,
              sh_book(R, a,
                      sh_book_req(a, W.pa1, "dr-a", "procedure", sh_local("2026-05-12", 9, 0)),
                      &ap),
              PM_OK);
    W.a1 = ap->id;
    assert_string_equal(ap->room, "room-1");
    Pm__Move *m = sh_move_req(a, W.a1, 1);
    m->start = W.a1_start = sh_local("2026-05-12", 9, 30);
    SH_EXPECT(R, sh_move(R, a, m, NULL), PM_OK);
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, W.pa2, "dr-a", "checkup", sh_local("2026-05-12", 10, 0)), &ap),
        PM_OK);
    W.a2 = ap->id;
    SH_EXPECT(R, sh_notes(R, a, W.a2, 1, "call before", NULL), PM_OK);
    Pm__Envelope *resp = NULL;
    SH_EXPECT(R, sh_cancel(R, a, W.a2, 2, "flu", PM__SCOPE__THIS, &resp), PM_OK);
    assert_true(resp->appointment_ok->appointment->late_cancel);

    /* a series: four Mondays, the second moved, the last two cancelled */
    Pm__Book *b = sh_book_req(a, W.ps, "dr-b", "checkup", sh_local("2026-05-18", 11, 0));
    b->repeat = pm_msg_new(a, &pm__recurrence__descriptor);
    b->repeat->unit = PM__REPEAT_UNIT__WEEKS;
    b->repeat->count = 4;
    Pm__SeriesResult *sr;
    SH_EXPECT(R, sh_book_series(R, a, b, &sr), PM_OK);
    assert_int_equal(sr->n_occurrences, 4);
    for (size_t i = 0; i < 4; i++)
        W.series[i] = sr->occurrences[i]->appointment->id;
    m = sh_move_req(a, W.series[1], 1);
    m->start = sh_local("2026-05-25", 11, 30);
    SH_EXPECT(R, sh_move(R, a, m, NULL), PM_OK);
    SH_EXPECT(
        R, sh_cancel(R, a, W.series[2], 1, "holiday abroad", PM__SCOPE__THIS_AND_FOLLOWING, NULL),
        PM_OK);

    /* a manager's booking outside the hours */
    b = sh_book_req(a, W.po, "dr-b", "checkup", sh_local("2026-05-12", 13, 0));
    b->override = 1;
    b->override_reason = "after-hours dressing change";
    SH_EXPECT(M, sh_book(M, a, b, &ap), PM_OK);
    W.ao = ap->id;

    /* the waitlist: two entries that will be offered a slot each, one that will not */
    Pm__WaitlistEntry *e = sh_entry(a, W.wa, "checkup"), *out;
    static char *dra[] = {"dr-a"}, *drb[] = {"dr-b"};
    e->providers = dra;
    e->n_providers = 1;
    e->from_date = e->to_date = "2026-05-13";
    e->earliest_min = 9 * 60;
    e->latest_min = 9 * 60 + 30;
    e->priority = 5;
    SH_EXPECT(R, sh_wait_add(R, a, e, &out), PM_OK);
    W.ewa = out->id;
    e = sh_entry(a, W.wb, "checkup");
    e->providers = dra;
    e->n_providers = 1;
    e->from_date = e->to_date = "2026-05-13";
    e->earliest_min = 10 * 60;
    e->latest_min = 10 * 60 + 30;
    e->priority = 3;
    e->note = "mornings only";
    SH_EXPECT(R, sh_wait_add(R, a, e, &out), PM_OK);
    W.ewb = out->id;
    e = sh_entry(a, W.wc, "checkup");
    e->providers = drb;
    e->n_providers = 1;
    e->from_date = "2026-06-15";
    e->to_date = "2026-06-30";
    e->priority = 9;
    SH_EXPECT(R, sh_wait_add(R, a, e, &out), PM_OK);
    W.ewc = out->id;
    for (int h = 9; h <= 10; h++) {
        SH_EXPECT(R,
                  sh_book(R, a,
                          sh_book_req(a, W.p0, "dr-a", "checkup", sh_local("2026-05-13", h, 0)),
                          &ap),
                  PM_OK);
        SH_EXPECT(R, sh_cancel(R, a, ap->id, 1, "not needed", PM__SCOPE__THIS, NULL), PM_OK);
    }
    Pm__Waitlist *wl;
    SH_EXPECT(R, sh_wait_list(R, a, 0, &wl), PM_OK);
    assert_int_equal(wl->n_offers, 2);
    for (size_t i = 0; i < 2; i++) {
        const Pm__Offer *o = wl->offers[i];
        assert_int_equal(o->status, PM__OFFER_STATUS__OPEN);
        if (o->entry_id == W.ewa) {
            W.o1 = o->id;
            W.o1_appt = o->appointment_id;
        } else {
            assert_int_equal(o->entry_id, W.ewb);
            W.o2 = o->id;
            W.o2_appt = o->appointment_id;
            W.o2_expires = (time_t)o->expires_at;
        }
    }
    assert_true(W.o1 && W.o2);
}

/* A client on the receptionist's session (sessions survive a restart). */
static pc_client *token_client_of(const ts_server *s)
{
    pc_opts o = {.host = "127.0.0.1", .port = s->port, .ca_file = s->ca, .timeout_ms = 60000};
    pc_client *c = pc_new(&o);
    if (!c)
        return NULL;
    pc_set_token(c, W.rtoken, 32);
    if (pc_connect(c) != PM_OK) {
        fprintf(stderr, "connect with the saved session: %s\n", pc_last_error(c));
        pc_free(c);
        return NULL;
    }
    return c;
}

static pc_client *token_client(void)
{
    return token_client_of(&S);
}

static int offer_expired(const sh_ev *e, const void *arg)
{
    return e->kind == PM__EVENT__BODY_OFFER_CHANGED && e->offer == *(const uint64_t *)arg &&
           e->status == PM__OFFER_STATUS__EXPIRED;
}

static void test_survives_restart(void **state)
{
    (void)state;
    pm_arena *a = &A;
    assert_int_equal(ts_init(&S, NULL), 0);
    sh_clock_init(&K, &S, sh_local("2026-05-10", 8, 0));
    assert_int_equal(ts_start(&S, OPTS), 0);
    pc_client *M = ts_manager(&S);
    assert_non_null(M);
    pc_client *R = ts_user(&S, M, "rory", PM__ROLE__RECEPTIONIST);
    assert_non_null(R);
    memcpy(W.rtoken, pc_token(R), 32);
    build(M, R);
    static snap before, after;
    snapshot(R, &before);
    pm_arena_free(a);
    print_message("      first life: %d answers recorded\n", before.n);
    pc_free(R);
    pc_free(M);
    assert_int_equal(ts_stop(&S, SIGTERM), 0);

    assert_int_equal(ts_start(&S, OPTS), 0);
    M = ts_manager(&S);
    assert_non_null(M);
    R = token_client();
    assert_non_null(R);
    snapshot(R, &after);
    int differ = 0;
    assert_int_equal(after.n, before.n);
    for (int i = 0; i < before.n; i++) {
        assert_string_equal(after.label[i], before.label[i]);
        if (after.len[i] != before.len[i] || memcmp(after.data[i], before.data[i], before.len[i])) {
            print_error("after the restart, %s differs (%zu bytes, was %zu)\n", before.label[i],
                        after.len[i], before.len[i]);
            differ++;
        }
    }
    print_message("      second life: %d answers compared, %d differ\n", before.n, differ);
    assert_int_equal(differ, 0);
    snap_free(&before);
    snap_free(&after);

    /* the facts, in words */
    Pm__Appointment *ap;
    SH_EXPECT(R, sh_get(R, a, W.a1, &ap), PM_OK);
    assert_int_equal(ap->start, W.a1_start);
    assert_int_equal(ap->n_history, 2);
    assert_string_equal(ap->room, "room-1");
    SH_EXPECT(R, sh_get(R, a, W.a2, &ap), PM_OK);
    assert_int_equal(ap->status, PM__APPOINTMENT_STATUS__CANCELLED);
    assert_true(ap->late_cancel);
    assert_string_equal(ap->notes, "call before");
    SH_EXPECT(R, sh_get(R, a, W.a3, &ap), PM_OK);
    assert_int_equal(ap->status, PM__APPOINTMENT_STATUS__NO_SHOW);
    SH_EXPECT(R, sh_get(R, a, W.ao, &ap), PM_OK);
    assert_true(ap->overridden);
    assert_string_equal(ap->override_reason, "after-hours dressing change");
    for (size_t i = 0; i < 4; i++) {
        SH_EXPECT(R, sh_get(R, a, W.series[i], &ap), PM_OK);
        assert_int_equal(ap->status, i < 2 ? PM__APPOINTMENT_STATUS__BOOKED
                                           : PM__APPOINTMENT_STATUS__CANCELLED);
        assert_int_equal(ap->series_index, i + 1);
    }
    SH_EXPECT(R, sh_get(R, a, W.o1_appt, &ap), PM_OK);
    assert_int_equal(ap->status, PM__APPOINTMENT_STATUS__HELD);

    /* the indexes survived too: what was refused is refused */
    Pm__Book *b = sh_book_req(a, W.p0, "dr-a", "checkup", W.a1_start);
    SH_EXPECT(R, sh_book(R, a, b, NULL), PM_E_SLOT_FULL);
    assert_true(sh_conflicts_has(pc_last_error_detail(R), W.a1));
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, W.p0, "dr-a", "checkup", sh_local("2026-05-13", 9, 0)), NULL),
        PM_E_SLOT_FULL); /* held for the offer */
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, W.pa1, "dr-b", "checkup", W.a1_start), NULL),
              PM_E_PATIENT_BUSY);
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, W.p0, "dr-a", "checkup", sh_local("2026-05-14", 9, 0)), NULL),
        PM_E_OUTSIDE_AVAILABILITY);
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, W.p0, "dr-a", "checkup", sh_local("2026-05-20", 9, 0)), NULL),
        PM_E_OUTSIDE_AVAILABILITY);

    /* the open offers: one is accepted, the other expires on the clock */
    pc_client *watch = token_client();
    assert_non_null(watch);
    static sh_events ev;
    memset(&ev, 0, sizeof ev);
    pc_on_event(watch, sh_collect, &ev);
    const char *topic = "waitlist";
    SH_EXPECT(watch, pc_subscribe(watch, &topic, 1, 0, a, NULL), PM_OK);
    Pm__Envelope *resp = NULL;
    SH_EXPECT(R, sh_answer(R, a, W.o1, 1, &resp), PM_OK);
    assert_int_equal(resp->appointment_ok->appointment->status, PM__APPOINTMENT_STATUS__BOOKED);
    assert_string_equal(resp->appointment_ok->appointment->patient_mrn, W.wa);
    sh_clock_set(&K, W.o2_expires + 1);
    int i = sh_wait_event(watch, &ev, offer_expired, &W.o2, 10000);
    if (i < 0)
        print_error("offer %llu did not expire after the restart\n", (unsigned long long)W.o2);
    assert_true(i >= 0);
    SH_EXPECT(R, sh_get(R, a, W.o2_appt, &ap), PM_E_NOT_FOUND); /* the released hold */
    Pm__Waitlist *wl;
    SH_EXPECT(R, sh_wait_list(R, a, 1, &wl), PM_OK);
    assert_int_equal(sh_wl_entry(wl, W.ewa)->status, PM__WAITLIST_STATUS__SCHEDULED);
    assert_int_equal(sh_wl_entry(wl, W.ewb)->status, PM__WAITLIST_STATUS__WAITING);
    assert_int_equal(sh_wl_entry(wl, W.ewc)->status, PM__WAITLIST_STATUS__WAITING);
    assert_string_equal(sh_wl_entry(wl, W.ewb)->note, "mornings only");
    pc_free(watch);
    /* nobody else wanted 10:00 on the 13th: the released hold leaves it free */
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, W.p0, "dr-a", "checkup", sh_local("2026-05-13", 10, 0)), NULL),
        PM_OK);

    /* the series record survived: cancelling all of it reaches the two still booked */
    SH_EXPECT(R, sh_get(R, a, W.series[0], &ap), PM_OK);
    SH_EXPECT(R, sh_cancel(R, a, W.series[0], ap->version, "moving away", PM__SCOPE__ALL, &resp),
              PM_OK);
    assert_int_equal(resp->body_case, PM__ENVELOPE__BODY_SERIES_RESULT);
    assert_int_equal(resp->series_result->n_occurrences, 2);
    for (size_t k = 0; k < 4; k++) {
        SH_EXPECT(R, sh_get(R, a, W.series[k], &ap), PM_OK);
        assert_int_equal(ap->status, PM__APPOINTMENT_STATUS__CANCELLED);
    }
    pc_free(R);
    pc_free(M);
    assert_int_equal(ts_stop(&S, SIGTERM), 0);

    char out[8192];
    int rc = ts_sh(out, sizeof out, "%s check --data %s 2>&1", ts_practiced(), S.dir);
    print_message("      practiced check exit %d:\n%s", rc, out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "\nok\n"));
}

static void put_u64(uint8_t *b, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        b[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* practiced check is to verify that every index entry points at a record and every
 * record is in its indexes (README). An appointment taken out of its provider's index by
 * hand would let a second patient be booked into its time: check must say so. */
static void test_check_sees_scheduling_damage(void **state)
{
    (void)state;
    if (S.pid)
        ts_stop(&S, SIGTERM);
    assert_true(W.a1 != 0);
    char dir[400];
    snprintf(dir, sizeof dir, "%s/../damaged", S.dir);
    assert_int_equal(ts_sh(NULL, 0, "rm -rf %s && cp -a %s %s", dir, S.dir, dir), 0);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "appt_prov", 0, &dbi), 0);
    uint8_t k[64];
    size_t n = strlen("dr-a");
    memcpy(k, "dr-a", n);
    k[n] = 0;
    put_u64(k + n + 1, (uint64_t)W.a1_start);
    put_u64(k + n + 9, W.a1);
    MDB_val key = {n + 17, k};
    int rc = mdb_del(txn, dbi, &key, NULL);
    if (rc)
        mdb_txn_abort(txn);
    else
        rc = mdb_txn_commit(txn);
    mdb_env_close(env);
    if (rc)
        fail_msg("removing appointment %llu from appt_prov: %s", (unsigned long long)W.a1,
                 mdb_strerror(rc));
    /* what the damage does: a server on the copy books a second patient into the time */
    ts_server d = S;
    snprintf(d.dir, sizeof d.dir, "%.240s", dir);
    snprintf(d.log, sizeof d.log, "%.240s.damaged.log", S.dir);
    d.pid = 0;
    assert_int_equal(ts_start(&d, OPTS), 0);
    pc_client *c = token_client_of(&d);
    assert_non_null(c);
    rc = sh_book(c, &A, sh_book_req(&A, W.p0, "dr-a", "checkup", W.a1_start), NULL);
    print_message("      on the damaged copy, booking dr-a at appointment %llu's time: %s%s%s\n",
                  (unsigned long long)W.a1, pm_strerror(rc), rc ? ": " : "",
                  rc ? pc_last_error(c) : "");
    pc_free(c);
    assert_int_equal(ts_stop(&d, SIGTERM), 0);
    ts_sh(NULL, 0, "rm -f %s", d.log);
    char out[8192];
    rc = ts_sh(out, sizeof out, "%s check --data %s 2>&1", ts_practiced(), dir);
    print_message("      appointment %llu missing from appt_prov: practiced check exit %d:\n%s",
                  (unsigned long long)W.a1, rc, out);
    assert_int_equal(rc, 1);
}

static int group_teardown(void **state)
{
    (void)state;
    if (S.pid)
        ts_stop(&S, SIGTERM);
    ts_cleanup(&S);
    return 0;
}

int main(void)
{
    sh_tz();
    pm_arena_init(&A, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_survives_restart, test_done),
        cmocka_unit_test_teardown(test_check_sees_scheduling_damage, test_done),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
