/* Appointments: booked, moved, cancelled, marked no-show, always checked inside the write
 * transaction against the provider's availability and capacity, the patient's other
 * appointments and the room. Recurring series are booked and edited here too.
 *
 * Every appointment is in four indexes (by provider, patient, room and location), keyed
 * name 0 start id, valued end and status, so a conflict check reads a few index entries
 * and no records. */
#include "scheduling.h"

#include "dispatch.h"
#include "flow.h"
#include "patients.h"
#include "pm_err.h"
#include "pm_log.h"
#include "pm_time.h"
#include "pm_util.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_MAX 50
#define SERIES_MAX  200
#define NOTES_MAX   2000

/* ---- indexes ---- */

int appt_active(int status)
{
    return status != PM__APPOINTMENT_STATUS__CANCELLED && status != PM__APPOINTMENT_STATUS__NO_SHOW;
}

/* Puts (or deletes) the appointment's entries in its indexes. */
static int appt_index(MDB_txn *txn, const Pm__Appointment *a, int put)
{
    sched_idx idx[SCHED_IDX_COUNT];
    size_t n = sched_idx_of(a, idx);
    for (size_t i = 0; i < n; i++) {
        uint8_t k[SCHED_IDX_KEY_MAX], val[SCHED_IDX_VALUE_MAX];
        size_t kl = sched_idx_key(k, idx[i].db, idx[i].name, (uint64_t)a->start, a->id);
        MDB_dbi dbi = store_dbi(srv.st, idx[i].db);
        int rc = put ? store_put(txn, dbi, k, kl, val, sched_idx_value(val, idx[i].db, a))
                     : store_del(txn, dbi, k, kl);
        if (rc && !(rc == PM_E_NOT_FOUND && !put))
            return rc;
    }
    return PM_OK;
}

/* Adds to *out the spans of cur's database under the key prefix k0[0..plen) that overlap
 * [t0, t1), reading from k0 (the prefix and a start); with location, only those whose
 * value names it. */
static int scan_spans(MDB_cursor *cur, const uint8_t *k0, size_t plen, time_t t0, time_t t1,
                      const char *location, appt_span **out, size_t *n, size_t *cap)
{
    size_t ll = location ? strnlen(location, SCHED_NAME_MAX) : 0;
    MDB_val k = {plen + 16, (void *)k0}, v;
    int g;
    for (g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != plen + 16 || memcmp(k.mv_data, k0, plen) != 0 ||
            v.mv_size < SCHED_IDX_VALUE_MIN)
            break;
        const uint8_t *kp = (const uint8_t *)k.mv_data + plen, *vp = v.mv_data;
        time_t s = (time_t)pm_get_u64(kp), e = (time_t)pm_get_u64(vp);
        if (s >= t1)
            break;
        if (e <= t0 || (location && (v.mv_size != SCHED_IDX_VALUE_MIN + ll ||
                                     memcmp(vp + SCHED_IDX_VALUE_MIN, location, ll) != 0)))
            continue;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            appt_span *g2 = realloc(*out, sizeof *g2 * *cap);
            if (!g2)
                return PM_E_NOMEM;
            *out = g2;
        }
        (*out)[(*n)++] = (appt_span){pm_get_u64(kp + 8), s, e, vp[8]};
    }
    return g == 0 || g == MDB_NOTFOUND ? PM_OK : pm_err_from_mdb(g);
}

static int cmp_span(const void *x, const void *y)
{
    const appt_span *a = x, *b = y;
    return a->start != b->start ? (a->start < b->start ? -1 : 1)
                                : (a->id < b->id ? -1 : a->id > b->id);
}

int appt_spans(MDB_txn *txn, enum store_db db, const char *name, time_t t0, time_t t1,
               appt_span **out, size_t *n)
{
    time_t from = t0 - SCHED_MAX_APPT_MIN * 60;
    uint64_t from_u = (uint64_t)(from > 0 ? from : 0);
    MDB_cursor *cur;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int rc =
        mdb_cursor_open(txn, store_dbi(srv.st, db == SCHED_BY_LOCATION ? DB_APPT_PROV : db), &cur);
    if (rc)
        return pm_err_from_mdb(rc);
    uint8_t k0[SCHED_IDX_KEY_MAX];
    if (db != SCHED_BY_LOCATION) {
        size_t kl = sched_idx_key(k0, db, name, from_u, 0);
        rc = scan_spans(cur, k0, kl - 16, t0, t1, NULL, out, n, &cap);
    } else if (*name) { /* nothing is at no location */
        /* A location's: every provider's stretch of the provider index (and the walk-ins
         * for anyone, under ""), those at the location; the next provider's stretch starts
         * at the first key past "name" 0, found at "name" 1 (names are printable). */
        MDB_val k, v;
        int g;
        for (g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0 && !rc;) {
            const uint8_t *nul = memchr(k.mv_data, 0, k.mv_size);
            size_t nl = nul ? (size_t)(nul - (const uint8_t *)k.mv_data) : 0;
            if (!nul || nl > SCHED_NAME_MAX) { /* damaged (practiced check tells): step over */
                g = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
                continue;
            }
            char pname[SCHED_NAME_MAX + 1];
            memcpy(pname, k.mv_data, nl);
            pname[nl] = 0;
            size_t kl = sched_idx_key(k0, DB_APPT_PROV, pname, from_u, 0);
            rc = scan_spans(cur, k0, kl - 16, t0, t1, name, out, n, &cap);
            k0[nl] = 1;
            k = (MDB_val){nl + 1, k0};
            g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        }
        if (!rc && g != 0 && g != MDB_NOTFOUND)
            rc = pm_err_from_mdb(g);
        if (!rc && *n > 1)
            qsort(*out, *n, sizeof **out, cmp_span);
    }
    mdb_cursor_close(cur);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int appt_load(MDB_txn *txn, uint64_t id, pm_arena *a, Pm__Appointment **out)
{
    uint8_t k[8];
    pm_put_u64(k, id);
    void *m;
    int rc =
        store_get_pb(txn, store_dbi(srv.st, DB_APPTS), k, 8, &pm__appointment__descriptor, a, &m);
    if (rc == PM_OK)
        *out = m;
    return rc;
}

static int appt_store(MDB_txn *txn, const Pm__Appointment *a, int is_new)
{
    uint8_t k[8];
    pm_put_u64(k, a->id);
    MDB_dbi dbi = store_dbi(srv.st, DB_APPTS);
    /* the display name is filled for answers, never stored */
    Pm__Appointment copy = *a;
    copy.patient_name = (char *)"";
    return is_new ? store_append_pb(txn, dbi, k, 8, &copy.base)
                  : store_put_pb(txn, dbi, k, 8, &copy.base);
}

const char *sched_patient_name(MDB_txn *txn, const char *mrn, pm_arena *a)
{
    uint64_t id;
    const char *canon, *name;
    if (mrn_parse(mrn, &id) != 0 || patient_brief(txn, id, a, &canon, &name) != PM_OK)
        return "";
    return name;
}

static void when_text(time_t t, char *buf, size_t n)
{
    char date[11];
    pm_local_date(t, date);
    unsigned m = pm_local_minutes(t);
    snprintf(buf, n, "%s %02u:%02u", date, m / 60, m % 60);
}

static int add_history(struct req *r, Pm__Appointment *a, const char *what)
{
    size_t keep = a->n_history < HISTORY_MAX ? a->n_history : HISTORY_MAX - 1;
    size_t drop = a->n_history - keep;
    Pm__AppointmentChange **h = pm_arena_alloc(&r->arena, sizeof *h * (keep + 1));
    Pm__AppointmentChange *c = pm_msg_new(&r->arena, &pm__appointment_change__descriptor);
    if (!h || !c)
        return PM_E_NOMEM;
    if (keep)
        memcpy(h, a->history + drop, sizeof *h * keep);
    c->time = (uint64_t)sched_now();
    c->by = (char *)(r->username ? r->username : "");
    c->what = pm_arena_strdup(&r->arena, what);
    h[keep] = c;
    a->history = h;
    a->n_history = keep + 1;
    return PM_OK;
}

int sched_reindex(MDB_txn *txn, const Pm__Appointment *a)
{
    return appt_index(txn, a, 1);
}

int sched_reindex_from(MDB_txn *txn, const Pm__Appointment *before, const Pm__Appointment *a)
{
    int rc = appt_index(txn, before, 0);
    return rc ? rc : appt_index(txn, a, 1);
}

int sched_delete_appt(MDB_txn *txn, const Pm__Appointment *a)
{
    uint8_t k[8];
    pm_put_u64(k, a->id);
    int rc = appt_index(txn, a, 0);
    return rc ? rc : store_del(txn, store_dbi(srv.st, DB_APPTS), k, 8);
}

int sched_insert_appt(MDB_txn *txn, const Pm__Appointment *a)
{
    int rc = appt_store(txn, a, 1);
    return rc ? rc : appt_index(txn, a, 1);
}

int sched_store_appt(MDB_txn *txn, const Pm__Appointment *a)
{
    return appt_store(txn, a, 0);
}

int sched_append_history(struct req *r, Pm__Appointment *a, const char *what)
{
    return add_history(r, a, what);
}

/* ---- events ---- */

static void topic_of(char *buf, size_t n, int kind, const char *provider, const char *location,
                     time_t start)
{
    if (kind == 0) {
        snprintf(buf, n, "schedule/provider/%s", provider);
    } else {
        char date[11];
        pm_local_date(start, date);
        snprintf(buf, n, "schedule/location/%s/%s", location, date);
    }
}

/* The appointment as an event on its provider's and its location-day's topics, and on
 * those of where it was before (a move), once each. */
int appt_event(struct req *r, wctx *ctx, const char *action, Pm__Appointment *a,
               const Pm__Appointment *before)
{
    Pm__Event *ev = pm_msg_new(&r->arena, &pm__event__descriptor);
    Pm__AppointmentChanged *ac = pm_msg_new(&r->arena, &pm__appointment_changed__descriptor);
    if (!ev || !ac)
        return PM_E_NOMEM;
    if (!*a->patient_name)
        a->patient_name = (char *)sched_patient_name(ctx->txn, a->patient_mrn, &r->arena);
    ac->action = (char *)action;
    ac->appointment = a;
    ev->body_case = PM__EVENT__BODY_APPOINTMENT_CHANGED;
    ev->appointment_changed = ac;
    char topics[4][96];
    size_t nt = 0;
    for (int kind = 0; kind < 2; kind++) {
        for (int which = 0; which < (before ? 2 : 1); which++) {
            const Pm__Appointment *x = which ? before : a;
            char t[96];
            topic_of(t, sizeof t, kind, x->provider, x->location, x->start);
            int dup = 0;
            for (size_t i = 0; i < nt; i++)
                dup |= strcmp(topics[i], t) == 0;
            if (!dup && *x->location)
                snprintf(topics[nt++], sizeof topics[0], "%s", t);
        }
    }
    const char *tp[4];
    for (size_t i = 0; i < nt; i++)
        tp[i] = topics[i];
    int rc = req_event(r, ctx, tp, nt, ev);
    /* today's changes move the waiting room's estimates (flow_board_event sends each
     * board touched once) */
    char today[11], d[11];
    pm_local_date(sched_now(), today);
    for (int which = 0; rc == PM_OK && which < (before ? 2 : 1); which++) {
        const Pm__Appointment *x = which ? before : a;
        pm_local_date(x->start, d);
        if (strcmp(d, today) == 0 && *x->location)
            rc = flow_board_event(r, x->location);
    }
    return rc;
}

/* ---- checks ---- */

typedef struct booking {
    const char *patient_mrn;
    const char *patient_name; /* when known: events and answers need not read it again */
    const char *provider;
    Pm__VisitType *vt;
    const char *location; /* in: wanted ("" any); out: chosen */
    const char *room;     /* in: wanted ("" any); out: chosen */
    time_t start, end;
    uint64_t exclude; /* the appointment being changed, or 0 */
    int override;     /* a manager may go outside availability and capacity */
    int overridden;   /* out: it had to */
} booking;

static int conflict_fail(struct req *r, MDB_txn *txn, int code, appt_span *sp, size_t n,
                         const char *what)
{
    r->conflicts = pm_arena_alloc(&r->arena, sizeof *r->conflicts * (n ? n : 1));
    if (r->conflicts) {
        for (size_t i = 0; i < n; i++)
            r->conflicts[i] = sp[i].id;
        r->nconflicts = n;
    }
    char when[32] = "";
    const char *who = "";
    if (n) {
        Pm__Appointment *a;
        when_text(sp[0].start, when, sizeof when);
        if (appt_load(txn, sp[0].id, &r->arena, &a) == PM_OK)
            who = sched_patient_name(txn, a->patient_mrn, &r->arena);
    }
    if (n)
        return req_fail(r, code, "start", "%s: appointment %llu at %s%s%s", what,
                        (unsigned long long)sp[0].id, when, *who ? " with " : "", who);
    return req_fail(r, code, "start", "%s", what);
}

/* Active spans other than the appointment being changed. */
static size_t keep_active(appt_span *sp, size_t n, uint64_t exclude)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (appt_active(sp[i].status) && sp[i].id != exclude)
            sp[k++] = sp[i];
    return k;
}

size_t appt_peak_overlap(const appt_span *sp_all, size_t n_all, time_t t0, time_t t1)
{
    /* only the spans that overlap [t0, t1) can count: usually none or one */
    appt_span in[32];
    const appt_span *sp = in;
    size_t n = 0;
    for (size_t i = 0; i < n_all && n < 32; i++)
        if (sp_all[i].start < t1 && sp_all[i].end > t0)
            in[n++] = sp_all[i];
    if (n == 32) {
        sp = sp_all;
        n = n_all;
    }
    size_t peak = 0;
    for (size_t i = 0; i <= n; i++) {
        time_t at = i < n ? (sp[i].start > t0 ? sp[i].start : t0) : t0;
        if (at >= t1)
            continue;
        size_t c = 0;
        for (size_t j = 0; j < n; j++)
            c += sp[j].start <= at && sp[j].end > at;
        if (c > peak)
            peak = c;
    }
    return peak;
}

static int block_allows(const avail_block *b, const booking *bk)
{
    if (bk->start < b->start || bk->end > b->end)
        return 0;
    if (*bk->location && strcmp(b->tb->location, bk->location) != 0)
        return 0;
    if (b->tb->n_visit_types == 0)
        return 1;
    for (size_t i = 0; i < b->tb->n_visit_types; i++)
        if (strcmp(b->tb->visit_types[i], bk->vt->id) == 0)
            return 1;
    return 0;
}

static const char *exception_kind(int kind)
{
    return kind == PM__EXCEPTION_KIND__TIME_OFF  ? "time off"
           : kind == PM__EXCEPTION_KIND__MEETING ? "a meeting"
                                                 : "blocked";
}

/* Why no block holds the visit: a holiday at the block's location names itself. */
static const char *unavailable_why(MDB_txn *txn, pm_arena *a, Pm__Template **tpls, size_t ntpl,
                                   const char *date, const booking *bk, const char *when)
{
    const Pm__Template *t = avail_template_on(tpls, ntpl, date);
    int wd = pm_weekday(date);
    for (size_t i = 0; t && i < t->n_blocks; i++) {
        const Pm__TemplateBlock *b = t->blocks[i];
        time_t s, e;
        if ((int)b->weekday != wd || pm_local_instant(date, b->start_min, &s) != 0 ||
            pm_local_instant(date, b->end_min, &e) != 0 || bk->start < s || bk->end > e ||
            (*bk->location && strcmp(b->location, bk->location) != 0))
            continue;
        const char *hol = setup_holiday(txn, date, b->location, a);
        if (hol)
            return pm_arena_printf(a, "%s is a holiday at %s (%s)", date, b->location, hol);
    }
    return pm_arena_printf(a, "%s is not available for %s at %s", bk->provider, bk->vt->id, when);
}

static int booking_check(struct req *r, MDB_txn *txn, booking *bk)
{
    pm_arena *a = &r->arena;
    Pm__Provider *prov;
    if (setup_provider(txn, bk->provider, a, &prov) != PM_OK)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "provider", "no provider %s", bk->provider);
    if (prov->inactive)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "provider", "%s is inactive", bk->provider);
    if (!vt_offered_by(bk->vt, bk->provider))
        return req_fail(r, PM_E_INVALID_ARGUMENT, "visit_type", "%s does not offer %s",
                        bk->provider, bk->vt->id);
    if (bk->end - bk->start > SCHED_MAX_APPT_MIN * 60 || bk->end <= bk->start)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "duration_min", "5 to 720 minutes");

    /* availability: a template block that holds the whole visit, not a holiday, no
     * exception in the way */
    char date[11], when[32];
    pm_local_date(bk->start, date);
    when_text(bk->start, when, sizeof when);
    Pm__Template **tpls;
    size_t ntpl;
    provider_day day;
    int rc;
    if ((rc = avail_templates(txn, bk->provider, a, &tpls, &ntpl)) ||
        (rc = avail_day(txn, tpls, ntpl, date, a, &day)))
        return rc;
    const avail_block *blk = NULL;
    for (size_t i = 0; i < day.nblocks && !blk; i++)
        if (block_allows(&day.blocks[i], bk))
            blk = &day.blocks[i];
    const char *why = NULL;
    if (day.holiday)
        why = pm_arena_printf(a, "%s is a holiday (%s)", date, day.holiday);
    else if (!blk)
        why = unavailable_why(txn, a, tpls, ntpl, date, bk, when);
    Pm__Exception **ex;
    size_t nex = 0;
    if (!why && (rc = avail_exceptions(txn, bk->provider, bk->start, bk->end, a, &ex, &nex)))
        return rc;
    if (!why && nex)
        why = pm_arena_printf(a, "%s is away then (%s)", bk->provider,
                              *ex[0]->reason ? ex[0]->reason : exception_kind(ex[0]->kind));
    if (why) {
        if (!bk->override)
            return req_fail(r, PM_E_OUTSIDE_AVAILABILITY, "start", "%s", why);
        bk->overridden = 1;
    }
    if (blk && !*bk->location)
        bk->location = blk->tb->location;
    if (!*bk->location)
        bk->location = prov->default_location;
    if (!*bk->location)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "location", "say where");
    Pm__Location *loc;
    if (setup_location(txn, bk->location, a, &loc) != PM_OK)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "location", "no location %s", bk->location);

    /* capacity: how many may overlap in the block */
    appt_span *sp;
    size_t n;
    if ((rc = appt_spans(txn, DB_APPT_PROV, bk->provider, bk->start, bk->end, &sp, &n)))
        return rc;
    n = keep_active(sp, n, bk->exclude);
    uint32_t capacity = blk ? blk->capacity : 1;
    if (n && appt_peak_overlap(sp, n, bk->start, bk->end) >= capacity) {
        if (!bk->override) {
            rc = conflict_fail(r, txn, PM_E_SLOT_FULL, sp, n,
                               pm_arena_printf(a, "%s is fully booked at %s", bk->provider, when));
            free(sp);
            return rc;
        }
        bk->overridden = 1;
    }
    free(sp);

    /* the patient: never in two places at once */
    if ((rc = appt_spans(txn, DB_RECORDS, bk->patient_mrn, bk->start, bk->end, &sp, &n)))
        return rc;
    n = keep_active(sp, n, bk->exclude);
    if (n) {
        rc =
            conflict_fail(r, txn, PM_E_PATIENT_BUSY, sp, n,
                          pm_arena_printf(a, "patient %s is already booked then", bk->patient_mrn));
        free(sp);
        return rc;
    }
    free(sp);

    /* the room: the one asked for, or any free one of the location */
    if (!*bk->room && !bk->vt->needs_room)
        return PM_OK;
    Pm__Room **rooms;
    size_t nrooms;
    if (*bk->room) {
        Pm__Room *rm;
        if (setup_room(txn, bk->room, a, &rm) != PM_OK || strcmp(rm->location, bk->location))
            return req_fail(r, PM_E_INVALID_ARGUMENT, "room", "no room %s at %s", bk->room,
                            bk->location);
        rooms = &rm;
        nrooms = 1;
        if ((rc = appt_spans(txn, DB_APPT_ROOM, rm->id, bk->start, bk->end, &sp, &n)))
            return rc;
        n = keep_active(sp, n, bk->exclude);
        if (n) {
            rc = conflict_fail(r, txn, PM_E_ROOM_BUSY, sp, n,
                               pm_arena_printf(a, "room %s is taken then", rm->id));
            free(sp);
            return rc;
        }
        free(sp);
        return PM_OK;
    }
    void **all;
    if ((rc = setup_list(txn, 'R', a, &all, &nrooms)))
        return rc;
    rooms = (Pm__Room **)all;
    appt_span *busy = NULL; /* who holds the rooms, to name them if none is free */
    size_t nbusy = 0;
    for (size_t i = 0; i < nrooms; i++) {
        if (strcmp(rooms[i]->location, bk->location) != 0)
            continue;
        if ((rc = appt_spans(txn, DB_APPT_ROOM, rooms[i]->id, bk->start, bk->end, &sp, &n))) {
            free(busy);
            return rc;
        }
        n = keep_active(sp, n, bk->exclude);
        if (n == 0) {
            free(sp);
            free(busy);
            bk->room = rooms[i]->id;
            return PM_OK;
        }
        appt_span *g = realloc(busy, sizeof *g * (nbusy + n));
        if (g) {
            busy = g;
            memcpy(busy + nbusy, sp, sizeof *sp * n);
            nbusy += n;
        }
        free(sp);
    }
    rc = conflict_fail(r, txn, PM_E_ROOM_BUSY, busy, nbusy,
                       pm_arena_printf(a, "no room free at %s at %s", bk->location, when));
    free(busy);
    return rc;
}

/* ---- booking ---- */

static int load_visit_type(struct req *r, MDB_txn *txn, const char *id, Pm__VisitType **vt)
{
    if (!*id || setup_visit_type(txn, id, &r->arena, vt) != PM_OK)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "visit_type", "no visit type %s", id);
    return PM_OK;
}

/* The patient of mrn: its MRN as stored, and the name answers and events show. */
static int check_patient(struct req *r, MDB_txn *txn, const char *mrn, const char **canon,
                         const char **name)
{
    uint64_t pid;
    if (mrn_parse(mrn, &pid) != 0)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "patient_mrn", "not a valid MRN");
    int rc = patient_brief(txn, pid, &r->arena, canon, name);
    if (rc == PM_E_NOT_FOUND)
        return req_fail(r, PM_E_NOT_FOUND, "patient_mrn", "no patient %s", mrn);
    return rc;
}

static int check_override(struct req *r, int override, const char *reason)
{
    if (!override)
        return PM_OK;
    if (r->role != PM__ROLE__MANAGER)
        return req_fail(r, PM_E_PERMISSION_DENIED, "override",
                        "only a manager may book outside availability or capacity");
    size_t n = strlen(reason);
    if (n == 0 || n > 200 || !pm_utf8_valid(reason, n, 0))
        return req_fail(r, PM_E_INVALID_ARGUMENT, "override_reason",
                        "say why (up to 200 characters)");
    return PM_OK;
}

/* Books one appointment from a checked booking; *out is the stored appointment. */
static int insert_appt(struct req *r, wctx *ctx, const booking *bk, const char *notes,
                       const char *override_reason, uint64_t series, uint32_t index, int status,
                       Pm__Appointment **out)
{
    uint64_t id;
    int rc = store_next_id(ctx->txn, ctx->st, "seq.appointment", 1, &id);
    if (rc)
        return rc;
    Pm__Appointment *a = pm_msg_new(&r->arena, &pm__appointment__descriptor);
    if (!a)
        return PM_E_NOMEM;
    a->id = id;
    a->patient_mrn = (char *)bk->patient_mrn;
    if (bk->patient_name)
        a->patient_name = (char *)bk->patient_name;
    a->provider = (char *)bk->provider;
    a->visit_type = bk->vt->id;
    a->location = (char *)bk->location;
    a->room = (char *)bk->room;
    a->start = bk->start;
    a->end = bk->end;
    a->status = (Pm__AppointmentStatus)status;
    a->notes = (char *)notes;
    a->series_id = series;
    a->series_index = index;
    a->overridden = bk->overridden;
    a->override_reason = (char *)(bk->overridden ? override_reason : "");
    a->version = 1;
    a->created_at = a->updated_at = (uint64_t)sched_now();
    a->created_by = a->updated_by = (char *)(r->username ? r->username : "");
    if ((rc = add_history(r, a,
                          status == PM__APPOINTMENT_STATUS__HELD ? "held for a waitlist offer"
                          : bk->overridden
                              ? pm_arena_printf(&r->arena, "booked (override: %s)", override_reason)
                              : "booked")))
        return rc;
    if ((rc = appt_store(ctx->txn, a, 1)) || (rc = appt_index(ctx->txn, a, 1)))
        return rc;
    *out = a;
    return PM_OK;
}

static int respond_appt(struct req *r, MDB_txn *txn, Pm__Appointment *a)
{
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_APPOINTMENT_OK);
    Pm__AppointmentOk *ok = pm_msg_new(&r->arena, &pm__appointment_ok__descriptor);
    if (!e || !ok)
        return PM_E_NOMEM;
    if (!*a->patient_name)
        a->patient_name = (char *)sched_patient_name(txn, a->patient_mrn, &r->arena);
    ok->appointment = a;
    e->appointment_ok = ok;
    return PM_OK;
}

/* Holds a slot for a waitlist entry's patient: a HELD appointment, checked like a booking
 * but without override. Used by the waitlist; PM_OK with *out, or the reason it cannot. */
int sched_hold(struct req *r, wctx *ctx, const char *mrn, const char *provider, Pm__VisitType *vt,
               const char *location, time_t start, uint64_t offer, Pm__Appointment **out)
{
    booking bk = {.patient_mrn = mrn,
                  .provider = provider,
                  .vt = vt,
                  .location = location,
                  .room = "",
                  .start = start,
                  .end = start + (time_t)vt->duration_min * 60};
    int rc = booking_check(r, ctx->txn, &bk);
    if (rc)
        return rc;
    rc = insert_appt(r, ctx, &bk, "", "", 0, 0, PM__APPOINTMENT_STATUS__HELD, out);
    if (rc == PM_OK) {
        (*out)->offer_id = offer;
        rc = appt_store(ctx->txn, *out, 0);
    }
    if (rc == PM_OK)
        rc = appt_event(r, ctx, "held", *out, NULL);
    return rc;
}

/* ---- series ---- */

/* The occurrences of a recurrence from a first start, as instants at the same local time of
 * day (so 09:30 stays 09:30 across a daylight-saving change). */
static int expand(const Pm__Recurrence *rp, time_t first, time_t *out, size_t max, size_t *n)
{
    char d0[11];
    pm_local_date(first, d0);
    unsigned minutes = pm_local_minutes(first);
    uint32_t interval = rp->interval ? rp->interval : 1;
    uint32_t count = rp->count ? rp->count : (uint32_t)max;
    if (count > max)
        count = (uint32_t)max;
    int y0, m0, day0;
    pm_parse_date(d0, &y0, &m0, &day0);
    *n = 0;
    for (int step = 0; *n < count && step < 5000; step++) {
        char dates[7][11];
        size_t nd = 0;
        if (rp->unit == PM__REPEAT_UNIT__DAYS) {
            pm_date_add(d0, step * (int)interval, dates[nd++]);
        } else if (rp->unit == PM__REPEAT_UNIT__WEEKS) {
            char monday[11];
            pm_date_add(d0, step * 7 * (int)interval - (pm_weekday(d0) - 1), monday);
            if (rp->n_weekdays == 0) {
                pm_date_add(monday, pm_weekday(d0) - 1, dates[nd++]);
            } else {
                for (int wd = 1; wd <= 7; wd++)
                    for (size_t k = 0; k < rp->n_weekdays; k++)
                        if ((int)rp->weekdays[k] == wd) {
                            pm_date_add(monday, wd - 1, dates[nd++]);
                            break;
                        }
            }
        } else {
            int months = m0 - 1 + step * (int)interval;
            int y = y0 + months / 12, m = months % 12 + 1;
            char buf[16];
            snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, day0);
            int yy, mm, dd;
            if (pm_parse_date(buf, &yy, &mm, &dd) == 0) /* no 31 February */
                memcpy(dates[nd++], buf, 11);
        }
        for (size_t i = 0; i < nd && *n < count; i++) {
            if (strcmp(dates[i], d0) < 0)
                continue;
            if (*rp->until && strcmp(dates[i], rp->until) > 0)
                return PM_OK;
            if (pm_local_instant(dates[i], minutes, &out[*n]) == 0)
                (*n)++;
        }
    }
    return PM_OK;
}

static int valid_recurrence(struct req *r, const Pm__Recurrence *rp)
{
    if (rp->unit < PM__REPEAT_UNIT__DAYS || rp->unit > PM__REPEAT_UNIT__MONTHS)
        return req_field_error(r, "repeat.unit", "days, weeks or months");
    if (rp->interval > 52)
        return req_field_error(r, "repeat.interval", "1 to 52");
    if (rp->n_weekdays > 7)
        return req_field_error(r, "repeat.weekdays", "at most the seven days of the week");
    for (size_t i = 0; i < rp->n_weekdays; i++)
        if (rp->weekdays[i] < 1 || rp->weekdays[i] > 7)
            return req_field_error(r, "repeat.weekdays", "1 (Monday) to 7 (Sunday)");
    int y, m, d;
    if (*rp->until && pm_parse_date(rp->until, &y, &m, &d) != 0)
        return req_field_error(r, "repeat.until", "a date (YYYY-MM-DD)");
    if (!*rp->until && rp->count == 0)
        return req_field_error(r, "repeat", "an end: a date (until) or a count");
    if (rp->count > SERIES_MAX)
        return req_field_error(r, "repeat.count", "at most 200 occurrences");
    return PM_OK;
}

/* An occurrence that could not be booked or changed: its error, kept for the answer. */
static Pm__Error *occurrence_error(struct req *r)
{
    Pm__Error *e = pm_msg_new(&r->arena, &pm__error__descriptor);
    if (!e)
        return NULL;
    int code = r->status ? r->status : PM_E_INTERNAL;
    e->code = pm_err_is_wire(code) ? (Pm__ErrorCode)-code : PM__ERROR_CODE__INTERNAL;
    e->message = (char *)(r->err_msg ? r->err_msg : pm_strerror(code));
    e->field = (char *)(r->err_field ? r->err_field : "");
    e->conflicts = r->conflicts;
    e->n_conflicts = r->nconflicts;
    /* the request itself goes on */
    r->status = 0;
    r->err_msg = r->err_field = NULL;
    r->conflicts = NULL;
    r->nconflicts = 0;
    r->fields = NULL;
    r->nfields = 0;
    return e;
}

static Pm__SeriesResult *series_answer(struct req *r, size_t n)
{
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_SERIES_RESULT);
    Pm__SeriesResult *sr = pm_msg_new(&r->arena, &pm__series_result__descriptor);
    if (!e || !sr)
        return NULL;
    sr->occurrences = pm_arena_alloc(&r->arena, sizeof *sr->occurrences * (n ? n : 1));
    if (!sr->occurrences)
        return NULL;
    e->series_result = sr;
    return sr;
}

static Pm__Occurrence *add_occurrence(struct req *r, Pm__SeriesResult *sr, time_t start)
{
    Pm__Occurrence *o = pm_msg_new(&r->arena, &pm__occurrence__descriptor);
    if (o) {
        o->start = start;
        sr->occurrences[sr->n_occurrences++] = o;
    }
    return o;
}

static int book_series(struct req *r, wctx *ctx, const Pm__Book *b, booking *proto,
                       const char *notes)
{
    int rc = valid_recurrence(r, b->repeat);
    if (rc)
        return rc;
    time_t starts[SERIES_MAX];
    size_t n;
    expand(b->repeat, b->start, starts, SERIES_MAX, &n);
    if (n == 0)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "repeat", "no occurrences");
    time_t dur = proto->end - proto->start;
    Pm__SeriesResult *sr = series_answer(r, n);
    if (!sr)
        return PM_E_NOMEM;
    /* check every occurrence first: with ALL_OR_NONE one conflict means nothing is booked */
    int fails = 0;
    for (size_t i = 0; i < n; i++) {
        booking bk = *proto;
        bk.start = starts[i];
        bk.end = starts[i] + dur;
        Pm__Occurrence *o = add_occurrence(r, sr, starts[i]);
        if (!o)
            return PM_E_NOMEM;
        rc = booking_check(r, ctx->txn, &bk);
        if (sched_storage_error(rc))
            return rc;
        if (rc) {
            o->conflict = occurrence_error(r);
            fails++;
        }
    }
    if (fails && b->series_mode == PM__SERIES_MODE__ALL_OR_NONE) {
        sr->applied = 0;
        r->audit_detail =
            pm_arena_printf(&r->arena, "series not booked: %d of %zu conflict", fails, n);
        return PM_OK;
    }
    uint64_t sid;
    if ((rc = store_next_id(ctx->txn, ctx->st, "seq.series", 1, &sid)))
        return rc;
    Pm__StoredSeries ss = PM__STORED_SERIES__INIT;
    ss.id = sid;
    ss.repeat = b->repeat;
    ss.created_at = (uint64_t)sched_now();
    ss.created_by = (char *)(r->username ? r->username : "");
    ss.appointments = pm_arena_alloc(&r->arena, sizeof *ss.appointments * n);
    if (!ss.appointments)
        return PM_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        Pm__Occurrence *o = sr->occurrences[i];
        if (o->conflict)
            continue;
        booking bk = *proto;
        bk.start = starts[i];
        bk.end = starts[i] + dur;
        /* checked again: an earlier occurrence of this series may be in the way now */
        rc = booking_check(r, ctx->txn, &bk);
        if (sched_storage_error(rc))
            return rc;
        if (rc) {
            o->conflict = occurrence_error(r);
            continue;
        }
        Pm__Appointment *a;
        if ((rc = insert_appt(r, ctx, &bk, notes, b->override_reason, sid, (uint32_t)i + 1,
                              PM__APPOINTMENT_STATUS__BOOKED, &a)) ||
            (rc = appt_event(r, ctx, "booked", a, NULL)))
            return rc;
        o->appointment = a;
        ss.appointments[ss.n_appointments++] = a->id;
    }
    uint8_t k[8];
    pm_put_u64(k, sid);
    if ((rc = store_put_pb(ctx->txn, store_dbi(ctx->st, DB_SERIES), k, 8, &ss.base)))
        return rc;
    sr->series_id = sid;
    sr->applied = 1;
    r->audit_detail = pm_arena_printf(&r->arena, "series %llu: %zu of %zu booked",
                                      (unsigned long long)sid, ss.n_appointments, n);
    return PM_OK;
}

/* A start a calendar can hold: 2000-01-01 to 2099-12-31 (UTC). Beyond, adding a duration
 * could overflow, local time could not be computed, and a negative start would sort after
 * every real one in the indexes. */
static int start_sane(int64_t t)
{
    return t >= 946684800 && t < 4102444800;
}

int sched_book(struct req *r, wctx *ctx)
{
    const Pm__Book *b = r->env->book;
    r->audit_record = b->patient_mrn;
    const char *mrn = NULL, *name = NULL;
    Pm__VisitType *vt;
    int rc;
    if ((rc = check_patient(r, ctx->txn, b->patient_mrn, &mrn, &name)) ||
        (rc = load_visit_type(r, ctx->txn, b->visit_type, &vt)) ||
        (rc = check_override(r, b->override, b->override_reason)))
        return rc;
    r->audit_record = mrn;
    if (b->start <= 0)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "start", "required");
    if (!start_sane(b->start))
        return req_fail(r, PM_E_INVALID_ARGUMENT, "start", "a time from 2000 to 2099");
    /* the front desk books ahead; a manager may record what already happened (history
     * brought over from another system, yesterday's walk-in) */
    if (b->start < sched_now() - 3600 && r->role != PM__ROLE__MANAGER)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "start", "in the past");
    size_t nl = strlen(b->notes);
    if (nl > NOTES_MAX || !pm_utf8_valid(b->notes, nl, 1))
        return req_fail(r, PM_E_INVALID_ARGUMENT, "notes", "at most 2000 characters of text");
    uint32_t minutes = b->duration_min ? b->duration_min : vt->duration_min;
    booking bk = {.patient_mrn = mrn,
                  .patient_name = name,
                  .provider = b->provider,
                  .vt = vt,
                  .location = b->location,
                  .room = b->room,
                  .start = b->start,
                  .end = b->start + (time_t)minutes * 60,
                  .override = b->override};
    if (b->repeat && b->repeat->unit != PM__REPEAT_UNIT__REPEAT_NONE)
        return book_series(r, ctx, b, &bk, b->notes);
    if ((rc = booking_check(r, ctx->txn, &bk)))
        return rc;
    Pm__Appointment *a;
    if ((rc = insert_appt(r, ctx, &bk, b->notes, b->override_reason, 0, 0,
                          PM__APPOINTMENT_STATUS__BOOKED, &a)))
        return rc;
    char when[32];
    when_text(a->start, when, sizeof when);
    r->audit_detail = pm_arena_printf(&r->arena, "appointment %llu: %s with %s at %s%s%s",
                                      (unsigned long long)a->id, vt->id, a->provider, when,
                                      a->overridden ? "; override: " : "",
                                      a->overridden ? a->override_reason : "");
    if ((rc = appt_event(r, ctx, "booked", a, NULL)))
        return rc;
    return respond_appt(r, ctx->txn, a);
}

/* ---- changes ---- */

/* The appointment a change names, at the version the caller read. */
static int load_for_change(struct req *r, MDB_txn *txn, uint64_t id, uint32_t version,
                           Pm__Appointment **out)
{
    int rc = appt_load(txn, id, &r->arena, out);
    if (rc == PM_E_NOT_FOUND)
        return req_fail(r, rc, "id", "no appointment %llu", (unsigned long long)id);
    if (rc)
        return rc;
    r->audit_record = (*out)->patient_mrn;
    if (version && (*out)->version != version)
        return req_fail(r, PM_E_CONFLICT, "version",
                        "appointment %llu was changed by %s since you read it; reload",
                        (unsigned long long)id, (*out)->updated_by);
    return PM_OK;
}

/* Rewrites an appointment whose indexed fields may have changed from before. */
/* The record of a changed appointment, with its new version and who changed it when. */
static int stamp_and_store(struct req *r, MDB_txn *txn, const Pm__Appointment *before,
                           Pm__Appointment *a)
{
    a->version = before->version + 1;
    a->updated_at = (uint64_t)sched_now();
    a->updated_by = (char *)(r->username ? r->username : "");
    return appt_store(txn, a, 0);
}

static int rewrite(struct req *r, wctx *ctx, const Pm__Appointment *before, Pm__Appointment *a)
{
    int rc = sched_reindex_from(ctx->txn, before, a);
    return rc ? rc : stamp_and_store(r, ctx->txn, before, a);
}

static Pm__Appointment *copy_appt(struct req *r, const Pm__Appointment *a)
{
    Pm__Appointment *c = pm_msg_new(&r->arena, &pm__appointment__descriptor);
    if (c)
        *c = *a;
    return c;
}

/* Index entries only, for a member being placed or put back (struct move_state). */
static int move_index(MDB_txn *txn, const Pm__Appointment *o, const booking *to, int put)
{
    Pm__Appointment at = *o;
    if (to) {
        at.start = to->start;
        at.end = to->end;
        at.provider = (char *)to->provider;
        at.location = (char *)to->location;
        at.room = (char *)to->room;
    }
    return appt_index(txn, &at, put);
}

/* Moves the members of a change to their planned places, in ctx->txn (the move's own
 * transaction). Every member is first lifted out of the indexes, so that none stands in
 * another's way (a weekly series moved on by a week lands each visit where the next one
 * was); each is then checked where it goes, against what stays and the members placed
 * before it. A member that cannot go is reported in sr; with "all or none" (or a single
 * appointment, which answers with the conflict) nothing is applied: *applied stays 0 and
 * the caller takes the transaction back. Otherwise those that cannot go stay where they
 * were, any placed member in their way stays too, and the rest are written (when none
 * is left, nothing is applied either). */
static int move_members(struct req *r, wctx *ctx, const Pm__Move *m, Pm__Appointment **mem,
                        booking *plan, size_t n, Pm__SeriesResult *sr, int *applied)
{
    MDB_txn *txn = ctx->txn;
    int rc;
    char *placed = pm_arena_alloc(&r->arena, n ? n : 1);
    if (!placed)
        return PM_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        if ((rc = move_index(txn, mem[i], NULL, 0)))
            return rc;
    size_t fails = 0;
    for (size_t i = 0; i < n; i++) {
        Pm__Occurrence *oc = sr ? add_occurrence(r, sr, plan[i].start) : NULL;
        if (sr && !oc)
            return PM_E_NOMEM;
        rc = booking_check(r, txn, &plan[i]);
        if (sched_storage_error(rc) || (rc && !sr))
            return rc;
        if (rc) {
            oc->conflict = occurrence_error(r);
            fails++;
            placed[i] = 0;
            continue;
        }
        if ((rc = move_index(txn, mem[i], &plan[i], 1)))
            return rc;
        placed[i] = 1;
    }
    if (fails && m->series_mode == PM__SERIES_MODE__ALL_OR_NONE)
        return PM_OK;
    /* the free ones: those left behind go back, and a placed one in their way stays too */
    for (size_t i = 0; i < n; i++)
        if (!placed[i] && (rc = move_index(txn, mem[i], NULL, 1)))
            return rc;
    for (int again = fails > 0; again;) {
        again = 0;
        for (size_t i = 0; i < n; i++) {
            if (!placed[i])
                continue;
            rc = booking_check(r, txn, &plan[i]);
            if (sched_storage_error(rc))
                return rc;
            if (!rc)
                continue;
            sr->occurrences[i]->conflict = occurrence_error(r);
            if ((rc = move_index(txn, mem[i], &plan[i], 0)) ||
                (rc = move_index(txn, mem[i], NULL, 1)))
                return rc;
            placed[i] = 0;
            again = 1;
        }
    }
    size_t moved = 0;
    for (size_t i = 0; i < n; i++)
        moved += placed[i] != 0;
    if (!moved) /* none free: nothing to apply */
        return PM_OK;
    for (size_t i = 0; i < n; i++) {
        if (!placed[i])
            continue;
        Pm__Appointment *o = mem[i];
        Pm__Appointment *before = copy_appt(r, o);
        if (!before)
            return PM_E_NOMEM;
        char was[32];
        when_text(o->start, was, sizeof was);
        o->start = plan[i].start;
        o->end = plan[i].end;
        o->provider = (char *)plan[i].provider;
        o->location = (char *)plan[i].location;
        o->room = (char *)plan[i].room;
        if (plan[i].overridden) {
            o->overridden = 1;
            o->override_reason = (char *)m->override_reason;
        }
        if ((rc = add_history(
                 r, o, pm_arena_printf(&r->arena, "moved from %s (%s)", was, before->provider))) ||
            (rc = stamp_and_store(r, txn, before, o)) ||
            (rc = appt_event(r, ctx, "moved", o, before)))
            return rc;
        if (sr)
            sr->occurrences[i]->appointment = o;
        if ((rc = waitlist_slot_freed(r, ctx, before->provider, before->start, before->end)))
            return rc;
    }
    *applied = 1;
    return PM_OK;
}

/* The occurrences a change with this scope covers: the appointment itself, or the active
 * ones of its series from it on, or all of them. */
static int scope_members(struct req *r, MDB_txn *txn, Pm__Appointment *a, Pm__Scope scope,
                         Pm__Appointment ***out, size_t *n)
{
    *n = 0;
    if (scope == PM__SCOPE__THIS || !a->series_id) {
        *out = pm_arena_alloc(&r->arena, sizeof **out);
        if (!*out)
            return PM_E_NOMEM;
        (*out)[(*n)++] = a;
        return PM_OK;
    }
    uint8_t k[8];
    pm_put_u64(k, a->series_id);
    void *m;
    int rc = store_get_pb(txn, store_dbi(srv.st, DB_SERIES), k, 8, &pm__stored_series__descriptor,
                          &r->arena, &m);
    if (rc)
        return rc;
    Pm__StoredSeries *ss = m;
    *out = pm_arena_alloc(&r->arena, sizeof **out * (ss->n_appointments + 1));
    if (!*out)
        return PM_E_NOMEM;
    for (size_t i = 0; i < ss->n_appointments; i++) {
        Pm__Appointment *o;
        if (ss->appointments[i] == a->id)
            o = a;
        else if (appt_load(txn, ss->appointments[i], &r->arena, &o) != PM_OK)
            continue;
        if (o->status != PM__APPOINTMENT_STATUS__BOOKED)
            continue;
        if (scope == PM__SCOPE__THIS_AND_FOLLOWING && o->series_index < a->series_index)
            continue;
        (*out)[(*n)++] = o;
    }
    return PM_OK;
}

/* A move: the same change of time of day, day, provider, duration and room for each
 * member. */
int sched_move(struct req *r, wctx *ctx)
{
    const Pm__Move *m = r->env->move;
    Pm__Appointment *a;
    int rc = load_for_change(r, ctx->txn, m->id, m->version, &a);
    if (rc || (rc = check_override(r, m->override, m->override_reason)))
        return rc;
    if (a->status != PM__APPOINTMENT_STATUS__BOOKED)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "id", "only a booked appointment can move");
    if (m->start && !start_sane(m->start))
        return req_fail(r, PM_E_INVALID_ARGUMENT, "start", "a time from 2000 to 2099");
    if (m->start && m->start < sched_now() - 3600 && r->role != PM__ROLE__MANAGER)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "start", "in the past");
    Pm__Appointment **mem;
    size_t n;
    if ((rc = scope_members(r, ctx->txn, a, m->scope, &mem, &n)))
        return rc;
    /* the shift: days between the old and new local dates, and the new local time */
    char d_old[11], d_new[11];
    pm_local_date(a->start, d_old);
    time_t new_start = m->start ? m->start : a->start;
    pm_local_date(new_start, d_new);
    int day_shift = pm_date_diff(d_old, d_new);
    unsigned new_minutes = pm_local_minutes(new_start);
    int series = n > 1 || m->scope != PM__SCOPE__THIS;
    Pm__SeriesResult *sr = series ? series_answer(r, n) : NULL;
    if (series && !sr)
        return PM_E_NOMEM;
    booking *plan = pm_arena_alloc(&r->arena, sizeof *plan * n);
    if (!plan)
        return PM_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        Pm__Appointment *o = mem[i];
        Pm__VisitType *vt;
        if ((rc = load_visit_type(r, ctx->txn, o->visit_type, &vt)))
            return rc;
        char d[11], nd[11];
        pm_local_date(o->start, d);
        pm_date_add(d, day_shift, nd);
        time_t s;
        if (pm_local_instant(nd, m->start ? new_minutes : pm_local_minutes(o->start), &s) != 0)
            return req_fail(r, PM_E_INVALID_ARGUMENT, "start", "not a time");
        uint32_t minutes = m->duration_min ? m->duration_min : (uint32_t)((o->end - o->start) / 60);
        int same_provider = !*m->provider || strcmp(m->provider, o->provider) == 0;
        plan[i] =
            (booking){.patient_mrn = o->patient_mrn,
                      .provider = *m->provider ? m->provider : o->provider,
                      .vt = vt,
                      /* a new provider may work elsewhere: let the block decide */
                      .location = same_provider ? o->location : "",
                      .room = *m->room ? m->room : (same_provider && s == o->start ? o->room : ""),
                      .start = s,
                      .end = s + (time_t)minutes * 60,
                      .exclude = o->id,
                      .override = m->override};
    }
    /* Checked and applied in a transaction of the move's own: "all or none" takes back
     * what it placed, and a refused move leaves nothing to undo. */
    MDB_txn *mt;
    uint64_t mark;
    if ((rc = store_child_begin(ctx, &mt, &mark)))
        return rc;
    wctx mctx = *ctx;
    mctx.txn = mt;
    int applied = 0;
    rc = move_members(r, &mctx, m, mem, plan, n, sr, &applied);
    if (rc == PM_OK && applied)
        rc = store_child_commit(mt);
    else
        store_child_abort(mt, mark);
    if (rc)
        return rc;
    size_t conflicts = 0;
    for (size_t i = 0; sr && i < sr->n_occurrences; i++)
        conflicts += sr->occurrences[i]->conflict != NULL;
    if (!applied) {
        sr->applied = 0;
        r->audit_detail = pm_arena_printf(&r->arena,
                                          "appointment %llu and its series not moved: %zu of %zu "
                                          "conflict",
                                          (unsigned long long)a->id, conflicts, n);
        return PM_OK;
    }
    r->audit_detail =
        n > 1 ? pm_arena_printf(&r->arena, "appointment %llu's series: %zu of %zu moved",
                                (unsigned long long)a->id, n - conflicts, n)
              : pm_arena_printf(&r->arena, "appointment %llu moved", (unsigned long long)a->id);
    if (sr) {
        sr->series_id = a->series_id;
        sr->applied = 1;
        return PM_OK;
    }
    return respond_appt(r, ctx->txn, a);
}

int sched_cancel(struct req *r, wctx *ctx)
{
    const Pm__Cancel *c = r->env->cancel;
    Pm__Appointment *a;
    int rc = load_for_change(r, ctx->txn, c->id, c->version, &a);
    if (rc)
        return rc;
    if (a->status != PM__APPOINTMENT_STATUS__BOOKED)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "id", "appointment %llu is not booked",
                        (unsigned long long)c->id);
    size_t rl = strlen(c->reason);
    if (rl == 0 || rl > 200 || !pm_utf8_valid(c->reason, rl, 0))
        return req_fail(r, PM_E_INVALID_ARGUMENT, "reason", "say why (up to 200 characters)");
    Pm__Appointment **mem;
    size_t n;
    if ((rc = scope_members(r, ctx->txn, a, c->scope, &mem, &n)))
        return rc;
    time_t now = sched_now();
    Pm__SeriesResult *sr = (n > 1 || c->scope != PM__SCOPE__THIS) ? series_answer(r, n) : NULL;
    for (size_t i = 0; i < n; i++) {
        Pm__Appointment *o = mem[i];
        Pm__Appointment *before = copy_appt(r, o);
        if (!before)
            return PM_E_NOMEM;
        o->status = PM__APPOINTMENT_STATUS__CANCELLED;
        o->cancel_reason = (char *)c->reason;
        o->late_cancel = o->start - now < (time_t)sched_cfg.late_cancel_s;
        if ((rc = add_history(r, o,
                              pm_arena_printf(&r->arena, "cancelled%s: %s",
                                              o->late_cancel ? " late" : "", c->reason))) ||
            (rc = rewrite(r, ctx, before, o)) || (rc = appt_event(r, ctx, "cancelled", o, NULL)))
            return rc;
        if (sr) {
            Pm__Occurrence *oc = add_occurrence(r, sr, o->start);
            if (oc)
                oc->appointment = o;
        }
        if ((rc = waitlist_slot_freed(r, ctx, o->provider, o->start, o->end)))
            return rc;
    }
    r->audit_detail = pm_arena_printf(&r->arena, "appointment %llu cancelled (%zu): %s",
                                      (unsigned long long)a->id, n, c->reason);
    if (sr) {
        sr->series_id = a->series_id;
        sr->applied = 1;
        return PM_OK;
    }
    return respond_appt(r, ctx->txn, a);
}

int sched_no_show(struct req *r, wctx *ctx)
{
    const Pm__MarkNoShow *m = r->env->mark_no_show;
    Pm__Appointment *a;
    int rc = load_for_change(r, ctx->txn, m->id, m->version, &a);
    if (rc)
        return rc;
    if (a->status != PM__APPOINTMENT_STATUS__BOOKED)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "id", "appointment %llu is not booked",
                        (unsigned long long)m->id);
    time_t now = sched_now();
    if (now < a->start)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "id", "appointment %llu has not started yet",
                        (unsigned long long)m->id);
    Pm__Appointment *before = copy_appt(r, a);
    if (!before)
        return PM_E_NOMEM;
    a->status = PM__APPOINTMENT_STATUS__NO_SHOW;
    r->audit_detail =
        pm_arena_printf(&r->arena, "appointment %llu: no-show", (unsigned long long)a->id);
    if ((rc = add_history(r, a, "no-show")) || (rc = rewrite(r, ctx, before, a)) ||
        (rc = appt_event(r, ctx, "no_show", a, NULL)))
        return rc;
    /* what is left of the slot may still serve someone on the waitlist */
    if (a->end > now && (rc = waitlist_slot_freed(r, ctx, a->provider, now, a->end)))
        return rc;
    return respond_appt(r, ctx->txn, a);
}

int sched_set_notes(struct req *r, wctx *ctx)
{
    const Pm__SetNotes *s = r->env->set_notes;
    Pm__Appointment *a;
    int rc = load_for_change(r, ctx->txn, s->id, s->version, &a);
    if (rc)
        return rc;
    size_t nl = strlen(s->notes);
    if (nl > NOTES_MAX || !pm_utf8_valid(s->notes, nl, 1))
        return req_fail(r, PM_E_INVALID_ARGUMENT, "notes", "at most 2000 characters of text");
    Pm__Appointment *before = copy_appt(r, a);
    if (!before)
        return PM_E_NOMEM;
    a->notes = (char *)s->notes;
    if ((rc = add_history(r, a, "notes changed")) || (rc = rewrite(r, ctx, before, a)) ||
        (rc = appt_event(r, ctx, "notes", a, NULL)))
        return rc;
    return respond_appt(r, ctx->txn, a);
}

int sched_get_appointment(struct req *r, MDB_txn *txn)
{
    uint64_t id = r->env->get_appointment->id;
    Pm__Appointment *a;
    int rc = appt_load(txn, id, &r->arena, &a);
    if (rc == PM_E_NOT_FOUND)
        return req_fail(r, rc, "id", "no appointment %llu", (unsigned long long)id);
    if (rc)
        return rc;
    r->audit_record = a->patient_mrn;
    r->audit_detail = pm_arena_printf(&r->arena, "appointment %llu", (unsigned long long)id);
    return respond_appt(r, txn, a);
}
