/* The waitlist: patients who want an earlier or different slot. When a slot frees up
 * (a cancellation, a move, a no-show), the first matching entry, by priority then age, is
 * offered it: the slot is held (a HELD appointment, so nobody else books it) until the
 * offer is accepted (the hold becomes the booking), declined or expires (the slot goes to
 * the next matching entry). Offers are events on "waitlist" and the provider's topic. */
#include "scheduling.h"

#include "dispatch.h"
#include "patients.h"
#include "pm_err.h"
#include "pm_log.h"
#include "pm_time.h"
#include "pm_util.h"
#include "server.h"

#include <stdlib.h>
#include <string.h>

#define EXPIRE_BATCH 100

/* ---- records ---- */

static int entry_load(MDB_txn *txn, uint64_t id, pm_arena *a, Pm__WaitlistEntry **out)
{
    uint8_t k[8];
    pm_put_u64(k, id);
    void *m;
    int rc = store_get_pb(txn, store_dbi(srv.st, DB_WAITLIST), k, 8,
                          &pm__waitlist_entry__descriptor, a, &m);
    if (rc == PM_OK)
        *out = m;
    return rc;
}

static int entry_store(MDB_txn *txn, const Pm__WaitlistEntry *e)
{
    uint8_t k[8];
    pm_put_u64(k, e->id);
    Pm__WaitlistEntry copy = *e;
    copy.patient_name = (char *)"";
    return store_put_pb(txn, store_dbi(srv.st, DB_WAITLIST), k, 8, &copy.base);
}

/* The queue of waiting entries: highest priority first, then the oldest. */
void waitlist_queue_key(uint8_t k[17], const Pm__WaitlistEntry *e)
{
    k[0] = (uint8_t)(255 - (e->priority > 255 ? 255 : e->priority));
    pm_put_u64(k + 1, e->created_at);
    pm_put_u64(k + 9, e->id);
}

static int queue_put(MDB_txn *txn, const Pm__WaitlistEntry *e, int put)
{
    uint8_t k[17];
    waitlist_queue_key(k, e);
    MDB_dbi dbi = store_dbi(srv.st, DB_WAIT_IDX);
    int rc = put ? store_put(txn, dbi, k, sizeof k, "", 0) : store_del(txn, dbi, k, sizeof k);
    return rc == PM_E_NOT_FOUND && !put ? PM_OK : rc;
}

static int offer_load(MDB_txn *txn, uint64_t id, pm_arena *a, Pm__Offer **out)
{
    uint8_t k[8];
    pm_put_u64(k, id);
    void *m;
    int rc = store_get_pb(txn, store_dbi(srv.st, DB_OFFERS), k, 8, &pm__offer__descriptor, a, &m);
    if (rc == PM_OK)
        *out = m;
    return rc;
}

static int offer_store(MDB_txn *txn, const Pm__Offer *o)
{
    uint8_t k[8];
    pm_put_u64(k, o->id);
    Pm__Offer copy = *o;
    copy.patient_name = (char *)"";
    return store_put_pb(txn, store_dbi(srv.st, DB_OFFERS), k, 8, &copy.base);
}

static int expiry_key(MDB_txn *txn, const Pm__Offer *o, int put)
{
    uint8_t k[16];
    pm_put_u64(k, o->expires_at);
    pm_put_u64(k + 8, o->id);
    MDB_dbi dbi = store_dbi(srv.st, DB_OFFER_EXP);
    int rc = put ? store_put(txn, dbi, k, sizeof k, "", 0) : store_del(txn, dbi, k, sizeof k);
    return rc == PM_E_NOT_FOUND && !put ? PM_OK : rc;
}

/* Which entries were already offered a slot: provider 0 start entry. */
static size_t slot_key(uint8_t *k, const char *provider, time_t start, uint64_t entry)
{
    size_t n = strlen(provider);
    memcpy(k, provider, n);
    k[n] = 0;
    pm_put_u64(k + n + 1, (uint64_t)start);
    pm_put_u64(k + n + 9, entry);
    return n + 17;
}

static int offer_event(struct req *r, wctx *ctx, Pm__Offer *o)
{
    Pm__Event *ev = pm_msg_new(&r->arena, &pm__event__descriptor);
    Pm__OfferChanged *oc = pm_msg_new(&r->arena, &pm__offer_changed__descriptor);
    if (!ev || !oc)
        return PM_E_NOMEM;
    if (!*o->patient_name)
        o->patient_name = (char *)sched_patient_name(ctx->txn, o->patient_mrn, &r->arena);
    oc->offer = o;
    ev->body_case = PM__EVENT__BODY_OFFER_CHANGED;
    ev->offer_changed = oc;
    char prov[64];
    snprintf(prov, sizeof prov, "schedule/provider/%s", o->provider);
    const char *topics[2] = {"waitlist", prov};
    return req_event(r, ctx, topics, 2, ev);
}

/* ---- offering ---- */

static int entry_matches(MDB_txn *txn, pm_arena *a, const Pm__WaitlistEntry *e,
                         const char *provider, time_t start, time_t end, Pm__VisitType **vt)
{
    if (e->status != PM__WAITLIST_STATUS__WAITING)
        return 0;
    /* what the entry says first; its visit type is read only for the entries left */
    if (e->n_providers) {
        int ok = 0;
        for (size_t i = 0; i < e->n_providers && !ok; i++)
            ok = strcmp(e->providers[i], provider) == 0;
        if (!ok)
            return 0;
    }
    char date[11];
    pm_local_date(start, date);
    if ((*e->from_date && strcmp(date, e->from_date) < 0) ||
        (*e->to_date && strcmp(date, e->to_date) > 0))
        return 0;
    if (setup_visit_type(txn, e->visit_type, a, vt) != PM_OK || !vt_offered_by(*vt, provider))
        return 0;
    if (start + (time_t)(*vt)->duration_min * 60 > end)
        return 0;
    if (e->earliest_min || e->latest_min) {
        unsigned m = pm_local_minutes(start);
        if (m < e->earliest_min || m + (*vt)->duration_min > e->latest_min)
            return 0;
    }
    uint8_t k[64];
    size_t kl = slot_key(k, provider, start, e->id);
    MDB_val key = {kl, k}, v;
    return mdb_get(txn, store_dbi(srv.st, DB_OFFER_SLOT), &key, &v) != 0;
}

/* Records an offer of the slot held for entry e, and tells the desks. */
static int make_offer(struct req *r, wctx *ctx, Pm__WaitlistEntry *e, Pm__VisitType *vt,
                      const char *provider, time_t start, uint64_t oid, Pm__Appointment *held)
{
    Pm__Offer *o = pm_msg_new(&r->arena, &pm__offer__descriptor);
    if (!o)
        return PM_E_NOMEM;
    o->id = oid;
    o->entry_id = e->id;
    o->patient_mrn = e->patient_mrn;
    o->provider = (char *)provider;
    o->location = held->location;
    o->visit_type = vt->id;
    o->start = held->start;
    o->end = held->end;
    o->expires_at = (uint64_t)sched_now() + sched_cfg.offer_ttl_s;
    o->status = PM__OFFER_STATUS__OPEN;
    o->appointment_id = held->id;
    e->status = PM__WAITLIST_STATUS__OFFERED;
    e->offer_id = oid;
    e->version++;
    uint8_t sk[64];
    size_t skl = slot_key(sk, provider, start, e->id);
    uint8_t ov[8];
    pm_put_u64(ov, oid);
    int rc;
    if ((rc = offer_store(ctx->txn, o)) || (rc = expiry_key(ctx->txn, o, 1)) ||
        (rc = store_put(ctx->txn, store_dbi(ctx->st, DB_OFFER_SLOT), sk, skl, ov, 8)) ||
        (rc = queue_put(ctx->txn, e, 0)) || (rc = entry_store(ctx->txn, e)))
        return rc;
    return offer_event(r, ctx, o);
}

/* Patients tried per freed slot: each try is a booking check (the patient may be busy
 * then), while passing over an entry that does not match costs a decode; and entries
 * read per freed slot, so that a cancelled series or a batch of expiries cannot hold the
 * writer for long (a practice's waiting queue is far shorter). */
#define OFFER_TRIES    32
#define QUEUE_READ_MAX 4096
/* Queue keys read at a time, the cursor closed while they are tried. */
#define QUEUE_CHUNK 256

/* The next chunk of the waiting queue after key after (alen 0: from its start): entry ids
 * into ids, the last key read into after. */
static int queue_chunk(MDB_txn *txn, uint8_t after[17], size_t *alen, uint64_t *ids, size_t *n)
{
    MDB_cursor *cur;
    *n = 0;
    int rc = mdb_cursor_open(txn, store_dbi(srv.st, DB_WAIT_IDX), &cur);
    if (rc)
        return pm_err_from_mdb(rc);
    MDB_val k = {*alen, after}, v;
    int g =
        *alen ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (g == 0 && *alen && k.mv_size == *alen && memcmp(k.mv_data, after, *alen) == 0)
        g = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    for (; g == 0 && *n < QUEUE_CHUNK; g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 17)
            continue;
        ids[(*n)++] = pm_get_u64((uint8_t *)k.mv_data + 9);
        memcpy(after, k.mv_data, 17);
        *alen = 17;
    }
    mdb_cursor_close(cur);
    return g == 0 || g == MDB_NOTFOUND ? PM_OK : pm_err_from_mdb(g);
}

/* Offers [start, end) of provider to the first matching waiting entry whose patient can
 * take it, going down the whole queue: at most one offer per freed slot. */
static int offer_slot(struct req *r, wctx *ctx, const char *provider, time_t start, time_t end)
{
    uint8_t after[17];
    size_t alen = 0, n;
    unsigned tries = 0, read = 0;
    uint64_t ids[QUEUE_CHUNK];
    int rc;
    do {
        if ((rc = queue_chunk(ctx->txn, after, &alen, ids, &n)))
            return rc;
        for (size_t i = 0; i < n; i++) {
            Pm__WaitlistEntry *e;
            Pm__VisitType *vt;
            if (entry_load(ctx->txn, ids[i], &r->arena, &e) != PM_OK ||
                !entry_matches(ctx->txn, &r->arena, e, provider, start, end, &vt))
                continue;
            uint64_t oid;
            if ((rc = store_next_id(ctx->txn, ctx->st, "seq.offer", 1, &oid)))
                return rc;
            Pm__Appointment *held;
            rc = sched_hold(r, ctx, e->patient_mrn, provider, vt, "", start, oid, &held);
            if (rc && sched_storage_error(rc))
                return rc;
            if (rc) { /* this patient cannot take it (busy then...): the next entry */
                req_clear_error(r);
                if (++tries == OFFER_TRIES)
                    return PM_OK;
                continue;
            }
            return make_offer(r, ctx, e, vt, provider, start, oid, held);
        }
        read += (unsigned)n;
    } while (n == QUEUE_CHUNK && read < QUEUE_READ_MAX);
    return PM_OK;
}

static int slot_past(const MDB_val *k, const MDB_val *v, void *arg, enum store_sweep *what)
{
    (void)v;
    uint64_t before = *(const uint64_t *)arg;
    *what = k->mv_size >= 17 && pm_get_u64((uint8_t *)k->mv_data + k->mv_size - 16) >= before
                ? SWEEP_KEEP
                : SWEEP_DELETE;
    return PM_OK;
}

int waitlist_forget_slots(wctx *ctx, unsigned max, unsigned *removed)
{
    /* A record of an offered slot only keeps the slot from going to the same entry twice;
     * a day after the slot it has nothing left to do. The records are in provider order,
     * not by time: the reading is bounded, and goes on next time where it stopped (the
     * writer thread is the only one here). */
    static store_sweep_pos pos;
    uint64_t before = (uint64_t)(sched_now() - 86400);
    return store_sweep(ctx->txn, store_dbi(ctx->st, DB_OFFER_SLOT), max, 8 * max, &pos, slot_past,
                       &before, removed);
}

int waitlist_slot_freed(struct req *r, wctx *ctx, const char *provider, time_t start, time_t end)
{
    time_t now = sched_now();
    if (end <= now)
        return PM_OK;
    return offer_slot(r, ctx, provider, start > now ? start : now, end);
}

/* Ends an offer that was not accepted: its hold goes, its entry waits again (unless
 * removed), and the slot goes to the next entry. */
static int offer_close(struct req *r, wctx *ctx, Pm__Offer *o, Pm__OfferStatus status)
{
    o->status = status;
    int rc;
    if ((rc = expiry_key(ctx->txn, o, 0)) || (rc = offer_store(ctx->txn, o)))
        return rc;
    Pm__Appointment *held;
    if (appt_load(ctx->txn, o->appointment_id, &r->arena, &held) == PM_OK &&
        held->status == PM__APPOINTMENT_STATUS__HELD) {
        /* a hold was never anybody's appointment: it goes, and screens drop it */
        if ((rc = sched_delete_appt(ctx->txn, held)))
            return rc;
        held->status = PM__APPOINTMENT_STATUS__CANCELLED;
        held->cancel_reason = (char *)(status == PM__OFFER_STATUS__DECLINED  ? "offer declined"
                                       : status == PM__OFFER_STATUS__EXPIRED ? "offer expired"
                                                                             : "offer withdrawn");
        if ((rc = appt_event(r, ctx, "released", held, NULL)))
            return rc;
    }
    Pm__WaitlistEntry *e;
    if (entry_load(ctx->txn, o->entry_id, &r->arena, &e) == PM_OK &&
        e->status == PM__WAITLIST_STATUS__OFFERED && e->offer_id == o->id) {
        e->status = PM__WAITLIST_STATUS__WAITING;
        e->offer_id = 0;
        e->version++;
        if ((rc = entry_store(ctx->txn, e)) || (rc = queue_put(ctx->txn, e, 1)))
            return rc;
    }
    if ((rc = offer_event(r, ctx, o)))
        return rc;
    return waitlist_slot_freed(r, ctx, o->provider, o->start, o->end);
}

/* ---- requests ---- */

static int check_entry(struct req *r, MDB_txn *txn, Pm__WaitlistEntry *e)
{
    uint64_t pid;
    Pm__Patient *p;
    if (mrn_parse(e->patient_mrn, &pid) != 0 || patient_load(txn, pid, &r->arena, &p) != PM_OK)
        req_field_error(r, "patient_mrn", "no such patient");
    else
        e->patient_mrn = p->mrn;
    Pm__VisitType *vt;
    if (setup_visit_type(txn, e->visit_type, &r->arena, &vt) != PM_OK) {
        req_field_error(r, "visit_type", "no such visit type");
    } else {
        for (size_t i = 0; i < e->n_providers; i++) {
            Pm__Provider *pv;
            if (setup_provider(txn, e->providers[i], &r->arena, &pv) != PM_OK ||
                !vt_offered_by(vt, pv->id)) {
                req_field_error(r, "providers", "no such provider, or it does not offer the type");
                break;
            }
        }
    }
    int y, m, d;
    if (*e->from_date && pm_parse_date(e->from_date, &y, &m, &d) != 0)
        req_field_error(r, "from_date", "a date (YYYY-MM-DD)");
    if (*e->to_date && pm_parse_date(e->to_date, &y, &m, &d) != 0)
        req_field_error(r, "to_date", "a date (YYYY-MM-DD)");
    if (*e->from_date && *e->to_date && strcmp(e->to_date, e->from_date) < 0)
        req_field_error(r, "to_date", "before from_date");
    if ((e->earliest_min || e->latest_min) &&
        (e->earliest_min >= e->latest_min || e->latest_min > 24 * 60))
        req_field_error(r, "latest_min", "after earliest_min, within the day");
    if (e->priority > 255)
        req_field_error(r, "priority", "0 to 255");
    size_t nl = strlen(e->note);
    if (nl > 500 || !pm_utf8_valid(e->note, nl, 1))
        req_field_error(r, "note", "at most 500 characters of text");
    return r->nfields ? PM_E_INVALID_ARGUMENT : PM_OK;
}

static int respond_entry(struct req *r, MDB_txn *txn, Pm__WaitlistEntry *e)
{
    Pm__Envelope *env = req_respond(r, PM__ENVELOPE__BODY_WAITLIST_OK);
    Pm__WaitlistOk *ok = pm_msg_new(&r->arena, &pm__waitlist_ok__descriptor);
    if (!env || !ok)
        return PM_E_NOMEM;
    e->patient_name = (char *)sched_patient_name(txn, e->patient_mrn, &r->arena);
    ok->entry = e;
    env->waitlist_ok = ok;
    return PM_OK;
}

int waitlist_add(struct req *r, wctx *ctx)
{
    Pm__WaitlistEntry *e = r->env->add_to_waitlist->entry;
    if (!e)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "entry", "required");
    r->audit_record = e->patient_mrn;
    int rc = check_entry(r, ctx->txn, e);
    if (rc)
        return rc;
    r->audit_record = e->patient_mrn;
    if ((rc = store_next_id(ctx->txn, ctx->st, "seq.waitlist", 1, &e->id)))
        return rc;
    e->status = PM__WAITLIST_STATUS__WAITING;
    e->offer_id = 0;
    e->created_at = (uint64_t)sched_now();
    e->created_by = (char *)(r->username ? r->username : "");
    e->version = 1;
    r->audit_detail = pm_arena_printf(&r->arena, "waitlist entry %llu for %s",
                                      (unsigned long long)e->id, e->visit_type);
    if ((rc = entry_store(ctx->txn, e)) || (rc = queue_put(ctx->txn, e, 1)))
        return rc;
    return respond_entry(r, ctx->txn, e);
}

int waitlist_remove(struct req *r, wctx *ctx)
{
    uint64_t id = r->env->remove_from_waitlist->id;
    Pm__WaitlistEntry *e;
    int rc = entry_load(ctx->txn, id, &r->arena, &e);
    if (rc == PM_E_NOT_FOUND)
        return req_fail(r, rc, "id", "no waitlist entry %llu", (unsigned long long)id);
    if (rc)
        return rc;
    r->audit_record = e->patient_mrn;
    if (e->status == PM__WAITLIST_STATUS__REMOVED || e->status == PM__WAITLIST_STATUS__SCHEDULED)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "id", "waitlist entry %llu is closed",
                        (unsigned long long)id);
    uint64_t offer = e->status == PM__WAITLIST_STATUS__OFFERED ? e->offer_id : 0;
    e->status = PM__WAITLIST_STATUS__REMOVED;
    e->version++;
    if ((rc = queue_put(ctx->txn, e, 0)) || (rc = entry_store(ctx->txn, e)))
        return rc;
    Pm__Offer *o;
    if (offer && offer_load(ctx->txn, offer, &r->arena, &o) == PM_OK &&
        o->status == PM__OFFER_STATUS__OPEN &&
        (rc = offer_close(r, ctx, o, PM__OFFER_STATUS__WITHDRAWN)))
        return rc;
    return respond_entry(r, ctx->txn, e);
}

int waitlist_answer(struct req *r, wctx *ctx)
{
    const Pm__AnswerOffer *q = r->env->answer_offer;
    Pm__Offer *o;
    int rc = offer_load(ctx->txn, q->offer_id, &r->arena, &o);
    if (rc == PM_E_NOT_FOUND)
        return req_fail(r, rc, "offer_id", "no offer %llu", (unsigned long long)q->offer_id);
    if (rc)
        return rc;
    r->audit_record = o->patient_mrn;
    if (o->status != PM__OFFER_STATUS__OPEN)
        return req_fail(r, PM_E_CONFLICT, "offer_id", "offer %llu is no longer open",
                        (unsigned long long)q->offer_id);
    if ((uint64_t)sched_now() >= o->expires_at)
        return req_fail(r, PM_E_CONFLICT, "offer_id", "offer %llu has expired",
                        (unsigned long long)q->offer_id);
    if (!q->accept) {
        r->audit_detail =
            pm_arena_printf(&r->arena, "offer %llu declined", (unsigned long long)o->id);
        if ((rc = offer_close(r, ctx, o, PM__OFFER_STATUS__DECLINED)))
            return rc;
        Pm__WaitlistEntry *e;
        if ((rc = entry_load(ctx->txn, o->entry_id, &r->arena, &e)))
            return rc;
        return respond_entry(r, ctx->txn, e);
    }
    Pm__Appointment *a;
    if ((rc = appt_load(ctx->txn, o->appointment_id, &r->arena, &a)))
        return rc;
    a->status = PM__APPOINTMENT_STATUS__BOOKED;
    a->version++;
    a->updated_at = (uint64_t)sched_now();
    a->updated_by = (char *)(r->username ? r->username : "");
    if ((rc = sched_append_history(r, a, "booked from the waitlist")) ||
        (rc = sched_store_appt(ctx->txn, a)) || (rc = sched_reindex(ctx->txn, a)) ||
        (rc = appt_event(r, ctx, "booked", a, NULL)))
        return rc;
    o->status = PM__OFFER_STATUS__ACCEPTED;
    Pm__WaitlistEntry *e;
    if ((rc = expiry_key(ctx->txn, o, 0)) || (rc = offer_store(ctx->txn, o)) ||
        (rc = entry_load(ctx->txn, o->entry_id, &r->arena, &e)))
        return rc;
    e->status = PM__WAITLIST_STATUS__SCHEDULED;
    e->version++;
    if ((rc = entry_store(ctx->txn, e)) || (rc = offer_event(r, ctx, o)))
        return rc;
    r->audit_detail = pm_arena_printf(&r->arena, "offer %llu accepted: appointment %llu",
                                      (unsigned long long)o->id, (unsigned long long)a->id);
    Pm__Envelope *env = req_respond(r, PM__ENVELOPE__BODY_APPOINTMENT_OK);
    Pm__AppointmentOk *ok = pm_msg_new(&r->arena, &pm__appointment_ok__descriptor);
    if (!env || !ok)
        return PM_E_NOMEM;
    a->patient_name = (char *)sched_patient_name(ctx->txn, a->patient_mrn, &r->arena);
    ok->appointment = a;
    env->appointment_ok = ok;
    return PM_OK;
}

#define CLOSED_DEFAULT  100
#define CLOSED_MAX      1000
#define OFFERS_PER_PAGE 8 /* past offers read for each closed entry asked for */

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* entries and offers are listed by id, the order they were made in */
static int cmp_entry(const void *x, const void *y)
{
    const Pm__WaitlistEntry *a = *(Pm__WaitlistEntry *const *)x,
                            *b = *(Pm__WaitlistEntry *const *)y;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int cmp_offer(const void *x, const void *y)
{
    const Pm__Offer *a = *(Pm__Offer *const *)x, *b = *(Pm__Offer *const *)y;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int is_open(const Pm__WaitlistEntry *e)
{
    return e->status == PM__WAITLIST_STATUS__WAITING || e->status == PM__WAITLIST_STATUS__OFFERED;
}

/* The ids of the open entries, ascending: the waiting queue's and those of open offers (an
 * offered entry leaves the queue). Reads only those, however many closed entries and
 * offers the years have left. The open offers go into wl. */
static int open_entries(struct req *r, MDB_txn *txn, Pm__Waitlist *wl, uint64_t **ids, size_t *n)
{
    MDB_stat q, x;
    int rc = mdb_stat(txn, store_dbi(srv.st, DB_WAIT_IDX), &q);
    if (!rc)
        rc = mdb_stat(txn, store_dbi(srv.st, DB_OFFER_EXP), &x);
    if (rc)
        return pm_err_from_mdb(rc);
    *n = 0;
    *ids = pm_arena_alloc(&r->arena, sizeof **ids * (q.ms_entries + x.ms_entries + 1));
    wl->offers = pm_arena_alloc(&r->arena, sizeof *wl->offers * (x.ms_entries + 1));
    if (!*ids || !wl->offers)
        return PM_E_NOMEM;
    const enum store_db dbs[2] = {DB_WAIT_IDX, DB_OFFER_EXP};
    for (int d = 0; d < 2; d++) {
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(txn, store_dbi(srv.st, dbs[d]), &cur)))
            return pm_err_from_mdb(rc);
        MDB_val k, v;
        int g;
        size_t cap = d ? x.ms_entries : q.ms_entries;
        for (g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0 && cap--;
             g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            Pm__Offer *o;
            if (d == 0 && k.mv_size == 17)
                (*ids)[(*n)++] = pm_get_u64((uint8_t *)k.mv_data + 9);
            else if (d == 1 && k.mv_size == 16 &&
                     offer_load(txn, pm_get_u64((uint8_t *)k.mv_data + 8), &r->arena, &o) ==
                         PM_OK &&
                     o->status == PM__OFFER_STATUS__OPEN) {
                (*ids)[(*n)++] = o->entry_id;
                o->patient_name = (char *)sched_patient_name(txn, o->patient_mrn, &r->arena);
                wl->offers[wl->n_offers++] = o;
            }
        }
        mdb_cursor_close(cur);
        if (g != 0 && g != MDB_NOTFOUND)
            return pm_err_from_mdb(g);
    }
    qsort(*ids, *n, sizeof **ids, cmp_u64);
    return PM_OK;
}

/* With include_closed: the newest closed entries (before closed_before_id, at most
 * closed_limit), walking the entries back from there; and the past offers made to the
 * entries listed, among the newest OFFERS_PER_PAGE per entry asked for. */
static int closed_entries(struct req *r, MDB_txn *txn, const Pm__ListWaitlist *q, Pm__Waitlist *wl,
                          size_t *cap)
{
    uint32_t limit = q->closed_limit ? q->closed_limit : CLOSED_DEFAULT;
    if (limit > CLOSED_MAX)
        limit = CLOSED_MAX;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store_dbi(srv.st, DB_WAITLIST), &cur);
    if (rc)
        return pm_err_from_mdb(rc);
    uint8_t kb[8];
    pm_put_u64(kb, q->closed_before_id ? q->closed_before_id : UINT64_MAX);
    MDB_val k = {8, kb}, v;
    int g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    g = mdb_cursor_get(cur, &k, &v, g == 0 ? MDB_PREV : MDB_LAST);
    uint32_t got = 0;
    for (; g == 0; g = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        Pm__WaitlistEntry *e =
            pm__waitlist_entry__unpack(pm_arena_pbc(&r->arena), v.mv_size, v.mv_data);
        if (!e || is_open(e))
            continue;
        if (got == limit) { /* the last one listed was the oldest */
            wl->closed_before_next = wl->entries[wl->n_entries - 1]->id;
            break;
        }
        e->patient_name = (char *)sched_patient_name(txn, e->patient_mrn, &r->arena);
        if (pm_arena_push(&r->arena, (void ***)&wl->entries, &wl->n_entries, cap, e)) {
            mdb_cursor_close(cur);
            return PM_E_NOMEM;
        }
        got++;
    }
    mdb_cursor_close(cur);
    if (g != 0 && g != MDB_NOTFOUND)
        return pm_err_from_mdb(g);

    /* their past offers */
    size_t ocap = wl->n_offers, left = (size_t)limit * OFFERS_PER_PAGE;
    if ((rc = mdb_cursor_open(txn, store_dbi(srv.st, DB_OFFERS), &cur)))
        return pm_err_from_mdb(rc);
    for (g = mdb_cursor_get(cur, &k, &v, MDB_LAST); g == 0 && left--;
         g = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        Pm__Offer *o = pm__offer__unpack(pm_arena_pbc(&r->arena), v.mv_size, v.mv_data);
        if (!o || o->status == PM__OFFER_STATUS__OPEN)
            continue;
        size_t i = 0;
        while (i < wl->n_entries && wl->entries[i]->id != o->entry_id)
            i++;
        if (i == wl->n_entries)
            continue;
        o->patient_name = wl->entries[i]->patient_name;
        if (pm_arena_push(&r->arena, (void ***)&wl->offers, &wl->n_offers, &ocap, o)) {
            mdb_cursor_close(cur);
            return PM_E_NOMEM;
        }
    }
    mdb_cursor_close(cur);
    return g != 0 && g != MDB_NOTFOUND ? pm_err_from_mdb(g) : PM_OK;
}

int waitlist_list(struct req *r, MDB_txn *txn)
{
    const Pm__ListWaitlist *q = r->env->list_waitlist;
    Pm__Envelope *env = req_respond(r, PM__ENVELOPE__BODY_WAITLIST);
    Pm__Waitlist *wl = pm_msg_new(&r->arena, &pm__waitlist__descriptor);
    if (!env || !wl)
        return PM_E_NOMEM;
    env->waitlist = wl;
    uint64_t *ids = NULL;
    size_t nids = 0, cap = 0;
    int rc = open_entries(r, txn, wl, &ids, &nids);
    if (rc)
        return rc;
    for (size_t i = 0; i < nids; i++) {
        Pm__WaitlistEntry *e;
        if ((i && ids[i] == ids[i - 1]) || entry_load(txn, ids[i], &r->arena, &e) != PM_OK ||
            !is_open(e))
            continue;
        e->patient_name = (char *)sched_patient_name(txn, e->patient_mrn, &r->arena);
        if (pm_arena_push(&r->arena, (void ***)&wl->entries, &wl->n_entries, &cap, e))
            return PM_E_NOMEM;
    }
    if (q->include_closed && (rc = closed_entries(r, txn, q, wl, &cap)))
        return rc;
    if (wl->n_entries > 1)
        qsort(wl->entries, wl->n_entries, sizeof *wl->entries, cmp_entry);
    if (wl->n_offers > 1)
        qsort(wl->offers, wl->n_offers, sizeof *wl->offers, cmp_offer);
    r->audit_detail = pm_arena_printf(&r->arena, "%zu entries", wl->n_entries);
    return PM_OK;
}

/* ---- expiry ---- */

typedef struct expire_state {
    uint64_t ids[EXPIRE_BATCH];
    size_t n;
} expire_state;

static int expire_run(struct req *r, wctx *ctx)
{
    expire_state *es = r->ext;
    uint64_t now = (uint64_t)sched_now();
    for (size_t i = 0; i < es->n; i++) {
        Pm__Offer *o;
        if (offer_load(ctx->txn, es->ids[i], &r->arena, &o) != PM_OK ||
            o->status != PM__OFFER_STATUS__OPEN || o->expires_at > now)
            continue;
        int rc = offer_close(r, ctx, o, PM__OFFER_STATUS__EXPIRED);
        if (rc)
            return rc;
    }
    return PM_OK;
}

static void expire_done(struct req *r)
{
    free(r->ext);
    r->ext = NULL;
    req_finish(r);
}

/* Expired offers are closed by a writer job; one queued twice finds them closed. */
void waitlist_tick(void)
{
    MDB_txn *txn;
    if (store_read_begin(srv.st, &txn) != PM_OK)
        return;
    expire_state es = {.n = 0};
    uint64_t now = (uint64_t)sched_now();
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, store_dbi(srv.st, DB_OFFER_EXP), &cur) == 0) {
        MDB_val k, v;
        for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0 && es.n < EXPIRE_BATCH;
             g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (k.mv_size != 16 || pm_get_u64(k.mv_data) > now)
                break;
            es.ids[es.n++] = pm_get_u64((uint8_t *)k.mv_data + 8);
        }
        mdb_cursor_close(cur);
    }
    store_read_end(srv.st);
    if (es.n == 0)
        return;
    req *r = req_system("waitlist.expire");
    expire_state *copy = malloc(sizeof *copy);
    if (!r || !copy) {
        free(copy);
        if (r) {
            r->status = PM_E_NOMEM;
            req_finish(r);
        }
        return;
    }
    *copy = es;
    r->ext = copy;
    r->done_hook = expire_done;
    req_submit_write(r, expire_run);
}
