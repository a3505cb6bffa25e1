/* Reading the schedule: free slots, day and week schedules of a provider, a location or a
 * room, and a patient's appointments. All run on the loop's read transaction. */
#include "scheduling.h"

#include "dispatch.h"
#include "patients.h"
#include "pm_err.h"
#include "pm_time.h"
#include "pm_util.h"
#include "server.h"

#include <stdlib.h>
#include <string.h>

#define SLOTS_DEFAULT 10
#define SLOTS_MAX     100
#define RANGE_DEFAULT 56
#define RANGE_MAX     366
#define SCHEDULE_DAYS 31
#define PATIENT_APPTS 50

/* ---- slots ---- */

typedef struct prov_ctx {
    Pm__Provider *p;
    Pm__Template **tpls;
    size_t ntpl;
    Pm__Exception **ex; /* those of the whole range, read once */
    size_t nex;
} prov_ctx;

typedef struct room_day {
    Pm__Room *room;
    appt_span *spans; /* loaded on first use for the day */
    size_t n;
    int loaded;
} room_day;

static int cmp_slots(const void *a, const void *b)
{
    const Pm__Slot *x = *(Pm__Slot *const *)a, *y = *(Pm__Slot *const *)b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return strcmp(x->provider, y->provider);
}

static int spans_busy(const appt_span *sp, size_t n, time_t t0, time_t t1)
{
    for (size_t i = 0; i < n; i++)
        if (appt_active(sp[i].status) && sp[i].start < t1 && sp[i].end > t0)
            return 1;
    return 0;
}

/* A room of the location free over [t0, t1), or NULL. */
static const char *free_room(MDB_txn *txn, room_day *rooms, size_t nrooms, const char *location,
                             time_t day0, time_t day1, time_t t0, time_t t1, int *err)
{
    for (size_t i = 0; i < nrooms; i++) {
        room_day *rd = &rooms[i];
        if (strcmp(rd->room->location, location) != 0)
            continue;
        if (!rd->loaded) {
            if ((*err =
                     appt_spans(txn, DB_APPT_ROOM, rd->room->id, day0, day1, &rd->spans, &rd->n)))
                return NULL;
            rd->loaded = 1;
        }
        if (!spans_busy(rd->spans, rd->n, t0, t1))
            return rd->room->id;
    }
    return NULL;
}

static void rooms_reset(room_day *rooms, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rooms[i].spans);
        rooms[i].spans = NULL;
        rooms[i].n = 0;
        rooms[i].loaded = 0;
    }
}

static int block_fits(const avail_block *b, const Pm__VisitType *vt, const char *location)
{
    if (*location && strcmp(b->tb->location, location) != 0)
        return 0;
    if (b->tb->n_visit_types == 0)
        return 1;
    for (size_t i = 0; i < b->tb->n_visit_types; i++)
        if (strcmp(b->tb->visit_types[i], vt->id) == 0)
            return 1;
    return 0;
}

/* The candidates of one provider on one day, appended to *cands. */
static int provider_day_slots(struct req *r, MDB_txn *txn, const prov_ctx *pc,
                              const Pm__VisitType *vt, const Pm__FindSlots *q, const char *date,
                              time_t now, const appt_span *pat, size_t npat, room_day *rooms,
                              size_t nrooms, Pm__Slot ***cands, size_t *n, size_t *cap)
{
    provider_day day;
    int rc = avail_day(txn, pc->tpls, pc->ntpl, date, &r->arena, &day);
    if (rc || day.nblocks == 0)
        return rc;
    time_t day0 = 0, day1 = 0;
    for (size_t i = 0; i < day.nblocks; i++) {
        if (!block_fits(&day.blocks[i], vt, q->location))
            continue;
        if (!day0 || day.blocks[i].start < day0)
            day0 = day.blocks[i].start;
        if (day.blocks[i].end > day1)
            day1 = day.blocks[i].end;
    }
    if (!day0 || day1 <= now)
        return PM_OK;
    appt_span *sp;
    size_t nsp;
    /* the provider's exceptions of the whole range, read once per request */
    Pm__Exception **ex = pc->ex;
    size_t nex = pc->nex;
    if ((rc = appt_spans(txn, DB_APPT_PROV, pc->p->id, day0, day1, &sp, &nsp)))
        return rc;
    size_t active = 0;
    for (size_t i = 0; i < nsp; i++)
        if (appt_active(sp[i].status))
            sp[active++] = sp[i];
    time_t dur = (time_t)vt->duration_min * 60;
    time_t step = (time_t)(vt->duration_min >= 15 ? 15 : vt->duration_min) * 60;
    for (size_t bi = 0; bi < day.nblocks && rc == PM_OK; bi++) {
        const avail_block *b = &day.blocks[bi];
        if (!block_fits(b, vt, q->location))
            continue;
        for (time_t t = b->start; t + dur <= b->end; t += step) {
            if (t < now)
                continue;
            if (q->earliest_min || q->latest_min) {
                unsigned m = pm_local_minutes(t);
                if (m < q->earliest_min || m + vt->duration_min > q->latest_min)
                    continue;
            }
            int away = 0;
            for (size_t k = 0; k < nex && !away; k++)
                away = ex[k]->start < t + dur && ex[k]->end > t;
            if (away || appt_peak_overlap(sp, active, t, t + dur) >= b->capacity ||
                spans_busy(pat, npat, t, t + dur))
                continue;
            const char *room = "";
            if (vt->needs_room) {
                room = free_room(txn, rooms, nrooms, b->tb->location, day0, day1, t, t + dur, &rc);
                if (rc)
                    break;
                if (!room)
                    continue;
            }
            if (*n == *cap) {
                size_t ncap = *cap ? *cap * 2 : 64;
                Pm__Slot **g = pm_arena_alloc(&r->arena, sizeof *g * ncap);
                if (!g) {
                    rc = PM_E_NOMEM;
                    break;
                }
                if (*n)
                    memcpy(g, *cands, sizeof *g * *n);
                *cands = g;
                *cap = ncap;
            }
            Pm__Slot *sl = pm_msg_new(&r->arena, &pm__slot__descriptor);
            if (!sl) {
                rc = PM_E_NOMEM;
                break;
            }
            sl->provider = pc->p->id;
            sl->location = b->tb->location;
            sl->start = t;
            sl->end = t + dur;
            sl->room = (char *)room;
            (*cands)[(*n)++] = sl;
        }
    }
    free(sp);
    return rc;
}

/* Checks a date range: from (default today) to to (default from + 8 weeks). */
static int date_range(struct req *r, const char *from_in, const char *to_in, int def_days,
                      int max_days, char from[11], char to[11])
{
    int y, m, d;
    if (*from_in) {
        if (pm_parse_date(from_in, &y, &m, &d) != 0)
            return req_fail(r, PM_E_INVALID_ARGUMENT, "from_date", "a date (YYYY-MM-DD)");
        memcpy(from, from_in, 11);
    } else {
        pm_local_date(sched_now(), from);
    }
    if (*to_in) {
        if (pm_parse_date(to_in, &y, &m, &d) != 0)
            return req_fail(r, PM_E_INVALID_ARGUMENT, "to_date", "a date (YYYY-MM-DD)");
        memcpy(to, to_in, 11);
    } else {
        pm_date_add(from, def_days - 1, to);
    }
    int span = pm_date_diff(from, to);
    if (span < 0)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "to_date", "before from_date");
    if (span >= max_days)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "to_date", "at most %d days after from_date",
                        max_days);
    return PM_OK;
}

int sched_find_slots(struct req *r, MDB_txn *txn)
{
    const Pm__FindSlots *q = r->env->find_slots;
    Pm__VisitType *vt;
    if (!*q->visit_type || setup_visit_type(txn, q->visit_type, &r->arena, &vt) != PM_OK)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "visit_type", "no visit type %s", q->visit_type);
    uint32_t count = q->count ? q->count : SLOTS_DEFAULT;
    if (count > SLOTS_MAX)
        count = SLOTS_MAX;
    if ((q->earliest_min || q->latest_min) &&
        (q->earliest_min >= q->latest_min || q->latest_min > 24 * 60))
        return req_fail(r, PM_E_INVALID_ARGUMENT, "latest_min",
                        "after earliest_min, within the day");
    char from[11], to[11];
    int rc = date_range(r, q->from_date, q->to_date, RANGE_DEFAULT, RANGE_MAX, from, to);
    if (rc)
        return rc;
    /* the patient, as stored however the MRN was typed */
    const char *mrn = "";
    if (*q->patient_mrn) {
        uint64_t pid;
        Pm__Patient *p;
        if (mrn_parse(q->patient_mrn, &pid) != 0 || patient_load(txn, pid, &r->arena, &p) != PM_OK)
            return req_fail(r, PM_E_NOT_FOUND, "patient_mrn", "no patient %s", q->patient_mrn);
        mrn = p->mrn;
    }
    /* the providers who offer it */
    void **all;
    size_t nall;
    if ((rc = setup_list(txn, 'P', &r->arena, &all, &nall)))
        return rc;
    prov_ctx *pcs = pm_arena_alloc(&r->arena, sizeof *pcs * (nall ? nall : 1));
    size_t np = 0;
    if (!pcs)
        return PM_E_NOMEM;
    for (size_t i = 0; i < nall; i++) {
        Pm__Provider *p = all[i];
        int wanted = q->n_providers == 0;
        for (size_t k = 0; k < q->n_providers && !wanted; k++)
            wanted = strcmp(q->providers[k], p->id) == 0;
        if (!wanted || p->inactive || !vt_offered_by(vt, p->id))
            continue;
        pcs[np].p = p;
        if ((rc = avail_templates(txn, p->id, &r->arena, &pcs[np].tpls, &pcs[np].ntpl)))
            return rc;
        np++;
    }
    /* the patient's own appointments in the range */
    appt_span *pat = NULL;
    size_t npat = 0;
    time_t t_from, t_to;
    pm_local_instant(from, 0, &t_from);
    pm_local_instant(to, 24 * 60, &t_to);
    for (size_t i = 0; i < np; i++)
        if ((rc = avail_exceptions(txn, pcs[i].p->id, t_from, t_to, &r->arena, &pcs[i].ex,
                                   &pcs[i].nex)))
            return rc;
    if (*mrn && (rc = appt_spans(txn, DB_RECORDS, mrn, t_from, t_to, &pat, &npat)))
        return rc;
    room_day *rooms = NULL;
    size_t nrooms = 0;
    if (vt->needs_room) {
        void **rl;
        if ((rc = setup_list(txn, 'R', &r->arena, &rl, &nrooms))) {
            free(pat);
            return rc;
        }
        rooms = calloc(nrooms ? nrooms : 1, sizeof *rooms);
        if (!rooms) {
            free(pat);
            return PM_E_NOMEM;
        }
        for (size_t i = 0; i < nrooms; i++)
            rooms[i].room = rl[i];
    }
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_SLOT_LIST);
    Pm__SlotList *sl = pm_msg_new(&r->arena, &pm__slot_list__descriptor);
    Pm__Slot **out = pm_arena_alloc(&r->arena, sizeof *out * count);
    if (!e || !sl || !out) {
        free(pat);
        free(rooms);
        return PM_E_NOMEM;
    }
    e->slot_list = sl;
    sl->slots = out;
    time_t now = sched_now();
    char date[11];
    memcpy(date, from, 11);
    for (int day = 0; rc == PM_OK && sl->n_slots < count; day++) {
        if (day > 0)
            pm_date_add(from, day, date);
        if (strcmp(date, to) > 0)
            break;
        Pm__Slot **cands = NULL;
        size_t n = 0, cap = 0;
        for (size_t i = 0; i < np && rc == PM_OK; i++)
            rc = provider_day_slots(r, txn, &pcs[i], vt, q, date, now, pat, npat, rooms, nrooms,
                                    &cands, &n, &cap);
        rooms_reset(rooms, nrooms);
        if (n)
            qsort(cands, n, sizeof *cands, cmp_slots);
        for (size_t i = 0; i < n && sl->n_slots < count; i++)
            out[sl->n_slots++] = cands[i];
    }
    free(pat);
    free(rooms);
    return rc;
}

/* ---- schedules ---- */

static int add_appointments(struct req *r, MDB_txn *txn, enum store_db db, const char *name,
                            time_t t0, time_t t1, Pm__ScheduleDay *sd)
{
    appt_span *sp;
    size_t n;
    int rc = appt_spans(txn, db, name, t0, t1, &sp, &n);
    if (rc)
        return rc;
    sd->appointments = pm_arena_alloc(&r->arena, sizeof *sd->appointments * (n ? n : 1));
    if (!sd->appointments) {
        free(sp);
        return PM_E_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        /* an appointment belongs to the day it starts on */
        if (sp[i].start < t0)
            continue;
        Pm__Appointment *a;
        if (appt_load(txn, sp[i].id, &r->arena, &a) != PM_OK)
            continue;
        a->patient_name = (char *)sched_patient_name(txn, a->patient_mrn, &r->arena);
        sd->appointments[sd->n_appointments++] = a;
    }
    free(sp);
    return PM_OK;
}

static int add_blocks(struct req *r, MDB_txn *txn, const char *provider, const char *location,
                      const char *date, Pm__ScheduleDay *sd, size_t *cap)
{
    Pm__Template **tpls;
    size_t ntpl;
    provider_day day;
    int rc;
    if ((rc = avail_templates(txn, provider, &r->arena, &tpls, &ntpl)) ||
        (rc = avail_day(txn, tpls, ntpl, date, &r->arena, &day)))
        return rc;
    for (size_t i = 0; i < day.nblocks; i++) {
        const avail_block *b = &day.blocks[i];
        if (*location && strcmp(b->tb->location, location) != 0)
            continue;
        if (sd->n_blocks == *cap) {
            size_t ncap = *cap ? *cap * 2 : 8;
            Pm__AvailabilityBlock **g = pm_arena_alloc(&r->arena, sizeof *g * ncap);
            if (!g)
                return PM_E_NOMEM;
            if (sd->n_blocks)
                memcpy(g, sd->blocks, sizeof *g * sd->n_blocks);
            sd->blocks = g;
            *cap = ncap;
        }
        Pm__AvailabilityBlock *ab = pm_msg_new(&r->arena, &pm__availability_block__descriptor);
        if (!ab)
            return PM_E_NOMEM;
        ab->provider = (char *)provider;
        ab->location = b->tb->location;
        ab->start = b->start;
        ab->end = b->end;
        ab->capacity = b->capacity;
        ab->visit_types = b->tb->visit_types;
        ab->n_visit_types = b->tb->n_visit_types;
        sd->blocks[sd->n_blocks++] = ab;
    }
    return PM_OK;
}

static int add_exceptions(struct req *r, MDB_txn *txn, const char *provider, time_t t0, time_t t1,
                          Pm__ScheduleDay *sd, size_t *cap)
{
    Pm__Exception **ex;
    size_t n;
    int rc = avail_exceptions(txn, provider, t0, t1, &r->arena, &ex, &n);
    if (rc || n == 0)
        return rc;
    size_t need = sd->n_exceptions + n;
    if (need > *cap) {
        Pm__Exception **g = pm_arena_alloc(&r->arena, sizeof *g * need * 2);
        if (!g)
            return PM_E_NOMEM;
        if (sd->n_exceptions)
            memcpy(g, sd->exceptions, sizeof *g * sd->n_exceptions);
        sd->exceptions = g;
        *cap = need * 2;
    }
    for (size_t i = 0; i < n; i++)
        sd->exceptions[sd->n_exceptions++] = ex[i];
    return PM_OK;
}

int sched_get_schedule(struct req *r, MDB_txn *txn)
{
    const Pm__GetSchedule *q = r->env->get_schedule;
    int kinds = !!*q->provider + !!*q->location + !!*q->room;
    if (kinds != 1)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "provider",
                        "give one of a provider, a location or a room");
    uint32_t days = q->days ? q->days : 1;
    if (days > SCHEDULE_DAYS)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "days", "at most %d", SCHEDULE_DAYS);
    char date[11];
    int rc;
    if (*q->date) {
        int y, m, d;
        if (pm_parse_date(q->date, &y, &m, &d) != 0)
            return req_fail(r, PM_E_INVALID_ARGUMENT, "date", "a date (YYYY-MM-DD)");
        memcpy(date, q->date, 11);
    } else {
        pm_local_date(sched_now(), date);
    }
    const char *who = *q->provider ? q->provider : *q->location ? q->location : q->room;
    r->audit_record = pm_arena_printf(&r->arena, "%s%s",
                                      *q->provider   ? "provider "
                                      : *q->location ? "location "
                                                     : "room ",
                                      who);
    r->audit_detail = pm_arena_printf(&r->arena, "%s, %u day(s)", date, days);
    void **provs = NULL;
    size_t nprov = 0;
    if (*q->provider) {
        Pm__Provider *p;
        if (setup_provider(txn, q->provider, &r->arena, &p) != PM_OK)
            return req_fail(r, PM_E_NOT_FOUND, "provider", "no provider %s", q->provider);
    } else if (*q->location) {
        Pm__Location *l;
        if (setup_location(txn, q->location, &r->arena, &l) != PM_OK)
            return req_fail(r, PM_E_NOT_FOUND, "location", "no location %s", q->location);
        if ((rc = setup_list(txn, 'P', &r->arena, &provs, &nprov)))
            return rc;
    } else {
        Pm__Room *rm;
        if (setup_room(txn, q->room, &r->arena, &rm) != PM_OK)
            return req_fail(r, PM_E_NOT_FOUND, "room", "no room %s", q->room);
    }
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_SCHEDULE);
    Pm__Schedule *s = pm_msg_new(&r->arena, &pm__schedule__descriptor);
    if (!e || !s)
        return PM_E_NOMEM;
    e->schedule = s;
    s->days = pm_arena_alloc(&r->arena, sizeof *s->days * days);
    if (!s->days)
        return PM_E_NOMEM;
    for (uint32_t i = 0; i < days; i++) {
        Pm__ScheduleDay *sd = pm_msg_new(&r->arena, &pm__schedule_day__descriptor);
        if (!sd)
            return PM_E_NOMEM;
        char d[11];
        pm_date_add(date, (int)i, d);
        sd->date = pm_arena_strdup(&r->arena, d);
        time_t t0, t1;
        pm_local_instant(d, 0, &t0);
        pm_local_instant(d, 24 * 60, &t1);
        const char *hol = setup_holiday(txn, d, *q->location ? q->location : "", &r->arena);
        sd->holiday = (char *)(hol ? hol : "");
        size_t bcap = 0, ecap = 0;
        if (*q->provider) {
            if ((rc = add_blocks(r, txn, q->provider, "", d, sd, &bcap)) ||
                (rc = add_exceptions(r, txn, q->provider, t0, t1, sd, &ecap)) ||
                (rc = add_appointments(r, txn, DB_APPT_PROV, q->provider, t0, t1, sd)))
                return rc;
        } else if (*q->location) {
            for (size_t k = 0; k < nprov; k++) {
                Pm__Provider *p = provs[k];
                size_t before = sd->n_blocks;
                if ((rc = add_blocks(r, txn, p->id, q->location, d, sd, &bcap)))
                    return rc;
                if (sd->n_blocks > before &&
                    (rc = add_exceptions(r, txn, p->id, t0, t1, sd, &ecap)))
                    return rc;
            }
            if ((rc = add_appointments(r, txn, SCHED_BY_LOCATION, q->location, t0, t1, sd)))
                return rc;
        } else if ((rc = add_appointments(r, txn, DB_APPT_ROOM, q->room, t0, t1, sd))) {
            return rc;
        }
        s->days[s->n_days++] = sd;
    }
    return PM_OK;
}

int sched_patient_appointments(struct req *r, MDB_txn *txn)
{
    const Pm__PatientAppointments *q = r->env->patient_appointments;
    uint64_t pid;
    Pm__Patient *p;
    r->audit_record = q->mrn;
    if (mrn_parse(q->mrn, &pid) != 0)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "mrn", "not a valid MRN");
    if (patient_load(txn, pid, &r->arena, &p) != PM_OK)
        return req_fail(r, PM_E_NOT_FOUND, "mrn", "no patient %s", q->mrn);
    r->audit_record = p->mrn;
    uint32_t limit = q->limit ? q->limit : PATIENT_APPTS;
    if (limit > 500)
        limit = 500;
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_APPOINTMENT_LIST);
    Pm__AppointmentList *al = pm_msg_new(&r->arena, &pm__appointment_list__descriptor);
    Pm__Appointment **out = pm_arena_alloc(&r->arena, sizeof *out * limit);
    if (!e || !al || !out)
        return PM_E_NOMEM;
    e->appointment_list = al;
    al->appointments = out;
    /* upcoming: from what is still going on now, forwards; past: backwards from now */
    time_t now = sched_now();
    uint8_t key[SCHED_IDX_KEY_MAX];
    size_t kl = sched_idx_key(key, DB_RECORDS, p->mrn,
                              (uint64_t)(q->past ? now : now - SCHED_MAX_APPT_MIN * 60),
                              q->past ? UINT64_MAX : 0);
    size_t pl = kl - 16; /* the patient's appointments' prefix */
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store_dbi(srv.st, DB_RECORDS), &cur);
    if (rc)
        return pm_err_from_mdb(rc);
    MDB_val k = {kl, key}, v;
    int g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (q->past)
        g = mdb_cursor_get(cur, &k, &v, g == 0 ? MDB_PREV : MDB_LAST);
    for (; g == 0 && al->n_appointments < limit;
         g = mdb_cursor_get(cur, &k, &v, q->past ? MDB_PREV : MDB_NEXT)) {
        if (k.mv_size != kl || memcmp(k.mv_data, key, pl) != 0 || v.mv_size < 8)
            break;
        time_t start = (time_t)pm_get_u64((uint8_t *)k.mv_data + pl);
        time_t end = (time_t)pm_get_u64(v.mv_data);
        if (q->past ? start >= now : end <= now)
            continue;
        Pm__Appointment *a;
        if (appt_load(txn, pm_get_u64((uint8_t *)k.mv_data + pl + 8), &r->arena, &a) != PM_OK)
            continue;
        a->patient_name = (char *)sched_patient_name(txn, a->patient_mrn, &r->arena);
        out[al->n_appointments++] = a;
    }
    mdb_cursor_close(cur);
    return PM_OK;
}
