#include "audit.h"

#include "dispatch.h"
#include "pm_frame.h"
#include "pm_err.h"
#include "pm_log.h"
#include "pm_util.h"
#include "server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUERY_DEFAULT 100
#define QUERY_MAX     1000

static const uint8_t zero_hash[32];

/* The hash an entry should carry: SHA-256 of its encoding with hash empty. */
static void entry_hash(Pm__AuditEntry *e, uint8_t out[32])
{
    ProtobufCBinaryData saved = e->hash;
    e->hash.len = 0;
    e->hash.data = NULL;
    size_t len = pm__audit_entry__get_packed_size(e);
    uint8_t stackbuf[1024];
    uint8_t *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf) {
        memset(out, 0, 32);
        e->hash = saved;
        return;
    }
    pm__audit_entry__pack(e, buf);
    pm_sha256(buf, len, out);
    if (buf != stackbuf)
        free(buf);
    e->hash = saved;
}

#define NAME_MAX_LEN 400 /* of a record or username in an index key */

/* An index key's start: the name, 0, and in DB_RECORDS the kind of an audit entry. */
static size_t index_prefix(uint8_t *k, enum store_db db, const char *name)
{
    return store_name_prefix(k, name, NAME_MAX_LEN, db == DB_RECORDS ? REC_AUDIT : 0);
}

/* Index key: the prefix, then a number (a seq, or a block of seqs). A block is written only
 * if absent, so one already marked costs a lookup and no page; a seq is new. */
static int index_put(MDB_txn *txn, store *st, enum store_db db, const char *name, uint64_t num)
{
    if (!*name)
        return PM_OK;
    uint8_t key[NAME_MAX_LEN + 10];
    size_t n = index_prefix(key, db, name);
    pm_put_u64(key + n, num);
    MDB_dbi dbi = store_dbi(st, db);
    MDB_val k = {n + 8, key}, v;
    if (db == DB_AUDIT_USER && mdb_get(txn, dbi, &k, &v) == 0)
        return PM_OK;
    return store_put(txn, dbi, key, n + 8, "", 0);
}

int audit_append(MDB_txn *txn, store *st, const audit_info *ai)
{
    MDB_dbi dbi = store_dbi(st, DB_AUDIT);
    uint64_t last = 0;
    int rc = store_last_u64(txn, dbi, &last);
    if (rc)
        return rc;
    uint8_t prev[32];
    memcpy(prev, zero_hash, 32);
    if (last) {
        uint8_t k[8];
        pm_put_u64(k, last);
        MDB_val key = {8, k}, val;
        rc = mdb_get(txn, dbi, &key, &val);
        if (rc)
            return pm_err_from_mdb(rc);
        const uint8_t *h;
        size_t hl;
        if (pm_pb_field(val.mv_data, val.mv_size, 12 /* hash */, &h, &hl) != 1 || hl != 32) {
            pm_error("audit: entry %llu has no hash", (unsigned long long)last);
            return PM_E_INTERNAL;
        }
        memcpy(prev, h, 32);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    Pm__AuditEntry e = PM__AUDIT_ENTRY__INIT;
    e.seq = last + 1;
    e.time = (uint64_t)ts.tv_sec;
    e.time_ns = (uint64_t)ts.tv_nsec;
    e.username = (char *)(ai->username ? ai->username : "");
    e.device = (char *)(ai->device ? ai->device : "");
    e.action = (char *)(ai->action ? ai->action : "");
    e.record = (char *)(ai->record ? ai->record : "");
    e.detail = (char *)(ai->detail ? ai->detail : "");
    e.outcome = ai->outcome;
    e.error = pm_err_is_wire(ai->error) ? (Pm__ErrorCode)-ai->error : PM__ERROR_CODE__INTERNAL;
    if (ai->error == 0)
        e.error = PM__ERROR_CODE__OK;
    e.prev_hash.data = prev;
    e.prev_hash.len = 32;
    uint8_t h[32];
    entry_hash(&e, h);
    e.hash.data = h;
    e.hash.len = 32;
    uint8_t k[8];
    pm_put_u64(k, e.seq);
    rc = store_append_pb(txn, dbi, k, 8, &e.base);
    if (rc == PM_OK)
        rc = index_put(txn, st, DB_RECORDS, e.record, e.seq);
    if (rc == PM_OK)
        rc = index_put(txn, st, DB_AUDIT_USER, e.username, e.seq / AUDIT_USER_BLOCK);
    for (size_t i = 0; rc == PM_OK && i < ai->nalso; i++)
        if (strcmp(ai->also[i], e.record) != 0)
            rc = index_put(txn, st, DB_RECORDS, ai->also[i], e.seq);
    return rc;
}

int audit_verify_chain(MDB_txn *txn, store *st, uint64_t *count, uint64_t *bad)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store_dbi(st, DB_AUDIT), &cur);
    if (rc)
        return pm_err_from_mdb(rc);
    uint8_t prev[32];
    memcpy(prev, zero_hash, 32);
    uint64_t expect = 1;
    *count = 0;
    *bad = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t seq = k.mv_size == 8 ? pm_get_u64(k.mv_data) : 0;
        Pm__AuditEntry *e = pm__audit_entry__unpack(NULL, v.mv_size, v.mv_data);
        int ok = e && seq == expect && e->seq == seq && e->hash.len == 32 &&
                 e->prev_hash.len == 32 && memcmp(e->prev_hash.data, prev, 32) == 0;
        if (ok) {
            uint8_t h[32];
            entry_hash(e, h);
            ok = memcmp(h, e->hash.data, 32) == 0;
            memcpy(prev, e->hash.data, 32);
        }
        if (e)
            pm__audit_entry__free_unpacked(e, NULL);
        (*count)++;
        if (!ok) {
            *bad = seq ? seq : expect;
            break;
        }
        expect = seq + 1;
    }
    mdb_cursor_close(cur);
    return PM_OK;
}

/* ---- query ---- */

static Pm__AuditEntry *load_entry(req *r, MDB_txn *txn, uint64_t seq)
{
    uint8_t k[8];
    pm_put_u64(k, seq);
    void *out = NULL;
    if (store_get_pb(txn, store_dbi(srv.st, DB_AUDIT), k, 8, &pm__audit_entry__descriptor,
                     &r->arena, &out) != PM_OK)
        return NULL;
    return out;
}

/* The first seq whose entry is at or after t (entries are appended in time order). */
static uint64_t seq_at_time(req *r, MDB_txn *txn, uint64_t t, uint64_t last)
{
    uint64_t lo = 1, hi = last + 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        Pm__AuditEntry *e = load_entry(r, txn, mid);
        if (e && e->time < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Entries found through the record index may name the patient only in that index (a
 * search that disclosed it), so the record itself is not compared again. */
static int entry_ok(const Pm__AuditEntry *e, const Pm__QueryAudit *q)
{
    if (q->until && e->time >= q->until)
        return 0;
    if (q->since && e->time < q->since)
        return 0;
    if (*q->username && strcmp(e->username, q->username) != 0)
        return 0;
    return 1;
}

/* Walks candidate seqs: over the audit log itself, or over an index whose entries are
 * seqs (unit 1) or blocks of AUDIT_USER_BLOCK seqs, each expanded in turn. */
typedef struct seq_iter {
    MDB_cursor *cur;
    size_t plen; /* of prefix, the index keys' start; 0: the log itself */
    uint8_t prefix[NAME_MAX_LEN + 2];
    uint64_t unit;
    int desc;
    int started;
    uint64_t from;      /* ascending walks start here */
    uint64_t before;    /* descending walks stop short of this (0: the end) */
    uint64_t last;      /* the newest seq */
    uint64_t next, end; /* the block being expanded: next to yield, and its far end */
    int in_block;
} seq_iter;

static int index_next(seq_iter *it, uint64_t *num)
{
    MDB_val k, v;
    int rc;
    if (!it->started) {
        it->started = 1;
        uint8_t key[NAME_MAX_LEN + 10];
        size_t klen;
        uint64_t start = it->desc ? (it->before ? (it->before - 1) / it->unit + 1 : UINT64_MAX)
                                  : it->from / it->unit;
        if (it->plen) {
            memcpy(key, it->prefix, it->plen);
            pm_put_u64(key + it->plen, start);
            klen = it->plen + 8;
        } else {
            pm_put_u64(key, start);
            klen = 8;
        }
        k.mv_size = klen;
        k.mv_data = key;
        rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
        if (it->desc)
            rc = mdb_cursor_get(it->cur, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
    } else {
        rc = mdb_cursor_get(it->cur, &k, &v, it->desc ? MDB_PREV : MDB_NEXT);
    }
    if (rc)
        return 0;
    if (it->plen) {
        if (k.mv_size != it->plen + 8 || memcmp(k.mv_data, it->prefix, it->plen) != 0)
            return 0;
        *num = pm_get_u64((uint8_t *)k.mv_data + it->plen);
    } else {
        if (k.mv_size != 8)
            return 0;
        *num = pm_get_u64(k.mv_data);
    }
    return 1;
}

static int iter_next(seq_iter *it, uint64_t *seq)
{
    for (;;) {
        if (it->in_block) {
            uint64_t s = it->next;
            if (it->desc ? s < it->end || s == UINT64_MAX : s > it->end) {
                it->in_block = 0;
                continue;
            }
            it->next = it->desc ? s - 1 : s + 1;
            if (!it->desc && s < it->from)
                continue;
            if (it->desc && it->before && s >= it->before)
                continue;
            *seq = s;
            return 1;
        }
        uint64_t num;
        if (!index_next(it, &num))
            return 0;
        if (it->unit == 1) {
            if (it->desc && it->before && num >= it->before)
                continue;
            *seq = num;
            return 1;
        }
        uint64_t lo = num * it->unit, hi = lo + it->unit - 1;
        if (hi > it->last)
            hi = it->last;
        if (lo > hi)
            continue;
        it->in_block = 1;
        it->next = it->desc ? hi : lo;
        it->end = it->desc ? lo : hi;
    }
}

int audit_query(req *r, MDB_txn *txn)
{
    const Pm__QueryAudit *q = r->env->query_audit;
    store *st = srv.st;
    uint32_t limit = q->limit ? q->limit : QUERY_DEFAULT;
    if (limit > QUERY_MAX)
        limit = QUERY_MAX;
    if (*q->mrn && *q->username)
        r->audit_detail = pm_arena_printf(&r->arena, "mrn=%s user=%s", q->mrn, q->username);
    else if (*q->mrn)
        r->audit_detail = pm_arena_printf(&r->arena, "mrn=%s", q->mrn);
    else if (*q->username)
        r->audit_detail = pm_arena_printf(&r->arena, "user=%s", q->username);

    uint64_t last = 0;
    int rc = store_last_u64(txn, store_dbi(st, DB_AUDIT), &last);
    if (rc)
        return rc;
    seq_iter it = {.unit = 1, .last = last};
    enum store_db db = *q->mrn ? DB_RECORDS : *q->username ? DB_AUDIT_USER : DB_AUDIT;
    if (db != DB_AUDIT) {
        const char *name = *q->mrn ? q->mrn : q->username;
        if (strlen(name) > NAME_MAX_LEN)
            return req_fail(r, PM_E_INVALID_ARGUMENT, *q->mrn ? "mrn" : "username", "too long");
        it.plen = index_prefix(it.prefix, db, name);
        if (db == DB_AUDIT_USER)
            it.unit = AUDIT_USER_BLOCK;
    }
    it.desc = q->newest;
    it.from = q->after_seq + 1;
    it.before = q->before_seq;
    if (q->since && !it.desc) {
        uint64_t s = seq_at_time(r, txn, q->since, last);
        if (s > it.from)
            it.from = s;
    }
    rc = mdb_cursor_open(txn, store_dbi(st, db), &it.cur);
    if (rc)
        return pm_err_from_mdb(rc);

    Pm__AuditEntry **out = pm_arena_alloc(&r->arena, sizeof *out * (limit + 1));
    if (!out) {
        mdb_cursor_close(it.cur);
        return PM_E_NOMEM;
    }
    size_t n = 0;
    uint64_t seq;
    int more = 0;
    while (iter_next(&it, &seq)) {
        Pm__AuditEntry *e = load_entry(r, txn, seq);
        if (!e)
            continue;
        if (!it.desc && q->until && e->time >= q->until)
            break;
        if (!entry_ok(e, q))
            continue;
        if (n == limit) {
            more = 1;
            break;
        }
        out[n++] = e;
    }
    mdb_cursor_close(it.cur);
    if (it.desc) /* newest first was how we found them; answer oldest first */
        for (size_t i = 0; i < n / 2; i++) {
            Pm__AuditEntry *t = out[i];
            out[i] = out[n - 1 - i];
            out[n - 1 - i] = t;
        }

    int chain_ok = 1;
    for (size_t i = 0; i < n; i++) {
        Pm__AuditEntry *e = out[i];
        uint8_t h[32];
        entry_hash(e, h);
        if (e->hash.len != 32 || memcmp(h, e->hash.data, 32) != 0 || e->prev_hash.len != 32) {
            chain_ok = 0;
            continue;
        }
        const uint8_t *prev = zero_hash;
        if (e->seq > 1) {
            Pm__AuditEntry *p = (i > 0 && out[i - 1]->seq == e->seq - 1)
                                    ? out[i - 1]
                                    : load_entry(r, txn, e->seq - 1);
            prev = p && p->hash.len == 32 ? p->hash.data : NULL;
        }
        if (!prev || memcmp(prev, e->prev_hash.data, 32) != 0)
            chain_ok = 0;
    }

    Pm__Envelope *resp = req_respond(r, PM__ENVELOPE__BODY_AUDIT_LIST);
    Pm__AuditList *al = pm_msg_new(&r->arena, &pm__audit_list__descriptor);
    if (!resp || !al)
        return PM_E_NOMEM;
    resp->audit_list = al;
    al->entries = out;
    al->n_entries = n;
    al->chain_ok = chain_ok;
    if (it.desc)
        al->next_before_seq = (more && n) ? out[0]->seq : 0;
    else
        al->next_after_seq = (more && n) ? out[n - 1]->seq : 0;
    return PM_OK;
}
