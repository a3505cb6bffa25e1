/* The waitlist against a real practiced: a cancelled booking's slot is offered to the
 * first matching entry (visit type, preferred providers, date window, time-of-day window;
 * priority, then age), held while the offer is open, booked on accept, passed on when
 * declined, when the offer expires (--offer-ttl, on the injected clock) and when the entry
 * is removed. A second desk watching "waitlist" sees every offer change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pm_time.h"
#include "sched_help.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFFER_TTL 60

static ts_server S;
static sh_clock K;
static pc_client *M, *R, *W; /* manager, receptionist, a second desk watching */
static pm_arena A;
static sh_events EV;
static time_t NOW;

static int setup(void **state)
{
    (void)state;
    sh_tz();
    pm_arena_init(&A, 0);
    NOW = sh_local("2026-05-01", 8, 0);
    if (ts_init(&S, NULL))
        return -1;
    sh_clock_init(&K, &S, NOW);
    char opts[64];
    snprintf(opts, sizeof opts, "--offer-ttl %d", OFFER_TTL);
    if (ts_start(&S, opts))
        return -1;
    M = ts_manager(&S);
    R = M ? ts_user(&S, M, "wanda", PM__ROLE__RECEPTIONIST) : NULL;
    W = R ? ts_user(&S, M, "walt", PM__ROLE__RECEPTIONIST) : NULL;
    if (!W)
        return -1;
    pm_arena a;
    pm_arena_init(&a, 0);
    sh_block mornings = {0, 8 * 60, 12 * 60, NULL, 0, NULL};
    static const char *const only_other[] = {"dr-other", NULL};
    int rc = sh_location(M, &a, "main", "Main Street") ||
             sh_provider(M, &a, "dr-wl", "Dr Wait", "main") ||
             sh_provider(M, &a, "dr-other", "Dr Other", "main") ||
             sh_visit_type(M, &a, "checkup", 30, 0, NULL) ||
             sh_visit_type(M, &a, "long", 60, 0, NULL) ||
             sh_visit_type(M, &a, "special", 30, 0, only_other) ||
             sh_template(M, &a, "dr-wl", "2026-01-01", NULL, &mornings, 1, NULL, 0) ||
             sh_template(M, &a, "dr-other", "2026-01-01", NULL, &mornings, 1, NULL, 0);
    pc_on_event(W, sh_collect, &EV);
    const char *topic = "waitlist";
    rc = rc || pc_subscribe(W, &topic, 1, 0, &a, NULL);
    if (rc)
        fprintf(stderr, "set-up: %s / %s\n", pc_last_error(M), pc_last_error(W));
    pm_arena_free(&a);
    return rc ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    pc_free(W);
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

static void tick(int seconds)
{
    NOW += seconds;
    sh_clock_set(&K, NOW);
}

struct offer_want {
    uint64_t entry;
    int status;
    int from; /* events before this index do not count */
};

static int is_offer(const sh_ev *e, const void *arg)
{
    const struct offer_want *w = arg;
    return e - EV.ev >= w->from && e->kind == PM__EVENT__BODY_OFFER_CHANGED &&
           e->entry == w->entry && e->status == w->status;
}

/* Waits for the watching desk to see an offer to entry with status, from event index from
 * on; returns its event. */
static const sh_ev *see_offer_from(int from, uint64_t entry, int status, int timeout_ms)
{
    struct offer_want w = {entry, status, from};
    int i = sh_wait_event(W, &EV, is_offer, &w, timeout_ms);
    if (i < 0)
        print_error("the watching desk saw no offer to entry %llu with status %d within %d ms\n",
                    (unsigned long long)entry, status, timeout_ms);
    assert_true(i >= 0);
    return &EV.ev[i];
}

static const sh_ev *see_offer(uint64_t entry, int status, int timeout_ms)
{
    return see_offer_from(0, entry, status, timeout_ms);
}

static uint64_t add_entry(Pm__WaitlistEntry *e)
{
    Pm__WaitlistEntry *out;
    SH_EXPECT(R, sh_wait_add(R, &A, e, &out), PM_OK);
    assert_int_equal(out->status, PM__WAITLIST_STATUS__WAITING);
    tick(1); /* each a second younger than the one before */
    return out->id;
}

static const Pm__WaitlistEntry *entry_now(uint64_t id)
{
    Pm__Waitlist *wl;
    SH_EXPECT(R, sh_wait_list(R, &A, 1, &wl), PM_OK);
    const Pm__WaitlistEntry *e = sh_wl_entry(wl, id);
    assert_non_null(e);
    return e;
}

static int offers_to(uint64_t entry)
{
    int n = 0;
    for (int i = 0; i < EV.n; i++)
        n += EV.ev[i].kind == PM__EVENT__BODY_OFFER_CHANGED && EV.ev[i].entry == entry;
    return n;
}

static void test_offers(void **state)
{
    (void)state;
    pm_arena *a = &A;
    const char *day = "2026-05-05";
    time_t nine = sh_local(day, 9, 0);
    char p0[24], pa[24], pb[24], pc[24], pd[24], pe[24], pf[24], pg[24], px[24];
    SH_EXPECT(R, sh_patient(R, a, "Orig", "Inal", p0), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Wrong", "Provider", pa), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Wrong", "Dates", pb), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Wrong", "Hours", pc), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Low", "Priority", pd), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "High", "Older", pe), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "High", "Younger", pf), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Wrong", "Type", pg), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Walk", "In", px), PM_OK);
    char ph[24];
    SH_EXPECT(R, sh_patient(R, a, "Busy", "Elsewhere", ph), PM_OK);
    /* ph is with dr-other from 09:00 to 11:00 that day */
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, ph, "dr-other", "long", nine), NULL), PM_OK);
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, ph, "dr-other", "long", sh_local(day, 10, 0)), NULL),
              PM_OK);
    Pm__Appointment *orig;
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p0, "dr-wl", "checkup", nine), &orig), PM_OK);

    Pm__WaitlistEntry *e = sh_entry(a, pa, "checkup");
    static char *other[] = {"dr-other"};
    e->providers = other;
    e->n_providers = 1;
    e->priority = 9;
    uint64_t ea = add_entry(e);
    e = sh_entry(a, pb, "checkup");
    e->from_date = "2026-05-01";
    e->to_date = "2026-05-02";
    e->priority = 9;
    uint64_t eb = add_entry(e);
    e = sh_entry(a, pc, "checkup");
    e->earliest_min = 13 * 60;
    e->latest_min = 17 * 60;
    e->priority = 9;
    uint64_t ec = add_entry(e);
    e = sh_entry(a, pd, "checkup");
    e->priority = 1;
    uint64_t ed = add_entry(e);
    e = sh_entry(a, pe, "checkup");
    static char *wl[] = {"dr-wl"};
    e->providers = wl;
    e->n_providers = 1;
    e->from_date = "2026-05-04";
    e->to_date = "2026-05-06";
    e->earliest_min = 8 * 60;
    e->latest_min = 12 * 60;
    e->priority = 5;
    uint64_t ee = add_entry(e);
    e = sh_entry(a, pf, "checkup");
    e->priority = 5;
    uint64_t ef = add_entry(e);
    e = sh_entry(a, pg, "long");
    e->priority = 9;
    uint64_t eg = add_entry(e);
    char pi[24];
    SH_EXPECT(R, sh_patient(R, a, "Wrong", "Kind", pi), PM_OK);
    e = sh_entry(a, pi, "special"); /* a type dr-wl does not offer */
    e->priority = 9;
    uint64_t ei = add_entry(e);
    e = sh_entry(a, ph, "checkup"); /* first in line, but busy at every freed time */
    e->priority = 9;
    uint64_t eh = add_entry(e);

    /* the cancellation frees 09:00: the highest priority that matches, the older of two */
    SH_EXPECT(R,
              sh_cancel(R, a, orig->id, orig->version, "patient travelling", PM__SCOPE__THIS, NULL),
              PM_OK);
    const sh_ev *o1 = see_offer(ee, PM__OFFER_STATUS__OPEN, 10000);
    uint64_t o1_id = o1->offer, o1_appt = o1->offer_appt;
    print_message("      offer %llu to entry %llu: %s, expires %llds after now\n",
                  (unsigned long long)o1_id, (unsigned long long)ee, pe,
                  (long long)o1->expires_at - (long long)NOW);
    assert_int_equal(o1->start, nine);
    assert_string_equal(o1->provider, "dr-wl");
    assert_string_equal(o1->mrn, pe);
    assert_int_equal(o1->expires_at, (uint64_t)NOW + OFFER_TTL);
    Pm__Waitlist *list;
    SH_EXPECT(R, sh_wait_list(R, a, 0, &list), PM_OK);
    assert_int_equal(sh_wl_entry(list, ee)->status, PM__WAITLIST_STATUS__OFFERED);
    assert_int_equal(sh_wl_entry(list, ee)->offer_id, o1_id);
    assert_non_null(sh_wl_offer(list, o1_id));
    assert_int_equal(sh_wl_offer(list, o1_id)->status, PM__OFFER_STATUS__OPEN);

    /* the slot is held: nobody else books it, and it is not offered as free */
    Pm__Appointment *held;
    SH_EXPECT(R, sh_get(R, a, o1_appt, &held), PM_OK);
    assert_int_equal(held->status, PM__APPOINTMENT_STATUS__HELD);
    assert_string_equal(held->patient_mrn, pe);
    assert_int_equal(held->offer_id, o1_id);
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, px, "dr-wl", "checkup", nine), NULL), PM_E_SLOT_FULL);
    assert_true(sh_conflicts_has(pc_last_error_detail(R), o1_appt));
    Pm__SlotList *l;
    SH_EXPECT(R, sh_find(R, a, sh_slots_req(a, "checkup", "dr-wl", day, day), &l), PM_OK);
    assert_false(sh_has_slot(l, "dr-wl", nine));

    /* declined: the next matching entry gets it */
    Pm__Envelope *resp = NULL;
    SH_EXPECT(R, sh_answer(R, a, o1_id, 0, &resp), PM_OK);
    see_offer(ee, PM__OFFER_STATUS__DECLINED, 10000);
    const sh_ev *o2 = see_offer(ef, PM__OFFER_STATUS__OPEN, 10000);
    uint64_t o2_id = o2->offer;
    uint64_t o2_expires = o2->expires_at;
    assert_int_equal(o2->start, nine);
    /* the hold was nobody's appointment: released, it is gone */
    SH_EXPECT(R, sh_get(R, a, o1_appt, &held), PM_E_NOT_FOUND);
    assert_int_equal(entry_now(ee)->status, PM__WAITLIST_STATUS__WAITING);
    SH_EXPECT(R, sh_answer(R, a, o1_id, 1, NULL), PM_E_CONFLICT); /* closed */

    /* expiry: past expires_at on the server's clock, the next tick passes it on */
    NOW = (time_t)o2_expires + 1;
    sh_clock_set(&K, NOW);
    uint64_t t0 = pm_mono_ms();
    see_offer(ef, PM__OFFER_STATUS__EXPIRED, 10000);
    uint64_t expired_ms = pm_mono_ms() - t0;
    const sh_ev *o3 = see_offer(ed, PM__OFFER_STATUS__OPEN, 10000);
    uint64_t o3_id = o3->offer, o3_appt = o3->offer_appt;
    print_message(
        "      offer %llu expired %llu ms after the clock passed it; offer %llu to %llu\n",
        (unsigned long long)o2_id, (unsigned long long)expired_ms, (unsigned long long)o3_id,
        (unsigned long long)ed);
    assert_true(expired_ms < 5000);
    SH_EXPECT(R, sh_answer(R, a, o2_id, 1, NULL), PM_E_CONFLICT);

    /* accepted: booked */
    SH_EXPECT(R, sh_answer(R, a, o3_id, 1, &resp), PM_OK);
    assert_int_equal(resp->body_case, PM__ENVELOPE__BODY_APPOINTMENT_OK);
    Pm__Appointment *booked = resp->appointment_ok->appointment;
    assert_int_equal(booked->id, o3_appt);
    assert_int_equal(booked->status, PM__APPOINTMENT_STATUS__BOOKED);
    assert_string_equal(booked->patient_mrn, pd);
    assert_int_equal(booked->start, nine);
    see_offer(ed, PM__OFFER_STATUS__ACCEPTED, 10000);
    assert_int_equal(entry_now(ed)->status, PM__WAITLIST_STATUS__SCHEDULED);
    Pm__Schedule *s;
    SH_EXPECT(R, sh_schedule(R, a, "dr-wl", NULL, NULL, day, 1, &s), PM_OK);
    int active = 0;
    for (size_t i = 0; i < s->days[0]->n_appointments; i++) {
        const Pm__Appointment *x = s->days[0]->appointments[i];
        print_message("      %s %s: status %d\n", x->patient_mrn, x->patient_name, x->status);
        if (x->status == PM__APPOINTMENT_STATUS__BOOKED ||
            x->status == PM__APPOINTMENT_STATUS__HELD) {
            active++;
            assert_int_equal(x->id, o3_appt);
        }
    }
    assert_int_equal(active, 1);

    /* the entries that did not match were never offered anything */
    uint64_t never[] = {ea, eb, ec, eg, eh, ei};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(offers_to(never[i]), 0);
        assert_int_equal(entry_now(never[i])->status, PM__WAITLIST_STATUS__WAITING);
    }

    /* a removed entry's open offer is withdrawn, and the slot goes to the next */
    Pm__Appointment *again;
    time_t ten = sh_local(day, 10, 0);
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p0, "dr-wl", "checkup", ten), &again), PM_OK);
    int mark = EV.n;
    SH_EXPECT(R, sh_cancel(R, a, again->id, again->version, "again", PM__SCOPE__THIS, NULL), PM_OK);
    const sh_ev *o4 = see_offer_from(mark, ee, PM__OFFER_STATUS__OPEN, 10000);
    assert_int_equal(o4->start, ten);
    uint64_t o4_id = o4->offer, o4_appt = o4->offer_appt;
    Pm__WaitlistEntry *removed;
    SH_EXPECT(R, sh_wait_remove(R, a, ee, &removed), PM_OK);
    assert_int_equal(removed->status, PM__WAITLIST_STATUS__REMOVED);
    const sh_ev *w4 = see_offer(ee, PM__OFFER_STATUS__WITHDRAWN, 10000);
    assert_int_equal(w4->offer, o4_id);
    SH_EXPECT(R, sh_get(R, a, o4_appt, &held), PM_E_NOT_FOUND); /* the released hold */
    const sh_ev *o5 = see_offer_from(mark, ef, PM__OFFER_STATUS__OPEN, 10000);
    assert_int_equal(o5->start, ten);
    SH_EXPECT(R, sh_answer(R, a, o4_id, 1, NULL), PM_E_CONFLICT);
    SH_EXPECT(R, sh_wait_list(R, a, 0, &list), PM_OK);
    assert_null(sh_wl_entry(list, ee));
    SH_EXPECT(R, sh_wait_list(R, a, 1, &list), PM_OK);
    assert_int_equal(sh_wl_entry(list, ee)->status, PM__WAITLIST_STATUS__REMOVED);
    assert_int_equal(offers_to(eh), 0); /* busy at 10:00 too */

    for (int i = 0; i < EV.n; i++)
        if (EV.ev[i].kind == PM__EVENT__BODY_OFFER_CHANGED)
            print_message("      event %llu: offer %llu entry %llu status %d\n",
                          (unsigned long long)EV.ev[i].seq, (unsigned long long)EV.ev[i].offer,
                          (unsigned long long)EV.ev[i].entry, EV.ev[i].status);
}

/* A long waitlist: three hundred entries ahead of the one that matches, none of which the
 * freed slot suits, and the slot still reaches it. Then, two days on, the maintenance at a
 * restart forgets which entries were offered the slots now past. */
static void test_long_queue_and_forgetting(void **state)
{
    (void)state;
    pm_arena *a = &A;
    char day[] = "2026-05-07";
    char p0[24], many[24], last[24];
    SH_EXPECT(R, sh_patient(R, a, "Long", "Queue", p0), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Many", "Entries", many), PM_OK);
    SH_EXPECT(R, sh_patient(R, a, "Last", "InLine", last), PM_OK);
    for (int i = 0; i < 300; i++) {
        Pm__WaitlistEntry *e = sh_entry(a, many, "special"); /* not a type dr-wl offers */
        e->priority = 200;
        Pm__WaitlistEntry *out;
        SH_EXPECT(R, sh_wait_add(R, a, e, &out), PM_OK);
    }
    Pm__WaitlistEntry *e = sh_entry(a, last, "checkup");
    e->from_date = day;
    e->to_date = day;
    e->priority = 100; /* behind the three hundred, ahead of test_offers' entries */
    uint64_t el = add_entry(e);
    time_t nine = sh_local(day, 9, 0);
    Pm__Appointment *orig;
    SH_EXPECT(R, sh_book(R, a, sh_book_req(a, p0, "dr-wl", "checkup", nine), &orig), PM_OK);
    int mark = EV.n;
    SH_EXPECT(R, sh_cancel(R, a, orig->id, orig->version, "moved away", PM__SCOPE__THIS, NULL),
              PM_OK);
    const sh_ev *o = see_offer_from(mark, el, PM__OFFER_STATUS__OPEN, 10000);
    assert_int_equal(o->start, nine);

    long before = ts_db_entries(&S, "offer_slot");
    print_message("      offered-slot records before: %ld\n", before);
    assert_true(before >= 1);
    NOW = sh_local("2026-05-10", 8, 0);
    sh_clock_set(&K, NOW);
    assert_int_equal(ts_restart(&S, NULL), 0);
    long after = ts_db_entries_wait(&S, "offer_slot", 0, 5000);
    print_message("      offered-slot records after: %ld\n", after);
    assert_int_equal(after, 0);
}

/* Years of closed entries: the list of open ones reads only those; the closed ones come a
 * page at a time, newest first, 100 unless asked otherwise, and paging back with the
 * smallest id of a page reaches every one exactly once. */
static void test_closed_entries_paged(void **state)
{
    (void)state;
    pm_arena *a = &A;
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Paged", "Patient", p), PM_OK);
    Pm__Waitlist *wl;
    SH_EXPECT(R, sh_wait_list(R, a, 0, &wl), PM_OK);
    size_t open_before = wl->n_entries;
    enum { CLOSED = 230 };
    uint64_t keep = 0, closed[CLOSED];
    for (int i = 0; i < CLOSED + 1; i++) {
        Pm__WaitlistEntry *out;
        SH_EXPECT(R, sh_wait_add(R, a, sh_entry(a, p, "special"), &out), PM_OK);
        if (i == CLOSED / 2) { /* one stays open, among the closed ones */
            keep = out->id;
            continue;
        }
        closed[i - (i > CLOSED / 2)] = out->id;
        SH_EXPECT(R, sh_wait_remove(R, a, out->id, NULL), PM_OK);
    }
    SH_EXPECT(R, sh_wait_list(R, a, 0, &wl), PM_OK);
    assert_int_equal(wl->n_entries, open_before + 1);
    assert_non_null(sh_wl_entry(wl, keep));
    assert_false(wl->closed_before_next);

    /* the default page: every open entry, the newest 100 closed */
    SH_EXPECT(R, sh_wait_list(R, a, 1, &wl), PM_OK);
    assert_true(wl->closed_before_next);
    size_t nclosed = 0;
    for (size_t i = 0; i < wl->n_entries; i++) {
        nclosed += wl->entries[i]->status == PM__WAITLIST_STATUS__REMOVED;
        if (i)
            assert_true(wl->entries[i - 1]->id < wl->entries[i]->id);
    }
    assert_int_equal(nclosed, 100);
    assert_non_null(sh_wl_entry(wl, closed[CLOSED - 1]));
    assert_null(sh_wl_entry(wl, closed[CLOSED - 101]));

    /* pages of 64 back from the newest: all of this test's closed entries, once each */
    int seen[CLOSED] = {0};
    uint64_t before = 0;
    int pages = 0, more = 1;
    while (more) {
        SH_EXPECT(R, sh_wait_page(R, a, 1, 64, before, &wl), PM_OK);
        pages++;
        assert_non_null(sh_wl_entry(wl, keep)); /* the open one, on every page */
        uint64_t low = UINT64_MAX;
        size_t n = 0;
        for (size_t i = 0; i < wl->n_entries; i++) {
            const Pm__WaitlistEntry *e = wl->entries[i];
            if (e->status == PM__WAITLIST_STATUS__WAITING ||
                e->status == PM__WAITLIST_STATUS__OFFERED)
                continue;
            n++;
            if (e->id < low)
                low = e->id;
            if (before)
                assert_true(e->id < before);
            for (int k = 0; k < CLOSED; k++)
                if (closed[k] == e->id)
                    seen[k]++;
        }
        assert_true(n <= 64);
        more = wl->closed_before_next != 0;
        assert_true(!more || n == 64);
        assert_true(!more || wl->closed_before_next == low); /* the next page starts below */
        before = low;
        assert_true(pages < 50);
    }
    for (int k = 0; k < CLOSED; k++)
        if (seen[k] != 1)
            fail_msg("closed entry %llu listed %d times", (unsigned long long)closed[k], seen[k]);
    print_message("      %d closed entries in %d pages of 64\n", CLOSED, pages);
    SH_EXPECT(R, sh_wait_remove(R, a, keep, NULL), PM_OK);
}

/* A waitlist listed whole would not fit in one message (more than 1 MiB): the answer is
 * a typed error that says so, not a connection dropped, and the desk goes on working. */
static void test_answer_too_big_for_a_message(void **state)
{
    (void)state;
    pm_arena *a = &A;
    char p[24];
    SH_EXPECT(R, sh_patient(R, a, "Very", "Patient", p), PM_OK);
    char note[501];
    memset(note, 'n', 500);
    note[500] = 0;
    for (int i = 0; i < 2200; i++) {
        Pm__WaitlistEntry *e = sh_entry(a, p, "special");
        e->note = note;
        Pm__WaitlistEntry *out;
        SH_EXPECT(R, sh_wait_add(R, a, e, &out), PM_OK);
        if (i % 200 == 199) {
            pm_arena_free(&A);
            pm_arena_init(&A, 0);
        }
    }
    Pm__Waitlist *wl;
    SH_EXPECT(R, sh_wait_list(R, a, 0, &wl), PM_E_FRAME_TOO_LARGE);
    print_message("      %s\n", pc_last_error(R));
    assert_non_null(strstr(pc_last_error(R), "ask for less"));
    Pm__Appointment *ap;
    SH_EXPECT(
        R, sh_book(R, a, sh_book_req(a, p, "dr-wl", "checkup", sh_local("2026-05-12", 9, 0)), &ap),
        PM_OK); /* the same connection goes on */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_offers, test_done),
        cmocka_unit_test_teardown(test_long_queue_and_forgetting, test_done),
        cmocka_unit_test_teardown(test_closed_entries_paged, test_done),
        cmocka_unit_test_teardown(test_answer_too_big_for_a_message, test_done),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
