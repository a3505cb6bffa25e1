/* Helpers for the scheduling integration tests: the practice's local time computed in
 * this process (glibc, not the server's code), the server's injectable clock, set-up,
 * bookings, reads, the waitlist, and an event collector.
 *
 * Every request helper returns what pc_call returned; on an error the client's
 * pc_last_error()/pc_last_error_detail() say why. */
#ifndef SCHED_HELP_H
#define SCHED_HELP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "harness.h"
#include "pm_err.h"

/* Fails the test (cmocka) when call does not return want, printing the server's message
 * first. Include cmocka.h before using it. */
#define SH_EXPECT(c, call, want)                                                                   \
    do {                                                                                           \
        int sh_rc_ = (call);                                                                       \
        if (sh_rc_ != (want))                                                                      \
            print_error("%s:%d: %s returned %s (%d), wanted %s: %s\n", __FILE__, __LINE__, #call,  \
                        pm_strerror(sh_rc_), sh_rc_, pm_strerror(want), pc_last_error(c));         \
        assert_int_equal(sh_rc_, (want));                                                          \
    } while (0)

/* ---- time in the practice's zone (Europe/Paris, as ts_init makes it) ---- */

/* Makes this process's local time the practice's. */
void sh_tz(void);
/* The instant of hh:mm on a local date (not for times in the spring gap). */
time_t sh_local(const char *date, int hh, int mm);
/* UTC seconds of a UTC date and time. */
time_t sh_utc(const char *date, int hh, int mm);
/* "YYYY-MM-DD HH:MM CEST" in the practice's zone; buf of at least 40. */
const char *sh_fmt(time_t t, char *buf, size_t n);
/* Local hour * 60 + minute of an instant, and its UTC offset in seconds. */
int sh_local_min(time_t t);
long sh_utc_offset(time_t t);

/* ---- the server's scheduling clock (PRACTICED_TEST_CLOCK) ---- */

typedef struct sh_clock {
    char path[300];
    char env[400];
} sh_clock;
/* After ts_init, before ts_start: a clock file beside the data directory holding now, and
 * s->env naming it (with TZ=UTC, so the server must use the practice's zone itself). */
void sh_clock_init(sh_clock *k, ts_server *s, time_t now);
/* Sets the server's now (written to a new file and renamed, so never read half-written). */
void sh_clock_set(sh_clock *k, time_t now);

/* ---- set-up ---- */

typedef struct sh_block {
    unsigned weekdays; /* bit w for weekday w (1 Monday .. 7 Sunday); 0: every day */
    unsigned start_min, end_min;
    const char *location; /* NULL: the provider's default */
    unsigned capacity;
    const char *visit_type; /* NULL: every type */
} sh_block;

int sh_location(pc_client *c, pm_arena *a, const char *id, const char *name);
int sh_room(pc_client *c, pm_arena *a, const char *id, const char *location);
int sh_provider(pc_client *c, pm_arena *a, const char *id, const char *name,
                const char *default_location);
/* providers: NULL-terminated list, or NULL for every provider. */
int sh_visit_type(pc_client *c, pm_arena *a, const char *id, unsigned minutes, int needs_room,
                  const char *const *providers);
/* A new template; its id (e.g. "dr-lee/1") into id_out when given. */
int sh_template(pc_client *c, pm_arena *a, const char *provider, const char *from, const char *to,
                const sh_block *blocks, size_t n, char *id_out, size_t id_len);
int sh_holiday(pc_client *c, pm_arena *a, const char *date, const char *name, const char *location);
int sh_exception(pc_client *c, pm_arena *a, const char *provider, time_t start, time_t end,
                 Pm__ExceptionKind kind, const char *reason, uint64_t *id);
int sh_delete_exception(pc_client *c, pm_arena *a, uint64_t id);
int sh_get_setup(pc_client *c, pm_arena *a, const char *provider, Pm__Setup **out);

/* A patient; its MRN into mrn (24 bytes). */
int sh_patient(pc_client *c, pm_arena *a, const char *first, const char *last, char *mrn);

/* ---- appointments ---- */

/* A Book request to adjust before sending. */
Pm__Book *sh_book_req(pm_arena *a, const char *mrn, const char *provider, const char *visit_type,
                      time_t start);
/* Books one appointment (*out may be NULL). */
int sh_book(pc_client *c, pm_arena *a, Pm__Book *b, Pm__Appointment **out);
/* Books a series (b->repeat set). */
int sh_book_series(pc_client *c, pm_arena *a, Pm__Book *b, Pm__SeriesResult **out);
int sh_get(pc_client *c, pm_arena *a, uint64_t id, Pm__Appointment **out);
Pm__Move *sh_move_req(pm_arena *a, uint64_t id, uint32_t version);
/* The answer: appointment_ok, or series_result for a series scope. */
int sh_move(pc_client *c, pm_arena *a, Pm__Move *m, Pm__Envelope **resp);
int sh_cancel(pc_client *c, pm_arena *a, uint64_t id, uint32_t version, const char *reason,
              Pm__Scope scope, Pm__Envelope **resp);
int sh_no_show(pc_client *c, pm_arena *a, uint64_t id, uint32_t version, Pm__Appointment **out);
int sh_notes(pc_client *c, pm_arena *a, uint64_t id, uint32_t version, const char *notes,
             Pm__Appointment **out);

/* ---- reading the schedule ---- */

/* A FindSlots request for one provider (NULL: everyone) over a date range. */
Pm__FindSlots *sh_slots_req(pm_arena *a, const char *visit_type, const char *provider,
                            const char *from, const char *to);
int sh_find(pc_client *c, pm_arena *a, Pm__FindSlots *q, Pm__SlotList **out);
/* Whether a slot of provider starts at t. */
int sh_has_slot(const Pm__SlotList *l, const char *provider, time_t t);
int sh_schedule(pc_client *c, pm_arena *a, const char *provider, const char *location,
                const char *room, const char *date, unsigned days, Pm__Schedule **out);
int sh_patient_appts(pc_client *c, pm_arena *a, const char *mrn, int past,
                     Pm__AppointmentList **out);

/* ---- the waitlist ---- */

Pm__WaitlistEntry *sh_entry(pm_arena *a, const char *mrn, const char *visit_type);
int sh_wait_add(pc_client *c, pm_arena *a, Pm__WaitlistEntry *e, Pm__WaitlistEntry **out);
int sh_wait_remove(pc_client *c, pm_arena *a, uint64_t id, Pm__WaitlistEntry **out);
int sh_wait_list(pc_client *c, pm_arena *a, int include_closed, Pm__Waitlist **out);
/* The same with ListWaitlist's page of closed entries (0, 0: the defaults). */
int sh_wait_page(pc_client *c, pm_arena *a, int include_closed, uint32_t closed_limit,
                 uint64_t closed_before_id, Pm__Waitlist **out);
int sh_answer(pc_client *c, pm_arena *a, uint64_t offer, int accept, Pm__Envelope **resp);
/* The entry or offer of that id in a Waitlist answer, or NULL. */
const Pm__WaitlistEntry *sh_wl_entry(const Pm__Waitlist *w, uint64_t id);
const Pm__Offer *sh_wl_offer(const Pm__Waitlist *w, uint64_t id);

/* ---- audit and stats ---- */

int sh_audit(pc_client *c, pm_arena *a, const char *mrn, Pm__AuditList **out);
int sh_stats(pc_client *c, pm_arena *a, Pm__Stats **out);

/* Whether an error's conflicts list id. */
int sh_conflicts_has(const Pm__Error *e, uint64_t id);

/* ---- events, as a subscriber's callback collects them ---- */

typedef struct sh_ev {
    uint64_t seq;
    int kind; /* PM__EVENT__BODY_* */
    char action[24];
    uint64_t appt; /* AppointmentChanged: the appointment */
    int status;    /* its status, or the offer's */
    int64_t start;
    char provider[40];
    char mrn[24];
    uint64_t offer; /* OfferChanged */
    uint64_t entry;
    uint64_t offer_appt;
    uint64_t expires_at;
} sh_ev;

typedef struct sh_events {
    sh_ev ev[1024];
    int n;
} sh_events;

/* pc_on_event(c, sh_collect, &events) */
void sh_collect(void *ud, const Pm__Envelope *env);
/* Polls c until pred finds an event (or timeout_ms passes); its index, or -1. */
int sh_wait_event(pc_client *c, sh_events *ev, int (*pred)(const sh_ev *, const void *),
                  const void *arg, int timeout_ms);
/* Events of an appointment with that action ("" any). */
int sh_count_appt(const sh_events *ev, uint64_t appt, const char *action);
/* The index of the first offer event matching entry and status (0 any), from index from;
 * -1 when none. */
int sh_find_offer(const sh_events *ev, int from, uint64_t entry, int status);

#endif
