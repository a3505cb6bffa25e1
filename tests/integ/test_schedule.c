/* Scheduling against a real practiced: availability from templates, exceptions and
 * holidays (across both daylight-saving changes of Europe/Paris), capacity and the
 * manager's override, a patient in two places, rooms, and the changes to an appointment
 * (move, cancel, no-show, notes) with their history and events.
 *
 * The server runs with TZ=UTC in its environment and the practice's zone Europe/Paris, so
 * local times must come from the practice's zone; this process computes them with glibc.
 * Its scheduling clock is a file (PRACTICED_TEST_CLOCK), set to 2026-03-01 unless a test
 * moves it. */
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
static pc_client *M; /* the manager */
static pc_client *R; /* a receptionist, rita */
static time_t T0;    /* the clock's usual now */
static pm_arena A;   /* each test's, freed after it even when it fails */

static int setup(void **state)
{
    (void)state;
    sh_tz();
    pm_arena_init(&A, 0);
    T0 = sh_utc("2026-03-01", 0, 0);
    if (ts_init(&S, NULL))
        return -1;
    sh_clock_init(&K, &S, T0);
    if (ts_start(&S, "--late-cancel-hours 48"))
        return -1;
    M = ts_manager(&S);
    R = M ? ts_user(&S, M, "rita", PM__ROLE__RECEPTIONIST) : NULL;
    if (!R)
        return -1;
    pm_arena a;
    pm_arena_init(&a, 0);
    static const char *const providers[] = {"dr-lee", "dr-kim", "dr-gap", "dr-tpl",
                                            "dr-cap", "dr-mv",  "dr-mv2"};
    int rc = sh_location(M, &a, "main", "Main Street") || sh_location(M, &a, "annex", "Annex") ||
             sh_room(M, &a, "room-1", "main") || sh_room(M, &a, "annex-1", "annex");
    for (size_t i = 0; i < sizeof providers / sizeof *providers && !rc; i++)
        rc = sh_provider(M, &a, providers[i], providers[i], "main");
    rc = rc || sh_visit_type(M, &a, "checkup", 30, 0, NULL) ||
         sh_visit_type(M, &a, "procedure", 30, 1, NULL);
    /* every day 08:00-12:00 at the provider's default location */
    sh_block morning = {0, 8 * 60, 12 * 60, NULL, 0, NULL};
    const char *daily[] = {"dr-lee", "dr-mv", "dr-mv2"};
    for (size_t i = 0; i < 3 && !rc; i++)
        rc = sh_template(M, &a, daily[i], "2026-01-01", NULL, &morning, 1, NULL, 0);
    /* dr-kim: mornings at main, afternoons at the annex */
    sh_block kim[] = {{0, 8 * 60, 12 * 60, "main", 0, NULL},
                      {0, 13 * 60, 17 * 60, "annex", 0, NULL}};
    rc = rc || sh_template(M, &a, "dr-kim", "2026-01-01", NULL, kim, 2, NULL, 0);
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

/* After each test, even one that failed: its arena goes, the clock comes back. */
static int test_done(void **state)
{
    (void)state;
    pm_arena_free(&A);
    sh_clock_set(&K, T0);
    return 0;
}

static const char *when(time_t t)
{
    static char buf[4][40];
    static int i;
    i = (i + 1) % 4;
    return sh_fmt(t, buf[i], sizeof buf[i]);
}

/* The slots of one local date in a list, in order. */
static size_t slots_on(const Pm__SlotList *l, const char *date, time_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n_slots; i++) {
        char d[40];
        sh_fmt(l->slots[i]->start, d, sizeof d);
        if (strncmp(d, date, 10) == 0 && n < max)
            out[n++] = l->slots[i]->start;
    }
    return n;
}

/* A morning of 08:00-12:00 local offers 30-minute visits every 15 minutes from 08:00 to
 * 11:30: fifteen slots, each at the local time it should be. */
static time_t check_morning(const Pm__SlotList *l, const char *date)
{
    time_t s[64];
    size_t n = slots_on(l, date, s, 64);
    if (n != 15)
        print_error("%s: %zu slots, wanted 15\n", date, n);
    assert_int_equal(n, 15);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sh_local_min(s[i]), 8 * 60 + 15 * (int)i);
        if (i)
            assert_int_equal(s[i] - s[i - 1], 15 * 60);
    }
    return s[0];
}

/* Spring forward: 2026-03-29 02:00 CET becomes 03:00 CEST. 08:00 on the 28th is 07:00 UTC,
 * on the 29th 06:00 UTC; slots, blocks and bookings follow the wall clock. */
static void test_dst_spring_forward(void **state)
{
    (void)state;
    pm_arena *a = &A;
    Pm__SlotList *l;
    SH_EXPECT(R,
              sh_find(R, a, sh_slots_req(a, "checkup", "dr-lee", "2026-03-28", "2026-03-29"), &l),
              PM_OK);
    time_t sat = check_morning(l, "2026-03-28"), sun = check_morning(l, "2026-03-29");
    print_message("      first slot 2026-03-28: %s (%lldZ), 2026-03-29: %s (%lldZ), %lld s apart\n",
                  when(sat), (long long)(sat % 86400) / 3600, when(sun),
                  (long long)(sun % 86400) / 3600, (long long)(sun - sat));
    assert_int_equal(sat, sh_utc("2026-03-28", 7, 0));
    assert_int_equal(sun, sh_utc("2026-03-29", 6, 0));
    assert_int_equal(sun - sat, 86400 - 3600);
    assert_int_equal(sh_utc_offset(sat), 3600);
    assert_int_equal(sh_utc_offset(sun), 7200);

    /* the schedule's blocks: 08:00-12:00 local both days, four real hours each */
    Pm__Schedule *s;
    SH_EXPECT(R, sh_schedule(R, a, "dr-lee", NULL, NULL, "2026-03-28", 2, &s), PM_OK);
    assert_int_equal(s->n_days, 2);
    assert_string_equal(s->days[0]->date, "2026-03-28");
    assert_string_equal(s->days[1]->date, "2026-03-29");
    assert_int_equal(s->days[0]->n_blocks, 1);
    assert_int_equal(s->days[1]->n_blocks, 1);
    assert_int_equal(s->days[0]->blocks[0]->start, sh_utc("2026-03-28", 7, 0));
    assert_int_equal(s->days[0]->blocks[0]->end, sh_utc("2026-03-28", 11, 0));
    assert_int_equal(s->days[1]->blocks[0]->start, sh_utc("2026-03-29", 6, 0));
    assert_int_equal(s->days[1]->blocks[0]->end, sh_utc("2026-03-29", 10, 0));

    /* bookings are checked against the same wall clock */
    char p1[24], p2[24];
    SH_EXPECT(R, sh_patient(R, a, "Spring", "Forward", p1), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Spring", "Later", p2), PM_OK);
    Pm__Appointment *ap;
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p1, "dr-lee", "checkup", sun), &ap), PM_OK);
    uint64_t booked = ap->id;
    /* 07:00 UTC was 08:00 the day before; on the 29th it is 09:00, still in the block */
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, p2, "dr-lee", "checkup", sh_utc("2026-03-29", 9, 30)), NULL),
        PM_OK);
    /* 07:30 CEST is before the block, 11:45 CEST runs past its end */
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, p1, "dr-lee", "checkup", sh_utc("2026-03-29", 5, 30)), NULL),
        PM_E_OUTSIDE_AVAILABILITY);
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, p1, "dr-lee", "checkup", sh_utc("2026-03-29", 9, 45)), NULL),
        PM_E_OUTSIDE_AVAILABILITY);
    /* the appointment is in the 29th's schedule, not the 28th's */
    SH_EXPECT(R, sh_schedule(R, a, "dr-lee", NULL, NULL, "2026-03-28", 2, &s), PM_OK);
    assert_int_equal(s->days[0]->n_appointments, 0);
    assert_int_equal(s->days[1]->n_appointments, 2);
    assert_int_equal(s->days[1]->appointments[0]->id, booked);
    assert_int_equal(s->days[1]->appointments[0]->start, sun);
}

/* Fall back: 2026-10-25 03:00 CEST becomes 02:00 CET. 08:00 on the 24th is 06:00 UTC, on
 * the 25th 07:00 UTC, and the 25th is 25 hours long. */
static void test_dst_fall_back(void **state)
{
    (void)state;
    pm_arena *a = &A;
    Pm__SlotList *l;
    SH_EXPECT(R,
              sh_find(R, a, sh_slots_req(a, "checkup", "dr-lee", "2026-10-24", "2026-10-25"), &l),
              PM_OK);
    time_t sat = check_morning(l, "2026-10-24"), sun = check_morning(l, "2026-10-25");
    print_message("      first slot 2026-10-24: %s, 2026-10-25: %s, %lld s apart\n", when(sat),
                  when(sun), (long long)(sun - sat));
    assert_int_equal(sat, sh_utc("2026-10-24", 6, 0));
    assert_int_equal(sun, sh_utc("2026-10-25", 7, 0));
    assert_int_equal(sun - sat, 86400 + 3600);

    Pm__Schedule *s;
    SH_EXPECT(R, sh_schedule(R, a, "dr-lee", NULL, NULL, "2026-10-24", 2, &s), PM_OK);
    assert_int_equal(s->n_days, 2);
    assert_int_equal(s->days[0]->n_blocks, 1);
    assert_int_equal(s->days[1]->n_blocks, 1);
    assert_int_equal(s->days[0]->blocks[0]->start, sh_utc("2026-10-24", 6, 0));
    assert_int_equal(s->days[0]->blocks[0]->end, sh_utc("2026-10-24", 10, 0));
    assert_int_equal(s->days[1]->blocks[0]->start, sh_utc("2026-10-25", 7, 0));
    assert_int_equal(s->days[1]->blocks[0]->end, sh_utc("2026-10-25", 11, 0));

    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Fall", "Back", p), PM_OK);
    /* 06:00 UTC, 08:00 the day before, is 07:00 CET now: outside */
    SH_EXPECT(
        R, sh_book(R, a, sh_book_req(a, p, "dr-lee", "checkup", sh_utc("2026-10-25", 6, 0)), NULL),
        PM_E_OUTSIDE_AVAILABILITY);
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, p, "dr-lee", "checkup", sh_utc("2026-10-25", 10, 30)), NULL),
        PM_OK);
    SH_EXPECT(R, sh_schedule(R, a, "dr-lee", NULL, NULL, "2026-10-25", 1, &s), PM_OK);
    assert_int_equal(s->days[0]->n_appointments, 1);
    assert_int_equal(sh_local_min(s->days[0]->appointments[0]->start), 11 * 60 + 30);
}

/* A block of 01:30-03:30 on Sundays. On 2026-03-29 the hour from 02:00 does not exist:
 * the block is one real hour (00:30-01:30 UTC), its slots never fall in the gap, and a
 * visit that would end after 03:30 is refused. On 2026-10-25 the hour from 02:00 happens
 * twice and the block is three real hours. */
static void test_block_across_gap(void **state)
{
    (void)state;
    pm_arena *a = &A;
    sh_block night = {1u << 7, 90, 210, NULL, 0, NULL};
    SH_EXPECT(M, sh_template(M, a, "dr-gap", "2026-01-01", NULL, &night, 1, NULL, 0), PM_OK);
    Pm__Schedule *s;
    SH_EXPECT(R, sh_schedule(R, a, "dr-gap", NULL, NULL, "2026-03-29", 1, &s), PM_OK);
    assert_int_equal(s->days[0]->n_blocks, 1);
    Pm__AvailabilityBlock *b = s->days[0]->blocks[0];
    print_message("      2026-03-29 block: %s to %s, %lld min\n", when(b->start), when(b->end),
                  (long long)(b->end - b->start) / 60);
    assert_int_equal(b->start, sh_utc("2026-03-29", 0, 30));
    assert_int_equal(b->end, sh_utc("2026-03-29", 1, 30));

    Pm__SlotList *l;
    SH_EXPECT(R,
              sh_find(R, a, sh_slots_req(a, "checkup", "dr-gap", "2026-03-29", "2026-03-29"), &l),
              PM_OK);
    for (size_t i = 0; i < l->n_slots; i++) {
        print_message("      slot %s\n", when(l->slots[i]->start));
        int m = sh_local_min(l->slots[i]->start);
        assert_true(m < 120 || m >= 180); /* never 02:xx, which did not exist */
        assert_true(l->slots[i]->end <= b->end);
        assert_int_equal(l->slots[i]->end - l->slots[i]->start, 30 * 60);
    }
    assert_int_equal(l->n_slots, 3);
    assert_int_equal(l->slots[0]->start, sh_utc("2026-03-29", 0, 30));
    assert_int_equal(l->slots[2]->start, sh_utc("2026-03-29", 1, 0));
    assert_int_equal(sh_local_min(l->slots[2]->start), 3 * 60);

    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Night", "Owl", p), PM_OK);
    SH_EXPECT(
        R, sh_book(R, a, sh_book_req(a, p, "dr-gap", "checkup", sh_utc("2026-03-29", 1, 15)), NULL),
        PM_E_OUTSIDE_AVAILABILITY);
    SH_EXPECT(
        R, sh_book(R, a, sh_book_req(a, p, "dr-gap", "checkup", sh_utc("2026-03-29", 1, 0)), NULL),
        PM_OK);

    /* a Sunday without a change: two hours, seven slots */
    SH_EXPECT(R,
              sh_find(R, a, sh_slots_req(a, "checkup", "dr-gap", "2026-03-22", "2026-03-22"), &l),
              PM_OK);
    assert_int_equal(l->n_slots, 7);
    /* fall back: 01:30 CEST to 03:30 CET is three hours, eleven slots */
    SH_EXPECT(R, sh_schedule(R, a, "dr-gap", NULL, NULL, "2026-10-25", 1, &s), PM_OK);
    assert_int_equal(s->days[0]->n_blocks, 1);
    b = s->days[0]->blocks[0];
    print_message("      2026-10-25 block: %s to %s, %lld min\n", when(b->start), when(b->end),
                  (long long)(b->end - b->start) / 60);
    assert_int_equal(b->start, sh_utc("2026-10-24", 23, 30));
    assert_int_equal(b->end, sh_utc("2026-10-25", 2, 30));
    SH_EXPECT(R,
              sh_find(R, a, sh_slots_req(a, "checkup", "dr-gap", "2026-10-25", "2026-10-25"), &l),
              PM_OK);
    assert_int_equal(l->n_slots, 11);
}

/* Time off and a meeting remove the slots they overlap and refuse bookings, naming the
 * reason; a deleted exception gives the time back; a manager may override. */
static void test_exceptions(void **state)
{
    (void)state;
    pm_arena *a = &A;
    const char *day = "2026-03-30";
    uint64_t dentist, meeting;
    SH_EXPECT(R,
              sh_exception(R, a, "dr-lee", sh_local(day, 9, 0), sh_local(day, 10, 0),
                           PM__EXCEPTION_KIND__TIME_OFF, "dentist", &dentist),
              PM_OK);
    SH_EXPECT(M,
              sh_exception(M, a, "dr-lee", sh_local(day, 11, 0), sh_local(day, 11, 30),
                           PM__EXCEPTION_KIND__MEETING, "staff meeting", &meeting),
              PM_OK);
    Pm__SlotList *l;
    SH_EXPECT(R, sh_find(R, a, sh_slots_req(a, "checkup", "dr-lee", day, day), &l), PM_OK);
    static const int want[][2] = {{8, 0}, {8, 15}, {8, 30}, {10, 0}, {10, 15}, {10, 30}, {11, 30}};
    char got[512] = "";
    for (size_t i = 0; i < l->n_slots; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), " %02d:%02d",
                 sh_local_min(l->slots[i]->start) / 60, sh_local_min(l->slots[i]->start) % 60);
    print_message("      %s slots around the exceptions:%s\n", day, got);
    assert_int_equal(l->n_slots, 7);
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(l->slots[i]->start, sh_local(day, want[i][0], want[i][1]));

    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Ex", "Ception", p), PM_OK);
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p, "dr-lee", "checkup", sh_local(day, 9, 30)), NULL),
              PM_E_OUTSIDE_AVAILABILITY);
    assert_non_null(strstr(pc_last_error(R), "dentist"));
    /* a visit that only runs into the time off */
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p, "dr-lee", "checkup", sh_local(day, 8, 45)), NULL),
              PM_E_OUTSIDE_AVAILABILITY);
    assert_non_null(strstr(pc_last_error(R), "dentist"));
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p, "dr-lee", "checkup", sh_local(day, 11, 0)), NULL),
              PM_E_OUTSIDE_AVAILABILITY);
    assert_non_null(strstr(pc_last_error(R), "staff meeting"));
    print_message("      refusal: %s\n", pc_last_error(R));

    Pm__Schedule *s;
    SH_EXPECT(R, sh_schedule(R, a, "dr-lee", NULL, NULL, day, 1, &s), PM_OK);
    assert_int_equal(s->days[0]->n_exceptions, 2);
    int kinds = 0;
    for (size_t i = 0; i < 2; i++)
        kinds |= 1 << s->days[0]->exceptions[i]->kind;
    assert_int_equal(kinds,
                     (1 << PM__EXCEPTION_KIND__TIME_OFF) | (1 << PM__EXCEPTION_KIND__MEETING));

    /* the manager books into the meeting anyway */
    Pm__Book *b = sh_book_req(a, p, "dr-lee", "checkup", sh_local(day, 11, 0));
    b->override = 1;
    b->override_reason = "only time the patient can come";
    Pm__Appointment *ap;
    SH_EXPECT(M, sh_book(M, a, b, &ap), PM_OK);
    assert_true(ap->overridden);

    /* the dentist is cancelled: the time is bookable again */
    SH_EXPECT(R, sh_delete_exception(R, a, dentist), PM_OK);
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p, "dr-lee", "checkup", sh_local(day, 9, 30)), NULL),
              PM_OK);
    SH_EXPECT(R, sh_find(R, a, sh_slots_req(a, "checkup", "dr-lee", day, day), &l), PM_OK);
    /* p is at 09:30 now: 09:00 is free again, 09:15 and 09:30 are not */
    assert_true(sh_has_slot(l, "dr-lee", sh_local(day, 9, 0)));
    assert_false(sh_has_slot(l, "dr-lee", sh_local(day, 9, 15)));
    assert_false(sh_has_slot(l, "dr-lee", sh_local(day, 9, 30)));
    assert_true(sh_has_slot(l, "dr-lee", sh_local(day, 10, 0)));
}

/* An exception without a reason text still says what it is (time off, a meeting). */
static void test_exception_without_reason(void **state)
{
    (void)state;
    pm_arena *a = &A;
    const char *day = "2026-03-31";
    SH_EXPECT(R,
              sh_exception(R, a, "dr-lee", sh_local(day, 8, 0), sh_local(day, 12, 0),
                           PM__EXCEPTION_KIND__TIME_OFF, "", NULL),
              PM_OK);
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "No", "Reason", p), PM_OK);
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p, "dr-lee", "checkup", sh_local(day, 9, 0)), NULL),
              PM_E_OUTSIDE_AVAILABILITY);
    print_message("      refusal: %s\n", pc_last_error(R));
    const char *msg = pc_last_error(R);
    assert_true(strstr(msg, "time off") || strstr(msg, "Time off"));
}

/* A practice-wide holiday closes every provider; a holiday of one location closes the
 * blocks there and leaves the provider's other location open. */
static void test_holidays(void **state)
{
    (void)state;
    pm_arena *a = &A;
    SH_EXPECT(M, sh_holiday(M, a, "2026-04-06", "Easter Monday", NULL), PM_OK);
    Pm__SlotList *l;
    SH_EXPECT(R,
              sh_find(R, a, sh_slots_req(a, "checkup", "dr-lee", "2026-04-05", "2026-04-07"), &l),
              PM_OK);
    time_t s[64];
    assert_int_equal(slots_on(l, "2026-04-05", s, 64), 15);
    assert_int_equal(slots_on(l, "2026-04-06", s, 64), 0);
    assert_int_equal(slots_on(l, "2026-04-07", s, 64), 15);
    Pm__Schedule *sc;
    SH_EXPECT(R, sh_schedule(R, a, "dr-lee", NULL, NULL, "2026-04-06", 1, &sc), PM_OK);
    assert_string_equal(sc->days[0]->holiday, "Easter Monday");
    assert_int_equal(sc->days[0]->n_blocks, 0);
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Holi", "Day", p), PM_OK);
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, p, "dr-lee", "checkup", sh_local("2026-04-06", 9, 0)), NULL),
        PM_E_OUTSIDE_AVAILABILITY);
    print_message("      practice holiday: %s\n", pc_last_error(R));
    assert_non_null(strstr(pc_last_error(R), "Easter Monday"));

    /* dr-kim: mornings at main, afternoons at the annex; the annex closes on the 7th */
    SH_EXPECT(M, sh_holiday(M, a, "2026-04-07", "Annex inventory", "annex"), PM_OK);
    SH_EXPECT(R,
              sh_find(R, a, sh_slots_req(a, "checkup", "dr-kim", "2026-04-07", "2026-04-08"), &l),
              PM_OK);
    size_t n7 = slots_on(l, "2026-04-07", s, 64);
    assert_int_equal(n7, 15);
    for (size_t i = 0; i < n7; i++)
        assert_true(sh_local_min(s[i]) < 12 * 60);
    assert_int_equal(slots_on(l, "2026-04-08", s, 64), 30);
    SH_EXPECT(R, sh_schedule(R, a, NULL, "annex", NULL, "2026-04-07", 1, &sc), PM_OK);
    assert_string_equal(sc->days[0]->holiday, "Annex inventory");
    assert_int_equal(sc->days[0]->n_blocks, 0);
    SH_EXPECT(R, sh_schedule(R, a, NULL, "main", NULL, "2026-04-07", 1, &sc), PM_OK);
    assert_string_equal(sc->days[0]->holiday, "");
    assert_true(sc->days[0]->n_blocks >= 2); /* dr-lee's and dr-kim's mornings */
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, p, "dr-kim", "checkup", sh_local("2026-04-07", 9, 0)), NULL),
        PM_OK);
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, p, "dr-kim", "checkup", sh_local("2026-04-07", 14, 0)), NULL),
        PM_E_OUTSIDE_AVAILABILITY);
    print_message("      location holiday: %s\n", pc_last_error(R));
}

/* A template from a date supersedes the one before it; one with an end applies only
 * within its range; deleting it gives the days back to the one it covered. */
static void test_template_ranges(void **state)
{
    (void)state;
    pm_arena *a = &A;
    sh_block mornings = {0, 8 * 60, 12 * 60, NULL, 0, NULL};
    sh_block afternoons = {0, 14 * 60, 18 * 60, NULL, 0, NULL};
    sh_block short_hour = {0, 10 * 60, 11 * 60, NULL, 0, NULL};
    char t3[64];
    SH_EXPECT(M, sh_template(M, a, "dr-tpl", "2026-01-01", NULL, &mornings, 1, NULL, 0), PM_OK);
    SH_EXPECT(M, sh_template(M, a, "dr-tpl", "2026-05-01", NULL, &afternoons, 1, NULL, 0), PM_OK);
    SH_EXPECT(
        M, sh_template(M, a, "dr-tpl", "2026-05-10", "2026-05-12", &short_hour, 1, t3, sizeof t3),
        PM_OK);
    Pm__Setup *su;
    SH_EXPECT(R, sh_get_setup(R, a, "dr-tpl", &su), PM_OK);
    assert_int_equal(su->n_templates, 3);

    Pm__SlotList *l;
    static const struct {
        const char *date;
        size_t n;
        int first_min;
    } want[] = {{"2026-04-30", 15, 8 * 60},  {"2026-05-01", 15, 14 * 60},
                {"2026-05-09", 15, 14 * 60}, {"2026-05-10", 3, 10 * 60},
                {"2026-05-12", 3, 10 * 60},  {"2026-05-13", 15, 14 * 60}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        SH_EXPECT(
            R, sh_find(R, a, sh_slots_req(a, "checkup", "dr-tpl", want[i].date, want[i].date), &l),
            PM_OK);
        print_message("      %s: %zu slots from %s\n", want[i].date, l->n_slots,
                      l->n_slots ? when(l->slots[0]->start) : "-");
        assert_int_equal(l->n_slots, want[i].n);
        assert_int_equal(sh_local_min(l->slots[0]->start), want[i].first_min);
    }
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Tem", "Plate", p), PM_OK);
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, p, "dr-tpl", "checkup", sh_local("2026-05-01", 9, 0)), NULL),
        PM_E_OUTSIDE_AVAILABILITY);
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, p, "dr-tpl", "checkup", sh_local("2026-04-30", 9, 0)), NULL),
        PM_OK);
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, p, "dr-tpl", "checkup", sh_local("2026-05-01", 15, 0)), NULL),
        PM_OK);
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, p, "dr-tpl", "checkup", sh_local("2026-05-11", 15, 0)), NULL),
        PM_E_OUTSIDE_AVAILABILITY);

    /* without the short template, 2026-05-11 is an afternoon again */
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_DELETE_TEMPLATE);
    e->delete_template = pm_msg_new(a, &pm__delete_template__descriptor);
    e->delete_template->id = t3;
    Pm__Envelope *resp = NULL;
    SH_EXPECT(M, pc_call(M, e, a, &resp), PM_OK);
    SH_EXPECT(R,
              sh_find(R, a, sh_slots_req(a, "checkup", "dr-tpl", "2026-05-11", "2026-05-11"), &l),
              PM_OK);
    assert_int_equal(l->n_slots, 15);
    assert_int_equal(sh_local_min(l->slots[0]->start), 14 * 60);
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, p, "dr-tpl", "checkup", sh_local("2026-05-11", 15, 0)), NULL),
        PM_OK);
}

static int audit_has(const Pm__AuditList *al, const char *action, Pm__Outcome outcome,
                     const char *user, const char *detail)
{
    for (size_t i = 0; i < al->n_entries; i++) {
        const Pm__AuditEntry *e = al->entries[i];
        if (strcmp(e->action, action) == 0 && e->outcome == outcome &&
            (!user || strcmp(e->username, user) == 0) && (!detail || strstr(e->detail, detail)))
            return 1;
    }
    return 0;
}

/* A block of capacity 2 takes two overlapping visits and refuses a third, naming both;
 * the manager overrides with a reason (audited); the front desk may not. */
static void test_capacity_and_override(void **state)
{
    (void)state;
    pm_arena *a = &A;
    sh_block two = {0, 8 * 60, 12 * 60, NULL, 2, NULL};
    SH_EXPECT(M, sh_template(M, a, "dr-cap", "2026-01-01", NULL, &two, 1, NULL, 0), PM_OK);
    const char *day = "2026-04-14";
    char pa[24], pb[24], pc[24], pd[24];
    SH_EXPECT(R, sh_patient(R, a, "Cap", "Alpha", pa), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Cap", "Bravo", pb), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Cap", "Charlie", pc), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Cap", "Delta", pd), PM_OK);
    Pm__Appointment *x, *y, *z;
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, pa, "dr-cap", "checkup", sh_local(day, 9, 0)), &x),
              PM_OK);
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, pb, "dr-cap", "checkup", sh_local(day, 9, 15)), &y),
              PM_OK);
    assert_false(x->overridden);
    assert_false(y->overridden);
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, pc, "dr-cap", "checkup", sh_local(day, 9, 0)), NULL),
              PM_E_SLOT_FULL);
    const Pm__Error *err = pc_last_error_detail(R);
    print_message("      third booking: %s (conflicts:%s%llu%s%llu)\n", pc_last_error(R), " ",
                  err && err->n_conflicts > 0 ? (unsigned long long)err->conflicts[0] : 0ULL, " ",
                  err && err->n_conflicts > 1 ? (unsigned long long)err->conflicts[1] : 0ULL);
    assert_non_null(err);
    assert_int_equal(err->n_conflicts, 2);
    assert_true(sh_conflicts_has(err, x->id));
    assert_true(sh_conflicts_has(err, y->id));

    /* the slots at 09:00 and 09:15 are full; 08:45 and 09:30 overlap one visit only */
    Pm__SlotList *l;
    SH_EXPECT(R, sh_find(R, a, sh_slots_req(a, "checkup", "dr-cap", day, day), &l), PM_OK);
    assert_false(sh_has_slot(l, "dr-cap", sh_local(day, 9, 0)));
    assert_false(sh_has_slot(l, "dr-cap", sh_local(day, 9, 15)));
    assert_true(sh_has_slot(l, "dr-cap", sh_local(day, 8, 45)));
    assert_true(sh_has_slot(l, "dr-cap", sh_local(day, 9, 30)));

    /* the front desk may not override */
    Pm__Book *b = sh_book_req(a, pc, "dr-cap", "checkup", sh_local(day, 9, 0));
    b->override = 1;
    b->override_reason = "squeeze her in";
    SH_EXPECT(R, sh_book(R, a, b, NULL), PM_E_PERMISSION_DENIED);
    /* a manager must say why */
    b->override_reason = "";
    SH_EXPECT(M, sh_book(M, a, b, NULL), PM_E_INVALID_ARGUMENT);
    assert_string_equal(pc_last_error_detail(M)->field, "override_reason");
    /* a manager without override is refused like anyone */
    SH_EXPECT(M, sh_book(M, a, sh_book_req(a, pc, "dr-cap", "checkup", sh_local(day, 9, 0)), NULL),
              PM_E_SLOT_FULL);
    b->override_reason = "urgent: fever of 40C";
    SH_EXPECT(M, sh_book(M, a, b, &z), PM_OK);
    assert_true(z->overridden);
    assert_string_equal(z->override_reason, "urgent: fever of 40C");
    assert_int_equal(z->status, PM__APPOINTMENT_STATUS__BOOKED);
    assert_true(z->n_history >= 1);
    assert_non_null(strstr(z->history[0]->what, "urgent: fever of 40C"));
    /* three now overlap at 09:15: the next is refused and names all three */
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, pd, "dr-cap", "checkup", sh_local(day, 9, 0)), NULL),
              PM_E_SLOT_FULL);
    err = pc_last_error_detail(R);
    assert_int_equal(err->n_conflicts, 3);
    assert_true(sh_conflicts_has(err, z->id));

    Pm__AuditList *al;
    SH_EXPECT(M, sh_audit(M, a, pc, &al), PM_OK);
    for (size_t i = 0; i < al->n_entries; i++)
        if (strncmp(al->entries[i]->action, "appointment.", 12) == 0)
            print_message("      audit %s %s %d: %s\n", al->entries[i]->username,
                          al->entries[i]->action, al->entries[i]->outcome, al->entries[i]->detail);
    assert_true(al->chain_ok);
    assert_true(
        audit_has(al, "appointment.book", PM__OUTCOME__SUCCESS, "admin", "urgent: fever of 40C"));
    assert_true(audit_has(al, "appointment.book", PM__OUTCOME__DENIED, "rita", NULL));
}

/* A patient cannot be in two places at once, whichever provider. */
static void test_patient_double_booking(void **state)
{
    (void)state;
    pm_arena *a = &A;
    const char *day = "2026-04-16";
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Two", "Places", p), PM_OK);
    Pm__Appointment *x;
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p, "dr-mv", "checkup", sh_local(day, 9, 0)), &x),
              PM_OK);
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p, "dr-lee", "checkup", sh_local(day, 9, 15)), NULL),
              PM_E_PATIENT_BUSY);
    const Pm__Error *err = pc_last_error_detail(R);
    print_message("      %s\n", pc_last_error(R));
    assert_int_equal(err->n_conflicts, 1);
    assert_int_equal(err->conflicts[0], x->id);
    char id[32];
    snprintf(id, sizeof id, "%llu", (unsigned long long)x->id);
    assert_non_null(strstr(pc_last_error(R), id));
    /* even a manager's override does not put a patient in two places */
    Pm__Book *b = sh_book_req(a, p, "dr-lee", "checkup", sh_local(day, 9, 15));
    b->override = 1;
    b->override_reason = "try anyway";
    SH_EXPECT(M, sh_book(M, a, b, NULL), PM_E_PATIENT_BUSY);
    /* slots for the patient leave out the times they are booked */
    Pm__FindSlots *q = sh_slots_req(a, "checkup", "dr-lee", day, day);
    q->patient_mrn = p;
    Pm__SlotList *l;
    SH_EXPECT(R, sh_find(R, a, q, &l), PM_OK);
    assert_false(sh_has_slot(l, "dr-lee", sh_local(day, 8, 45)));
    assert_false(sh_has_slot(l, "dr-lee", sh_local(day, 9, 15)));
    assert_true(sh_has_slot(l, "dr-lee", sh_local(day, 8, 30)));
    assert_true(sh_has_slot(l, "dr-lee", sh_local(day, 9, 30)));
    /* right after is fine */
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p, "dr-lee", "checkup", sh_local(day, 9, 30)), NULL),
              PM_OK);
}

/* A visit that needs a room gets a free room of its location; when the location's only
 * room is taken the booking is refused; a room of another location is refused. */
static void test_rooms(void **state)
{
    (void)state;
    pm_arena *a = &A;
    const char *day = "2026-04-15";
    char p1[24], p2[24];
    SH_EXPECT(R, sh_patient(R, a, "Room", "First", p1), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Room", "Second", p2), PM_OK);
    Pm__Appointment *x;
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p1, "dr-lee", "procedure", sh_local(day, 10, 0)), &x),
              PM_OK);
    assert_string_equal(x->room, "room-1");
    assert_string_equal(x->location, "main");
    /* dr-kim works at main that morning too, but the room is taken */
    Pm__SlotList *l;
    SH_EXPECT(R, sh_find(R, a, sh_slots_req(a, "procedure", "dr-kim", day, day), &l), PM_OK);
    assert_false(sh_has_slot(l, "dr-kim", sh_local(day, 10, 0)));
    assert_false(sh_has_slot(l, "dr-kim", sh_local(day, 9, 45)));
    assert_true(sh_has_slot(l, "dr-kim", sh_local(day, 10, 30)));
    for (size_t i = 0; i < l->n_slots; i++)
        if (sh_local_min(l->slots[i]->start) < 12 * 60)
            assert_string_equal(l->slots[i]->room, "room-1");

    SH_EXPECT(R,
              sh_book(R, a, sh_book_req(a, p2, "dr-kim", "procedure", sh_local(day, 10, 0)), NULL),
              PM_E_ROOM_BUSY);
    print_message("      any room: %s\n", pc_last_error(R));
    /* the room by name: refused, naming the appointment in it */
    Pm__Book *b = sh_book_req(a, p2, "dr-kim", "procedure", sh_local(day, 10, 0));
    b->room = "room-1";
    SH_EXPECT(R, sh_book(R, a, b, NULL), PM_E_ROOM_BUSY);
    print_message("      room-1: %s\n", pc_last_error(R));
    assert_true(sh_conflicts_has(pc_last_error_detail(R), x->id));
    /* a room of another location */
    b->room = "annex-1";
    SH_EXPECT(R, sh_book(R, a, b, NULL), PM_E_INVALID_ARGUMENT);
    assert_string_equal(pc_last_error_detail(R)->field, "room");
    print_message("      annex-1 at main: %s\n", pc_last_error(R));
    /* a visit without a room at that time is fine */
    Pm__Appointment *y;
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p2, "dr-kim", "checkup", sh_local(day, 10, 0)), &y),
              PM_OK);
    assert_string_equal(y->room, "");
    /* the room's schedule has the procedure only */
    Pm__Schedule *s;
    SH_EXPECT(R, sh_schedule(R, a, NULL, NULL, "room-1", day, 1, &s), PM_OK);
    assert_int_equal(s->days[0]->n_appointments, 1);
    assert_int_equal(s->days[0]->appointments[0]->id, x->id);
}

/* ---- changes, history and events ---- */

/* A raw subscriber: counts every Event frame as it comes off the wire, so a duplicate
 * the client library would drop is still seen. */
typedef struct raw_sub {
    ts_raw *r;
    uint64_t seqs[512];
    int n;
} raw_sub;

static int raw_subscribe(raw_sub *rs, const uint8_t *token, const char *const *topics, size_t n)
{
    memset(rs, 0, sizeof *rs);
    rs->r = ts_raw_open(&S);
    if (!rs->r || ts_raw_login(rs->r, token) != 0)
        return -1;
    pm_arena ra;
    pm_arena_init(&ra, 0);
    Pm__Envelope *e = pc_env(&ra, PM__ENVELOPE__BODY_SUBSCRIBE);
    e->subscribe = pm_msg_new(&ra, &pm__subscribe__descriptor);
    e->subscribe->topics = (char **)topics;
    e->subscribe->n_topics = n;
    e->id = 77;
    int rc = ts_raw_env(rs->r, e) ? -1 : 1;
    while (rc == 1) {
        uint8_t *body;
        uint32_t len;
        if (ts_raw_frame(rs->r, 10000, &body, &len) != 1) {
            rc = -1;
            break;
        }
        Pm__Envelope *resp = pm__envelope__unpack(pm_arena_pbc(&ra), len, body);
        free(body);
        if (resp && resp->id == 77)
            rc = resp->body_case == PM__ENVELOPE__BODY_SUBSCRIBED ? 0 : -1;
    }
    pm_arena_free(&ra);
    return rc;
}

/* Reads event frames until none comes for quiet_ms. */
static void raw_drain(raw_sub *rs, int quiet_ms)
{
    for (;;) {
        uint8_t *body;
        uint32_t len;
        if (ts_raw_frame(rs->r, quiet_ms, &body, &len) != 1)
            return;
        Pm__Envelope *e = pm__envelope__unpack(NULL, len, body);
        free(body);
        if (e && e->body_case == PM__ENVELOPE__BODY_EVENT && rs->n < 512)
            rs->seqs[rs->n++] = e->event->seq;
        if (e)
            pm__envelope__free_unpacked(e, NULL);
    }
}

struct appt_action {
    uint64_t appt;
    const char *action;
};

static int is_appt_action(const sh_ev *e, const void *arg)
{
    const struct appt_action *w = arg;
    return e->kind == PM__EVENT__BODY_APPOINTMENT_CHANGED && e->appt == w->appt &&
           strcmp(e->action, w->action) == 0;
}

static void wait_appt_event(pc_client *c, sh_events *ev, uint64_t appt, const char *action)
{
    struct appt_action w = {appt, action};
    int i = sh_wait_event(c, ev, is_appt_action, &w, 10000);
    if (i < 0)
        print_error("no '%s' event for appointment %llu within 10 s\n", action,
                    (unsigned long long)appt);
    assert_true(i >= 0);
}

static int history_has(const Pm__Appointment *ap, const char *what)
{
    for (size_t i = 0; i < ap->n_history; i++)
        if (strstr(ap->history[i]->what, what))
            return 1;
    return 0;
}

/* Move (time, then provider), stale version, notes, late and timely cancellation, no-show
 * before and after the start: each in the history and once as an event to a subscriber
 * of both the provider's and the location-day's topic. */
static void test_changes_history_events(void **state)
{
    (void)state;
    pm_arena *a = &A;
    const char *day = "2026-04-20";
    pc_client *W = ts_user(&S, M, "cleo", PM__ROLE__CLINICIAN);
    pc_client *W2 = ts_user(&S, M, "carl", PM__ROLE__CLINICIAN);
    assert_non_null(W);
    assert_non_null(W2);
    static sh_events ev, ev2;
    memset(&ev, 0, sizeof ev);
    memset(&ev2, 0, sizeof ev2);
    pc_on_event(W, sh_collect, &ev);
    pc_on_event(W2, sh_collect, &ev2);
    const char *topics[] = {"schedule/provider/dr-mv", "schedule/location/main/2026-04-20"};
    SH_EXPECT(W, pc_subscribe(W, topics, 2, 0, a, NULL), PM_OK);
    const char *t2 = "schedule/provider/dr-mv2";
    SH_EXPECT(W2, pc_subscribe(W2, &t2, 1, 0, a, NULL), PM_OK);
    raw_sub rs;
    assert_int_equal(raw_subscribe(&rs, pc_token(W), topics, 2), 0);

    char px[24], py[24], pz[24], pw[24];
    SH_EXPECT(R, sh_patient(R, a, "Moves", "Around", px), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Takes", "Freed", py), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Never", "Came", pz), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Cancels", "Early", pw), PM_OK);
    Pm__Appointment *x, *y, *z, *w, *g;
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, px, "dr-mv", "checkup", sh_local(day, 9, 0)), &x),
              PM_OK);
    uint64_t xid = x->id;
    assert_int_equal(x->version, 1);

    /* move in time: the old slot frees and someone else takes it */
    Pm__Move *m = sh_move_req(a, xid, 1);
    m->start = sh_local(day, 10, 0);
    Pm__Envelope *resp = NULL;
    SH_EXPECT(R, sh_move(R, a, m, &resp), PM_OK);
    x = resp->appointment_ok->appointment;
    assert_int_equal(x->start, sh_local(day, 10, 0));
    assert_int_equal(x->end, sh_local(day, 10, 30));
    assert_int_equal(x->version, 2);
    Pm__SlotList *l;
    SH_EXPECT(R, sh_find(R, a, sh_slots_req(a, "checkup", "dr-mv", day, day), &l), PM_OK);
    assert_true(sh_has_slot(l, "dr-mv", sh_local(day, 9, 0)));
    assert_false(sh_has_slot(l, "dr-mv", sh_local(day, 10, 0)));
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, py, "dr-mv", "checkup", sh_local(day, 9, 0)), &y),
              PM_OK);

    /* a change from the version read before the move is refused, naming who moved it */
    m = sh_move_req(a, xid, 1);
    m->start = sh_local(day, 11, 0);
    SH_EXPECT(M, sh_move(M, a, m, NULL), PM_E_CONFLICT);
    assert_string_equal(pc_last_error_detail(M)->field, "version");
    print_message("      stale move: %s\n", pc_last_error(M));
    assert_non_null(strstr(pc_last_error(M), "rita"));
    SH_EXPECT(M, sh_notes(M, a, xid, 1, "stale notes", NULL), PM_E_CONFLICT);
    SH_EXPECT(M, sh_cancel(M, a, xid, 1, "stale cancel", PM__SCOPE__THIS, NULL), PM_E_CONFLICT);
    /* a move outside the hours is refused and changes nothing */
    m = sh_move_req(a, xid, 2);
    m->start = sh_local(day, 13, 0);
    SH_EXPECT(R, sh_move(R, a, m, NULL), PM_E_OUTSIDE_AVAILABILITY);

    /* move to another provider at the same time */
    m = sh_move_req(a, xid, 2);
    m->provider = "dr-mv2";
    SH_EXPECT(R, sh_move(R, a, m, &resp), PM_OK);
    x = resp->appointment_ok->appointment;
    assert_string_equal(x->provider, "dr-mv2");
    assert_int_equal(x->start, sh_local(day, 10, 0));
    assert_int_equal(x->version, 3);
    SH_EXPECT(R, sh_find(R, a, sh_slots_req(a, "checkup", "dr-mv", day, day), &l), PM_OK);
    assert_true(sh_has_slot(l, "dr-mv", sh_local(day, 10, 0)));

    /* notes */
    SH_EXPECT(R, sh_notes(R, a, xid, 3, "bring the referral letter", &x), PM_OK);
    assert_string_equal(x->notes, "bring the referral letter");
    assert_int_equal(x->version, 4);

    /* cancellations: 46 hours before is late under --late-cancel-hours 48, 70 hours is not */
    SH_EXPECT(
        R, sh_book(R, a, sh_book_req(a, pw, "dr-mv", "checkup", sh_local("2026-04-22", 9, 0)), &w),
        PM_OK);
    sh_clock_set(&K, sh_local("2026-04-18", 12, 0));
    Pm__Envelope *cr;
    SH_EXPECT(R, sh_cancel(R, a, xid, 4, "patient ill", PM__SCOPE__THIS, &cr), PM_OK);
    x = cr->appointment_ok->appointment;
    assert_int_equal(x->status, PM__APPOINTMENT_STATUS__CANCELLED);
    assert_true(x->late_cancel);
    assert_string_equal(x->cancel_reason, "patient ill");
    SH_EXPECT(R, sh_cancel(R, a, w->id, w->version, "moved away", PM__SCOPE__THIS, &cr), PM_OK);
    assert_false(cr->appointment_ok->appointment->late_cancel);
    /* a cancelled appointment cannot be cancelled again */
    SH_EXPECT(R, sh_cancel(R, a, xid, 5, "again", PM__SCOPE__THIS, NULL), PM_E_INVALID_ARGUMENT);

    /* no-show: refused before the start, accepted after */
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, pz, "dr-mv", "checkup", sh_local(day, 11, 0)), &z),
              PM_OK);
    sh_clock_set(&K, sh_local(day, 10, 59));
    SH_EXPECT(R, sh_no_show(R, a, z->id, 1, NULL), PM_E_INVALID_ARGUMENT);
    print_message("      early no-show: %s\n", pc_last_error(R));
    sh_clock_set(&K, sh_local(day, 11, 10));
    SH_EXPECT(R, sh_no_show(R, a, z->id, 1, &z), PM_OK);
    assert_int_equal(z->status, PM__APPOINTMENT_STATUS__NO_SHOW);
    /* what is left of the no-show's half hour is not a slot in the past */
    sh_clock_set(&K, T0);

    /* the history of each */
    SH_EXPECT(R, sh_get(R, a, xid, &g), PM_OK);
    for (size_t i = 0; i < g->n_history; i++)
        print_message("      history %zu: %s by %s\n", i, g->history[i]->what, g->history[i]->by);
    assert_int_equal(g->n_history, 5);
    assert_string_equal(g->history[0]->what, "booked");
    assert_non_null(strstr(g->history[1]->what, "moved from 2026-04-20 09:00 (dr-mv)"));
    assert_non_null(strstr(g->history[2]->what, "moved from 2026-04-20 10:00 (dr-mv)"));
    assert_non_null(strstr(g->history[3]->what, "notes"));
    assert_non_null(strstr(g->history[4]->what, "cancelled late: patient ill"));
    for (size_t i = 0; i < g->n_history; i++)
        assert_string_equal(g->history[i]->by, "rita");
    assert_int_equal(g->version, 5);
    SH_EXPECT(R, sh_get(R, a, z->id, &g), PM_OK);
    assert_true(history_has(g, "no-show"));

    /* the events: each once, in order, on a subscription to both topics */
    wait_appt_event(W, &ev, xid, "booked");
    wait_appt_event(W, &ev, y->id, "booked");
    wait_appt_event(W, &ev, xid, "notes");
    wait_appt_event(W, &ev, xid, "cancelled");
    wait_appt_event(W, &ev, z->id, "no_show");
    pc_poll(W, 300);
    for (int i = 0; i < ev.n; i++)
        print_message("      event %llu: %s appointment %llu (%s, %s)\n",
                      (unsigned long long)ev.ev[i].seq, ev.ev[i].action,
                      (unsigned long long)ev.ev[i].appt, ev.ev[i].provider, when(ev.ev[i].start));
    assert_int_equal(sh_count_appt(&ev, xid, "booked"), 1);
    assert_int_equal(sh_count_appt(&ev, xid, "moved"), 2);
    assert_int_equal(sh_count_appt(&ev, xid, "notes"), 1);
    assert_int_equal(sh_count_appt(&ev, xid, "cancelled"), 1);
    assert_int_equal(sh_count_appt(&ev, y->id, "booked"), 1);
    assert_int_equal(sh_count_appt(&ev, z->id, "booked"), 1);
    assert_int_equal(sh_count_appt(&ev, z->id, "no_show"), 1);
    /* 2026-04-22 is another day at the location, and dr-mv's topic: seen once each */
    assert_int_equal(sh_count_appt(&ev, w->id, "booked"), 1);
    assert_int_equal(sh_count_appt(&ev, w->id, "cancelled"), 1);
    assert_int_equal(ev.n, 10);
    for (int i = 1; i < ev.n; i++)
        assert_true(ev.ev[i].seq > ev.ev[i - 1].seq);

    /* dr-mv2's subscriber saw x arrive and what happened to it there, not its booking */
    wait_appt_event(W2, &ev2, xid, "cancelled");
    assert_int_equal(sh_count_appt(&ev2, xid, "booked"), 0);
    assert_int_equal(sh_count_appt(&ev2, xid, "moved"), 1);
    assert_int_equal(sh_count_appt(&ev2, xid, "notes"), 1);
    assert_int_equal(sh_count_appt(&ev2, xid, "cancelled"), 1);

    /* on the wire (below the client library's own de-duplication): once each too */
    raw_drain(&rs, 1000);
    print_message("      raw subscriber: %d event frames, client: %d events\n", rs.n, ev.n);
    assert_int_equal(rs.n, ev.n);
    for (int i = 0; i < rs.n; i++)
        assert_int_equal(rs.seqs[i], ev.ev[i].seq);
    ts_raw_close(rs.r);
    pc_free(W);
    pc_free(W2);
}

/* One move can change the time and the provider together; the old provider's slot frees. */
static void test_move_time_and_provider(void **state)
{
    (void)state;
    pm_arena *a = &A;
    const char *day = "2026-04-21";
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Both", "AtOnce", p), PM_OK);
    Pm__Appointment *x;
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p, "dr-mv", "checkup", sh_local(day, 9, 0)), &x),
              PM_OK);
    Pm__Move *m = sh_move_req(a, x->id, 1);
    m->start = sh_local(day, 10, 30);
    m->provider = "dr-mv2";
    m->duration_min = 45;
    Pm__Envelope *resp = NULL;
    SH_EXPECT(R, sh_move(R, a, m, &resp), PM_OK);
    x = resp->appointment_ok->appointment;
    assert_string_equal(x->provider, "dr-mv2");
    assert_int_equal(x->start, sh_local(day, 10, 30));
    assert_int_equal(x->end, sh_local(day, 11, 15));
    assert_string_equal(x->location, "main");
    assert_non_null(
        strstr(x->history[x->n_history - 1]->what, "moved from 2026-04-21 09:00 (dr-mv)"));
    Pm__Schedule *s;
    SH_EXPECT(R, sh_schedule(R, a, "dr-mv", NULL, NULL, day, 1, &s), PM_OK);
    assert_int_equal(s->days[0]->n_appointments, 0);
    SH_EXPECT(R, sh_schedule(R, a, "dr-mv2", NULL, NULL, day, 1, &s), PM_OK);
    assert_int_equal(s->days[0]->n_appointments, 1);
    Pm__SlotList *l;
    SH_EXPECT(R, sh_find(R, a, sh_slots_req(a, "checkup", "dr-mv2", day, day), &l), PM_OK);
    assert_false(sh_has_slot(l, "dr-mv2", sh_local(day, 10, 45)));
    assert_false(sh_has_slot(l, "dr-mv2", sh_local(day, 11, 0)));
    assert_true(sh_has_slot(l, "dr-mv2", sh_local(day, 11, 15)));
}

/* Refused by a location's holiday, the booking says so (as for a practice holiday). */
static void test_location_holiday_refusal_names_it(void **state)
{
    (void)state;
    pm_arena *a = &A;
    const char *day = "2026-04-23";
    SH_EXPECT(M, sh_holiday(M, a, day, "Annex staff training", "annex"), PM_OK);
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Annex", "Closed", p), PM_OK);
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p, "dr-kim", "checkup", sh_local(day, 14, 0)), NULL),
              PM_E_OUTSIDE_AVAILABILITY);
    print_message("      refusal: %s\n", pc_last_error(R));
    assert_non_null(strstr(pc_last_error(R), "Annex staff training"));
}

/* ROOM_BUSY promises conflicts ("see conflicts"): when the server looked for any free room
 * of the location and found none, the refusal names the appointment in the room too. */
static void test_room_busy_lists_conflicts(void **state)
{
    (void)state;
    pm_arena *a = &A;
    const char *day = "2026-04-24";
    char p1[24], p2[24];
    SH_EXPECT(R, sh_patient(R, a, "Room", "Holder", p1), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Room", "Wanter", p2), PM_OK);
    Pm__Appointment *x;
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p1, "dr-lee", "procedure", sh_local(day, 10, 0)), &x),
              PM_OK);
    SH_EXPECT(R,
              sh_book(R, a, sh_book_req(a, p2, "dr-kim", "procedure", sh_local(day, 10, 0)), NULL),
              PM_E_ROOM_BUSY);
    const Pm__Error *err = pc_last_error_detail(R);
    print_message("      %s; conflicts: %zu\n", pc_last_error(R), err ? err->n_conflicts : 0);
    assert_true(sh_conflicts_has(err, x->id));
}

/* FindSlots takes the patient's MRN as people type it (with a dash), like every other
 * request, and leaves out the times that patient is booked. */
static void test_find_slots_mrn_as_typed(void **state)
{
    (void)state;
    pm_arena *a = &A;
    const char *day = "2026-04-27";
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Dash", "Typed", p), PM_OK);
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p, "dr-mv", "checkup", sh_local(day, 9, 0)), NULL),
              PM_OK);
    char dashed[32];
    snprintf(dashed, sizeof dashed, "%.3s-%s", p, p + 3);
    /* the booking side resolves it */
    SH_EXPECT(R,
              sh_book(R, a, sh_book_req(a, dashed, "dr-lee", "checkup", sh_local(day, 9, 0)), NULL),
              PM_E_PATIENT_BUSY);
    Pm__FindSlots *q = sh_slots_req(a, "checkup", "dr-lee", day, day);
    Pm__SlotList *l;
    q->patient_mrn = p;
    SH_EXPECT(R, sh_find(R, a, q, &l), PM_OK);
    assert_false(sh_has_slot(l, "dr-lee", sh_local(day, 9, 0)));
    q->patient_mrn = dashed;
    SH_EXPECT(R, sh_find(R, a, q, &l), PM_OK);
    print_message("      FindSlots for %s offers 09:00 (the patient is with dr-mv then): %s\n",
                  dashed, sh_has_slot(l, "dr-lee", sh_local(day, 9, 0)) ? "yes" : "no");
    assert_false(sh_has_slot(l, "dr-lee", sh_local(day, 9, 0)));
}

/* "Now" is the scheduling clock: slots start after it, the front desk cannot book the
 * past (a manager may record it), and a patient's list splits at it. */
static void test_now_and_the_past(void **state)
{
    (void)state;
    pm_arena *a = &A;
    const char *day = "2026-04-09";
    sh_clock_set(&K, sh_local(day, 10, 5));
    Pm__SlotList *l;
    SH_EXPECT(R, sh_find(R, a, sh_slots_req(a, "checkup", "dr-lee", day, day), &l), PM_OK);
    print_message("      at %s the first slot is %s, %zu in all\n", when(sh_local(day, 10, 5)),
                  l->n_slots ? when(l->slots[0]->start) : "-", l->n_slots);
    assert_int_equal(l->n_slots, 6);
    assert_int_equal(l->slots[0]->start, sh_local(day, 10, 15));
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Past", "Tense", p), PM_OK);
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p, "dr-lee", "checkup", sh_local(day, 8, 0)), NULL),
              PM_E_INVALID_ARGUMENT);
    assert_string_equal(pc_last_error_detail(R)->field, "start");
    Pm__Appointment *past, *future;
    SH_EXPECT(M, sh_book(M, a, sh_book_req(a, p, "dr-lee", "checkup", sh_local(day, 8, 0)), &past),
              PM_OK);
    SH_EXPECT(R,
              sh_book(R, a, sh_book_req(a, p, "dr-lee", "checkup", sh_local(day, 11, 0)), &future),
              PM_OK);
    Pm__AppointmentList *al;
    SH_EXPECT(R, sh_patient_appts(R, a, p, 0, &al), PM_OK);
    assert_int_equal(al->n_appointments, 1);
    assert_int_equal(al->appointments[0]->id, future->id);
    SH_EXPECT(R, sh_patient_appts(R, a, p, 1, &al), PM_OK);
    assert_int_equal(al->n_appointments, 1);
    assert_int_equal(al->appointments[0]->id, past->id);
    sh_clock_set(&K, T0);
}

/* A move is a booking at the new time: the front desk may not move one into the past any
 * more than it may book there. */
static void test_move_into_past(void **state)
{
    (void)state;
    pm_arena *a = &A;
    const char *day = "2026-04-10";
    sh_clock_set(&K, sh_local(day, 10, 5));
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Back", "InTime", p), PM_OK);
    Pm__Appointment *x;
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p, "dr-lee", "checkup", sh_local(day, 11, 0)), &x),
              PM_OK);
    SH_EXPECT(
        R,
        sh_book(R, a, sh_book_req(a, p, "dr-lee", "checkup", sh_local("2026-04-08", 9, 0)), NULL),
        PM_E_INVALID_ARGUMENT);
    Pm__Move *m = sh_move_req(a, x->id, x->version);
    m->start = sh_local("2026-04-08", 9, 0);
    int rc = sh_move(R, a, m, NULL);
    print_message("      receptionist moving %s to %s (two days ago): %s%s%s\n", when(x->start),
                  when(m->start), pm_strerror(rc), rc ? ": " : "", rc ? pc_last_error(R) : "");
    sh_clock_set(&K, T0);
    assert_int_equal(rc, PM_E_INVALID_ARGUMENT);
    /* a start no calendar holds, even for a manager: refused before any arithmetic on it */
    Pm__Book *far = sh_book_req(a, p, "dr-lee", "checkup", (int64_t)1 << 62);
    SH_EXPECT(M, sh_book(M, a, far, NULL), PM_E_INVALID_ARGUMENT);
    assert_string_equal(pc_last_error_detail(M)->field, "start");
    far->start = -3600;
    SH_EXPECT(M, sh_book(M, a, far, NULL), PM_E_INVALID_ARGUMENT);
    m = sh_move_req(a, x->id, x->version);
    m->start = (int64_t)1 << 62;
    SH_EXPECT(M, sh_move(M, a, m, NULL), PM_E_INVALID_ARGUMENT);
    /* a series may name each weekday once at most */
    Pm__Book *wk = sh_book_req(a, p, "dr-lee", "checkup", sh_local(day, 15, 0));
    wk->repeat = pm_msg_new(a, &pm__recurrence__descriptor);
    wk->repeat->unit = PM__REPEAT_UNIT__WEEKS;
    wk->repeat->interval = 1;
    wk->repeat->count = 2;
    static uint32_t eight[8] = {1, 2, 3, 4, 5, 1, 2, 3};
    wk->repeat->weekdays = eight;
    wk->repeat->n_weekdays = 8;
    SH_EXPECT(M, sh_book_series(M, a, wk, NULL), PM_E_INVALID_ARGUMENT);
    assert_string_equal(pc_last_error_detail(M)->field, "repeat.weekdays");
}

/* A Book retried with the same request key (after a network blip) books once. */
static void test_book_retry_same_key(void **state)
{
    (void)state;
    pm_arena *a = &A;
    const char *day = "2026-04-17";
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Blip", "Retry", p), PM_OK);
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_BOOK), *r1, *r2;
    e->book = sh_book_req(a, p, "dr-lee", "checkup", sh_local(day, 9, 0));
    static uint8_t key[16] = "book-once-pleas";
    e->request_key.data = key;
    e->request_key.len = sizeof key;
    SH_EXPECT(R, pc_call(R, e, a, &r1), PM_OK);
    SH_EXPECT(R, pc_call(R, e, a, &r2), PM_OK);
    assert_int_equal(r1->appointment_ok->appointment->id, r2->appointment_ok->appointment->id);
    Pm__Schedule *s;
    SH_EXPECT(R, sh_schedule(R, a, "dr-lee", NULL, NULL, day, 1, &s), PM_OK);
    assert_int_equal(s->days[0]->n_appointments, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_dst_spring_forward, test_done),
        cmocka_unit_test_teardown(test_dst_fall_back, test_done),
        cmocka_unit_test_teardown(test_block_across_gap, test_done),
        cmocka_unit_test_teardown(test_exceptions, test_done),
        cmocka_unit_test_teardown(test_exception_without_reason, test_done),
        cmocka_unit_test_teardown(test_holidays, test_done),
        cmocka_unit_test_teardown(test_template_ranges, test_done),
        cmocka_unit_test_teardown(test_capacity_and_override, test_done),
        cmocka_unit_test_teardown(test_patient_double_booking, test_done),
        cmocka_unit_test_teardown(test_rooms, test_done),
        cmocka_unit_test_teardown(test_changes_history_events, test_done),
        cmocka_unit_test_teardown(test_move_time_and_provider, test_done),
        cmocka_unit_test_teardown(test_location_holiday_refusal_names_it, test_done),
        cmocka_unit_test_teardown(test_room_busy_lists_conflicts, test_done),
        cmocka_unit_test_teardown(test_find_slots_mrn_as_typed, test_done),
        cmocka_unit_test_teardown(test_now_and_the_past, test_done),
        cmocka_unit_test_teardown(test_move_into_past, test_done),
        cmocka_unit_test_teardown(test_book_retry_same_key, test_done),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
