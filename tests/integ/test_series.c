/* Recurring series against a real practiced: weekly on chosen weekdays until a date, every
 * N days by count, conflicts per occurrence with ALL_OR_NONE and FREE_ONES, and edits with
 * the scopes THIS, THIS_AND_FOLLOWING and ALL, keeping the local time across the spring
 * daylight-saving change (Europe/Paris, 2026-03-29). The scheduling clock is 2026-03-01. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sched_help.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ts_server S;
static sh_clock K;
static pc_client *M, *R;
static pm_arena A; /* each test's, freed after it even when it fails */

static int setup(void **state)
{
    (void)state;
    sh_tz();
    pm_arena_init(&A, 0);
    if (ts_init(&S, NULL))
        return -1;
    sh_clock_init(&K, &S, sh_utc("2026-03-01", 0, 0));
    if (ts_start(&S, NULL))
        return -1;
    M = ts_manager(&S);
    R = M ? ts_user(&S, M, "rosa", PM__ROLE__RECEPTIONIST) : NULL;
    if (!R)
        return -1;
    pm_arena a;
    pm_arena_init(&a, 0);
    sh_block daily = {0, 8 * 60, 12 * 60, NULL, 0, NULL};
    const char *providers[] = {"dr-ser", "dr-ser2", "dr-ser3"};
    int rc =
        sh_location(M, &a, "main", "Main Street") || sh_visit_type(M, &a, "checkup", 30, 0, NULL);
    for (size_t i = 0; i < 3 && !rc; i++)
        rc = sh_provider(M, &a, providers[i], providers[i], "main") ||
             sh_template(M, &a, providers[i], "2026-01-01", NULL, &daily, 1, NULL, 0);
    if (rc)
        fprintf(stderr, "set-up: %s\n", pc_last_error(M));
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

static const char *when(time_t t)
{
    static char buf[8][40];
    static int i;
    i = (i + 1) % 8;
    return sh_fmt(t, buf[i], sizeof buf[i]);
}

static Pm__Recurrence *weekly(pm_arena *a, const unsigned *weekdays, size_t n, const char *until,
                              unsigned count)
{
    Pm__Recurrence *r = pm_msg_new(a, &pm__recurrence__descriptor);
    r->unit = PM__REPEAT_UNIT__WEEKS;
    r->interval = 1;
    r->weekdays = pm_arena_alloc(a, sizeof *r->weekdays * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        r->weekdays[i] = weekdays[i];
    r->n_weekdays = n;
    r->until = (char *)(until ? until : "");
    r->count = count;
    return r;
}

static void print_series(const Pm__SeriesResult *sr)
{
    print_message("      series %llu, applied %d, %zu occurrences\n",
                  (unsigned long long)sr->series_id, sr->applied, sr->n_occurrences);
    for (size_t i = 0; i < sr->n_occurrences; i++) {
        const Pm__Occurrence *o = sr->occurrences[i];
        print_message("        %s: %s%s\n", when(o->start), o->appointment ? "booked " : "",
                      o->conflict ? o->conflict->message
                                  : (o->appointment ? when(o->appointment->start) : "(nothing)"));
    }
}

/* Moves the whole series of appointment id (at version) to start; the answer printed. */
static Pm__SeriesResult *move_all(uint64_t id, uint32_t version, time_t start, Pm__SeriesMode mode)
{
    Pm__Move *m = sh_move_req(&A, id, version);
    m->start = start;
    m->scope = PM__SCOPE__ALL;
    m->series_mode = mode;
    Pm__Envelope *resp = NULL;
    SH_EXPECT(R, sh_move(R, &A, m, &resp), PM_OK);
    print_series(resp->series_result);
    return resp->series_result;
}

/* Each occurrence of sr booked at hh:mm local on the given dates, in order, indexed 1.. */
static void check_booked(const Pm__SeriesResult *sr, const char *const *dates, size_t n, int hh,
                         int mm)
{
    assert_true(sr->applied);
    assert_true(sr->series_id > 0);
    assert_int_equal(sr->n_occurrences, n);
    for (size_t i = 0; i < n; i++) {
        const Pm__Occurrence *o = sr->occurrences[i];
        time_t want = sh_local(dates[i], hh, mm);
        assert_null(o->conflict);
        assert_non_null(o->appointment);
        assert_int_equal(o->start, want);
        assert_int_equal(o->appointment->start, want);
        assert_int_equal(o->appointment->status, PM__APPOINTMENT_STATUS__BOOKED);
        assert_int_equal(o->appointment->series_id, sr->series_id);
        assert_int_equal(o->appointment->series_index, i + 1);
        assert_int_equal(sh_local_min(o->appointment->start), hh * 60 + mm);
    }
}

/* Tuesdays and Thursdays at 09:00 until 2 April: six visits, the last two after the clocks
 * went forward, still at 09:00 local (07:00 UTC instead of 08:00). */
static void test_weekly_until(void **state)
{
    (void)state;
    pm_arena *a = &A;
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Weekly", "Twice", p), PM_OK);
    static const unsigned tue_thu[] = {2, 4};
    Pm__Book *b = sh_book_req(a, p, "dr-ser", "checkup", sh_local("2026-03-17", 9, 0));
    b->repeat = weekly(a, tue_thu, 2, "2026-04-02", 0);
    Pm__SeriesResult *sr;
    SH_EXPECT(R, sh_book_series(R, a, b, &sr), PM_OK);
    print_series(sr);
    static const char *const dates[] = {"2026-03-17", "2026-03-19", "2026-03-24",
                                        "2026-03-26", "2026-03-31", "2026-04-02"};
    check_booked(sr, dates, 6, 9, 0);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(sh_utc_offset(sr->occurrences[i]->start), i < 4 ? 3600 : 7200);
    assert_int_equal(sr->occurrences[4]->start, sh_utc("2026-03-31", 7, 0));
    assert_int_equal(sr->occurrences[3]->start, sh_utc("2026-03-26", 8, 0));
    Pm__AppointmentList *al;
    SH_EXPECT(R, sh_patient_appts(R, a, p, 0, &al), PM_OK);
    assert_int_equal(al->n_appointments, 6);
    Pm__Appointment *g;
    SH_EXPECT(R, sh_get(R, a, sr->occurrences[5]->appointment->id, &g), PM_OK);
    assert_int_equal(g->series_id, sr->series_id);
    assert_int_equal(g->series_index, 6);

    /* every other Monday, three times */
    char q[24];
    SH_EXPECT(R, sh_patient(R, a, "Fortnightly", "Monday", q), PM_OK);
    static const unsigned mon[] = {1};
    b = sh_book_req(a, q, "dr-ser", "checkup", sh_local("2026-03-02", 11, 0));
    b->repeat = weekly(a, mon, 1, NULL, 3);
    b->repeat->interval = 2;
    SH_EXPECT(R, sh_book_series(R, a, b, &sr), PM_OK);
    static const char *const mondays[] = {"2026-03-02", "2026-03-16", "2026-03-30"};
    check_booked(sr, mondays, 3, 11, 0);
}

/* Every three days, five times, across the change: 2026-03-29 is 23 hours long, and its
 * visit is still at 10:00. */
static void test_every_n_days(void **state)
{
    (void)state;
    pm_arena *a = &A;
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Every", "Third", p), PM_OK);
    Pm__Book *b = sh_book_req(a, p, "dr-ser", "checkup", sh_local("2026-03-20", 10, 0));
    b->repeat = pm_msg_new(a, &pm__recurrence__descriptor);
    b->repeat->unit = PM__REPEAT_UNIT__DAYS;
    b->repeat->interval = 3;
    b->repeat->count = 5;
    Pm__SeriesResult *sr;
    SH_EXPECT(R, sh_book_series(R, a, b, &sr), PM_OK);
    print_series(sr);
    static const char *const dates[] = {"2026-03-20", "2026-03-23", "2026-03-26", "2026-03-29",
                                        "2026-04-01"};
    check_booked(sr, dates, 5, 10, 0);
    assert_int_equal(sr->occurrences[3]->start - sr->occurrences[2]->start, 3 * 86400 - 3600);
}

/* One occurrence falls on a full slot, another on a holiday: ALL_OR_NONE books nothing and
 * says why for each; FREE_ONES books the two that fit. */
static void test_conflicts_per_occurrence(void **state)
{
    (void)state;
    pm_arena *a = &A;
    char p[24], blocker_p[24];
    SH_EXPECT(R, sh_patient(R, a, "Series", "Conflicted", p), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Already", "There", blocker_p), PM_OK);
    Pm__Appointment *blocker;
    SH_EXPECT(R,
              sh_book(R, a,
                      sh_book_req(a, blocker_p, "dr-ser", "checkup", sh_local("2026-04-13", 9, 0)),
                      &blocker),
              PM_OK);
    SH_EXPECT(M, sh_holiday(M, a, "2026-04-27", "Staff training day", NULL), PM_OK);
    static const unsigned mon[] = {1};
    Pm__Book *b = sh_book_req(a, p, "dr-ser", "checkup", sh_local("2026-04-06", 9, 0));
    b->repeat = weekly(a, mon, 1, "2026-04-27", 0);
    b->series_mode = PM__SERIES_MODE__ALL_OR_NONE;
    Pm__SeriesResult *sr;
    SH_EXPECT(R, sh_book_series(R, a, b, &sr), PM_OK);
    print_series(sr);
    assert_false(sr->applied);
    assert_int_equal(sr->n_occurrences, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(sr->occurrences[i]->start, sh_local(i == 0   ? "2026-04-06"
                                                             : i == 1 ? "2026-04-13"
                                                             : i == 2 ? "2026-04-20"
                                                                      : "2026-04-27",
                                                             9, 0));
        assert_null(sr->occurrences[i]->appointment);
    }
    assert_null(sr->occurrences[0]->conflict);
    assert_null(sr->occurrences[2]->conflict);
    const Pm__Error *c1 = sr->occurrences[1]->conflict, *c3 = sr->occurrences[3]->conflict;
    assert_non_null(c1);
    assert_non_null(c3);
    assert_int_equal(c1->code, PM__ERROR_CODE__SLOT_FULL);
    assert_true(sh_conflicts_has(c1, blocker->id));
    assert_int_equal(c3->code, PM__ERROR_CODE__OUTSIDE_AVAILABILITY);
    assert_non_null(strstr(c3->message, "Staff training day"));
    Pm__AppointmentList *al;
    SH_EXPECT(R, sh_patient_appts(R, a, p, 0, &al), PM_OK);
    assert_int_equal(al->n_appointments, 0);
    Pm__SlotList *l;
    SH_EXPECT(R,
              sh_find(R, a, sh_slots_req(a, "checkup", "dr-ser", "2026-04-06", "2026-04-06"), &l),
              PM_OK);
    assert_true(sh_has_slot(l, "dr-ser", sh_local("2026-04-06", 9, 0)));

    b->series_mode = PM__SERIES_MODE__FREE_ONES;
    SH_EXPECT(R, sh_book_series(R, a, b, &sr), PM_OK);
    print_series(sr);
    assert_true(sr->applied);
    assert_true(sr->series_id > 0);
    assert_int_equal(sr->n_occurrences, 4);
    assert_non_null(sr->occurrences[0]->appointment);
    assert_non_null(sr->occurrences[2]->appointment);
    assert_null(sr->occurrences[1]->appointment);
    assert_null(sr->occurrences[3]->appointment);
    assert_int_equal(sr->occurrences[1]->conflict->code, PM__ERROR_CODE__SLOT_FULL);
    assert_int_equal(sr->occurrences[3]->conflict->code, PM__ERROR_CODE__OUTSIDE_AVAILABILITY);
    assert_int_equal(sr->occurrences[0]->appointment->series_id, sr->series_id);
    SH_EXPECT(R, sh_patient_appts(R, a, p, 0, &al), PM_OK);
    assert_int_equal(al->n_appointments, 2);
}

/* The series' appointments as they are now, by index. */
static void load_series(const uint64_t *ids, size_t n, Pm__Appointment **out)
{
    for (size_t i = 0; i < n; i++)
        SH_EXPECT(R, sh_get(R, &A, ids[i], &out[i]), PM_OK);
}

/* THIS moves one; ALL moves every one to the new local time (09:30 UTC before the change,
 * 08:30 after); THIS_AND_FOLLOWING moves the rest by a day; cancelling this and following
 * leaves the earlier ones booked. */
static void test_edit_scopes(void **state)
{
    (void)state;
    pm_arena *a = &A;
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Series", "Edited", p), PM_OK);
    static const unsigned tue_thu[] = {2, 4};
    Pm__Book *b = sh_book_req(a, p, "dr-ser2", "checkup", sh_local("2026-03-17", 9, 0));
    b->repeat = weekly(a, tue_thu, 2, "2026-04-02", 0);
    Pm__SeriesResult *sr;
    SH_EXPECT(R, sh_book_series(R, a, b, &sr), PM_OK);
    assert_int_equal(sr->n_occurrences, 6);
    uint64_t ids[6];
    for (size_t i = 0; i < 6; i++)
        ids[i] = sr->occurrences[i]->appointment->id;
    static const char *const dates[] = {"2026-03-17", "2026-03-19", "2026-03-24",
                                        "2026-03-26", "2026-03-31", "2026-04-02"};
    Pm__Appointment *ap[6];

    /* THIS: the second one to 11:00 */
    Pm__Move *m = sh_move_req(a, ids[1], 1);
    m->start = sh_local("2026-03-19", 11, 0);
    m->scope = PM__SCOPE__THIS;
    Pm__Envelope *resp = NULL;
    SH_EXPECT(R, sh_move(R, a, m, &resp), PM_OK);
    assert_int_equal(resp->body_case, PM__ENVELOPE__BODY_APPOINTMENT_OK);
    load_series(ids, 6, ap);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(ap[i]->start, sh_local(dates[i], i == 1 ? 11 : 9, 0));

    /* ALL: from the first, to 10:30 */
    m = sh_move_req(a, ids[0], ap[0]->version);
    m->start = sh_local("2026-03-17", 10, 30);
    m->scope = PM__SCOPE__ALL;
    SH_EXPECT(R, sh_move(R, a, m, &resp), PM_OK);
    assert_int_equal(resp->body_case, PM__ENVELOPE__BODY_SERIES_RESULT);
    print_series(resp->series_result);
    assert_true(resp->series_result->applied);
    load_series(ids, 6, ap);
    for (size_t i = 0; i < 6; i++) {
        print_message("      after ALL: %s (%02lld:%02lld UTC)\n", when(ap[i]->start),
                      (long long)(ap[i]->start % 86400) / 3600,
                      (long long)(ap[i]->start % 3600) / 60);
        assert_int_equal(ap[i]->start, sh_local(dates[i], 10, 30));
        assert_int_equal(ap[i]->end - ap[i]->start, 30 * 60);
        assert_int_equal(ap[i]->start % 86400, i < 4 ? 9 * 3600 + 1800 : 8 * 3600 + 1800);
        assert_int_equal(ap[i]->status, PM__APPOINTMENT_STATUS__BOOKED);
    }
    int moved = 0;
    for (size_t i = 0; i < ap[1]->n_history; i++)
        moved += strstr(ap[1]->history[i]->what, "moved from") != NULL;
    assert_int_equal(moved, 2);

    /* THIS_AND_FOLLOWING: from the third, a day later */
    m = sh_move_req(a, ids[2], ap[2]->version);
    m->start = sh_local("2026-03-25", 10, 30);
    m->scope = PM__SCOPE__THIS_AND_FOLLOWING;
    SH_EXPECT(R, sh_move(R, a, m, &resp), PM_OK);
    assert_true(resp->series_result->applied);
    load_series(ids, 6, ap);
    static const char *const shifted[] = {"2026-03-17", "2026-03-19", "2026-03-25",
                                          "2026-03-27", "2026-04-01", "2026-04-03"};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(ap[i]->start, sh_local(shifted[i], 10, 30));

    /* cancel this and following from the fourth */
    SH_EXPECT(R,
              sh_cancel(R, a, ids[3], ap[3]->version, "course finished early",
                        PM__SCOPE__THIS_AND_FOLLOWING, &resp),
              PM_OK);
    assert_int_equal(resp->body_case, PM__ENVELOPE__BODY_SERIES_RESULT);
    assert_true(resp->series_result->applied);
    assert_int_equal(resp->series_result->n_occurrences, 3);
    load_series(ids, 6, ap);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(ap[i]->status, i < 3 ? PM__APPOINTMENT_STATUS__BOOKED
                                              : PM__APPOINTMENT_STATUS__CANCELLED);
    assert_string_equal(ap[5]->cancel_reason, "course finished early");
}

/* Saturdays moved to Sundays with scope ALL: the move is a day in local time, so the
 * Saturday before the change becomes the 23-hour Sunday at the same 09:00. Then the whole
 * series is cancelled. */
static void test_shift_across_dst_and_cancel_all(void **state)
{
    (void)state;
    pm_arena *a = &A;
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Saturday", "Sunday", p), PM_OK);
    static const unsigned sat[] = {6};
    Pm__Book *b = sh_book_req(a, p, "dr-ser2", "checkup", sh_local("2026-03-21", 9, 0));
    b->repeat = weekly(a, sat, 1, NULL, 3);
    Pm__SeriesResult *sr;
    SH_EXPECT(R, sh_book_series(R, a, b, &sr), PM_OK);
    static const char *const sats[] = {"2026-03-21", "2026-03-28", "2026-04-04"};
    check_booked(sr, sats, 3, 9, 0);
    uint64_t ids[3];
    time_t before[3];
    for (size_t i = 0; i < 3; i++) {
        ids[i] = sr->occurrences[i]->appointment->id;
        before[i] = sr->occurrences[i]->start;
    }
    Pm__Move *m = sh_move_req(a, ids[0], 1);
    m->start = sh_local("2026-03-22", 9, 0);
    m->scope = PM__SCOPE__ALL;
    Pm__Envelope *resp = NULL;
    SH_EXPECT(R, sh_move(R, a, m, &resp), PM_OK);
    assert_true(resp->series_result->applied);
    Pm__Appointment *ap[3];
    load_series(ids, 3, ap);
    static const char *const suns[] = {"2026-03-22", "2026-03-29", "2026-04-05"};
    for (size_t i = 0; i < 3; i++) {
        print_message("      %s -> %s: %lld s later\n", when(before[i]), when(ap[i]->start),
                      (long long)(ap[i]->start - before[i]));
        assert_int_equal(ap[i]->start, sh_local(suns[i], 9, 0));
        assert_int_equal(sh_local_min(ap[i]->start), 9 * 60);
    }
    assert_int_equal(ap[0]->start - before[0], 86400);
    assert_int_equal(ap[1]->start - before[1], 86400 - 3600);
    assert_int_equal(ap[2]->start - before[2], 86400);

    SH_EXPECT(R,
              sh_cancel(R, a, ids[1], ap[1]->version, "stopped treatment", PM__SCOPE__ALL, &resp),
              PM_OK);
    assert_int_equal(resp->series_result->n_occurrences, 3);
    load_series(ids, 3, ap);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(ap[i]->status, PM__APPOINTMENT_STATUS__CANCELLED);
}

/* Three weekly visits of a new patient with dr-ser3 on weekday wd from dates[0] at hh:00
 * (ids out), and another patient's visit with dr-ser3 at block_date block_hh:00. */
static Pm__Appointment *series_and_blocker(const char *who, unsigned wd, const char *const dates[3],
                                           int hh, const char *block_date, int block_hh,
                                           uint64_t ids[3])
{
    pm_arena *a = &A;
    char p[24], other[24];
    SH_EXPECT(R, sh_patient(R, a, who, "Mover", p), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, who, "Blocker", other), PM_OK);
    unsigned *days = pm_arena_alloc(a, sizeof *days);
    *days = wd;
    Pm__Book *b = sh_book_req(a, p, "dr-ser3", "checkup", sh_local(dates[0], hh, 0));
    b->repeat = weekly(a, days, 1, NULL, 3);
    Pm__SeriesResult *sr;
    SH_EXPECT(R, sh_book_series(R, a, b, &sr), PM_OK);
    check_booked(sr, dates, 3, hh, 0);
    for (size_t i = 0; i < 3; i++)
        ids[i] = sr->occurrences[i]->appointment->id;
    Pm__Appointment *blocker;
    SH_EXPECT(
        R,
        sh_book(R, a,
                sh_book_req(a, other, "dr-ser3", "checkup", sh_local(block_date, block_hh, 0)),
                &blocker),
        PM_OK);
    return blocker;
}

/* Moving a whole series onto a time one occurrence cannot have: ALL_OR_NONE moves nothing
 * and reports that occurrence; FREE_ONES moves the others. */
static void test_series_move_conflict(void **state)
{
    (void)state;
    static const char *const weds[] = {"2026-03-18", "2026-03-25", "2026-04-01"};
    uint64_t ids[3];
    Pm__Appointment *blocker = series_and_blocker("Series", 3, weds, 9, "2026-03-25", 11, ids);

    Pm__SeriesResult *sr =
        move_all(ids[0], 1, sh_local("2026-03-18", 11, 0), PM__SERIES_MODE__ALL_OR_NONE);
    assert_false(sr->applied);
    assert_int_equal(sr->n_occurrences, 3);
    assert_non_null(sr->occurrences[1]->conflict);
    assert_int_equal(sr->occurrences[1]->conflict->code, PM__ERROR_CODE__SLOT_FULL);
    assert_true(sh_conflicts_has(sr->occurrences[1]->conflict, blocker->id));
    Pm__Appointment *ap[3];
    load_series(ids, 3, ap);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ap[i]->start, sh_local(weds[i], 9, 0));
        assert_int_equal(ap[i]->version, 1);
    }

    sr = move_all(ids[0], 1, sh_local("2026-03-18", 11, 0), PM__SERIES_MODE__FREE_ONES);
    assert_true(sr->applied);
    assert_non_null(sr->occurrences[1]->conflict);
    load_series(ids, 3, ap);
    assert_int_equal(ap[0]->start, sh_local(weds[0], 11, 0));
    assert_int_equal(ap[1]->start, sh_local(weds[1], 9, 0));
    assert_int_equal(ap[2]->start, sh_local(weds[2], 11, 0));
}

/* A weekly series moved on by a week lands each visit where the next one was: the moving
 * members do not stand in each other's way (the provider and the patient are the same),
 * and it goes back a week the same way. */
static void test_series_move_by_its_interval(void **state)
{
    (void)state;
    pm_arena *a = &A;
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Weekly", "Shifter", p), PM_OK);
    static const unsigned mon[] = {1};
    Pm__Book *b = sh_book_req(a, p, "dr-ser3", "checkup", sh_local("2026-03-09", 10, 0));
    b->repeat = weekly(a, mon, 1, NULL, 4);
    Pm__SeriesResult *sr;
    SH_EXPECT(R, sh_book_series(R, a, b, &sr), PM_OK);
    static const char *const mons[] = {"2026-03-09", "2026-03-16", "2026-03-23", "2026-03-30",
                                       "2026-04-06"};
    check_booked(sr, mons, 4, 10, 0);
    uint64_t ids[4];
    for (size_t i = 0; i < 4; i++)
        ids[i] = sr->occurrences[i]->appointment->id;

    sr = move_all(ids[0], 1, sh_local("2026-03-16", 10, 0), PM__SERIES_MODE__ALL_OR_NONE);
    assert_true(sr->applied);
    Pm__Appointment *ap[4];
    load_series(ids, 4, ap);
    for (size_t i = 0; i < 4; i++) {
        assert_null(sr->occurrences[i]->conflict);
        assert_int_equal(ap[i]->start, sh_local(mons[i + 1], 10, 0));
        assert_int_equal(ap[i]->version, 2);
    }

    sr = move_all(ids[0], 2, sh_local("2026-03-09", 10, 0), PM__SERIES_MODE__ALL_OR_NONE);
    assert_true(sr->applied);
    load_series(ids, 4, ap);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(ap[i]->start, sh_local(mons[i], 10, 0));
}

/* FREE_ONES where the one that cannot move holds the place the one before it was going
 * to: that one stays too, and so on back to the first. Nothing moves, every occurrence
 * says why, and no slot ends up with two. */
static void test_series_move_free_ones_chain(void **state)
{
    (void)state;
    pm_arena *a = &A;
    static const char *const mons[] = {"2026-03-09", "2026-03-16", "2026-03-23"};
    uint64_t ids[3];
    Pm__Appointment *blocker = series_and_blocker("Chain", 1, mons, 11, "2026-03-30", 11, ids);

    Pm__SeriesResult *sr =
        move_all(ids[0], 1, sh_local("2026-03-16", 11, 0), PM__SERIES_MODE__FREE_ONES);
    assert_int_equal(sr->n_occurrences, 3);
    for (size_t i = 0; i < 3; i++) {
        const Pm__Occurrence *o = sr->occurrences[i];
        assert_non_null(o->conflict);
        assert_null(o->appointment);
    }
    assert_true(sh_conflicts_has(sr->occurrences[2]->conflict, blocker->id));
    Pm__Appointment *ap[3];
    load_series(ids, 3, ap);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ap[i]->start, sh_local(mons[i], 11, 0));
        assert_int_equal(ap[i]->version, 1);
    }
    /* each Monday at 11:00 still has exactly one booking: a new one is refused */
    char third[24];
    SH_EXPECT(R, sh_patient(R, a, "Chain", "Third", third), PM_OK);
    Pm__Appointment *x;
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(
            sh_book(R, a, sh_book_req(a, third, "dr-ser3", "checkup", sh_local(mons[i], 11, 0)),
                    &x),
            PM_E_SLOT_FULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_weekly_until, test_done),
        cmocka_unit_test_teardown(test_every_n_days, test_done),
        cmocka_unit_test_teardown(test_conflicts_per_occurrence, test_done),
        cmocka_unit_test_teardown(test_edit_scopes, test_done),
        cmocka_unit_test_teardown(test_shift_across_dst_and_cancel_all, test_done),
        cmocka_unit_test_teardown(test_series_move_conflict, test_done),
        cmocka_unit_test_teardown(test_series_move_by_its_interval, test_done),
        cmocka_unit_test_teardown(test_series_move_free_ones_chain, test_done),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
