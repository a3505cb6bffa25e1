/* Scheduling: set-up (locations, rooms, providers, visit types, weekly templates,
 * exceptions, holidays), appointments decided inside the write transaction, slot search,
 * schedules, recurring series and the waitlist.
 *
 * Every booking is checked on the writer thread, in the transaction that makes it, so two
 * desks racing for one slot cannot both win: the second sees the first's appointment. */
#ifndef SCHEDULING_H
#define SCHEDULING_H

#include <lmdb.h>
#include <stdint.h>
#include <time.h>

#include "pm_err.h"
#include "practiced.pb-c.h"
#include "store.h"

struct req;

#define SCHED_MAX_APPT_MIN (12 * 60) /* no appointment is longer */
#define SCHED_CODE_MAX     32

/* ---- the scheduling clock: real time, or a test's (PRACTICED_TEST_CLOCK names a file
 * holding UTC seconds, read on every call) ---- */
time_t sched_now(void);
/* Demos: from now on the scheduling clock runs speed times faster than real time, from
 * start (0: from the real time now). */
void sched_clock_set(unsigned speed, time_t start);
unsigned sched_clock_speed_of(void);

/* ---- configuration, from practiced serve ---- */
typedef struct sched_config {
    uint32_t late_cancel_s; /* a cancellation this close to the start is late */
    uint32_t offer_ttl_s;   /* how long a waitlist offer holds its slot */
} sched_config;
extern sched_config sched_cfg;

/* ---- request handlers (the op table in dispatch.c) ---- */
int sched_put_location(struct req *r, wctx *ctx);
int sched_put_room(struct req *r, wctx *ctx);
int sched_put_provider(struct req *r, wctx *ctx);
int sched_put_visit_type(struct req *r, wctx *ctx);
int sched_put_template(struct req *r, wctx *ctx);
int sched_delete_template(struct req *r, wctx *ctx);
int sched_put_holiday(struct req *r, wctx *ctx);
int sched_delete_holiday(struct req *r, wctx *ctx);
int sched_add_exception(struct req *r, wctx *ctx);
int sched_delete_exception(struct req *r, wctx *ctx);
int sched_get_setup(struct req *r, MDB_txn *txn);

int sched_book(struct req *r, wctx *ctx);
int sched_move(struct req *r, wctx *ctx);
int sched_cancel(struct req *r, wctx *ctx);
int sched_no_show(struct req *r, wctx *ctx);
int sched_set_notes(struct req *r, wctx *ctx);
int sched_get_appointment(struct req *r, MDB_txn *txn);

int sched_find_slots(struct req *r, MDB_txn *txn);
int sched_get_schedule(struct req *r, MDB_txn *txn);
int sched_patient_appointments(struct req *r, MDB_txn *txn);

int waitlist_add(struct req *r, wctx *ctx);
int waitlist_remove(struct req *r, wctx *ctx);
int waitlist_list(struct req *r, MDB_txn *txn);
int waitlist_answer(struct req *r, wctx *ctx);
/* Loop thread, once a second: expires offers past their time (a writer job). */
void waitlist_tick(void);

/* ---- shared by the scheduling files ---- */

/* Set-up records by code; PM_E_NOT_FOUND when absent. Allocated in a. */
int setup_location(MDB_txn *txn, const char *id, pm_arena *a, Pm__Location **out);
int setup_room(MDB_txn *txn, const char *id, pm_arena *a, Pm__Room **out);
int setup_provider(MDB_txn *txn, const char *id, pm_arena *a, Pm__Provider **out);
int setup_visit_type(MDB_txn *txn, const char *id, pm_arena *a, Pm__VisitType **out);
/* Every record of a kind ('L' locations, 'R' rooms, 'P' providers, 'V' visit types). */
int setup_list(MDB_txn *txn, char kind, pm_arena *a, void ***out, size_t *n);
/* The name of a holiday on date at location ("" location: any), or NULL. */
const char *setup_holiday(MDB_txn *txn, const char *date, const char *location, pm_arena *a);
/* Whether the visit type is offered by the provider. */
int vt_offered_by(const Pm__VisitType *vt, const char *provider);
/* Whether s is a valid set-up code. */
int sched_code_valid(const char *s);

/* A provider's availability on one local date. */
typedef struct avail_block {
    const Pm__TemplateBlock *tb;
    time_t start, end;
    uint32_t capacity;
} avail_block;

typedef struct provider_day {
    char date[11];
    const char *holiday; /* every location closed, or NULL */
    avail_block *blocks;
    size_t nblocks;
} provider_day;

/* The template in force for a provider on a date (latest valid_from), or NULL. The
 * templates are a provider's, as loaded by avail_templates. */
const Pm__Template *avail_template_on(Pm__Template **tpls, size_t n, const char *date);
int avail_templates(MDB_txn *txn, const char *provider, pm_arena *a, Pm__Template ***out,
                    size_t *n);
/* Blocks of the provider's template on date, minus holidays of their locations. */
int avail_day(MDB_txn *txn, Pm__Template **tpls, size_t ntpl, const char *date, pm_arena *a,
              provider_day *out);
/* Exceptions of a provider overlapping [t0, t1). */
int avail_exceptions(MDB_txn *txn, const char *provider, time_t t0, time_t t1, pm_arena *a,
                     Pm__Exception ***out, size_t *n);

/* An appointment's footprint in an index: its id, start, end and status. */
typedef struct appt_span {
    uint64_t id;
    time_t start, end;
    int status;
} appt_span;

/* Whether a status holds its time (booked, held; not cancelled or no-show). */
int appt_active(int status);
/* Spans under name in an appointment index (DB_APPT_PROV, DB_RECORDS for a patient's,
 * DB_APPT_ROOM) that overlap [t0, t1), by start; the array is malloc'd. SCHED_BY_LOCATION,
 * a location's, walks every provider's stretch of the provider index. */
#define SCHED_BY_LOCATION DB_COUNT /* for appt_spans: a location's (not a database) */
int appt_spans(MDB_txn *txn, enum store_db db, const char *name, time_t t0, time_t t1,
               appt_span **out, size_t *n);
int appt_load(MDB_txn *txn, uint64_t id, pm_arena *a, Pm__Appointment **out);
/* The most of the active spans that overlap at any moment of [t0, t1). */
size_t appt_peak_overlap(const appt_span *sp, size_t n, time_t t0, time_t t1);
/* An appointment change as an event on its provider's and location-day's topics (and
 * those of where it was before, for a move). Writer thread. */
int appt_event(struct req *r, wctx *ctx, const char *action, Pm__Appointment *a,
               const Pm__Appointment *before);
/* Holds a slot for a waitlist offer (a HELD appointment, checked like a booking). */
int sched_hold(struct req *r, wctx *ctx, const char *mrn, const char *provider, Pm__VisitType *vt,
               const char *location, time_t start, uint64_t offer, Pm__Appointment **out);
/* A slot of a provider came free (cancel, move, no-show): offer it to the waitlist.
 * Fails only when storage does. */
/* Errors that are about the storage, not the data: a check that meets one stops there
 * instead of reporting a conflict and going on. */
static inline int sched_storage_error(int rc)
{
    return rc == PM_E_NOMEM || rc == PM_E_MAP_FULL || rc == PM_E_STORAGE || rc == PM_E_INTERNAL;
}
int waitlist_slot_freed(struct req *r, wctx *ctx, const char *provider, time_t start, time_t end);
/* Maintenance: forgets which entries were offered slots that are a day past (at most max
 * of them); *removed says how many. */
int waitlist_forget_slots(wctx *ctx, unsigned max, unsigned *removed);
/* Rewrites an appointment whose status changed (same time and people): its record, its
 * index entries, and a line in its history. */
int sched_store_appt(MDB_txn *txn, const Pm__Appointment *a);
int sched_reindex(MDB_txn *txn, const Pm__Appointment *a);
/* The same when its time, people or room changed: old index entries out, new in. */
int sched_reindex_from(MDB_txn *txn, const Pm__Appointment *before, const Pm__Appointment *a);
/* An appointment that never was one (a released hold): record and indexes go. */
int sched_delete_appt(MDB_txn *txn, const Pm__Appointment *a);
/* A new appointment built by the caller (walk-ins): record and indexes. */
int sched_insert_appt(MDB_txn *txn, const Pm__Appointment *a);
int sched_append_history(struct req *r, Pm__Appointment *a, const char *what);
/* Index keys, for the writers and for practiced check: an appointment index's (db is
 * DB_APPT_PROV, DB_APPT_ROOM, or DB_RECORDS for the patient's) is the name's prefix
 * (store_name_prefix, at most SCHED_NAME_MAX bytes of the name), start, id. Its value is
 * end, status and, in the provider's, the location: sched_idx_value. */
#define SCHED_NAME_MAX      40
#define SCHED_IDX_KEY_MAX   (SCHED_NAME_MAX + 18)
#define SCHED_IDX_VALUE_MIN 9 /* end(u64) status(u8) */
#define SCHED_IDX_VALUE_MAX (SCHED_IDX_VALUE_MIN + SCHED_NAME_MAX)
size_t sched_idx_key(uint8_t *k, enum store_db db, const char *name, uint64_t start, uint64_t id);
size_t sched_idx_value(uint8_t *v, enum store_db db, const Pm__Appointment *a);
/* An appointment's index entries: its provider's (a walk-in for anyone is filed under the
 * empty name until someone sees them; the location has no index of its own, the value
 * names it), its patient's among the patient's records (beside the audit entries naming
 * the patient), its room's. Returns how many. */
#define SCHED_IDX_COUNT 3
typedef struct sched_idx {
    enum store_db db;
    const char *name;
} sched_idx;
size_t sched_idx_of(const Pm__Appointment *a, sched_idx out[SCHED_IDX_COUNT]);
size_t sched_exc_key(uint8_t *k, const char *provider, uint64_t end, uint64_t id);
void waitlist_queue_key(uint8_t k[17], const Pm__WaitlistEntry *e);
/* practiced check: appointments and their four indexes, exceptions, the waitlist's queue,
 * open offers and their holds, series. */
int sched_check(MDB_txn *txn, store *st, void (*problem)(void *ud, const char *msg), void *ud,
                uint64_t *appointments);
/* The patient's display name ("Last, First") for answers and events. */
const char *sched_patient_name(MDB_txn *txn, const char *mrn, pm_arena *a);

#endif
