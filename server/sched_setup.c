/* Scheduling set-up: the records a manager keeps (locations, rooms, providers, visit
 * types, templates, holidays, exceptions) and the availability they add up to.
 *
 * DB_SETUP keys: "L:" id, "R:" id, "P:" id, "V:" id, "T:" provider 0 n(u64),
 * "H:" date 0 location, "X:" id(u64). Exceptions are also indexed by provider and end in
 * DB_EXC_IDX, so the ones overlapping a day are a short forward scan; the entry's value
 * is the start (u64; empty in entries written before it was), so that the scan reads
 * only the records of those that overlap. */
#include "scheduling.h"

#include "dispatch.h"
#include "pm_err.h"
#include "pm_log.h"
#include "pm_time.h"
#include "pm_util.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sched_config sched_cfg = {.late_cancel_s = 24 * 3600, .offer_ttl_s = 15 * 60};

static unsigned clock_speed = 1;
static int clock_set;
static time_t clock_start;
static struct timespec clock_real0;

void sched_clock_set(unsigned speed, time_t start)
{
    clock_speed = speed ? speed : 1;
    clock_gettime(CLOCK_REALTIME, &clock_real0);
    clock_start = start ? start : clock_real0.tv_sec;
    clock_set = 1;
}

unsigned sched_clock_speed_of(void)
{
    return clock_speed;
}

time_t sched_now(void)
{
    static const char *path;
    static int looked;
    if (clock_set) {
        /* to the millisecond, so that at 60x two steps a second apart are a minute apart */
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        int64_t ms = (int64_t)(t.tv_sec - clock_real0.tv_sec) * 1000 +
                     (t.tv_nsec - clock_real0.tv_nsec) / 1000000;
        return clock_start + (time_t)(ms * (int64_t)clock_speed / 1000);
    }
    if (!looked) {
        path = getenv("PRACTICED_TEST_CLOCK");
        looked = 1;
    }
    if (path) {
        FILE *f = fopen(path, "r");
        long long t = 0;
        if (f) {
            int ok = fscanf(f, "%lld", &t) == 1;
            fclose(f);
            if (ok && t > 0)
                return (time_t)t;
        }
    }
    return time(NULL);
}

int sched_code_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SCHED_CODE_MAX || !(s[0] >= 'a' && s[0] <= 'z'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

/* ---- keys and records ---- */

static size_t setup_key(uint8_t *k, char kind, const char *id)
{
    size_t n = strlen(id);
    if (n > 200)
        n = 200;
    k[0] = (uint8_t)kind;
    k[1] = ':';
    memcpy(k + 2, id, n);
    return n + 2;
}

static int setup_get(MDB_txn *txn, char kind, const char *id,
                     const ProtobufCMessageDescriptor *desc, pm_arena *a, void **out)
{
    uint8_t k[256];
    size_t kl = setup_key(k, kind, id);
    return store_get_pb(txn, store_dbi(srv.st, DB_SETUP), k, kl, desc, a, out);
}

static int setup_put(MDB_txn *txn, char kind, const char *id, const ProtobufCMessage *m)
{
    uint8_t k[256];
    size_t kl = setup_key(k, kind, id);
    return store_put_pb(txn, store_dbi(srv.st, DB_SETUP), k, kl, m);
}

int setup_location(MDB_txn *txn, const char *id, pm_arena *a, Pm__Location **out)
{
    return setup_get(txn, 'L', id, &pm__location__descriptor, a, (void **)out);
}

int setup_room(MDB_txn *txn, const char *id, pm_arena *a, Pm__Room **out)
{
    return setup_get(txn, 'R', id, &pm__room__descriptor, a, (void **)out);
}

int setup_provider(MDB_txn *txn, const char *id, pm_arena *a, Pm__Provider **out)
{
    return setup_get(txn, 'P', id, &pm__provider__descriptor, a, (void **)out);
}

int setup_visit_type(MDB_txn *txn, const char *id, pm_arena *a, Pm__VisitType **out)
{
    return setup_get(txn, 'V', id, &pm__visit_type__descriptor, a, (void **)out);
}

/* Every record under a key prefix, decoded as desc, in key order. */
static int scan_prefix(MDB_txn *txn, const uint8_t *prefix, size_t plen,
                       const ProtobufCMessageDescriptor *desc, pm_arena *a, void ***out, size_t *n)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store_dbi(srv.st, DB_SETUP), &cur);
    if (rc)
        return pm_err_from_mdb(rc);
    size_t cap = 0;
    void **v = NULL;
    *n = 0;
    MDB_val k = {plen, (void *)prefix}, val;
    for (int g = mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE); g == 0 && rc == PM_OK;
         g = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        void *m = protobuf_c_message_unpack(desc, pm_arena_pbc(a), val.mv_size, val.mv_data);
        if (m && pm_arena_push(a, &v, n, &cap, m))
            rc = PM_E_NOMEM;
    }
    mdb_cursor_close(cur);
    *out = v;
    return rc;
}

int setup_list(MDB_txn *txn, char kind, pm_arena *a, void ***out, size_t *n)
{
    const ProtobufCMessageDescriptor *desc = kind == 'L'   ? &pm__location__descriptor
                                             : kind == 'R' ? &pm__room__descriptor
                                             : kind == 'P' ? &pm__provider__descriptor
                                                           : &pm__visit_type__descriptor;
    uint8_t prefix[2] = {(uint8_t)kind, ':'};
    return scan_prefix(txn, prefix, 2, desc, a, out, n);
}

static size_t holiday_key(uint8_t *k, const char *date, const char *location)
{
    size_t ll = strlen(location);
    if (ll > SCHED_CODE_MAX)
        ll = SCHED_CODE_MAX;
    k[0] = 'H';
    k[1] = ':';
    memcpy(k + 2, date, 10);
    k[12] = 0;
    memcpy(k + 13, location, ll);
    return 13 + ll;
}

const char *setup_holiday(MDB_txn *txn, const char *date, const char *location, pm_arena *a)
{
    const char *places[2] = {"", location};
    for (int i = 0; i < (*location ? 2 : 1); i++) {
        uint8_t k[64];
        size_t kl = holiday_key(k, date, places[i]);
        void *m;
        if (store_get_pb(txn, store_dbi(srv.st, DB_SETUP), k, kl, &pm__holiday__descriptor, a,
                         &m) == PM_OK)
            return ((Pm__Holiday *)m)->name;
    }
    return NULL;
}

int vt_offered_by(const Pm__VisitType *vt, const char *provider)
{
    if (vt->n_providers == 0)
        return 1;
    for (size_t i = 0; i < vt->n_providers; i++)
        if (strcmp(vt->providers[i], provider) == 0)
            return 1;
    return 0;
}

/* ---- availability ---- */

static size_t template_prefix(uint8_t *k, const char *provider)
{
    size_t pl = strlen(provider);
    if (pl > SCHED_CODE_MAX)
        pl = SCHED_CODE_MAX;
    k[0] = 'T';
    k[1] = ':';
    memcpy(k + 2, provider, pl);
    k[2 + pl] = 0;
    return 3 + pl;
}

int avail_templates(MDB_txn *txn, const char *provider, pm_arena *a, Pm__Template ***out, size_t *n)
{
    uint8_t prefix[64];
    size_t pl = template_prefix(prefix, provider);
    return scan_prefix(txn, prefix, pl, &pm__template__descriptor, a, (void ***)out, n);
}

const Pm__Template *avail_template_on(Pm__Template **tpls, size_t n, const char *date)
{
    const Pm__Template *best = NULL;
    for (size_t i = 0; i < n; i++) {
        const Pm__Template *t = tpls[i];
        if (strcmp(t->valid_from, date) > 0 || (*t->valid_to && strcmp(t->valid_to, date) < 0))
            continue;
        if (!best || strcmp(t->valid_from, best->valid_from) > 0)
            best = t;
    }
    return best;
}

int avail_day(MDB_txn *txn, Pm__Template **tpls, size_t ntpl, const char *date, pm_arena *a,
              provider_day *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->date, sizeof out->date, "%s", date);
    out->holiday = setup_holiday(txn, date, "", a);
    const Pm__Template *t = avail_template_on(tpls, ntpl, date);
    if (!t || out->holiday)
        return PM_OK;
    int wd = pm_weekday(date);
    out->blocks = pm_arena_alloc(a, sizeof *out->blocks * (t->n_blocks ? t->n_blocks : 1));
    if (!out->blocks)
        return PM_E_NOMEM;
    for (size_t i = 0; i < t->n_blocks; i++) {
        const Pm__TemplateBlock *b = t->blocks[i];
        if ((int)b->weekday != wd)
            continue;
        if (*b->location && setup_holiday(txn, date, b->location, a))
            continue;
        avail_block *ab = &out->blocks[out->nblocks];
        if (pm_local_instant(date, b->start_min, &ab->start) != 0 ||
            pm_local_instant(date, b->end_min, &ab->end) != 0 || ab->end <= ab->start)
            continue;
        ab->tb = b;
        ab->capacity = b->capacity ? b->capacity : 1;
        out->nblocks++;
    }
    return PM_OK;
}

size_t sched_exc_key(uint8_t *k, const char *provider, uint64_t end, uint64_t id)
{
    size_t pl = strlen(provider);
    if (pl > SCHED_CODE_MAX)
        pl = SCHED_CODE_MAX;
    memcpy(k, provider, pl);
    k[pl] = 0;
    pm_put_u64(k + pl + 1, end);
    pm_put_u64(k + pl + 9, id);
    return pl + 17;
}

static int exception_get(MDB_txn *txn, uint64_t id, pm_arena *a, Pm__Exception **out)
{
    uint8_t k[10] = {'X', ':'};
    pm_put_u64(k + 2, id);
    void *m;
    int rc = store_get_pb(txn, store_dbi(srv.st, DB_SETUP), k, sizeof k, &pm__exception__descriptor,
                          a, &m);
    if (rc == PM_OK)
        *out = m;
    return rc;
}

int avail_exceptions(MDB_txn *txn, const char *provider, time_t t0, time_t t1, pm_arena *a,
                     Pm__Exception ***out, size_t *n)
{
    uint8_t start[64];
    size_t kl = sched_exc_key(start, provider, (uint64_t)t0 + 1, 0);
    size_t plen = kl - 16;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store_dbi(srv.st, DB_EXC_IDX), &cur);
    if (rc)
        return pm_err_from_mdb(rc);
    size_t cap = 0;
    void **v = NULL;
    *n = 0;
    MDB_val k = {kl, start}, val;
    for (int g = mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE); g == 0 && rc == PM_OK;
         g = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
        if (k.mv_size != plen + 16 || memcmp(k.mv_data, start, plen) != 0)
            break;
        /* sorted by end, and none is longer than 366 days (sched_add_exception): one that
         * ends this late starts after t1 */
        if (pm_get_u64((uint8_t *)k.mv_data + plen) > (uint64_t)t1 + 366 * 86400)
            break;
        if (val.mv_size == 8 && pm_get_u64(val.mv_data) >= (uint64_t)t1)
            continue; /* starts after: no need to read it */
        Pm__Exception *e;
        if (exception_get(txn, pm_get_u64((uint8_t *)k.mv_data + plen + 8), a, &e) != PM_OK ||
            e->start >= t1)
            continue;
        if (pm_arena_push(a, &v, n, &cap, e))
            rc = PM_E_NOMEM;
    }
    mdb_cursor_close(cur);
    *out = (Pm__Exception **)v;
    return rc;
}

/* ---- validation ---- */

static int check_code(struct req *r, const char *field, const char *s)
{
    if (!sched_code_valid(s)) {
        req_field_error(r, field, "1 to 32 of a-z, 0-9 or '-', starting with a letter");
        return 0;
    }
    return 1;
}

static int check_text(struct req *r, const char *field, const char *s, size_t max, int required)
{
    size_t n = strlen(s);
    if (required && n == 0)
        return req_field_error(r, field, "required"), 0;
    if (!pm_utf8_valid(s, n, 0) || pm_utf8_len(s) > max) {
        char msg[64];
        snprintf(msg, sizeof msg, "at most %zu characters of text", max);
        return req_field_error(r, field, msg), 0;
    }
    return 1;
}

static int check_minutes(struct req *r, const char *field, uint32_t start, uint32_t end)
{
    if (start >= end || end > 24 * 60) {
        req_field_error(r, field, "a start before its end, within the day (00:00-24:00)");
        return 0;
    }
    return 1;
}

static int check_weekday(struct req *r, const char *field, uint32_t wd)
{
    if (wd < 1 || wd > 7) {
        req_field_error(r, field, "1 (Monday) to 7 (Sunday)");
        return 0;
    }
    return 1;
}

static int check_date(struct req *r, const char *field, const char *s, int required)
{
    int y, m, d;
    if (!*s && !required)
        return 1;
    if (pm_parse_date(s, &y, &m, &d) != 0) {
        req_field_error(r, field, "a date (YYYY-MM-DD)");
        return 0;
    }
    return 1;
}

/* The location must exist (when given). */
static int check_location_ref(struct req *r, MDB_txn *txn, const char *field, const char *id)
{
    Pm__Location *l;
    if (!*id)
        return 1;
    if (setup_location(txn, id, &r->arena, &l) != PM_OK) {
        req_field_error(r, field, "no such location");
        return 0;
    }
    return 1;
}

/* Create (version 0) or replace the version read; CONFLICT or ALREADY_EXISTS otherwise. */
static int versioned_put(struct req *r, MDB_txn *txn, char kind, const char *id,
                         const ProtobufCMessageDescriptor *desc, ProtobufCMessage *m,
                         uint32_t *version, const char *what)
{
    void *old;
    int rc = setup_get(txn, kind, id, desc, &r->arena, &old);
    if (rc && rc != PM_E_NOT_FOUND)
        return rc;
    if (*version == 0 && rc == PM_OK)
        return req_fail(r, PM_E_ALREADY_EXISTS, "id", "%s %s exists already", what, id);
    if (*version != 0) {
        if (rc == PM_E_NOT_FOUND)
            return req_fail(r, PM_E_NOT_FOUND, "id", "no %s %s", what, id);
        /* every set-up record keeps its version in a field named version */
        const ProtobufCFieldDescriptor *vf =
            protobuf_c_message_descriptor_get_field_by_name(desc, "version");
        uint32_t stored = *(const uint32_t *)(const void *)((const char *)old + vf->offset);
        if (stored != *version)
            return req_fail(r, PM_E_CONFLICT, "version",
                            "%s %s was changed since you read it; reload and edit again", what, id);
    }
    (*version)++;
    return setup_put(txn, kind, id, m);
}

static Pm__Setup *setup_answer(struct req *r)
{
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_SETUP);
    Pm__Setup *s = pm_msg_new(&r->arena, &pm__setup__descriptor);
    if (!e || !s)
        return NULL;
    e->setup = s;
    return s;
}

/* One record in a list field of Setup. */
static int one(struct req *r, void ***list, size_t *n, void *m)
{
    *list = pm_arena_alloc(&r->arena, sizeof(void *));
    if (!*list)
        return PM_E_NOMEM;
    (*list)[0] = m;
    *n = 1;
    return PM_OK;
}

/* Set-up changes are events: templates and exceptions on their provider's topic, the rest
 * on "setup". */
static int setup_event(struct req *r, wctx *ctx, const char *what, const char *provider,
                       Pm__Setup *s)
{
    Pm__Event *ev = pm_msg_new(&r->arena, &pm__event__descriptor);
    Pm__SetupChanged *sc = pm_msg_new(&r->arena, &pm__setup_changed__descriptor);
    if (!ev || !sc)
        return PM_E_NOMEM;
    sc->what = (char *)what;
    sc->setup = s;
    ev->body_case = PM__EVENT__BODY_SETUP_CHANGED;
    ev->setup_changed = sc;
    char topic[64];
    if (provider)
        snprintf(topic, sizeof topic, "schedule/provider/%s", provider);
    else
        snprintf(topic, sizeof topic, "setup");
    const char *topics[1] = {topic};
    return req_event(r, ctx, topics, 1, ev);
}

/* ---- locations, rooms, providers, visit types ---- */

int sched_put_location(struct req *r, wctx *ctx)
{
    Pm__Location *l = r->env->put_location->location;
    if (!l)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "location", "required");
    r->audit_record = l->id;
    check_code(r, "id", l->id);
    check_text(r, "name", l->name, 100, 1);
    check_text(r, "phone", l->phone, 40, 0);
    /* printed whole on every ticket and on the waiting-room screen */
    check_text(r, "ticket_prefix", l->ticket_prefix, 8, 0);
    for (size_t i = 0; i < l->n_hours; i++) {
        check_weekday(r, "hours.weekday", l->hours[i]->weekday);
        check_minutes(r, "hours", l->hours[i]->start_min, l->hours[i]->end_min);
    }
    if (r->nfields)
        return PM_E_INVALID_ARGUMENT;
    int rc = versioned_put(r, ctx->txn, 'L', l->id, &pm__location__descriptor, &l->base,
                           &l->version, "location");
    if (rc)
        return rc;
    Pm__Setup *s = setup_answer(r);
    if (!s || one(r, (void ***)&s->locations, &s->n_locations, l))
        return PM_E_NOMEM;
    return setup_event(r, ctx, "location", NULL, s);
}

int sched_put_room(struct req *r, wctx *ctx)
{
    Pm__Room *m = r->env->put_room->room;
    if (!m)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "room", "required");
    r->audit_record = m->id;
    check_code(r, "id", m->id);
    check_text(r, "name", m->name, 100, 1);
    if (!*m->location)
        req_field_error(r, "location", "required");
    else
        check_location_ref(r, ctx->txn, "location", m->location);
    if (r->nfields)
        return PM_E_INVALID_ARGUMENT;
    int rc = versioned_put(r, ctx->txn, 'R', m->id, &pm__room__descriptor, &m->base, &m->version,
                           "room");
    if (rc)
        return rc;
    Pm__Setup *s = setup_answer(r);
    if (!s || one(r, (void ***)&s->rooms, &s->n_rooms, m))
        return PM_E_NOMEM;
    return setup_event(r, ctx, "room", NULL, s);
}

static int color_ok(const char *c)
{
    if (!*c)
        return 1;
    if (strlen(c) != 7 || c[0] != '#')
        return 0;
    for (int i = 1; i < 7; i++)
        if (!strchr("0123456789abcdefABCDEF", c[i]))
            return 0;
    return 1;
}

int sched_put_provider(struct req *r, wctx *ctx)
{
    Pm__Provider *p = r->env->put_provider->provider;
    if (!p)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "provider", "required");
    r->audit_record = p->id;
    check_code(r, "id", p->id);
    check_text(r, "name", p->name, 100, 1);
    check_text(r, "credentials", p->credentials, 40, 0);
    if (!color_ok(p->color))
        req_field_error(r, "color", "a colour such as #3b82f6");
    check_location_ref(r, ctx->txn, "default_location", p->default_location);
    if (*p->username) {
        MDB_val k = {strlen(p->username), p->username}, v;
        if (mdb_get(ctx->txn, store_dbi(ctx->st, DB_ACCT_NAME), &k, &v) != 0)
            req_field_error(r, "username", "no such account");
    }
    if (r->nfields)
        return PM_E_INVALID_ARGUMENT;
    int rc = versioned_put(r, ctx->txn, 'P', p->id, &pm__provider__descriptor, &p->base,
                           &p->version, "provider");
    if (rc)
        return rc;
    Pm__Setup *s = setup_answer(r);
    if (!s || one(r, (void ***)&s->providers, &s->n_providers, p))
        return PM_E_NOMEM;
    return setup_event(r, ctx, "provider", NULL, s);
}

int sched_put_visit_type(struct req *r, wctx *ctx)
{
    Pm__VisitType *v = r->env->put_visit_type->visit_type;
    if (!v)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "visit_type", "required");
    r->audit_record = v->id;
    check_code(r, "id", v->id);
    check_text(r, "name", v->name, 100, 1);
    if (v->duration_min < 5 || v->duration_min > SCHED_MAX_APPT_MIN)
        req_field_error(r, "duration_min", "5 to 720 minutes");
    if (!color_ok(v->color))
        req_field_error(r, "color", "a colour such as #3b82f6");
    for (size_t i = 0; i < v->n_providers; i++) {
        Pm__Provider *p;
        if (setup_provider(ctx->txn, v->providers[i], &r->arena, &p) != PM_OK) {
            req_field_error(r, "providers", "no such provider");
            break;
        }
    }
    if (r->nfields)
        return PM_E_INVALID_ARGUMENT;
    int rc = versioned_put(r, ctx->txn, 'V', v->id, &pm__visit_type__descriptor, &v->base,
                           &v->version, "visit type");
    if (rc)
        return rc;
    Pm__Setup *s = setup_answer(r);
    if (!s || one(r, (void ***)&s->visit_types, &s->n_visit_types, v))
        return PM_E_NOMEM;
    return setup_event(r, ctx, "visit_type", NULL, s);
}

/* ---- templates ---- */

static int parse_template_id(const char *id, char *provider, size_t plen, uint64_t *n)
{
    const char *slash = strrchr(id, '/');
    if (!slash || (size_t)(slash - id) >= plen || !slash[1])
        return -1;
    memcpy(provider, id, (size_t)(slash - id));
    provider[slash - id] = 0;
    char *end;
    unsigned long long v = strtoull(slash + 1, &end, 10);
    if (*end || v == 0 || !sched_code_valid(provider))
        return -1;
    *n = v;
    return 0;
}

static size_t template_key(uint8_t *k, const char *provider, uint64_t n)
{
    size_t pl = template_prefix(k, provider);
    pm_put_u64(k + pl, n);
    return pl + 8;
}

int sched_put_template(struct req *r, wctx *ctx)
{
    Pm__Template *t = r->env->put_template->template_;
    if (!t)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "template", "required");
    Pm__Provider *p = NULL;
    if (!*t->provider || setup_provider(ctx->txn, t->provider, &r->arena, &p) != PM_OK)
        req_field_error(r, "provider", "no such provider");
    check_date(r, "valid_from", t->valid_from, 1);
    check_date(r, "valid_to", t->valid_to, 0);
    if (*t->valid_to && *t->valid_from && strcmp(t->valid_to, t->valid_from) < 0)
        req_field_error(r, "valid_to", "before valid_from");
    if (t->n_blocks > 100)
        req_field_error(r, "blocks", "at most 100");
    for (size_t i = 0; i < t->n_blocks && i < 100 && p; i++) {
        Pm__TemplateBlock *b = t->blocks[i];
        char f[48];
        snprintf(f, sizeof f, "blocks[%zu]", i);
        check_weekday(r, f, b->weekday);
        check_minutes(r, f, b->start_min, b->end_min);
        if (!*b->location)
            b->location = p->default_location;
        if (!*b->location)
            req_field_error(r, f, "a location (the provider has no default)");
        else
            check_location_ref(r, ctx->txn, f, b->location);
        if (b->capacity > 50)
            req_field_error(r, f, "capacity at most 50");
        for (size_t k = 0; k < b->n_visit_types; k++) {
            Pm__VisitType *vt;
            if (setup_visit_type(ctx->txn, b->visit_types[k], &r->arena, &vt) != PM_OK ||
                !vt_offered_by(vt, t->provider)) {
                req_field_error(r, f,
                                "a visit type that does not exist or the provider does "
                                "not offer");
                break;
            }
        }
        for (size_t j = 0; j < i; j++) {
            Pm__TemplateBlock *o = t->blocks[j];
            if (o->weekday == b->weekday && o->start_min < b->end_min &&
                b->start_min < o->end_min) {
                req_field_error(r, f, "overlaps another block of the same day");
                break;
            }
        }
    }
    if (r->nfields)
        return PM_E_INVALID_ARGUMENT;
    uint8_t k[80];
    size_t kl;
    if (!*t->id) {
        if (t->version != 0)
            return req_fail(r, PM_E_INVALID_ARGUMENT, "version", "0 for a new template");
        uint64_t n;
        char ctr[64];
        snprintf(ctr, sizeof ctr, "seq.template.%s", t->provider);
        int rc = store_next_id(ctx->txn, ctx->st, ctr, 1, &n);
        if (rc)
            return rc;
        t->id = pm_arena_printf(&r->arena, "%s/%llu", t->provider, (unsigned long long)n);
        kl = template_key(k, t->provider, n);
    } else {
        char prov[SCHED_CODE_MAX + 1];
        uint64_t n;
        if (parse_template_id(t->id, prov, sizeof prov, &n) != 0 || strcmp(prov, t->provider))
            return req_fail(r, PM_E_INVALID_ARGUMENT, "id", "not a template of %s", t->provider);
        kl = template_key(k, prov, n);
        void *old;
        int rc = store_get_pb(ctx->txn, store_dbi(ctx->st, DB_SETUP), k, kl,
                              &pm__template__descriptor, &r->arena, &old);
        if (rc == PM_E_NOT_FOUND)
            return req_fail(r, rc, "id", "no template %s", t->id);
        if (rc)
            return rc;
        if (((Pm__Template *)old)->version != t->version)
            return req_fail(r, PM_E_CONFLICT, "version",
                            "template %s was changed since you read it", t->id);
    }
    r->audit_record = t->id;
    t->version++;
    int rc = store_put_pb(ctx->txn, store_dbi(ctx->st, DB_SETUP), k, kl, &t->base);
    if (rc)
        return rc;
    Pm__Setup *s = setup_answer(r);
    if (!s || one(r, (void ***)&s->templates, &s->n_templates, t))
        return PM_E_NOMEM;
    return setup_event(r, ctx, "template", t->provider, s);
}

int sched_delete_template(struct req *r, wctx *ctx)
{
    const char *id = r->env->delete_template->id;
    r->audit_record = id;
    char prov[SCHED_CODE_MAX + 1];
    uint64_t n;
    if (parse_template_id(id, prov, sizeof prov, &n) != 0)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "id", "a template id such as dr-lee/1");
    uint8_t k[80];
    size_t kl = template_key(k, prov, n);
    void *old;
    int rc = store_get_pb(ctx->txn, store_dbi(ctx->st, DB_SETUP), k, kl, &pm__template__descriptor,
                          &r->arena, &old);
    if (rc == PM_E_NOT_FOUND)
        return req_fail(r, rc, "id", "no template %s", id);
    if (rc || (rc = store_del(ctx->txn, store_dbi(ctx->st, DB_SETUP), k, kl)))
        return rc;
    Pm__Setup *s = setup_answer(r);
    if (!s || one(r, (void ***)&s->templates, &s->n_templates, old))
        return PM_E_NOMEM;
    return setup_event(r, ctx, "template_deleted", prov, s);
}

/* ---- holidays ---- */

int sched_put_holiday(struct req *r, wctx *ctx)
{
    Pm__Holiday *h = r->env->put_holiday->holiday;
    if (!h)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "holiday", "required");
    r->audit_record = h->date;
    check_date(r, "date", h->date, 1);
    check_text(r, "name", h->name, 100, 1);
    check_location_ref(r, ctx->txn, "location", h->location);
    if (r->nfields)
        return PM_E_INVALID_ARGUMENT;
    uint8_t k[64];
    size_t kl = holiday_key(k, h->date, h->location);
    int rc = store_put_pb(ctx->txn, store_dbi(ctx->st, DB_SETUP), k, kl, &h->base);
    if (rc)
        return rc;
    Pm__Setup *s = setup_answer(r);
    if (!s || one(r, (void ***)&s->holidays, &s->n_holidays, h))
        return PM_E_NOMEM;
    return setup_event(r, ctx, "holiday", NULL, s);
}

int sched_delete_holiday(struct req *r, wctx *ctx)
{
    const Pm__DeleteHoliday *d = r->env->delete_holiday;
    r->audit_record = d->date;
    check_date(r, "date", d->date, 1);
    if (*d->location)
        check_code(r, "location", d->location);
    if (r->nfields)
        return PM_E_INVALID_ARGUMENT;
    uint8_t k[64];
    size_t kl = holiday_key(k, d->date, d->location);
    void *old;
    int rc = store_get_pb(ctx->txn, store_dbi(ctx->st, DB_SETUP), k, kl, &pm__holiday__descriptor,
                          &r->arena, &old);
    if (rc == PM_E_NOT_FOUND)
        return req_fail(r, rc, "date", "no holiday on %s%s%s", d->date, *d->location ? " at " : "",
                        d->location);
    if (rc || (rc = store_del(ctx->txn, store_dbi(ctx->st, DB_SETUP), k, kl)))
        return rc;
    Pm__Setup *s = setup_answer(r);
    if (!s || one(r, (void ***)&s->holidays, &s->n_holidays, old))
        return PM_E_NOMEM;
    return setup_event(r, ctx, "holiday_deleted", NULL, s);
}

/* ---- exceptions ---- */

int sched_add_exception(struct req *r, wctx *ctx)
{
    Pm__Exception *e = r->env->add_exception->exception;
    if (!e)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "exception", "required");
    Pm__Provider *p;
    r->audit_record = e->provider;
    if (!*e->provider || setup_provider(ctx->txn, e->provider, &r->arena, &p) != PM_OK)
        req_field_error(r, "provider", "no such provider");
    if (e->start <= 0 || e->end <= e->start)
        req_field_error(r, "end", "after start");
    else if (e->end - e->start > 366 * 86400)
        req_field_error(r, "end", "at most a year after start");
    if (e->kind < PM__EXCEPTION_KIND__TIME_OFF || e->kind > PM__EXCEPTION_KIND__BLOCKED)
        req_field_error(r, "kind", "time off, meeting or blocked");
    check_text(r, "reason", e->reason, 200, 0);
    if (r->nfields)
        return PM_E_INVALID_ARGUMENT;
    uint64_t id;
    int rc = store_next_id(ctx->txn, ctx->st, "seq.exception", 1, &id);
    if (rc)
        return rc;
    e->id = id;
    uint8_t k[10] = {'X', ':'};
    pm_put_u64(k + 2, id);
    uint8_t ik[64], start[8];
    size_t ikl = sched_exc_key(ik, e->provider, (uint64_t)e->end, id);
    pm_put_u64(start, (uint64_t)e->start);
    if ((rc = store_put_pb(ctx->txn, store_dbi(ctx->st, DB_SETUP), k, sizeof k, &e->base)) ||
        (rc = store_put(ctx->txn, store_dbi(ctx->st, DB_EXC_IDX), ik, ikl, start, 8)))
        return rc;
    Pm__Setup *s = setup_answer(r);
    if (!s || one(r, (void ***)&s->exceptions, &s->n_exceptions, e))
        return PM_E_NOMEM;
    return setup_event(r, ctx, "exception", e->provider, s);
}

int sched_delete_exception(struct req *r, wctx *ctx)
{
    uint64_t id = r->env->delete_exception->id;
    Pm__Exception *e;
    int rc = exception_get(ctx->txn, id, &r->arena, &e);
    if (rc == PM_E_NOT_FOUND)
        return req_fail(r, rc, "id", "no exception %llu", (unsigned long long)id);
    if (rc)
        return rc;
    r->audit_record = e->provider;
    uint8_t k[10] = {'X', ':'};
    pm_put_u64(k + 2, id);
    uint8_t ik[64];
    size_t ikl = sched_exc_key(ik, e->provider, (uint64_t)e->end, id);
    if ((rc = store_del(ctx->txn, store_dbi(ctx->st, DB_SETUP), k, sizeof k)) ||
        (rc = store_del(ctx->txn, store_dbi(ctx->st, DB_EXC_IDX), ik, ikl)))
        return rc;
    Pm__Setup *s = setup_answer(r);
    if (!s || one(r, (void ***)&s->exceptions, &s->n_exceptions, e))
        return PM_E_NOMEM;
    return setup_event(r, ctx, "exception_deleted", e->provider, s);
}

/* ---- reading set-up ---- */

int sched_get_setup(struct req *r, MDB_txn *txn)
{
    const Pm__GetSetup *q = r->env->get_setup;
    Pm__Setup *s = setup_answer(r);
    if (!s)
        return PM_E_NOMEM;
    int rc;
    if ((rc = setup_list(txn, 'L', &r->arena, (void ***)&s->locations, &s->n_locations)) ||
        (rc = setup_list(txn, 'P', &r->arena, (void ***)&s->providers, &s->n_providers)) ||
        (rc = setup_list(txn, 'V', &r->arena, (void ***)&s->visit_types, &s->n_visit_types)))
        return rc;
    void **rooms;
    size_t nrooms;
    if ((rc = setup_list(txn, 'R', &r->arena, &rooms, &nrooms)))
        return rc;
    s->rooms = (Pm__Room **)rooms;
    for (size_t i = 0; i < nrooms; i++)
        if (!*q->location || strcmp(((Pm__Room *)rooms[i])->location, q->location) == 0)
            s->rooms[s->n_rooms++] = rooms[i];
    /* templates: one provider's, or everyone's */
    uint8_t prefix[64] = {'T', ':'};
    size_t pl = *q->provider ? template_prefix(prefix, q->provider) : 2;
    if ((rc = scan_prefix(txn, prefix, pl, &pm__template__descriptor, &r->arena,
                          (void ***)&s->templates, &s->n_templates)))
        return rc;
    /* holidays in the date range */
    void **hol;
    size_t nhol;
    uint8_t hp[2] = {'H', ':'};
    if ((rc = scan_prefix(txn, hp, 2, &pm__holiday__descriptor, &r->arena, &hol, &nhol)))
        return rc;
    s->holidays = (Pm__Holiday **)hol;
    for (size_t i = 0; i < nhol; i++) {
        Pm__Holiday *h = hol[i];
        if ((*q->from_date && strcmp(h->date, q->from_date) < 0) ||
            (*q->to_date && strcmp(h->date, q->to_date) > 0))
            continue;
        s->holidays[s->n_holidays++] = h;
    }
    /* exceptions: of one provider or all, from the range's start (default: today) */
    char from[11];
    if (*q->from_date)
        snprintf(from, sizeof from, "%s", q->from_date);
    else
        pm_local_date(sched_now(), from);
    time_t t0, t1 = (time_t)1 << 40;
    if (pm_local_instant(from, 0, &t0) != 0)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "from_date", "a date (YYYY-MM-DD)");
    if (*q->to_date && pm_local_instant(q->to_date, 24 * 60, &t1) != 0)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "to_date", "a date (YYYY-MM-DD)");
    size_t cap = 0;
    for (size_t i = 0; i < s->n_providers; i++) {
        Pm__Provider *p = s->providers[i];
        if (*q->provider && strcmp(p->id, q->provider) != 0)
            continue;
        Pm__Exception **ex;
        size_t nex;
        if ((rc = avail_exceptions(txn, p->id, t0, t1, &r->arena, &ex, &nex)))
            return rc;
        if (s->n_exceptions + nex > cap) {
            size_t ncap = (s->n_exceptions + nex) * 2;
            Pm__Exception **g = pm_arena_alloc(&r->arena, sizeof *g * ncap);
            if (!g)
                return PM_E_NOMEM;
            if (s->n_exceptions)
                memcpy(g, s->exceptions, sizeof *g * s->n_exceptions);
            s->exceptions = g;
            cap = ncap;
        }
        for (size_t k = 0; k < nex; k++)
            s->exceptions[s->n_exceptions++] = ex[k];
    }
    return PM_OK;
}
