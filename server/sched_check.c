/* practiced check for the scheduling data: every appointment is in its four indexes with
 * its end and status, every index entry names an appointment that agrees; exceptions and
 * their index; waiting entries and their queue; open offers, their expiry and their holds;
 * series and their members. */
#include "scheduling.h"

#include "pm_err.h"
#include "pm_util.h"
#include "server.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct chk {
    MDB_txn *txn;
    store *st;
    void (*problem)(void *ud, const char *msg);
    void *ud;
} chk;

static void say(chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(chk *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pm_utf8_cut(msg);
    c->problem(c->ud, msg);
}

static const struct {
    enum store_db db;
    const char *what;
} appt_indexes[] = {
    {DB_APPT_PROV, "provider"},
    {DB_RECORDS, "patient"},
    {DB_APPT_ROOM, "room"},
};

static const char *index_what(enum store_db db)
{
    for (size_t i = 0; i < PM_ARRAY_LEN(appt_indexes); i++)
        if (appt_indexes[i].db == db)
            return appt_indexes[i].what;
    return "?";
}

static int exists(chk *c, enum store_db db, const void *key, size_t klen, MDB_val *v)
{
    MDB_val k = {klen, (void *)key}, dummy;
    return mdb_get(c->txn, store_dbi(c->st, db), &k, v ? v : &dummy) == 0;
}

static void check_appointments(chk *c, uint64_t *count)
{
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_cursor_open(c->txn, store_dbi(c->st, DB_APPTS), &cur))
        return;
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        (*count)++;
        uint64_t id = k.mv_size == 8 ? pm_get_u64(k.mv_data) : 0;
        Pm__Appointment *a = pm__appointment__unpack(NULL, v.mv_size, v.mv_data);
        if (!a || a->id != id) {
            say(c, "appointment record %llu does not decode", (unsigned long long)id);
            if (a)
                pm__appointment__free_unpacked(a, NULL);
            continue;
        }
        sched_idx idx[SCHED_IDX_COUNT];
        size_t nidx = sched_idx_of(a, idx);
        for (size_t i = 0; i < nidx; i++) {
            uint8_t key[SCHED_IDX_KEY_MAX], want[SCHED_IDX_VALUE_MAX];
            size_t kl = sched_idx_key(key, idx[i].db, idx[i].name, (uint64_t)a->start, a->id);
            size_t wl = sched_idx_value(want, idx[i].db, a);
            MDB_val iv;
            if (!exists(c, idx[i].db, key, kl, &iv))
                say(c, "appointment %llu is missing from the %s index", (unsigned long long)id,
                    index_what(idx[i].db));
            else if (iv.mv_size != wl || memcmp(iv.mv_data, want, wl) != 0)
                say(c, "the %s index has a stale end, status or location for appointment %llu",
                    index_what(idx[i].db), (unsigned long long)id);
        }
        pm__appointment__free_unpacked(a, NULL);
    }
    mdb_cursor_close(cur);
}

static void check_appointment_indexes(chk *c)
{
    for (size_t i = 0; i < PM_ARRAY_LEN(appt_indexes); i++) {
        MDB_cursor *cur;
        MDB_val k, v;
        if (mdb_cursor_open(c->txn, store_dbi(c->st, appt_indexes[i].db), &cur))
            continue;
        for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
             g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            const uint8_t *p = k.mv_data, *nul = memchr(p, 0, k.mv_size);
            int rec = appt_indexes[i].db == DB_RECORDS;
            size_t pl = nul ? (size_t)(nul - p) + 1 + (size_t)rec : k.mv_size;
            if (rec && (!nul || pl > k.mv_size || p[pl - 1] != REC_APPT))
                continue; /* another kind of the patient's records (practiced check's
                             audit pass reports those of no known kind) */
            if (k.mv_size != pl + 16) {
                say(c, "a %s index entry is malformed", appt_indexes[i].what);
                continue;
            }
            uint64_t id = pm_get_u64(p + pl + 8);
            uint8_t ak[8];
            pm_put_u64(ak, id);
            MDB_val av;
            Pm__Appointment *a = NULL;
            if (exists(c, DB_APPTS, ak, 8, &av))
                a = pm__appointment__unpack(NULL, av.mv_size, av.mv_data);
            if (!a) {
                say(c, "the %s index points at appointment %llu, which does not exist",
                    appt_indexes[i].what, (unsigned long long)id);
                continue;
            }
            sched_idx idx[SCHED_IDX_COUNT];
            size_t nidx = sched_idx_of(a, idx), wl = 0;
            uint8_t want[SCHED_IDX_KEY_MAX];
            for (size_t j = 0; j < nidx; j++)
                if (idx[j].db == appt_indexes[i].db)
                    wl = sched_idx_key(want, idx[j].db, idx[j].name, (uint64_t)a->start, id);
            if (wl != k.mv_size || memcmp(want, p, wl) != 0)
                say(c, "the %s index files appointment %llu under the wrong %s or time",
                    appt_indexes[i].what, (unsigned long long)id, appt_indexes[i].what);
            pm__appointment__free_unpacked(a, NULL);
        }
        mdb_cursor_close(cur);
    }
}

static void check_exceptions(chk *c)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t prefix[2] = {'X', ':'};
    if (mdb_cursor_open(c->txn, store_dbi(c->st, DB_SETUP), &cur))
        return;
    k.mv_size = 2;
    k.mv_data = prefix;
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 10 || memcmp(k.mv_data, prefix, 2) != 0)
            break;
        Pm__Exception *e = pm__exception__unpack(NULL, v.mv_size, v.mv_data);
        if (!e) {
            say(c, "an exception record does not decode");
            continue;
        }
        uint8_t key[64];
        size_t kl = sched_exc_key(key, e->provider, (uint64_t)e->end, e->id);
        MDB_val iv;
        if (!exists(c, DB_EXC_IDX, key, kl, &iv))
            say(c, "exception %llu of %s is missing from its index", (unsigned long long)e->id,
                e->provider);
        else if (iv.mv_size == 8 && pm_get_u64(iv.mv_data) != (uint64_t)e->start)
            say(c, "exception %llu of %s has another start in its index", (unsigned long long)e->id,
                e->provider);
        pm__exception__free_unpacked(e, NULL);
    }
    mdb_cursor_close(cur);
    if (mdb_cursor_open(c->txn, store_dbi(c->st, DB_EXC_IDX), &cur))
        return;
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint8_t xk[10] = {'X', ':'};
        if (k.mv_size < 17) {
            say(c, "an exception index entry is too short");
            continue;
        }
        memcpy(xk + 2, (uint8_t *)k.mv_data + k.mv_size - 8, 8);
        if (!exists(c, DB_SETUP, xk, sizeof xk, NULL))
            say(c, "the exception index points at exception %llu, which does not exist",
                (unsigned long long)pm_get_u64(xk + 2));
    }
    mdb_cursor_close(cur);
}

static void check_waitlist(chk *c)
{
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_cursor_open(c->txn, store_dbi(c->st, DB_WAITLIST), &cur))
        return;
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Pm__WaitlistEntry *e = pm__waitlist_entry__unpack(NULL, v.mv_size, v.mv_data);
        if (!e) {
            say(c, "a waitlist entry does not decode");
            continue;
        }
        uint8_t qk[17];
        waitlist_queue_key(qk, e);
        int queued = exists(c, DB_WAIT_IDX, qk, sizeof qk, NULL);
        if (queued != (e->status == PM__WAITLIST_STATUS__WAITING))
            say(c, "waitlist entry %llu is %s the queue", (unsigned long long)e->id,
                queued ? "wrongly in" : "missing from");
        pm__waitlist_entry__free_unpacked(e, NULL);
    }
    mdb_cursor_close(cur);
    if (mdb_cursor_open(c->txn, store_dbi(c->st, DB_WAIT_IDX), &cur))
        return;
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint8_t id[8];
        if (k.mv_size != 17)
            continue;
        memcpy(id, (uint8_t *)k.mv_data + 9, 8);
        if (!exists(c, DB_WAITLIST, id, 8, NULL))
            say(c, "the waitlist queue names entry %llu, which does not exist",
                (unsigned long long)pm_get_u64(id));
    }
    mdb_cursor_close(cur);
}

static void check_offers(chk *c)
{
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_cursor_open(c->txn, store_dbi(c->st, DB_OFFERS), &cur))
        return;
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Pm__Offer *o = pm__offer__unpack(NULL, v.mv_size, v.mv_data);
        if (!o) {
            say(c, "an offer does not decode");
            continue;
        }
        uint8_t ek[16];
        pm_put_u64(ek, o->expires_at);
        pm_put_u64(ek + 8, o->id);
        int open = o->status == PM__OFFER_STATUS__OPEN;
        if (exists(c, DB_OFFER_EXP, ek, sizeof ek, NULL) != open)
            say(c, "offer %llu is %s the expiry list", (unsigned long long)o->id,
                open ? "missing from" : "wrongly in");
        uint8_t ak[8];
        pm_put_u64(ak, o->appointment_id);
        MDB_val av;
        Pm__Appointment *a = NULL;
        if (exists(c, DB_APPTS, ak, 8, &av))
            a = pm__appointment__unpack(NULL, av.mv_size, av.mv_data);
        /* an open offer holds its slot, an accepted one became a booking; the others'
         * holds are gone */
        int kept = open || o->status == PM__OFFER_STATUS__ACCEPTED;
        if (!a && kept)
            say(c, "offer %llu holds appointment %llu, which does not exist",
                (unsigned long long)o->id, (unsigned long long)o->appointment_id);
        else if (open && a->status != PM__APPOINTMENT_STATUS__HELD)
            say(c, "open offer %llu's appointment %llu is not held", (unsigned long long)o->id,
                (unsigned long long)a->id);
        if (a)
            pm__appointment__free_unpacked(a, NULL);
        pm__offer__free_unpacked(o, NULL);
    }
    mdb_cursor_close(cur);
}

static void check_series(chk *c)
{
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_cursor_open(c->txn, store_dbi(c->st, DB_SERIES), &cur))
        return;
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Pm__StoredSeries *s = pm__stored_series__unpack(NULL, v.mv_size, v.mv_data);
        if (!s) {
            say(c, "a series does not decode");
            continue;
        }
        for (size_t i = 0; i < s->n_appointments; i++) {
            uint8_t ak[8];
            pm_put_u64(ak, s->appointments[i]);
            MDB_val av;
            Pm__Appointment *a = NULL;
            if (exists(c, DB_APPTS, ak, 8, &av))
                a = pm__appointment__unpack(NULL, av.mv_size, av.mv_data);
            if (!a || a->series_id != s->id)
                say(c, "series %llu names appointment %llu, which %s", (unsigned long long)s->id,
                    (unsigned long long)s->appointments[i],
                    a ? "belongs to no such series" : "does not exist");
            if (a)
                pm__appointment__free_unpacked(a, NULL);
        }
        pm__stored_series__free_unpacked(s, NULL);
    }
    mdb_cursor_close(cur);
}

int sched_check(MDB_txn *txn, store *st, void (*problem)(void *ud, const char *msg), void *ud,
                uint64_t *appointments)
{
    chk c = {txn, st, problem, ud};
    *appointments = 0;
    check_appointments(&c, appointments);
    check_appointment_indexes(&c);
    check_exceptions(&c);
    check_waitlist(&c);
    check_offers(&c);
    check_series(&c);
    return PM_OK;
}
