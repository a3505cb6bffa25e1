/* Patient flow against a real practiced: every step of the day (check in, room, with the
 * provider, check out) and every refusal, undo of each step back to booked, walk-ins, queue
 * tickets per location and day, the late and overdue flags, closing the day by hand and by
 * itself (--auto-no-show), and the wait estimates on a scripted day worked out by hand from
 * the rule in server/flow.c.
 *
 * The server's scheduling clock is a file (PRACTICED_TEST_CLOCK); each test has its own day
 * in May 2026 (Europe/Paris, UTC+2) and moves the clock through it. --grace-minutes 5. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sched_help.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GRACE_MIN  5
#define SERVE_ARGS "--grace-minutes 5"

static ts_server S;
static sh_clock K;
static pc_client *M; /* the manager, admin */
static pc_client *R; /* a receptionist, rita */
static pc_client *C; /* a clinician, cleo */
static pc_client *B; /* a biller, bill */
static pc_client *D; /* the waiting-room display of main */
static pm_arena A;   /* each test's, freed after it even when it fails */

static const char *const VACCINE_BY[] = {"dr-b", NULL};

static int setup(void **state)
{
    (void)state;
    sh_tz();
    pm_arena_init(&A, 0);
    if (ts_init(&S, NULL))
        return -1;
    sh_clock_init(&K, &S, sh_local("2026-05-04", 7, 0));
    if (ts_start(&S, SERVE_ARGS))
        return -1;
    M = ts_manager(&S);
    R = M ? ts_user(&S, M, "rita", PM__ROLE__RECEPTIONIST) : NULL;
    C = R ? ts_user(&S, M, "cleo", PM__ROLE__CLINICIAN) : NULL;
    B = C ? ts_user(&S, M, "bill", PM__ROLE__BILLER) : NULL;
    if (!B)
        return -1;
    pm_arena a;
    pm_arena_init(&a, 0);
    /* main takes the default ticket prefix (M), the annex its own (AX) */
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_PUT_LOCATION);
    e->put_location = pm_msg_new(&a, &pm__put_location__descriptor);
    Pm__Location *l = pm_msg_new(&a, &pm__location__descriptor);
    l->id = "annex";
    l->name = "Annex";
    l->ticket_prefix = "AX";
    e->put_location->location = l;
    Pm__Envelope *resp = NULL;
    int rc = sh_location(M, &a, "main", "Main Street") || pc_call(M, e, &a, &resp) ||
             sh_room(M, &a, "room-1", "main") || sh_room(M, &a, "room-2", "main") ||
             sh_room(M, &a, "room-3", "main") || sh_room(M, &a, "annex-1", "annex") ||
             sh_provider(M, &a, "dr-a", "Dr A", "main") ||
             sh_provider(M, &a, "dr-b", "Dr B", "main") ||
             sh_provider(M, &a, "dr-c", "Dr C", "annex") ||
             sh_visit_type(M, &a, "checkup", 30, 0, NULL) ||
             sh_visit_type(M, &a, "short", 20, 0, NULL) ||
             sh_visit_type(M, &a, "procedure", 30, 1, NULL) ||
             sh_visit_type(M, &a, "vaccine", 15, 0, VACCINE_BY);
    sh_block day = {0, 8 * 60, 18 * 60, NULL, 0, NULL};
    static const char *const provs[] = {"dr-a", "dr-b", "dr-c"};
    for (size_t i = 0; i < 3 && !rc; i++)
        rc = sh_template(M, &a, provs[i], "2026-01-01", NULL, &day, 1, NULL, 0);
    if (rc)
        fprintf(stderr, "set-up: %s\n", pc_last_error(M));
    pm_arena_free(&a);
    D = rc ? NULL : ts_display(&S, M, "lobby-tv", "main");
    return D ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    pc_free(D);
    pc_free(B);
    pc_free(C);
    pc_free(R);
    pc_free(M);
    int rc = ts_stop(&S, SIGTERM);
    if (rc == 0)
        ts_cleanup(&S);
    pm_arena_free(&A);
    return rc;
}

static int test_done(void **state)
{
    (void)state;
    pm_arena_free(&A);
    pm_arena_init(&A, 0);
    return 0;
}

/* ---- helpers ---- */

static time_t T(const char *date, int hh, int mm, int ss)
{
    return sh_local(date, hh, mm) + ss;
}

static void at(const char *date, int hh, int mm, int ss)
{
    sh_clock_set(&K, T(date, hh, mm, ss));
}

static const char *when(time_t t)
{
    static char buf[8][40];
    static int i;
    i = (i + 1) % 8;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf[i], sizeof buf[i], "%H:%M:%S", &tm);
    return buf[i];
}

static void patient(const char *first, const char *last, char mrn[24])
{
    SH_EXPECT(R, sh_patient(R, &A, first, last, mrn), PM_OK);
}

static Pm__Appointment *book(const char *mrn, const char *provider, const char *vt,
                             const char *date, int hh, int mm)
{
    Pm__Appointment *ap = NULL;
    SH_EXPECT(R, sh_book(R, &A, sh_book_req(&A, mrn, provider, vt, sh_local(date, hh, mm)), &ap),
              PM_OK);
    return ap;
}

static Pm__Appointment *step(pc_client *c, uint64_t id, Pm__FlowAction act, const char *room)
{
    Pm__Appointment *ap = NULL;
    SH_EXPECT(c, ts_flow_step(c, &A, id, 0, act, room, &ap), PM_OK);
    assert_int_equal(ap->id, id);
    return ap;
}

static const char *act_name(Pm__FlowAction act)
{
    static const char *const n[] = {"?", "ARRIVE", "TO_ROOM", "SEE", "CHECK_OUT", "UNDO"};
    return act >= 0 && act <= 5 ? n[act] : "?";
}

/* A step the server must refuse with want (and, when given, name field). */
static void refuse(pc_client *c, uint64_t id, uint32_t version, Pm__FlowAction act,
                   const char *room, int want, const char *field)
{
    Pm__Appointment *ap = NULL;
    int rc = ts_flow_step(c, &A, id, version, act, room, &ap);
    if (rc != want)
        print_error("%s of appointment %llu (room '%s'): %s, wanted %s (%s)\n", act_name(act),
                    (unsigned long long)id, room ? room : "", pm_strerror(rc), pm_strerror(want),
                    pc_last_error(c));
    assert_int_equal(rc, want);
    if (field) {
        const Pm__Error *e = pc_last_error_detail(c);
        assert_non_null(e);
        assert_string_equal(e->field, field);
    }
}

static Pm__Appointment *get(uint64_t id)
{
    Pm__Appointment *ap = NULL;
    SH_EXPECT(R, sh_get(R, &A, id, &ap), PM_OK);
    return ap;
}

static const Pm__AppointmentChange *last_change(const Pm__Appointment *ap)
{
    assert_true(ap->n_history > 0);
    return ap->history[ap->n_history - 1];
}

/* The newest history entry says what and was made by who at t. */
static void changed(const Pm__Appointment *ap, const char *what, const char *who, time_t t)
{
    const Pm__AppointmentChange *h = last_change(ap);
    if (!strstr(h->what, what) || strcmp(h->by, who) != 0 || h->time != (uint64_t)t)
        print_error("appointment %llu: last change '%s' by %s at %s, wanted '%s' by %s at %s\n",
                    (unsigned long long)ap->id, h->what, h->by, when((time_t)h->time), what, who,
                    when(t));
    assert_non_null(strstr(h->what, what));
    assert_string_equal(h->by, who);
    assert_int_equal(h->time, (uint64_t)t);
}

static Pm__Flow *flow(const char *location, const char *date)
{
    Pm__Flow *f = NULL;
    SH_EXPECT(R, ts_get_flow(R, &A, location, date, &f), PM_OK);
    return f;
}

static const Pm__Appointment *in_flow(const Pm__Flow *f, uint64_t id)
{
    for (size_t i = 0; i < f->n_appointments; i++)
        if (f->appointments[i]->id == id)
            return f->appointments[i];
    return NULL;
}

static const Pm__ProviderPace *pace_of(const Pm__Flow *f, const char *provider)
{
    for (size_t i = 0; i < f->n_providers; i++)
        if (strcmp(f->providers[i]->provider, provider) == 0)
            return f->providers[i];
    return NULL;
}

static Pm__BoardState *board(const char *location)
{
    Pm__BoardState *b = NULL;
    SH_EXPECT(D, ts_get_board(D, &A, location, &b), PM_OK);
    return b;
}

static const Pm__BoardTicket *on_board(const Pm__BoardState *b, const char *ticket)
{
    for (size_t i = 0; i < b->n_waiting; i++)
        if (strcmp(b->waiting[i]->ticket, ticket) == 0)
            return b->waiting[i];
    return NULL;
}

/* ---- FlowChanged events as a subscriber's callback sees them ---- */

typedef struct fl_ev {
    uint64_t seq;
    int kind;
    char action[16];
    uint64_t appt;
    int status;
    char ticket[16];
    int nprov; /* FlowChanged: the providers' figures */
    char prov[4][16];
    double pace[4];
    int late[4];
    unsigned waiting[4];
} fl_ev;

typedef struct fl_events {
    fl_ev ev[512];
    int n;
} fl_events;

static void fl_collect(void *ud, const Pm__Envelope *env)
{
    fl_events *s = ud;
    if (env->body_case != PM__ENVELOPE__BODY_EVENT || s->n >= 512)
        return;
    fl_ev *x = &s->ev[s->n++];
    memset(x, 0, sizeof *x);
    x->seq = env->event->seq;
    x->kind = env->event->body_case;
    const Pm__Appointment *ap = NULL;
    if (x->kind == PM__EVENT__BODY_FLOW_CHANGED) {
        const Pm__FlowChanged *fc = env->event->flow_changed;
        snprintf(x->action, sizeof x->action, "%s", fc->action);
        ap = fc->appointment;
        for (size_t i = 0; i < fc->n_providers && x->nprov < 4; i++, x->nprov++) {
            snprintf(x->prov[x->nprov], sizeof x->prov[0], "%s", fc->providers[i]->provider);
            x->pace[x->nprov] = fc->providers[i]->pace;
            x->late[x->nprov] = fc->providers[i]->running_late_min;
            x->waiting[x->nprov] = fc->providers[i]->waiting;
        }
    } else if (x->kind == PM__EVENT__BODY_APPOINTMENT_CHANGED) {
        snprintf(x->action, sizeof x->action, "%s", env->event->appointment_changed->action);
        ap = env->event->appointment_changed->appointment;
    }
    if (ap) {
        x->appt = ap->id;
        x->status = ap->status;
        snprintf(x->ticket, sizeof x->ticket, "%s", ap->ticket);
    }
}

/* Collects c's events on topic into ev from now on (what c had queued is dropped). */
static void listen_to(pc_client *c, fl_events *ev, const char *topic)
{
    pc_on_event(c, NULL, NULL);
    while (pc_poll(c, 0) > 0)
        ;
    memset(ev, 0, sizeof *ev);
    pc_on_event(c, fl_collect, ev);
    SH_EXPECT(c, pc_subscribe(c, &topic, 1, 0, &A, NULL), PM_OK);
}

/* Polls c until n events of appointment id have come (or 10 s pass). */
static void wait_events(pc_client *c, fl_events *ev, uint64_t id, int n)
{
    for (int waited = 0; waited < 10000; waited += 50) {
        int have = 0;
        for (int i = 0; i < ev->n; i++)
            have += ev->ev[i].appt == id;
        if (have >= n)
            return;
        pc_poll(c, 50);
    }
    print_error("fewer than %d events of appointment %llu within 10 s\n", n,
                (unsigned long long)id);
    fail();
}

/* ---- the steps and their refusals ---- */

/* Check in, room, with the provider, check out, each timestamped, in the history with who
 * did it, audited and published; and every step refused where it does not apply. */
static void test_steps_and_refusals(void **state)
{
    (void)state;
    const char *day = "2026-05-04";
    at(day, 7, 0, 0);
    static fl_events ev;
    listen_to(M, &ev, "flow/main");

    char p[10][24];
    static const char *const last[] = {"Alpha",   "Bravo", "Charlie", "Delta", "Echo",
                                       "Foxtrot", "Golf",  "Hotel",   "India", "Juliet"};
    for (int i = 0; i < 10; i++)
        patient("Step", last[i], p[i]);
    Pm__Appointment *a1 = book(p[0], "dr-a", "checkup", day, 9, 0);
    Pm__Appointment *a2 = book(p[1], "dr-a", "checkup", day, 9, 30);
    Pm__Appointment *a3 = book(p[2], "dr-b", "procedure", day, 9, 0);
    Pm__Appointment *a4 = book(p[3], "dr-b", "checkup", day, 10, 30);
    Pm__Appointment *a5 = book(p[4], "dr-a", "checkup", day, 11, 0);
    Pm__Appointment *tom = book(p[5], "dr-a", "checkup", "2026-05-05", 17, 0);
    Pm__Appointment *ann = book(p[6], "dr-c", "checkup", day, 9, 0);
    Pm__Appointment *canc = book(p[7], "dr-b", "checkup", day, 12, 0);
    Pm__Appointment *ns = book(p[8], "dr-b", "checkup", day, 8, 0);
    Pm__Appointment *yest = NULL;
    /* yesterday's, recorded by the manager */
    SH_EXPECT(M,
              sh_book(M, &A,
                      sh_book_req(&A, p[9], "dr-a", "checkup", sh_local("2026-05-03", 10, 0)),
                      &yest),
              PM_OK);
    assert_string_equal(ann->location, "annex");
    assert_string_equal(a1->location, "main");
    SH_EXPECT(R, sh_cancel(R, &A, canc->id, canc->version, "feels better", PM__SCOPE__THIS, NULL),
              PM_OK);

    at(day, 8, 30, 0);
    SH_EXPECT(R, sh_no_show(R, &A, ns->id, ns->version, NULL), PM_OK);
    /* check in: booked appointments of today only */
    refuse(R, tom->id, 0, PM__FLOW_ACTION__ARRIVE, NULL, PM_E_INVALID_ARGUMENT, "action");
    print_message("      tomorrow's: %s\n", pc_last_error(R));
    refuse(R, yest->id, 0, PM__FLOW_ACTION__ARRIVE, NULL, PM_E_INVALID_ARGUMENT, "action");
    refuse(R, canc->id, 0, PM__FLOW_ACTION__ARRIVE, NULL, PM_E_INVALID_ARGUMENT, "action");
    print_message("      cancelled: %s\n", pc_last_error(R));
    refuse(R, ns->id, 0, PM__FLOW_ACTION__ARRIVE, NULL, PM_E_INVALID_ARGUMENT, "action");
    /* nothing but a check-in applies to a booked appointment */
    refuse(C, a1->id, 0, PM__FLOW_ACTION__TO_ROOM, "room-1", PM_E_INVALID_ARGUMENT, "action");
    refuse(C, a1->id, 0, PM__FLOW_ACTION__SEE, NULL, PM_E_INVALID_ARGUMENT, "action");
    refuse(R, a1->id, 0, PM__FLOW_ACTION__CHECK_OUT, NULL, PM_E_INVALID_ARGUMENT, "action");
    refuse(R, a1->id, 0, PM__FLOW_ACTION__UNDO, NULL, PM_E_INVALID_ARGUMENT, "action");
    print_message("      undo of a booked one: %s\n", pc_last_error(R));
    refuse(R, a1->id, 0, PM__FLOW_ACTION__FLOW_UNSPECIFIED, NULL, PM_E_INVALID_ARGUMENT, "action");
    refuse(R, 987654321, 0, PM__FLOW_ACTION__ARRIVE, NULL, PM_E_NOT_FOUND, "appointment_id");
    /* roles: the biller and the waiting-room screen may not move patients */
    refuse(B, a1->id, 0, PM__FLOW_ACTION__ARRIVE, NULL, PM_E_PERMISSION_DENIED, NULL);
    refuse(D, a1->id, 0, PM__FLOW_ACTION__ARRIVE, NULL, PM_E_PERMISSION_DENIED, NULL);
    /* a stale version: somebody changed it since */
    uint32_t v1 = a1->version;
    SH_EXPECT(R, sh_notes(R, &A, a1->id, v1, "bring the letter", &a1), PM_OK);
    refuse(R, a1->id, v1, PM__FLOW_ACTION__ARRIVE, NULL, PM_E_CONFLICT, "version");
    print_message("      stale check-in: %s\n", pc_last_error(R));
    assert_int_equal(get(a1->id)->status, PM__APPOINTMENT_STATUS__BOOKED);

    /* check in */
    Pm__Appointment *x;
    SH_EXPECT(R, ts_flow_step(R, &A, a1->id, a1->version, PM__FLOW_ACTION__ARRIVE, NULL, &x),
              PM_OK);
    assert_int_equal(x->status, PM__APPOINTMENT_STATUS__ARRIVED);
    assert_string_equal(x->ticket, "M-001");
    assert_int_equal(x->arrived_at, (uint64_t)T(day, 8, 30, 0));
    assert_false(x->late);
    assert_int_equal(x->version, v1 + 2);
    assert_int_equal(x->estimated_start, (uint64_t)T(day, 9, 0, 0));
    assert_string_equal(x->updated_by, "rita");
    changed(x, "arrived, ticket M-001", "rita", T(day, 8, 30, 0));
    uint32_t v_arrived = x->version;
    refuse(R, a1->id, 0, PM__FLOW_ACTION__ARRIVE, NULL, PM_E_INVALID_ARGUMENT, "action");
    refuse(R, a1->id, v1 + 1, PM__FLOW_ACTION__TO_ROOM, "room-1", PM_E_CONFLICT, "version");

    at(day, 8, 35, 0);
    x = step(R, a3->id, PM__FLOW_ACTION__ARRIVE, NULL);
    assert_string_equal(x->ticket, "M-002");

    /* to a room: a free room of the location */
    at(day, 8, 40, 0);
    refuse(C, a1->id, 0, PM__FLOW_ACTION__TO_ROOM, "annex-1", PM_E_INVALID_ARGUMENT, "room");
    print_message("      another location's room: %s\n", pc_last_error(C));
    refuse(C, a1->id, 0, PM__FLOW_ACTION__TO_ROOM, "room-9", PM_E_INVALID_ARGUMENT, "room");
    refuse(C, a1->id, 0, PM__FLOW_ACTION__TO_ROOM, "", PM_E_INVALID_ARGUMENT, "room");
    SH_EXPECT(C, ts_flow_step(C, &A, a1->id, v_arrived, PM__FLOW_ACTION__TO_ROOM, "room-1", &x),
              PM_OK);
    assert_int_equal(x->status, PM__APPOINTMENT_STATUS__ROOMED);
    assert_string_equal(x->room, "room-1");
    assert_int_equal(x->roomed_at, (uint64_t)T(day, 8, 40, 0));
    assert_int_equal(x->arrived_at, (uint64_t)T(day, 8, 30, 0));
    changed(x, "to room room-1", "cleo", T(day, 8, 40, 0));

    at(day, 8, 41, 0);
    refuse(C, a3->id, 0, PM__FLOW_ACTION__TO_ROOM, "room-1", PM_E_ROOM_BUSY, "room");
    print_message("      busy room: %s\n", pc_last_error(C));
    assert_true(sh_conflicts_has(pc_last_error_detail(C), a1->id));
    x = step(C, a3->id, PM__FLOW_ACTION__TO_ROOM, "room-2");
    assert_string_equal(x->room, "room-2");
    refuse(C, a1->id, 0, PM__FLOW_ACTION__TO_ROOM, "room-2", PM_E_ROOM_BUSY, "room");
    assert_true(sh_conflicts_has(pc_last_error_detail(C), a3->id));

    at(day, 8, 45, 0);
    x = step(R, a2->id, PM__FLOW_ACTION__ARRIVE, NULL);
    assert_string_equal(x->ticket, "M-003");
    refuse(C, a2->id, 0, PM__FLOW_ACTION__TO_ROOM, "room-1", PM_E_ROOM_BUSY, "room");

    /* with the provider: the room stays taken */
    at(day, 9, 0, 0);
    x = step(C, a1->id, PM__FLOW_ACTION__SEE, NULL);
    assert_int_equal(x->status, PM__APPOINTMENT_STATUS__WITH_PROVIDER);
    assert_int_equal(x->seen_at, (uint64_t)T(day, 9, 0, 0));
    assert_string_equal(x->room, "room-1");
    changed(x, "with the provider", "cleo", T(day, 9, 0, 0));
    refuse(C, a2->id, 0, PM__FLOW_ACTION__TO_ROOM, "room-1", PM_E_ROOM_BUSY, "room");
    assert_true(sh_conflicts_has(pc_last_error_detail(C), a1->id));
    refuse(C, a1->id, 0, PM__FLOW_ACTION__TO_ROOM, "room-3", PM_E_INVALID_ARGUMENT, "action");
    refuse(C, a1->id, 0, PM__FLOW_ACTION__SEE, NULL, PM_E_INVALID_ARGUMENT, "action");
    refuse(R, a1->id, 0, PM__FLOW_ACTION__ARRIVE, NULL, PM_E_INVALID_ARGUMENT, "action");

    /* check out: the room is free again */
    at(day, 9, 25, 0);
    x = step(R, a1->id, PM__FLOW_ACTION__CHECK_OUT, NULL);
    assert_int_equal(x->status, PM__APPOINTMENT_STATUS__CHECKED_OUT);
    assert_int_equal(x->checked_out_at, (uint64_t)T(day, 9, 25, 0));
    changed(x, "checked out", "rita", T(day, 9, 25, 0));
    refuse(R, a1->id, 0, PM__FLOW_ACTION__ARRIVE, NULL, PM_E_INVALID_ARGUMENT, "action");
    refuse(C, a1->id, 0, PM__FLOW_ACTION__TO_ROOM, "room-3", PM_E_INVALID_ARGUMENT, "action");
    refuse(C, a1->id, 0, PM__FLOW_ACTION__SEE, NULL, PM_E_INVALID_ARGUMENT, "action");
    refuse(R, a1->id, 0, PM__FLOW_ACTION__CHECK_OUT, NULL, PM_E_INVALID_ARGUMENT, "action");
    x = step(C, a2->id, PM__FLOW_ACTION__TO_ROOM, "room-1");
    assert_string_equal(x->room, "room-1");
    /* a move from room to room frees the first */
    x = step(C, a2->id, PM__FLOW_ACTION__TO_ROOM, "room-3");
    assert_string_equal(x->room, "room-3");
    x = step(C, a3->id, PM__FLOW_ACTION__TO_ROOM, "room-1");
    assert_string_equal(x->room, "room-1");

    /* straight to the provider without a room, and a check-out of one never seen */
    at(day, 9, 30, 0);
    assert_string_equal(step(R, a4->id, PM__FLOW_ACTION__ARRIVE, NULL)->ticket, "M-004");
    at(day, 9, 35, 0);
    x = step(C, a4->id, PM__FLOW_ACTION__SEE, NULL);
    assert_int_equal(x->status, PM__APPOINTMENT_STATUS__WITH_PROVIDER);
    assert_int_equal(x->roomed_at, 0);
    at(day, 9, 40, 0);
    assert_string_equal(step(R, a5->id, PM__FLOW_ACTION__ARRIVE, NULL)->ticket, "M-005");
    at(day, 9, 45, 0);
    x = step(R, a5->id, PM__FLOW_ACTION__CHECK_OUT, NULL);
    assert_int_equal(x->status, PM__APPOINTMENT_STATUS__CHECKED_OUT);
    assert_int_equal(x->seen_at, 0);
    at(day, 9, 50, 0);
    assert_int_equal(step(R, a4->id, PM__FLOW_ACTION__CHECK_OUT, NULL)->status,
                     PM__APPOINTMENT_STATUS__CHECKED_OUT);

    /* the whole story of a1, read back */
    Pm__Appointment *g = get(a1->id);
    for (size_t i = 0; i < g->n_history; i++)
        print_message("      a1 history %zu: %s by %s at %s\n", i, g->history[i]->what,
                      g->history[i]->by, when((time_t)g->history[i]->time));
    assert_int_equal(g->n_history, 6);
    assert_string_equal(g->history[0]->what, "booked");
    assert_non_null(strstr(g->history[1]->what, "notes"));
    static const char *const whats[] = {"arrived, ticket M-001", "to room room-1",
                                        "with the provider", "checked out"};
    static const char *const whos[] = {"rita", "cleo", "cleo", "rita"};
    const time_t times[] = {T(day, 8, 30, 0), T(day, 8, 40, 0), T(day, 9, 0, 0), T(day, 9, 25, 0)};
    for (int i = 0; i < 4; i++) {
        assert_non_null(strstr(g->history[2 + i]->what, whats[i]));
        assert_string_equal(g->history[2 + i]->by, whos[i]);
        assert_int_equal(g->history[2 + i]->time, (uint64_t)times[i]);
    }
    assert_int_equal(g->arrived_at, (uint64_t)times[0]);
    assert_int_equal(g->roomed_at, (uint64_t)times[1]);
    assert_int_equal(g->seen_at, (uint64_t)times[2]);
    assert_int_equal(g->checked_out_at, (uint64_t)times[3]);
    assert_string_equal(g->ticket, "M-001");

    /* the audit trail names who did each step */
    Pm__AuditList *al;
    SH_EXPECT(M, sh_audit(M, &A, p[0], &al), PM_OK);
    const char *steps_by[8];
    int nsteps = 0, denied = 0;
    for (size_t i = 0; i < al->n_entries; i++) {
        const Pm__AuditEntry *e = al->entries[i];
        if (strcmp(e->action, "flow.step") != 0)
            continue;
        if (e->outcome == PM__OUTCOME__SUCCESS && nsteps < 8)
            steps_by[nsteps++] = e->username;
        denied += e->outcome == PM__OUTCOME__DENIED;
    }
    print_message("      audit: %d flow steps of a1's patient, %d refused for the role\n", nsteps,
                  denied);
    assert_int_equal(nsteps, 4);
    for (int i = 0; i < 4; i++)
        assert_string_equal(steps_by[i], whos[i]);
    assert_true(al->chain_ok);

    /* the flow of the day: main's appointments only, each where the steps left it */
    Pm__Flow *f = flow("main", day);
    assert_string_equal(f->location, "main");
    assert_string_equal(f->date, day);
    assert_null(in_flow(f, ann->id));
    assert_null(in_flow(f, tom->id));
    assert_int_equal(in_flow(f, a1->id)->status, PM__APPOINTMENT_STATUS__CHECKED_OUT);
    assert_int_equal(in_flow(f, a2->id)->status, PM__APPOINTMENT_STATUS__ROOMED);
    assert_string_equal(in_flow(f, a2->id)->room, "room-3");
    assert_int_equal(in_flow(f, a3->id)->status, PM__APPOINTMENT_STATUS__ROOMED);
    assert_int_equal(in_flow(f, a5->id)->status, PM__APPOINTMENT_STATUS__CHECKED_OUT);
    assert_int_equal(in_flow(f, canc->id)->status, PM__APPOINTMENT_STATUS__CANCELLED);
    assert_int_equal(in_flow(f, ns->id)->status, PM__APPOINTMENT_STATUS__NO_SHOW);
    assert_string_equal(in_flow(f, a1->id)->patient_name, "Alpha, Step");

    /* and each step once as a FlowChanged event on flow/main, in order */
    wait_events(M, &ev, a1->id, 4);
    wait_events(M, &ev, a4->id, 3);
    static const char *const acts[] = {"arrive", "to_room", "see", "check_out"};
    static const int sts[] = {PM__APPOINTMENT_STATUS__ARRIVED, PM__APPOINTMENT_STATUS__ROOMED,
                              PM__APPOINTMENT_STATUS__WITH_PROVIDER,
                              PM__APPOINTMENT_STATUS__CHECKED_OUT};
    int k = 0, flow_events = 0;
    for (int i = 0; i < ev.n; i++) {
        if (i)
            assert_true(ev.ev[i].seq > ev.ev[i - 1].seq);
        assert_int_equal(ev.ev[i].kind, PM__EVENT__BODY_FLOW_CHANGED);
        flow_events++;
        if (ev.ev[i].appt != a1->id)
            continue;
        assert_true(k < 4);
        assert_string_equal(ev.ev[i].action, acts[k]);
        assert_int_equal(ev.ev[i].status, sts[k]);
        assert_string_equal(ev.ev[i].ticket, "M-001");
        k++;
    }
    assert_int_equal(k, 4);
    /* 5 check-ins, 5 to a room, 2 with the provider, 3 check-outs */
    assert_int_equal(flow_events, 15);
    pc_on_event(M, NULL, NULL);
}

/* Undo walks each step back to booked (the ticket is not given out again); undoing a
 * walk-in's check-in cancels it. */
static void test_undo(void **state)
{
    (void)state;
    const char *day = "2026-05-05";
    at(day, 7, 0, 0);
    char pu[24], pw[24], pw2[24], pv[24];
    patient("Undo", "Stepper", pu);
    patient("Walk", "Inn", pw);
    patient("Walk", "Inner", pw2);
    patient("Walk", "Refused", pv);
    Pm__Appointment *u = book(pu, "dr-b", "procedure", day, 9, 0);
    char booked_room[40];
    snprintf(booked_room, sizeof booked_room, "%s", u->room);
    assert_true(*booked_room);
    const char *other = strcmp(booked_room, "room-1") == 0 ? "room-2" : "room-1";
    uint64_t id = u->id;

    at(day, 8, 50, 0);
    step(R, id, PM__FLOW_ACTION__ARRIVE, NULL);
    at(day, 8, 52, 0);
    step(C, id, PM__FLOW_ACTION__TO_ROOM, other);
    at(day, 8, 55, 0);
    step(C, id, PM__FLOW_ACTION__SEE, NULL);
    at(day, 9, 20, 0);
    Pm__Appointment *x = step(R, id, PM__FLOW_ACTION__CHECK_OUT, NULL);
    uint32_t v_out = x->version;

    at(day, 9, 21, 0);
    refuse(R, id, v_out - 1, PM__FLOW_ACTION__UNDO, NULL, PM_E_CONFLICT, "version");
    SH_EXPECT(R, ts_flow_step(R, &A, id, v_out, PM__FLOW_ACTION__UNDO, NULL, &x), PM_OK);
    assert_int_equal(x->status, PM__APPOINTMENT_STATUS__WITH_PROVIDER);
    assert_int_equal(x->checked_out_at, 0);
    assert_int_equal(x->seen_at, (uint64_t)T(day, 8, 55, 0));
    assert_int_equal(x->version, v_out + 1);
    changed(x, "undo", "rita", T(day, 9, 21, 0));

    at(day, 9, 22, 0);
    x = step(C, id, PM__FLOW_ACTION__UNDO, NULL);
    assert_int_equal(x->status, PM__APPOINTMENT_STATUS__ROOMED);
    assert_int_equal(x->seen_at, 0);
    assert_int_equal(x->roomed_at, (uint64_t)T(day, 8, 52, 0));
    assert_string_equal(x->room, other);
    changed(x, "undo", "cleo", T(day, 9, 22, 0));

    at(day, 9, 23, 0);
    x = step(R, id, PM__FLOW_ACTION__UNDO, NULL);
    assert_int_equal(x->status, PM__APPOINTMENT_STATUS__ARRIVED);
    assert_int_equal(x->roomed_at, 0);
    assert_string_equal(x->ticket, "M-001");
    assert_int_equal(x->arrived_at, (uint64_t)T(day, 8, 50, 0));
    char room_after_undo[40];
    snprintf(room_after_undo, sizeof room_after_undo, "%s", x->room);
    /* the room the patient left is free for someone else */
    Pm__Appointment *w;
    at(day, 9, 30, 0);
    SH_EXPECT(R, ts_walk_in(R, &A, pw, "main", "checkup", "dr-a", "came in with a cough", &w),
              PM_OK);
    assert_int_equal(w->status, PM__APPOINTMENT_STATUS__ARRIVED);
    assert_true(w->walk_in);
    assert_string_equal(w->ticket, "M-002");
    assert_int_equal(w->start, T(day, 9, 30, 0));
    assert_int_equal(w->end, T(day, 10, 0, 0));
    assert_int_equal(w->arrived_at, (uint64_t)T(day, 9, 30, 0));
    assert_string_equal(w->provider, "dr-a");
    assert_string_equal(w->location, "main");
    changed(w, "walked in, ticket M-002", "rita", T(day, 9, 30, 0));
    step(C, w->id, PM__FLOW_ACTION__TO_ROOM, other);
    x = step(C, w->id, PM__FLOW_ACTION__UNDO, NULL);
    assert_int_equal(x->status, PM__APPOINTMENT_STATUS__ARRIVED);
    assert_true(x->walk_in);

    at(day, 9, 31, 0);
    x = step(R, id, PM__FLOW_ACTION__UNDO, NULL);
    assert_int_equal(x->status, PM__APPOINTMENT_STATUS__BOOKED);
    assert_int_equal(x->arrived_at, 0);
    assert_int_equal(x->roomed_at, 0);
    assert_int_equal(x->seen_at, 0);
    assert_int_equal(x->checked_out_at, 0);
    assert_string_equal(x->ticket, "");
    assert_false(x->late);
    changed(x, "M-001 not reused", "rita", T(day, 9, 31, 0));
    refuse(R, id, 0, PM__FLOW_ACTION__UNDO, NULL, PM_E_INVALID_ARGUMENT, "action");
    char room_when_booked_again[40];
    snprintf(room_when_booked_again, sizeof room_when_booked_again, "%s", x->room);

    /* checked in again: a new ticket */
    at(day, 9, 32, 0);
    assert_string_equal(step(R, id, PM__FLOW_ACTION__ARRIVE, NULL)->ticket, "M-003");

    /* undoing a walk-in's check-in cancels it: off the board, out of the queue */
    Pm__BoardState *b = board("main");
    assert_non_null(on_board(b, "M-002"));
    x = step(R, w->id, PM__FLOW_ACTION__UNDO, NULL);
    assert_int_equal(x->status, PM__APPOINTMENT_STATUS__CANCELLED);
    assert_true(*x->cancel_reason);
    changed(x, "undo: walk-in check-in", "rita", T(day, 9, 32, 0));
    b = board("main");
    assert_null(on_board(b, "M-002"));
    assert_non_null(on_board(b, "M-003"));
    refuse(R, w->id, 0, PM__FLOW_ACTION__ARRIVE, NULL, PM_E_INVALID_ARGUMENT, "action");
    refuse(R, w->id, 0, PM__FLOW_ACTION__UNDO, NULL, PM_E_INVALID_ARGUMENT, "action");
    assert_int_equal(in_flow(flow("main", day), w->id)->status, PM__APPOINTMENT_STATUS__CANCELLED);
    /* a walk-in for whoever is free, undone at once */
    SH_EXPECT(R, ts_walk_in(R, &A, pw2, "main", "short", NULL, NULL, &w), PM_OK);
    assert_string_equal(w->ticket, "M-004");
    assert_string_equal(w->provider, "");
    assert_int_equal(step(R, w->id, PM__FLOW_ACTION__UNDO, NULL)->status,
                     PM__APPOINTMENT_STATUS__CANCELLED);

    /* walk-ins refused, and none of them takes a ticket number */
    SH_EXPECT(R, ts_walk_in(R, &A, "12345674", "main", "checkup", NULL, NULL, NULL),
              PM_E_NOT_FOUND);
    SH_EXPECT(R, ts_walk_in(R, &A, pv, "main", "nope", NULL, NULL, NULL), PM_E_INVALID_ARGUMENT);
    assert_string_equal(pc_last_error_detail(R)->field, "visit_type");
    SH_EXPECT(R, ts_walk_in(R, &A, pv, "main", "checkup", "dr-zz", NULL, NULL),
              PM_E_INVALID_ARGUMENT);
    assert_string_equal(pc_last_error_detail(R)->field, "provider");
    SH_EXPECT(R, ts_walk_in(R, &A, pv, "main", "vaccine", "dr-a", NULL, NULL),
              PM_E_INVALID_ARGUMENT);
    assert_string_equal(pc_last_error_detail(R)->field, "visit_type");
    SH_EXPECT(R, ts_walk_in(R, &A, pv, "nowhere", "checkup", NULL, NULL, NULL),
              PM_E_INVALID_ARGUMENT);
    assert_string_equal(pc_last_error_detail(R)->field, "location");
    SH_EXPECT(C, ts_walk_in(C, &A, pv, "main", "checkup", NULL, NULL, NULL),
              PM_E_PERMISSION_DENIED);
    SH_EXPECT(D, ts_walk_in(D, &A, pv, "main", "checkup", NULL, NULL, NULL),
              PM_E_PERMISSION_DENIED);
    SH_EXPECT(R, ts_walk_in(R, &A, pv, "main", "vaccine", "dr-b", NULL, &w), PM_OK);
    assert_string_equal(w->ticket, "M-005");

    /* Undone back to booked, the appointment should hold the room it was booked with: the
     * room index and the room's schedule follow Appointment.room. */
    print_message("      booked with %s, roomed in %s; after undoing the room: %s; back to "
                  "booked: %s\n",
                  booked_room, other, room_after_undo, room_when_booked_again);
    assert_string_equal(room_when_booked_again, booked_room);
}

/* A check-out undone puts the patient back in the room they left, unless someone else has
 * been put in it since: then it is refused, naming who is there, and allowed once the room
 * is free again. */
static void test_undo_check_out_room_taken(void **state)
{
    (void)state;
    const char *day = "2026-05-21"; /* a day no other test books */
    at(day, 7, 0, 0);
    char pa[24], pb[24];
    patient("Room", "Leaver", pa);
    patient("Room", "Taker", pb);
    Pm__Appointment *a = book(pa, "dr-a", "checkup", day, 9, 0);
    Pm__Appointment *b = book(pb, "dr-a", "checkup", day, 10, 0);
    uint64_t ida = a->id, idb = b->id;
    at(day, 8, 55, 0);
    step(R, ida, PM__FLOW_ACTION__ARRIVE, NULL);
    step(C, ida, PM__FLOW_ACTION__TO_ROOM, "room-1");
    at(day, 9, 30, 0);
    uint32_t v_out = step(R, ida, PM__FLOW_ACTION__CHECK_OUT, NULL)->version;
    step(R, idb, PM__FLOW_ACTION__ARRIVE, NULL);
    step(C, idb, PM__FLOW_ACTION__TO_ROOM, "room-1");
    refuse(R, ida, v_out, PM__FLOW_ACTION__UNDO, NULL, PM_E_ROOM_BUSY, "room");
    assert_true(sh_conflicts_has(pc_last_error_detail(R), idb));
    step(R, idb, PM__FLOW_ACTION__CHECK_OUT, NULL);
    Pm__Appointment *x = step(R, ida, PM__FLOW_ACTION__UNDO, NULL);
    assert_int_equal(x->status, PM__APPOINTMENT_STATUS__ROOMED);
    assert_string_equal(x->room, "room-1");
}

/* Tickets: per location and day, in sequence, the location's prefix, from 001 again the
 * next day; a check-in undone does not give its number back. */
static void test_tickets(void **state)
{
    (void)state;
    const char *d1 = "2026-05-06", *d2 = "2026-05-07";
    at(d1, 7, 0, 0);
    char p[10][24];
    for (int i = 0; i < 10; i++) {
        char last[16];
        snprintf(last, sizeof last, "Ticket%c", 'A' + i);
        patient("Queue", last, p[i]);
    }
    Pm__Appointment *m1 = book(p[0], "dr-a", "checkup", d1, 9, 0);
    Pm__Appointment *m2 = book(p[1], "dr-a", "checkup", d1, 9, 30);
    Pm__Appointment *m3 = book(p[2], "dr-b", "checkup", d1, 9, 0);
    Pm__Appointment *m4 = book(p[3], "dr-b", "checkup", d1, 9, 30);
    Pm__Appointment *x1 = book(p[4], "dr-c", "checkup", d1, 9, 0);
    Pm__Appointment *x2 = book(p[5], "dr-c", "checkup", d1, 9, 30);
    Pm__Appointment *n1 = book(p[6], "dr-a", "checkup", d2, 9, 0);
    Pm__Appointment *n2 = book(p[7], "dr-c", "checkup", d2, 9, 0);

    at(d1, 8, 0, 0);
    assert_string_equal(step(R, m1->id, PM__FLOW_ACTION__ARRIVE, NULL)->ticket, "M-001");
    assert_string_equal(step(R, x1->id, PM__FLOW_ACTION__ARRIVE, NULL)->ticket, "AX-001");
    assert_string_equal(step(R, m2->id, PM__FLOW_ACTION__ARRIVE, NULL)->ticket, "M-002");
    Pm__Appointment *w;
    SH_EXPECT(R, ts_walk_in(R, &A, p[8], "main", "short", NULL, NULL, &w), PM_OK);
    assert_string_equal(w->ticket, "M-003");
    assert_string_equal(step(R, m2->id, PM__FLOW_ACTION__UNDO, NULL)->ticket, "");
    assert_string_equal(step(R, m3->id, PM__FLOW_ACTION__ARRIVE, NULL)->ticket, "M-004");
    assert_string_equal(step(R, m2->id, PM__FLOW_ACTION__ARRIVE, NULL)->ticket, "M-005");
    assert_string_equal(step(R, x2->id, PM__FLOW_ACTION__ARRIVE, NULL)->ticket, "AX-002");
    SH_EXPECT(R, ts_walk_in(R, &A, p[9], "annex", "short", NULL, NULL, &w), PM_OK);
    assert_string_equal(w->ticket, "AX-003");
    assert_string_equal(step(R, m4->id, PM__FLOW_ACTION__ARRIVE, NULL)->ticket, "M-006");

    /* every ticket of the day's flow is unique at its location, and the board shows them */
    Pm__Flow *f = flow("main", d1);
    for (size_t i = 0; i < f->n_appointments; i++) {
        assert_int_equal(strncmp(f->appointments[i]->ticket, "M-", 2), 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(f->appointments[i]->ticket, f->appointments[j]->ticket);
    }
    assert_int_equal(f->n_appointments, 5);
    Pm__BoardState *b = board("main");
    assert_int_equal(b->n_waiting, 5);
    assert_string_equal(b->location_name, "Main Street");

    /* the next day starts again at 001, at both locations */
    at(d2, 8, 0, 0);
    assert_string_equal(step(R, n2->id, PM__FLOW_ACTION__ARRIVE, NULL)->ticket, "AX-001");
    assert_string_equal(step(R, n1->id, PM__FLOW_ACTION__ARRIVE, NULL)->ticket, "M-001");
    /* and yesterday's waiting are not on today's board */
    b = board("main");
    assert_int_equal(b->n_waiting, 1);
    assert_string_equal(b->waiting[0]->ticket, "M-001");
}

static int utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80             ? 0
                : (*p & 0xE0) == 0xC0 ? 1
                : (*p & 0xF0) == 0xE0 ? 2
                : (*p & 0xF8) == 0xF0 ? 3
                                      : -1;
        if (n < 0)
            return 0;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xC0) != 0x80)
                return 0;
    }
    return 1;
}

/* A ticket prefix the manager chose is either refused or printed whole on every ticket: a
 * ticket is shown on the waiting-room screen and must be valid text. */
static void test_ticket_prefix_whole(void **state)
{
    (void)state;
    const char *day = "2026-05-19";
    at(day, 8, 0, 0);
    static const char *const prefixes[] = {"ÉÉÉÉÉÉÉÉ", "Westside-Clinic-Desk"};
    static const char *const ids[] = {"lobby-e", "lobby-w"};
    int bad = 0;
    for (int i = 0; i < 2; i++) {
        Pm__Envelope *e = pc_env(&A, PM__ENVELOPE__BODY_PUT_LOCATION), *resp = NULL;
        e->put_location = pm_msg_new(&A, &pm__put_location__descriptor);
        Pm__Location *l = pm_msg_new(&A, &pm__location__descriptor);
        l->id = (char *)ids[i];
        l->name = "Lobby";
        l->ticket_prefix = (char *)prefixes[i];
        e->put_location->location = l;
        int rc = pc_call(M, e, &A, &resp);
        if (rc != PM_OK) {
            print_message("      prefix '%s' refused: %s\n", prefixes[i], pc_last_error(M));
            assert_int_equal(rc, PM_E_INVALID_ARGUMENT);
            assert_string_equal(pc_last_error_detail(M)->field, "ticket_prefix");
            continue;
        }
        char mrn[24];
        patient("Prefix", ids[i], mrn);
        Pm__Appointment *w;
        SH_EXPECT(R, ts_walk_in(R, &A, mrn, ids[i], "short", NULL, NULL, &w), PM_OK);
        int whole = strncmp(w->ticket, prefixes[i], strlen(prefixes[i])) == 0;
        print_message("      prefix '%s' (%zu bytes) accepted; ticket '%s' (%s UTF-8, prefix %s)\n",
                      prefixes[i], strlen(prefixes[i]), w->ticket,
                      utf8_ok(w->ticket) ? "valid" : "INVALID", whole ? "whole" : "CUT");
        bad += !utf8_ok(w->ticket) || !whole;
    }
    assert_int_equal(bad, 0);
}

/* Late: arrived more than --grace-minutes after the time. Overdue (GetFlow): booked, not
 * arrived, and the time plus the grace has passed. */
static void test_late_and_overdue(void **state)
{
    (void)state;
    const char *day = "2026-05-08";
    at(day, 7, 0, 0);
    char p[6][24];
    for (int i = 0; i < 6; i++) {
        char last[16];
        snprintf(last, sizeof last, "Late%c", 'A' + i);
        patient("Clock", last, p[i]);
    }
    Pm__Appointment *l1 = book(p[0], "dr-a", "checkup", day, 9, 0);
    Pm__Appointment *l2 = book(p[1], "dr-a", "checkup", day, 9, 30);
    Pm__Appointment *l3 = book(p[2], "dr-b", "checkup", day, 9, 0);
    Pm__Appointment *l4 = book(p[3], "dr-b", "checkup", day, 9, 30);
    Pm__Appointment *l5 = book(p[4], "dr-b", "checkup", day, 10, 0);
    Pm__Appointment *l6 = book(p[5], "dr-a", "checkup", day, 11, 0);
    SH_EXPECT(R, sh_cancel(R, &A, l5->id, l5->version, "no longer needed", PM__SCOPE__THIS, NULL),
              PM_OK);

    /* early is not late */
    at(day, 8, 0, 0);
    Pm__Appointment *x = step(R, l6->id, PM__FLOW_ACTION__ARRIVE, NULL);
    assert_false(x->late);
    /* exactly at the time plus the grace: neither late nor overdue */
    at(day, 9, GRACE_MIN, 0);
    Pm__Flow *f = flow("main", day);
    assert_int_equal(f->grace_min, GRACE_MIN);
    assert_false(in_flow(f, l3->id)->overdue);
    assert_false(in_flow(f, l1->id)->overdue);
    x = step(R, l1->id, PM__FLOW_ACTION__ARRIVE, NULL);
    assert_false(x->late);
    changed(x, "arrived, ticket", "rita", T(day, 9, GRACE_MIN, 0));
    assert_null(strstr(last_change(x)->what, "late"));
    /* one second more */
    at(day, 9, GRACE_MIN, 1);
    f = flow("main", day);
    assert_true(in_flow(f, l3->id)->overdue);
    assert_false(in_flow(f, l1->id)->overdue); /* arrived */
    assert_false(in_flow(f, l2->id)->overdue); /* not yet its time */
    assert_false(in_flow(f, l6->id)->overdue);
    x = step(R, l3->id, PM__FLOW_ACTION__ARRIVE, NULL);
    assert_true(x->late);
    changed(x, "arrived late", "rita", T(day, 9, GRACE_MIN, 1));
    assert_false(in_flow(flow("main", day), l3->id)->overdue);
    at(day, 9, 30 + GRACE_MIN - 1, 59);
    x = step(R, l2->id, PM__FLOW_ACTION__ARRIVE, NULL);
    assert_false(x->late);
    at(day, 9, 36, 0);
    f = flow("main", day);
    assert_true(in_flow(f, l4->id)->overdue);
    assert_false(in_flow(f, l5->id)->overdue); /* cancelled */
    /* undone check-in: not late any more, and overdue again */
    x = step(R, l3->id, PM__FLOW_ACTION__UNDO, NULL);
    assert_false(x->late);
    assert_true(in_flow(flow("main", day), l3->id)->overdue);
    /* the late flag stays through the day */
    x = step(R, l3->id, PM__FLOW_ACTION__ARRIVE, NULL);
    assert_true(x->late);
    step(C, l3->id, PM__FLOW_ACTION__SEE, NULL);
    assert_true(step(R, l3->id, PM__FLOW_ACTION__CHECK_OUT, NULL)->late);
    /* an earlier day's flow: its unarrived are overdue (on the 5th, test_steps_and_refusals
     * left one booked for 17:00) */
    f = flow("main", "2026-05-05");
    int overdue = 0;
    for (size_t i = 0; i < f->n_appointments; i++)
        overdue += f->appointments[i]->overdue;
    assert_int_equal(overdue, 1);
}

/* ---- the wait estimates ---- */

static void expect_est(const Pm__Flow *f, uint64_t id, const char *name, time_t want)
{
    const Pm__Appointment *ap = in_flow(f, id);
    assert_non_null(ap);
    if (ap->estimated_start != (uint64_t)want)
        print_error("%s: estimated start %s, wanted %s\n", name, when((time_t)ap->estimated_start),
                    when(want));
    assert_int_equal(ap->estimated_start, (uint64_t)want);
}

static void expect_pace(const Pm__Flow *f, const char *provider, double pace, int late,
                        unsigned waiting)
{
    const Pm__ProviderPace *pp = pace_of(f, provider);
    assert_non_null(pp);
    if (pp->pace < pace - 1e-9 || pp->pace > pace + 1e-9 || pp->running_late_min != late ||
        pp->waiting != waiting)
        print_error("%s: pace %.4f, %d min late, %u waiting; wanted %.4f, %d, %u\n", provider,
                    pp->pace, pp->running_late_min, pp->waiting, pace, late, waiting);
    assert_true(pp->pace > pace - 1e-9 && pp->pace < pace + 1e-9);
    assert_int_equal(pp->running_late_min, late);
    assert_int_equal(pp->waiting, waiting);
}

static void expect_wait(const Pm__BoardState *b, const char *ticket, unsigned minutes, time_t est)
{
    const Pm__BoardTicket *t = on_board(b, ticket);
    if (!t)
        print_error("%s is not on the board\n", ticket);
    assert_non_null(t);
    if (t->wait_min != minutes || t->estimated_start != (uint64_t)est)
        print_error("%s: wait %u min (estimated %s), wanted %u (%s)\n", ticket, t->wait_min,
                    when((time_t)t->estimated_start), minutes, when(est));
    assert_int_equal(t->wait_min, minutes);
    assert_int_equal(t->estimated_start, (uint64_t)est);
}

/* A scripted morning with known durations, worked out by hand from the rule in flow.c:
 * pace = actual / scheduled duration of the provider's finished visits (0.5 to 3); each
 * provider is free when the visit in progress ends at that pace; the waiting (the roomed
 * first, then by time, walk-ins by arrival) are seen in order and not before their time;
 * a walk-in for anyone goes to whoever is free first; running late = the most any waiting
 * patient will be seen after their time. */
static void test_estimates(void **state)
{
    (void)state;
    const char *day = "2026-05-11";
    at(day, 7, 0, 0);
    char p[9][24];
    for (int i = 0; i < 9; i++) {
        char last[16];
        snprintf(last, sizeof last, "Pace%c", 'A' + i);
        patient("Wait", last, p[i]);
    }
    uint64_t a1 = book(p[0], "dr-a", "checkup", day, 9, 0)->id;
    uint64_t a2 = book(p[1], "dr-a", "checkup", day, 9, 30)->id;
    uint64_t a3 = book(p[2], "dr-a", "checkup", day, 10, 0)->id;
    uint64_t a4 = book(p[3], "dr-a", "checkup", day, 10, 30)->id;
    uint64_t b1 = book(p[4], "dr-b", "short", day, 9, 0)->id;
    book(p[5], "dr-b", "short", day, 11, 0);
#define TT(h, m, s) T(day, h, m, s)

    at(day, 8, 50, 0);
    Pm__Appointment *x = step(R, a1, PM__FLOW_ACTION__ARRIVE, NULL);
    assert_int_equal(x->estimated_start, (uint64_t)TT(9, 0, 0));
    Pm__Flow *f = flow("main", day);
    assert_int_equal(f->as_of, (uint64_t)TT(8, 50, 0));
    assert_int_equal(f->n_providers, 2);
    expect_est(f, a1, "A1", TT(9, 0, 0));
    expect_pace(f, "dr-a", 1.0, 0, 1);
    expect_pace(f, "dr-b", 1.0, 0, 0);
    Pm__BoardState *b = board("main");
    assert_int_equal(b->as_of, (uint64_t)TT(8, 50, 0));
    expect_wait(b, "M-001", 10, TT(9, 0, 0));

    at(day, 8, 55, 0);
    step(R, a2, PM__FLOW_ACTION__ARRIVE, NULL);
    step(R, b1, PM__FLOW_ACTION__ARRIVE, NULL);
    f = flow("main", day);
    expect_est(f, a1, "A1", TT(9, 0, 0));
    expect_est(f, a2, "A2", TT(9, 30, 0));
    expect_est(f, b1, "B1", TT(9, 0, 0));
    expect_pace(f, "dr-a", 1.0, 0, 2);
    expect_pace(f, "dr-b", 1.0, 0, 1);

    at(day, 9, 0, 0);
    step(C, b1, PM__FLOW_ACTION__SEE, NULL);
    at(day, 9, 5, 0);
    step(C, a1, PM__FLOW_ACTION__SEE, NULL);
    /* dr-a is busy until 09:35 at the planned pace: A2 five minutes late */
    f = flow("main", day);
    expect_est(f, a2, "A2", TT(9, 35, 0));
    expect_pace(f, "dr-a", 1.0, 5, 1);
    expect_pace(f, "dr-b", 1.0, 0, 0);
    expect_wait(board("main"), "M-002", 30, TT(9, 35, 0));

    /* B1 took 10 of its 20 minutes: dr-b's pace 0.5; A1 45 of 30: dr-a's 1.5 */
    at(day, 9, 10, 0);
    step(R, b1, PM__FLOW_ACTION__CHECK_OUT, NULL);
    at(day, 9, 50, 0);
    step(R, a1, PM__FLOW_ACTION__CHECK_OUT, NULL);
    f = flow("main", day);
    expect_est(f, a2, "A2", TT(9, 50, 0));
    expect_pace(f, "dr-a", 1.5, 20, 1);
    expect_pace(f, "dr-b", 0.5, 0, 0);

    at(day, 9, 52, 0);
    step(R, a3, PM__FLOW_ACTION__ARRIVE, NULL);
    f = flow("main", day);
    expect_est(f, a2, "A2", TT(9, 52, 0));
    expect_est(f, a3, "A3", TT(10, 37, 0)); /* 09:52 + 30 min x 1.5 */
    expect_pace(f, "dr-a", 1.5, 37, 2);

    at(day, 9, 55, 0);
    step(C, a2, PM__FLOW_ACTION__SEE, NULL);
    f = flow("main", day);
    expect_est(f, a3, "A3", TT(10, 40, 0));
    expect_pace(f, "dr-a", 1.5, 40, 1);

    at(day, 10, 0, 0);
    step(R, a4, PM__FLOW_ACTION__ARRIVE, NULL);
    f = flow("main", day);
    expect_est(f, a3, "A3", TT(10, 40, 0));
    expect_est(f, a4, "A4", TT(11, 25, 0));
    expect_pace(f, "dr-a", 1.5, 55, 2);
    b = board("main");
    expect_wait(b, "M-004", 40, TT(10, 40, 0));
    expect_wait(b, "M-005", 85, TT(11, 25, 0));

    /* a walk-in for anyone: dr-b is free now */
    at(day, 10, 5, 0);
    Pm__Appointment *w;
    SH_EXPECT(R, ts_walk_in(R, &A, p[6], "main", "short", NULL, NULL, &w), PM_OK);
    uint64_t w1 = w->id;
    assert_string_equal(w->ticket, "M-006");
    assert_int_equal(w->estimated_start, (uint64_t)TT(10, 5, 0));
    f = flow("main", day);
    expect_est(f, w1, "W1", TT(10, 5, 0));
    expect_est(f, a4, "A4", TT(11, 25, 0));
    expect_pace(f, "dr-a", 1.5, 55, 2);
    expect_pace(f, "dr-b", 0.5, 0, 1);

    /* a walk-in for dr-a: after those before it, and not counted as lateness */
    at(day, 10, 6, 0);
    SH_EXPECT(R, ts_walk_in(R, &A, p[7], "main", "short", "dr-a", NULL, &w), PM_OK);
    uint64_t w2 = w->id;
    f = flow("main", day);
    expect_est(f, a3, "A3", TT(10, 40, 0));
    expect_est(f, w1, "W1", TT(10, 6, 0));
    expect_est(f, w2, "W2", TT(11, 25, 0));
    expect_est(f, a4, "A4", TT(11, 55, 0)); /* 11:25 + 20 min x 1.5 */
    expect_pace(f, "dr-a", 1.5, 85, 3);
    expect_pace(f, "dr-b", 0.5, 0, 1);

    /* another for anyone: dr-b is free first again, after W1 at its pace */
    at(day, 10, 7, 0);
    SH_EXPECT(R, ts_walk_in(R, &A, p[8], "main", "short", NULL, NULL, &w), PM_OK);
    uint64_t w3 = w->id;
    assert_int_equal(w->estimated_start, (uint64_t)TT(10, 17, 0));
    f = flow("main", day);
    expect_est(f, w1, "W1", TT(10, 7, 0));
    expect_est(f, w3, "W3", TT(10, 17, 0)); /* 10:07 + 20 min x 0.5 */
    expect_est(f, a4, "A4", TT(11, 55, 0));
    expect_pace(f, "dr-b", 0.5, 0, 2);

    /* the roomed go first */
    at(day, 10, 10, 0);
    step(C, a4, PM__FLOW_ACTION__TO_ROOM, "room-1");
    f = flow("main", day);
    expect_est(f, a4, "A4", TT(10, 40, 0));
    expect_est(f, a3, "A3", TT(11, 25, 0));
    expect_est(f, w1, "W1", TT(10, 10, 0));
    expect_est(f, w2, "W2", TT(12, 10, 0));
    expect_est(f, w3, "W3", TT(10, 20, 0));
    expect_pace(f, "dr-a", 1.5, 85, 3);
    expect_pace(f, "dr-b", 0.5, 0, 2);
    b = board("main");
    assert_int_equal(b->n_waiting, 4);
    expect_wait(b, "M-004", 75, TT(11, 25, 0));
    expect_wait(b, "M-006", 0, TT(10, 10, 0));
    expect_wait(b, "M-007", 120, TT(12, 10, 0));
    expect_wait(b, "M-008", 10, TT(10, 20, 0));
    assert_null(on_board(b, "M-005"));
    assert_int_equal(b->n_calls, 1);
    assert_string_equal(b->calls[0]->ticket, "M-005");
    assert_string_equal(b->calls[0]->room, "Room room-1");
    assert_int_equal(b->calls[0]->at, (uint64_t)TT(10, 10, 0));

    /* A2 took 30 minutes: dr-a's pace (45 + 30) / (30 + 30) = 1.25 */
    static fl_events ev;
    listen_to(M, &ev, "flow/main");
    at(day, 10, 25, 0);
    step(R, a2, PM__FLOW_ACTION__CHECK_OUT, NULL);
    f = flow("main", day);
    expect_est(f, a4, "A4", TT(10, 30, 0));
    expect_est(f, a3, "A3", TT(11, 7, 30)); /* 10:30 + 30 min x 1.25 */
    expect_est(f, w1, "W1", TT(10, 25, 0));
    expect_est(f, w2, "W2", TT(11, 45, 0));
    expect_est(f, w3, "W3", TT(10, 35, 0));
    expect_pace(f, "dr-a", 1.25, 67, 3);
    expect_pace(f, "dr-b", 0.5, 0, 2);
    b = board("main");
    expect_wait(b, "M-004", 43, TT(11, 7, 30)); /* 42.5 minutes, rounded up */
    expect_wait(b, "M-007", 80, TT(11, 45, 0));
    expect_wait(b, "M-008", 10, TT(10, 35, 0));
    /* the step's event carries the same figures */
    wait_events(M, &ev, a2, 1);
    const fl_ev *e = &ev.ev[0];
    assert_int_equal(e->appt, a2);
    assert_string_equal(e->action, "check_out");
    assert_int_equal(e->nprov, 2);
    for (int i = 0; i < e->nprov; i++) {
        int is_a = strcmp(e->prov[i], "dr-a") == 0;
        assert_true(is_a || strcmp(e->prov[i], "dr-b") == 0);
        assert_true(e->pace[i] == (is_a ? 1.25 : 0.5));
        assert_int_equal(e->late[i], is_a ? 67 : 0);
        assert_int_equal(e->waiting[i], is_a ? 3u : 2u);
    }
    pc_on_event(M, NULL, NULL);
    (void)w3;
#undef TT
}

/* A walk-in for anyone, once with a provider, keeps that provider busy: while dr-a is
 * with A1, the walk-in can only be with dr-b, whose next patient must wait for it. */
static void test_walk_in_for_anyone_seen(void **state)
{
    (void)state;
    const char *day = "2026-05-18";
    at(day, 7, 0, 0);
    char pa[24], pb[24], pw[24];
    patient("Anyone", "Booked", pa);
    patient("Anyone", "Next", pb);
    patient("Anyone", "Walking", pw);
    uint64_t a1 = book(pa, "dr-a", "checkup", day, 9, 0)->id;
    uint64_t b1 = book(pb, "dr-b", "short", day, 9, 10)->id;
    at(day, 8, 55, 0);
    step(R, a1, PM__FLOW_ACTION__ARRIVE, NULL);
    at(day, 9, 0, 0);
    step(C, a1, PM__FLOW_ACTION__SEE, NULL);
    Pm__Appointment *w;
    SH_EXPECT(R, ts_walk_in(R, &A, pw, "main", "short", NULL, NULL, &w), PM_OK);
    assert_int_equal(w->estimated_start, (uint64_t)T(day, 9, 0, 0));
    at(day, 9, 1, 0);
    step(R, b1, PM__FLOW_ACTION__ARRIVE, NULL);
    Pm__Flow *f = flow("main", day);
    expect_est(f, w->id, "W", T(day, 9, 1, 0));
    expect_est(f, b1, "B1", T(day, 9, 21, 0));
    expect_pace(f, "dr-b", 1.0, 11, 2);
    at(day, 9, 2, 0);
    step(C, w->id, PM__FLOW_ACTION__SEE, NULL);
    f = flow("main", day);
    print_message("      walk-in with a provider since 09:02 (dr-a is with A1 until 09:30): "
                  "B1 (dr-b, 09:10) estimated at %s, dr-b %d min late\n",
                  when((time_t)in_flow(f, b1)->estimated_start),
                  pace_of(f, "dr-b")->running_late_min);
    expect_est(f, b1, "B1", T(day, 9, 22, 0));
    expect_pace(f, "dr-b", 1.0, 12, 1);
    /* the one who sees them is written down */
    assert_string_equal(in_flow(f, w->id)->provider, "dr-b");
    changed(get(w->id), "with the provider (dr-b)", "cleo", T(day, 9, 2, 0));

    /* another, seen and the step undone: back to a walk-in for anyone, whom the estimate
     * may give to whoever is free first */
    char pw2[24], pw3[24];
    patient("Anyone", "Undone", pw2);
    patient("Anyone", "Named", pw3);
    Pm__Appointment *w2, *w3;
    SH_EXPECT(R, ts_walk_in(R, &A, pw2, "main", "short", NULL, NULL, &w2), PM_OK);
    const char *seen_by = step(C, w2->id, PM__FLOW_ACTION__SEE, NULL)->provider;
    /* the desk watching that provider's schedule hears of the undo too */
    static fl_events heard;
    char topic[64];
    snprintf(topic, sizeof topic, "schedule/provider/%s", seen_by);
    listen_to(M, &heard, topic);
    Pm__Appointment *back = step(C, w2->id, PM__FLOW_ACTION__UNDO, NULL);
    assert_int_equal(back->status, PM__APPOINTMENT_STATUS__ARRIVED);
    int undo_heard = 0;
    for (int waited = 0; waited < 10000 && !undo_heard; waited += 50) {
        for (int i = 0; i < heard.n; i++)
            undo_heard |=
                heard.ev[i].appt == w2->id && heard.ev[i].status == PM__APPOINTMENT_STATUS__ARRIVED;
        if (!undo_heard)
            pc_poll(M, 50);
    }
    pc_on_event(M, NULL, NULL);
    assert_true(undo_heard);
    print_message("      a walk-in for anyone seen by %s, then the step undone: provider '%s'\n",
                  seen_by, back->provider);
    /* a third: seen by the provider named; an unknown one is refused */
    SH_EXPECT(R, ts_walk_in(R, &A, pw3, "main", "short", NULL, NULL, &w3), PM_OK);
    SH_EXPECT(C, ts_flow_see(C, &A, w3->id, "dr-zz", NULL), PM_E_INVALID_ARGUMENT);
    assert_string_equal(pc_last_error_detail(C)->field, "provider");
    Pm__Appointment *seen3;
    SH_EXPECT(C, ts_flow_see(C, &A, w3->id, "dr-a", &seen3), PM_OK);
    assert_string_equal(seen3->provider, "dr-a");
    changed(seen3, "with the provider (dr-a)", "cleo", T(day, 9, 2, 0));
    assert_string_equal(back->provider, "");
}

/* A walk-in for anyone goes to whoever is free first among those who offer the visit. */
static void test_walk_in_for_anyone_offered_only(void **state)
{
    (void)state;
    const char *day = "2026-05-20";
    at(day, 7, 0, 0);
    char pa[24], pb[24], pw[24];
    patient("Offered", "Booked", pa);
    patient("Offered", "Busy", pb);
    patient("Offered", "Jab", pw);
    book(pa, "dr-a", "checkup", day, 10, 0);
    uint64_t b1 = book(pb, "dr-b", "checkup", day, 9, 0)->id;
    at(day, 8, 55, 0);
    step(R, b1, PM__FLOW_ACTION__ARRIVE, NULL);
    at(day, 9, 0, 0);
    step(C, b1, PM__FLOW_ACTION__SEE, NULL); /* dr-b busy until 09:30 */
    /* a vaccine (dr-b's alone): dr-a is free, but does not give it */
    Pm__Appointment *w;
    SH_EXPECT(R, ts_walk_in(R, &A, pw, "main", "vaccine", NULL, NULL, &w), PM_OK);
    Pm__Flow *f = flow("main", day);
    print_message("      a vaccine walk-in for anyone while dr-b (who alone gives it) is busy "
                  "until 09:30: estimated at %s\n",
                  when((time_t)in_flow(f, w->id)->estimated_start));
    expect_est(f, w->id, "W", T(day, 9, 30, 0));
    expect_pace(f, "dr-b", 1.0, 0, 1);
    /* seen without naming anyone: dr-b */
    at(day, 9, 20, 0);
    step(R, b1, PM__FLOW_ACTION__CHECK_OUT, NULL);
    at(day, 9, 21, 0);
    assert_string_equal(step(C, w->id, PM__FLOW_ACTION__SEE, NULL)->provider, "dr-b");
}

/* ---- the end of the day ---- */

static int listed(const Pm__AppointmentList *l, uint64_t id)
{
    for (size_t i = 0; i < l->n_appointments; i++)
        if (l->appointments[i]->id == id)
            return 1;
    return 0;
}

/* CloseDay lists the day's unarrived; with confirm (a manager's) they become no-shows. */
static void test_close_day(void **state)
{
    (void)state;
    const char *day = "2026-05-12";
    at(day, 7, 0, 0);
    char p[5][24];
    for (int i = 0; i < 5; i++) {
        char last[16];
        snprintf(last, sizeof last, "Close%c", 'A' + i);
        patient("Day", last, p[i]);
    }
    Pm__Appointment *c1 = book(p[0], "dr-a", "checkup", day, 9, 0);
    Pm__Appointment *c2 = book(p[1], "dr-a", "checkup", day, 9, 30);
    Pm__Appointment *c3 = book(p[2], "dr-b", "checkup", day, 10, 0);
    Pm__Appointment *c4 = book(p[3], "dr-b", "checkup", day, 16, 0);
    Pm__Appointment *c5 = book(p[4], "dr-c", "checkup", day, 9, 0);
    SH_EXPECT(R, sh_cancel(R, &A, c3->id, c3->version, "away", PM__SCOPE__THIS, NULL), PM_OK);
    at(day, 9, 0, 0);
    step(R, c1->id, PM__FLOW_ACTION__ARRIVE, NULL);

    at(day, 17, 0, 0);
    Pm__AppointmentList *l;
    SH_EXPECT(M, ts_close_day(M, &A, "main", day, 0, &l), PM_OK);
    for (size_t i = 0; i < l->n_appointments; i++)
        print_message("      unarrived: %llu %s (%s)\n", (unsigned long long)l->appointments[i]->id,
                      l->appointments[i]->patient_name, when(l->appointments[i]->start));
    assert_int_equal(l->n_appointments, 2);
    assert_true(listed(l, c2->id));
    assert_true(listed(l, c4->id));
    assert_string_equal(l->appointments[0]->patient_name, "CloseB, Day");
    assert_int_equal(get(c2->id)->status, PM__APPOINTMENT_STATUS__BOOKED);
    /* the manager's alone */
    SH_EXPECT(R, ts_close_day(R, &A, "main", day, 1, NULL), PM_E_PERMISSION_DENIED);
    SH_EXPECT(C, ts_close_day(C, &A, "main", day, 0, NULL), PM_E_PERMISSION_DENIED);
    SH_EXPECT(D, ts_close_day(D, &A, "main", day, 0, NULL), PM_E_PERMISSION_DENIED);
    SH_EXPECT(M, ts_close_day(M, &A, "main", "2026-05-14", 1, NULL), PM_E_INVALID_ARGUMENT);
    SH_EXPECT(M, ts_close_day(M, &A, "nowhere", day, 0, NULL), PM_E_NOT_FOUND);
    SH_EXPECT(M, ts_close_day(M, &A, "main", "12/05/2026", 0, NULL), PM_E_INVALID_ARGUMENT);
    assert_int_equal(get(c2->id)->status, PM__APPOINTMENT_STATUS__BOOKED);

    /* the next morning: the default day is yesterday */
    static fl_events ev;
    char topic[64];
    snprintf(topic, sizeof topic, "schedule/location/main/%s", day);
    listen_to(C, &ev, topic);
    at("2026-05-13", 8, 0, 0);
    SH_EXPECT(M, ts_close_day(M, &A, "main", NULL, 1, &l), PM_OK);
    assert_int_equal(l->n_appointments, 2);
    assert_true(listed(l, c2->id));
    assert_true(listed(l, c4->id));
    for (int i = 0; i < 2; i++) {
        Pm__Appointment *g = get(i ? c4->id : c2->id);
        assert_int_equal(g->status, PM__APPOINTMENT_STATUS__NO_SHOW);
        changed(g, "no-show", S.manager, T("2026-05-13", 8, 0, 0));
    }
    assert_int_equal(get(c1->id)->status, PM__APPOINTMENT_STATUS__ARRIVED);
    assert_int_equal(get(c3->id)->status, PM__APPOINTMENT_STATUS__CANCELLED);
    assert_int_equal(get(c5->id)->status, PM__APPOINTMENT_STATUS__BOOKED); /* the annex's */
    wait_events(C, &ev, c2->id, 1);
    wait_events(C, &ev, c4->id, 1);
    for (int i = 0; i < ev.n; i++)
        assert_string_equal(ev.ev[i].action, "no_show");
    /* again: nothing left to close */
    SH_EXPECT(M, ts_close_day(M, &A, "main", day, 1, &l), PM_OK);
    assert_int_equal(l->n_appointments, 0);
    SH_EXPECT(M, ts_close_day(M, &A, "annex", day, 1, &l), PM_OK);
    assert_int_equal(l->n_appointments, 1);
    assert_int_equal(get(c5->id)->status, PM__APPOINTMENT_STATUS__NO_SHOW);
    pc_on_event(C, NULL, NULL);
}

/* Closing today at a location makes its overdue visits no-shows in one write: the board
 * is sent once, with all of them gone, not once per no-show. */
static void test_close_today_one_board_event(void **state)
{
    (void)state;
    const char *day = "2026-05-15";
    at(day, 7, 0, 0);
    Pm__Appointment *ap[3];
    for (int i = 0; i < 3; i++) {
        char last[16], mrn[24];
        snprintf(last, sizeof last, "Board%c", 'A' + i);
        patient("Once", last, mrn);
        ap[i] = book(mrn, "dr-a", "checkup", day, 9 + i, 0);
    }
    at(day, 16, 0, 0);
    static fl_events ev;
    listen_to(D, &ev, "board/main");
    Pm__AppointmentList *l;
    SH_EXPECT(M, ts_close_day(M, &A, "main", day, 1, &l), PM_OK);
    assert_int_equal(l->n_appointments, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(get(ap[i]->id)->status, PM__APPOINTMENT_STATUS__NO_SHOW);
    int boards = 0;
    for (int waited = 0; waited < 10000 && boards == 0; waited += 50) {
        pc_poll(D, 50);
        boards = 0;
        for (int i = 0; i < ev.n; i++)
            boards += ev.ev[i].kind == PM__EVENT__BODY_BOARD_CHANGED;
    }
    for (int i = 0; i < 10; i++) /* anything more would come with it */
        pc_poll(D, 50);
    boards = 0;
    for (int i = 0; i < ev.n; i++)
        boards += ev.ev[i].kind == PM__EVENT__BODY_BOARD_CHANGED;
    print_message("      board events for three no-shows: %d\n", boards);
    assert_int_equal(boards, 1);
    pc_on_event(D, NULL, NULL);
}

/* A walk-in for anyone at a location where nobody works today is not "seen" by nobody:
 * the step asks who sees them, and goes through once someone is named. */
static void test_walk_in_for_anyone_where_nobody_works(void **state)
{
    (void)state;
    const char *day = "2026-05-19";
    at(day, 10, 0, 0);
    SH_EXPECT(M, sh_location(M, &A, "kiosk", "Walk-in Kiosk"), PM_OK);
    char pw[24];
    patient("Nobody", "Works", pw);
    Pm__Appointment *w;
    SH_EXPECT(R, ts_walk_in(R, &A, pw, "kiosk", "checkup", NULL, NULL, &w), PM_OK);
    SH_EXPECT(C, ts_flow_see(C, &A, w->id, "", NULL), PM_E_INVALID_ARGUMENT);
    print_message("      %s\n", pc_last_error(C));
    assert_string_equal(pc_last_error_detail(C)->field, "provider");
    assert_string_equal(get(w->id)->provider, "");
    Pm__Appointment *seen = NULL;
    SH_EXPECT(C, ts_flow_see(C, &A, w->id, "dr-a", &seen), PM_OK);
    assert_int_equal(seen->status, PM__APPOINTMENT_STATUS__WITH_PROVIDER);
    assert_string_equal(seen->provider, "dr-a");
}

/* Polls until appointment id has status st (or 8 s pass); returns it. */
static Pm__Appointment *wait_status(uint64_t id, int st)
{
    Pm__Appointment *g = NULL;
    for (int i = 0; i < 80; i++) {
        g = get(id);
        if ((int)g->status == st)
            break;
        usleep(100 * 1000);
    }
    return g;
}

/* --auto-no-show: the server closes each day by itself the next day. */
static void test_auto_no_show(void **state)
{
    (void)state;
    const char *day = "2026-05-14", *next = "2026-05-15";
    at(day, 7, 0, 0);
    char p[4][24];
    for (int i = 0; i < 4; i++) {
        char last[16];
        snprintf(last, sizeof last, "Auto%c", 'A' + i);
        patient("No", last, p[i]);
    }
    Pm__Appointment *n1 = book(p[0], "dr-a", "checkup", day, 9, 0);
    Pm__Appointment *n2 = book(p[1], "dr-a", "checkup", day, 9, 30);
    Pm__Appointment *n3 = book(p[2], "dr-c", "checkup", day, 9, 0);
    Pm__Appointment *n4 = book(p[3], "dr-a", "checkup", next, 9, 0);
    at(day, 9, 0, 0);
    step(R, n1->id, PM__FLOW_ACTION__ARRIVE, NULL);
    at(day, 9, 20, 0);
    step(R, n1->id, PM__FLOW_ACTION__CHECK_OUT, NULL);

    char args[128];
    snprintf(args, sizeof args, "%s --auto-no-show", SERVE_ARGS);
    assert_int_equal(ts_restart(&S, args), 0);
    /* the same day: nothing is closed */
    at(day, 18, 0, 0);
    usleep(2500 * 1000);
    assert_int_equal(get(n2->id)->status, PM__APPOINTMENT_STATUS__BOOKED);
    /* the next day, within a couple of ticks */
    at(next, 8, 0, 0);
    Pm__Appointment *g = wait_status(n2->id, PM__APPOINTMENT_STATUS__NO_SHOW);
    assert_int_equal(g->status, PM__APPOINTMENT_STATUS__NO_SHOW);
    print_message("      %s\n", last_change(g)->what);
    assert_non_null(strstr(last_change(g)->what, "no-show"));
    assert_int_equal(wait_status(n3->id, PM__APPOINTMENT_STATUS__NO_SHOW)->status,
                     PM__APPOINTMENT_STATUS__NO_SHOW); /* every location */
    assert_int_equal(get(n1->id)->status, PM__APPOINTMENT_STATUS__CHECKED_OUT);
    assert_int_equal(get(n4->id)->status, PM__APPOINTMENT_STATUS__BOOKED);
    Pm__AppointmentList *l;
    SH_EXPECT(M, ts_close_day(M, &A, "main", day, 0, &l), PM_OK);
    assert_int_equal(l->n_appointments, 0);

    /* the server away for a week: the days it missed are closed when it is back, each
     * as it would have been, n4's the first of them */
    Pm__Appointment *n5 = book(p[1], "dr-a", "checkup", "2026-05-20", 9, 0);
    Pm__Appointment *n6 = book(p[2], "dr-c", "checkup", "2026-05-21", 9, 0);
    at("2026-05-23", 8, 0, 0);
    assert_int_equal(ts_restart(&S, args), 0);
    assert_int_equal(wait_status(n4->id, PM__APPOINTMENT_STATUS__NO_SHOW)->status,
                     PM__APPOINTMENT_STATUS__NO_SHOW);
    assert_int_equal(wait_status(n5->id, PM__APPOINTMENT_STATUS__NO_SHOW)->status,
                     PM__APPOINTMENT_STATUS__NO_SHOW);
    assert_int_equal(wait_status(n6->id, PM__APPOINTMENT_STATUS__NO_SHOW)->status,
                     PM__APPOINTMENT_STATUS__NO_SHOW);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_steps_and_refusals, test_done),
        cmocka_unit_test_teardown(test_undo, test_done),
        cmocka_unit_test_teardown(test_undo_check_out_room_taken, test_done),
        cmocka_unit_test_teardown(test_tickets, test_done),
        cmocka_unit_test_teardown(test_ticket_prefix_whole, test_done),
        cmocka_unit_test_teardown(test_late_and_overdue, test_done),
        cmocka_unit_test_teardown(test_estimates, test_done),
        cmocka_unit_test_teardown(test_walk_in_for_anyone_seen, test_done),
        cmocka_unit_test_teardown(test_walk_in_for_anyone_offered_only, test_done),
        cmocka_unit_test_teardown(test_walk_in_for_anyone_where_nobody_works, test_done),
        cmocka_unit_test_teardown(test_close_day, test_done),
        cmocka_unit_test_teardown(test_close_today_one_board_event, test_done),
        cmocka_unit_test_teardown(test_auto_no_show, test_done),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
