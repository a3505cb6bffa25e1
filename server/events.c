#include "events.h"

#include "dispatch.h"
#include "pm_err.h"
#include "pm_frame.h"
#include "pm_log.h"
#include "pm_util.h"
#include "server.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define TOPICS_MAX    64
#define BUCKETS       256
#define REPLAY_CHUNK  (64 * 1024) /* a replay is fed while the output is under this */
#define ENV_EVENT_TAG ((PM__ENVELOPE__BODY_EVENT << 3) | 2)

#define STAFF_ROLES                                                                                \
    (ROLE_BIT(PM__ROLE__MANAGER) | ROLE_BIT(PM__ROLE__RECEPTIONIST) |                              \
     ROLE_BIT(PM__ROLE__CLINICIAN) | ROLE_BIT(PM__ROLE__BILLER))

/* Who may watch what: a name, or a prefix ending in '/'. Topics not listed are refused. */
static const struct {
    const char *name;
    unsigned roles;
} topic_perms[] = {
    {"patients", STAFF_ROLES},
    {"setup", STAFF_ROLES},
    {"schedule/provider/", STAFF_ROLES},
    {"schedule/location/", STAFF_ROLES},
    {"waitlist", ROLE_BIT(PM__ROLE__MANAGER) | ROLE_BIT(PM__ROLE__RECEPTIONIST)},
    {"flow/", STAFF_ROLES},
    {"board/", STAFF_ROLES | ROLE_BIT(PM__ROLE__DISPLAY)},
};

struct topic;

struct sub {
    struct sub *next_in_conn;
    struct sub *prev, *next; /* in the topic */
    struct topic *t;
    conn *c;
};

struct topic {
    struct topic *next;
    struct sub *subs;
    unsigned nsubs;
    char name[TOPIC_MAX + 1];
};

static struct topic *buckets[BUCKETS];

static unsigned topic_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUCKETS;
}

static struct topic *topic_get(const char *name, int create)
{
    unsigned h = topic_hash(name);
    for (struct topic *t = buckets[h]; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    if (!create)
        return NULL;
    struct topic *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->next = buckets[h];
    buckets[h] = t;
    return t;
}

static void topic_drop_if_empty(struct topic *t)
{
    if (t->nsubs)
        return;
    struct topic **pp = &buckets[topic_hash(t->name)];
    while (*pp != t)
        pp = &(*pp)->next;
    *pp = t->next;
    free(t);
}

int events_topic_allowed(const char *topic, int role, const char *location)
{
    /* a waiting-room screen sees its own board and nothing else */
    if (role == PM__ROLE__DISPLAY)
        return location && *location && strncmp(topic, "board/", 6) == 0 &&
               strcmp(topic + 6, location) == 0;
    for (size_t i = 0; i < PM_ARRAY_LEN(topic_perms); i++) {
        const char *name = topic_perms[i].name;
        size_t n = strlen(name);
        int match = name[n - 1] == '/' ? strncmp(topic, name, n) == 0 && topic[n]
                                       : strcmp(topic, name) == 0;
        if (match)
            return (topic_perms[i].roles & ROLE_BIT(role)) != 0;
    }
    return 0;
}

static void conn_unsubscribe_all(conn *c)
{
    struct sub *s = c->subs;
    while (s) {
        struct sub *next = s->next_in_conn;
        struct topic *t = s->t;
        if (s->prev)
            s->prev->next = s->next;
        else
            t->subs = s->next;
        if (s->next)
            s->next->prev = s->prev;
        t->nsubs--;
        topic_drop_if_empty(t);
        free(s);
        s = next;
    }
    c->subs = NULL;
}

void events_conn_closed(conn *c)
{
    conn_unsubscribe_all(c);
}

/* ---- writer side ---- */

size_t events_stored_topics(const uint8_t *p, size_t n, const char *topics[EVENT_TOPICS_MAX],
                            size_t lens[EVENT_TOPICS_MAX], size_t *ntopics)
{
    if (n < 1 || p[0] == 0 || p[0] > EVENT_TOPICS_MAX)
        return 0;
    size_t off = 1;
    *ntopics = p[0];
    for (size_t i = 0; i < *ntopics; i++) {
        if (off >= n || p[off] == 0 || off + 1 + p[off] > n)
            return 0;
        lens[i] = p[off];
        topics[i] = (const char *)p + off + 1;
        off += 1 + p[off];
    }
    return off;
}

/* A stored event as a frame: Envelope{event} is the tag, the length and the bytes. */
static sframe *frame_from_stored(uint64_t seq, const uint8_t *pb, size_t len)
{
    uint8_t head[16];
    size_t h = pm_pb_put_varint(head, ENV_EVENT_TAG);
    h += pm_pb_put_varint(head + h, len);
    sframe *f = sframe_new(PM_FRAME_HDR + h + len);
    if (!f)
        return NULL;
    pm_put_u32(f->data, (uint32_t)(h + len));
    memcpy(f->data + PM_FRAME_HDR, head, h);
    memcpy(f->data + PM_FRAME_HDR + h, pb, len);
    f->seq = seq;
    return f;
}

/* Stored: the number of topics, each as a length and its bytes, then the Event. */
int events_append(wctx *ctx, const char *const *topics, size_t ntopics, Pm__Event *ev, sframe **out)
{
    MDB_dbi dbi = store_dbi(ctx->st, DB_EVENTS);
    uint64_t last;
    int rc = store_last_u64(ctx->txn, dbi, &last);
    if (rc)
        return rc;
    if (ntopics == 0 || ntopics > EVENT_TOPICS_MAX)
        return PM_E_INTERNAL;
    size_t head = 1;
    for (size_t i = 0; i < ntopics; i++) {
        size_t tl = strlen(topics[i]);
        if (tl == 0 || tl > TOPIC_MAX)
            return PM_E_INTERNAL;
        head += 1 + tl;
    }
    ev->seq = last + 1;
    ev->time = ctx->now;
    ev->topics = (char **)topics;
    ev->n_topics = ntopics;
    size_t plen = pm__event__get_packed_size(ev);
    uint8_t key[8];
    pm_put_u64(key, ev->seq);
    void *val;
    rc = store_reserve(ctx->txn, dbi, key, 8, head + plen, MDB_APPEND, &val);
    if (rc)
        return rc;
    uint8_t *p = val;
    size_t off = 1;
    p[0] = (uint8_t)ntopics;
    for (size_t i = 0; i < ntopics; i++) {
        size_t tl = strlen(topics[i]);
        p[off] = (uint8_t)tl;
        memcpy(p + off + 1, topics[i], tl);
        off += 1 + tl;
    }
    pm__event__pack(ev, p + head);
    /* the frame from the bytes just stored: encoded once, and the same as a replay's */
    sframe *f = frame_from_stored(ev->seq, p + head, plen);
    if (!f)
        return PM_E_NOMEM;
    *out = f;
    return PM_OK;
}

struct expiry {
    uint64_t before, last;
};

static int expiring(const MDB_val *k, const MDB_val *v, void *arg, enum store_sweep *what)
{
    const struct expiry *x = arg;
    *what = SWEEP_STOP;
    /* The newest event stays, so its number is never handed out again. */
    if (k->mv_size != 8 || pm_get_u64(k->mv_data) >= x->last)
        return PM_OK;
    const char *tp[EVENT_TOPICS_MAX];
    size_t tl[EVENT_TOPICS_MAX], nt;
    size_t off = events_stored_topics(v->mv_data, v->mv_size, tp, tl, &nt);
    if (!off)
        return PM_OK;
    Pm__Event *ev = pm__event__unpack(NULL, v->mv_size - off, (uint8_t *)v->mv_data + off);
    uint64_t t = ev ? ev->time : 0;
    if (ev)
        pm__event__free_unpacked(ev, NULL);
    if (t < x->before)
        *what = SWEEP_DELETE;
    return PM_OK;
}

int events_expire(wctx *ctx, uint64_t before, unsigned max, unsigned *removed)
{
    MDB_dbi dbi = store_dbi(ctx->st, DB_EVENTS);
    struct expiry x = {before, 0};
    store_last_u64(ctx->txn, dbi, &x.last);
    return store_sweep(ctx->txn, dbi, max, UINT_MAX, NULL, expiring, &x, removed);
}

/* ---- loop side ---- */

void events_publish(sframe *f, const char *topic)
{
    struct topic *t = topic_get(topic, 0);
    if (!t)
        return;
    for (struct sub *s = t->subs, *next; s; s = next) {
        next = s->next;
        conn *c = s->c;
        if (c->replay_next) {
            /* replaying: this one is in the log and comes in its turn */
            if (f->seq > c->replay_until)
                c->replay_until = f->seq;
            continue;
        }
        if (c->closing || f->seq <= c->last_seq)
            continue;
        c->last_seq = f->seq;
        conn_send(c, f); /* may close c, which unlinks s (and only s) */
    }
}

/* Whether a stored event (v) goes to one of c's subscriptions. */
static int stored_matches(const conn *c, const MDB_val *v, size_t *off)
{
    const char *tp[EVENT_TOPICS_MAX];
    size_t tl[EVENT_TOPICS_MAX], nt;
    *off = events_stored_topics(v->mv_data, v->mv_size, tp, tl, &nt);
    if (!*off)
        return 0;
    for (const struct sub *s = c->subs; s; s = s->next_in_conn)
        for (size_t j = 0; j < nt; j++)
            if (strlen(s->t->name) == tl[j] && memcmp(s->t->name, tp[j], tl[j]) == 0)
                return 1;
    return 0;
}

/* The log from c->replay_next on, in one read transaction, while c's output is under a
 * chunk; once past replay_until, c is live. A replay of any size holds at most a chunk
 * (and one event) of memory, and a subscriber that reads slowly slows only its replay. */
void events_replay_pump(conn *c)
{
    size_t chunk = srv.cfg.out_limit / 4 < REPLAY_CHUNK ? srv.cfg.out_limit / 4 : REPLAY_CHUNK;
    if (c->closing || !c->replay_next || c->outq_bytes + c->tx_inflight >= chunk)
        return;
    MDB_txn *txn;
    if (store_read_begin(srv.st, &txn) != 0) {
        conn_abort(c, "cannot read the event log");
        return;
    }
    MDB_cursor *cur;
    int g = mdb_cursor_open(txn, store_dbi(srv.st, DB_EVENTS), &cur);
    if (g == 0) {
        uint8_t key[8];
        pm_put_u64(key, c->replay_next);
        MDB_val k = {8, key}, v;
        conn_ref(c);
        for (g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); g == 0;
             g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            uint64_t seq = k.mv_size == 8 ? pm_get_u64(k.mv_data) : 0;
            if (seq > c->replay_until)
                break;
            c->replay_next = seq + 1;
            size_t off;
            if (!stored_matches(c, &v, &off))
                continue;
            sframe *f = frame_from_stored(seq, (const uint8_t *)v.mv_data + off, v.mv_size - off);
            if (!f) {
                conn_abort(c, "out of memory");
                break;
            }
            conn_send(c, f); /* may close c */
            sframe_unref(f);
            if (c->closing || c->outq_bytes + c->tx_inflight >= chunk)
                break;
        }
        mdb_cursor_close(cur);
        if (!c->closing && (g == MDB_NOTFOUND || c->replay_next > c->replay_until)) {
            /* caught up: what was committed meanwhile was sent from the log */
            if (c->last_seq < c->replay_until)
                c->last_seq = c->replay_until;
            c->replay_next = c->replay_until = 0;
        }
        conn_unref(c);
    }
    store_read_end(srv.st);
}

void events_subscribe(req *r)
{
    const Pm__Subscribe *s = r->env->subscribe;
    conn *c = r->c;
    /* the new topics replace the old, refused or not; a replay under way stops */
    conn_unsubscribe_all(c);
    c->replay_next = c->replay_until = 0;
    if (s->n_topics == 0 || s->n_topics > TOPICS_MAX) {
        req_fail(r, PM_E_INVALID_ARGUMENT, "topics", "give 1 to %d topics", TOPICS_MAX);
        req_finish(r);
        return;
    }
    for (size_t i = 0; i < s->n_topics; i++) {
        size_t n = strlen(s->topics[i]);
        if (n == 0 || n > TOPIC_MAX) {
            req_fail(r, PM_E_INVALID_ARGUMENT, "topics", "topic name of 1 to %d characters",
                     TOPIC_MAX);
            req_finish(r);
            return;
        }
        if (!events_topic_allowed(s->topics[i], r->role, r->location)) {
            req_fail(r, PM_E_PERMISSION_DENIED, "topics", "may not subscribe to %s", s->topics[i]);
            req_finish(r);
            return;
        }
    }
    int rc = PM_OK;
    for (size_t i = 0; i < s->n_topics && rc == PM_OK; i++) {
        struct topic *t = topic_get(s->topics[i], 1);
        struct sub *sb = t ? calloc(1, sizeof *sb) : NULL;
        if (!sb) {
            topic_drop_if_empty(t);
            rc = PM_E_NOMEM;
            break;
        }
        sb->t = t;
        sb->c = c;
        sb->next = t->subs;
        if (t->subs)
            t->subs->prev = sb;
        t->subs = sb;
        t->nsubs++;
        sb->next_in_conn = c->subs;
        c->subs = sb;
    }

    MDB_txn *txn;
    if (rc == PM_OK)
        rc = store_read_begin(srv.st, &txn);
    uint64_t last = 0, first = 0;
    uint32_t nreplay = 0;
    int too_far = 0;
    if (rc == PM_OK) {
        MDB_dbi dbi = store_dbi(srv.st, DB_EVENTS);
        store_last_u64(txn, dbi, &last);
        MDB_cursor *cur = NULL;
        MDB_val k, v;
        if (mdb_cursor_open(txn, dbi, &cur) == 0 && mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 &&
            k.mv_size == 8)
            first = pm_get_u64(k.mv_data);
        if (s->since && (s->since > last || (first && s->since + 1 < first))) {
            rc = PM_E_RELOAD;
        } else if (s->since && last - s->since > srv.cfg.replay_max) {
            /* too far behind to replay on the loop: the client reloads, as after the
             * retention (the log's numbers have no gaps, so this costs no reading) */
            rc = PM_E_RELOAD;
            too_far = 1;
        } else if (s->since && s->since < last && cur) {
            /* counted here (at most replay_max entries read), sent by events_replay_pump
             * as the output drains */
            uint8_t key[8];
            pm_put_u64(key, s->since + 1);
            k.mv_size = 8;
            k.mv_data = key;
            size_t off;
            for (int g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); g == 0;
                 g = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
                if (k.mv_size == 8 && stored_matches(c, &v, &off))
                    nreplay++;
        }
        if (cur)
            mdb_cursor_close(cur);
        store_read_end(srv.st);
    }
    if (rc) {
        conn_unsubscribe_all(c);
        if (rc == PM_E_RELOAD && too_far)
            req_fail(r, rc, "since",
                     "%llu events since %llu, more than are replayed (%u); reload and "
                     "subscribe from %llu",
                     (unsigned long long)(last - s->since), (unsigned long long)s->since,
                     srv.cfg.replay_max, (unsigned long long)last);
        else if (rc == PM_E_RELOAD)
            req_fail(r, rc, "since",
                     "events after %llu are no longer kept; reload and "
                     "subscribe from %llu",
                     (unsigned long long)s->since, (unsigned long long)last);
        else
            req_fail(r, rc, NULL, NULL);
        req_finish(r);
        return;
    }
    Pm__Envelope *resp = req_respond(r, PM__ENVELOPE__BODY_SUBSCRIBED);
    Pm__Subscribed *sd = pm_msg_new(&r->arena, &pm__subscribed__descriptor);
    if (resp && sd) {
        sd->last_seq = last;
        sd->replayed = nreplay;
        resp->subscribed = sd;
    }
    /* The answer first, then the backlog, then live events newer than last. */
    if (nreplay) {
        c->replay_next = s->since + 1;
        c->replay_until = last;
    } else if (c->last_seq < last) {
        c->last_seq = last;
    }
    conn_ref(c);
    req_finish(r);
    events_replay_pump(c);
    conn_unref(c);
}

void events_unsubscribe(req *r)
{
    conn_unsubscribe_all(r->c);
    Pm__Envelope *resp = req_respond(r, PM__ENVELOPE__BODY_OK);
    Pm__Ok *ok = pm_msg_new(&r->arena, &pm__ok__descriptor);
    if (resp && ok)
        resp->ok = ok;
    req_finish(r);
}
