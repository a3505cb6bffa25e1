#include "dispatch.h"

#include "audit.h"
#include "auth.h"
#include "events.h"
#include "flow.h"
#include "patients.h"
#include "scheduling.h"
#include "pm_err.h"
#include "pm_log.h"
#include "pm_time.h"
#include "pm_util.h"
#include "server.h"
#include "tickets.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define R(x)  ROLE_BIT(PM__ROLE__##x)
#define STAFF (R(MANAGER) | R(RECEPTIONIST) | R(CLINICIAN) | R(BILLER))

static void op_ping(req *r);
static int op_stats(req *r, MDB_txn *txn);

/* The permission table: every request type a client may send, who may send it, and how
 * it runs. A request type that is not here is refused. */
static const op ops[] = {
    {PM__ENVELOPE__BODY_LOGIN, "login", 0, OPF_PRELOGIN, OP_CUSTOM, .custom = auth_login,
     .audit = "login"},
    {PM__ENVELOPE__BODY_RESUME, "resume", 0, OPF_PRELOGIN, OP_CUSTOM, .custom = auth_resume},
    {PM__ENVELOPE__BODY_PING, "ping", 0, OPF_PRELOGIN, OP_CUSTOM, .custom = op_ping},
    {PM__ENVELOPE__BODY_LOGOUT, "logout", 0, OPF_ANY_ROLE | OPF_ONE_TIME, OP_CUSTOM,
     .custom = auth_logout, .audit = "logout"},
    /* A display's secret is reset by a manager, never changed by the device. */
    {PM__ENVELOPE__BODY_CHANGE_PASSWORD, "change_password", STAFF, OPF_ONE_TIME, OP_CUSTOM,
     .custom = auth_change_password, .audit = "account.change_password"},

    {PM__ENVELOPE__BODY_CREATE_ACCOUNT, "create_account", R(MANAGER), 0, OP_CUSTOM,
     .custom = accounts_create, .audit = "account.create"},
    {PM__ENVELOPE__BODY_CREATE_DEVICE, "create_device", R(MANAGER), 0, OP_CUSTOM,
     .custom = accounts_create_device, .audit = "device.create"},
    {PM__ENVELOPE__BODY_LIST_ACCOUNTS, "list_accounts", R(MANAGER), 0, OP_READ,
     .read = accounts_list},
    {PM__ENVELOPE__BODY_SET_ACCOUNT_DISABLED, "set_account_disabled", R(MANAGER), 0, OP_CUSTOM,
     .custom = accounts_set_disabled, .audit = "account.set_disabled"},
    {PM__ENVELOPE__BODY_RESET_PASSWORD, "reset_password", R(MANAGER), 0, OP_CUSTOM,
     .custom = accounts_reset_password, .audit = "account.reset_password"},

    {PM__ENVELOPE__BODY_CREATE_PATIENT, "create_patient", R(MANAGER) | R(RECEPTIONIST), 0, OP_WRITE,
     .write = patients_create, .audit = "patient.create"},
    {PM__ENVELOPE__BODY_GET_PATIENT, "get_patient", STAFF, 0, OP_READ, .read = patients_get,
     .audit = "patient.read"},
    {PM__ENVELOPE__BODY_UPDATE_PATIENT, "update_patient", STAFF, 0, OP_WRITE,
     .write = patients_update, .audit = "patient.update"},
    {PM__ENVELOPE__BODY_SEARCH_PATIENTS, "search_patients", STAFF, 0, OP_READ,
     .read = patients_search, .audit = "patient.search"},
    {PM__ENVELOPE__BODY_LIST_PATIENTS, "list_patients", STAFF, 0, OP_READ, .read = patients_list,
     .audit = "patient.list"},

    {PM__ENVELOPE__BODY_QUERY_AUDIT, "query_audit", R(MANAGER), 0, OP_READ, .read = audit_query,
     .audit = "audit.query"},

    /* Topics are checked one by one against their own table (events.c). */
    {PM__ENVELOPE__BODY_SUBSCRIBE, "subscribe", STAFF | R(DISPLAY), 0, OP_CUSTOM,
     .custom = events_subscribe},
    {PM__ENVELOPE__BODY_UNSUBSCRIBE, "unsubscribe", 0, OPF_ANY_ROLE, OP_CUSTOM,
     .custom = events_unsubscribe},

    {PM__ENVELOPE__BODY_GET_STATS, "get_stats", R(MANAGER), 0, OP_READ, .read = op_stats},

    /* scheduling set-up: the manager's; exceptions also the front desk's */
    {PM__ENVELOPE__BODY_PUT_LOCATION, "put_location", R(MANAGER), 0, OP_WRITE,
     .write = sched_put_location, .audit = "setup.location"},
    {PM__ENVELOPE__BODY_PUT_ROOM, "put_room", R(MANAGER), 0, OP_WRITE, .write = sched_put_room,
     .audit = "setup.room"},
    {PM__ENVELOPE__BODY_PUT_PROVIDER, "put_provider", R(MANAGER), 0, OP_WRITE,
     .write = sched_put_provider, .audit = "setup.provider"},
    {PM__ENVELOPE__BODY_PUT_VISIT_TYPE, "put_visit_type", R(MANAGER), 0, OP_WRITE,
     .write = sched_put_visit_type, .audit = "setup.visit_type"},
    {PM__ENVELOPE__BODY_PUT_TEMPLATE, "put_template", R(MANAGER), 0, OP_WRITE,
     .write = sched_put_template, .audit = "setup.template"},
    {PM__ENVELOPE__BODY_DELETE_TEMPLATE, "delete_template", R(MANAGER), 0, OP_WRITE,
     .write = sched_delete_template, .audit = "setup.template_delete"},
    {PM__ENVELOPE__BODY_PUT_HOLIDAY, "put_holiday", R(MANAGER), 0, OP_WRITE,
     .write = sched_put_holiday, .audit = "setup.holiday"},
    {PM__ENVELOPE__BODY_DELETE_HOLIDAY, "delete_holiday", R(MANAGER), 0, OP_WRITE,
     .write = sched_delete_holiday, .audit = "setup.holiday_delete"},
    {PM__ENVELOPE__BODY_ADD_EXCEPTION, "add_exception", R(MANAGER) | R(RECEPTIONIST), 0, OP_WRITE,
     .write = sched_add_exception, .audit = "setup.exception"},
    {PM__ENVELOPE__BODY_DELETE_EXCEPTION, "delete_exception", R(MANAGER) | R(RECEPTIONIST), 0,
     OP_WRITE, .write = sched_delete_exception, .audit = "setup.exception_delete"},
    {PM__ENVELOPE__BODY_GET_SETUP, "get_setup", STAFF, 0, OP_READ, .read = sched_get_setup},

    /* appointments */
    {PM__ENVELOPE__BODY_BOOK, "book", R(MANAGER) | R(RECEPTIONIST), 0, OP_WRITE,
     .write = sched_book, .audit = "appointment.book"},
    {PM__ENVELOPE__BODY_MOVE, "move", R(MANAGER) | R(RECEPTIONIST), 0, OP_WRITE,
     .write = sched_move, .audit = "appointment.move"},
    {PM__ENVELOPE__BODY_CANCEL, "cancel", R(MANAGER) | R(RECEPTIONIST), 0, OP_WRITE,
     .write = sched_cancel, .audit = "appointment.cancel"},
    {PM__ENVELOPE__BODY_MARK_NO_SHOW, "mark_no_show", R(MANAGER) | R(RECEPTIONIST), 0, OP_WRITE,
     .write = sched_no_show, .audit = "appointment.no_show"},
    {PM__ENVELOPE__BODY_SET_NOTES, "set_notes", R(MANAGER) | R(RECEPTIONIST) | R(CLINICIAN), 0,
     OP_WRITE, .write = sched_set_notes, .audit = "appointment.notes"},
    {PM__ENVELOPE__BODY_GET_APPOINTMENT, "get_appointment", STAFF, 0, OP_READ,
     .read = sched_get_appointment, .audit = "appointment.read"},
    {PM__ENVELOPE__BODY_FIND_SLOTS, "find_slots", STAFF, 0, OP_READ, .read = sched_find_slots},
    {PM__ENVELOPE__BODY_GET_SCHEDULE, "get_schedule", STAFF, 0, OP_READ, .read = sched_get_schedule,
     .audit = "schedule.read"},
    {PM__ENVELOPE__BODY_PATIENT_APPOINTMENTS, "patient_appointments", STAFF, 0, OP_READ,
     .read = sched_patient_appointments, .audit = "appointment.list"},

    /* the waitlist */
    {PM__ENVELOPE__BODY_ADD_TO_WAITLIST, "add_to_waitlist", R(MANAGER) | R(RECEPTIONIST), 0,
     OP_WRITE, .write = waitlist_add, .audit = "waitlist.add"},
    {PM__ENVELOPE__BODY_REMOVE_FROM_WAITLIST, "remove_from_waitlist", R(MANAGER) | R(RECEPTIONIST),
     0, OP_WRITE, .write = waitlist_remove, .audit = "waitlist.remove"},
    {PM__ENVELOPE__BODY_LIST_WAITLIST, "list_waitlist", R(MANAGER) | R(RECEPTIONIST) | R(CLINICIAN),
     0, OP_READ, .read = waitlist_list, .audit = "waitlist.read"},
    {PM__ENVELOPE__BODY_ANSWER_OFFER, "answer_offer", R(MANAGER) | R(RECEPTIONIST), 0, OP_WRITE,
     .write = waitlist_answer, .audit = "waitlist.answer"},

    /* the day's flow; the board is for the waiting-room screens too (their own only) */
    {PM__ENVELOPE__BODY_FLOW_STEP, "flow_step", R(MANAGER) | R(RECEPTIONIST) | R(CLINICIAN), 0,
     OP_WRITE, .write = flow_step, .audit = "flow.step"},
    {PM__ENVELOPE__BODY_WALK_IN, "walk_in", R(MANAGER) | R(RECEPTIONIST), 0, OP_WRITE,
     .write = flow_walk_in, .audit = "flow.walk_in"},
    {PM__ENVELOPE__BODY_CLOSE_DAY, "close_day", R(MANAGER), 0, OP_WRITE, .write = flow_close_day,
     .audit = "flow.close_day"},
    {PM__ENVELOPE__BODY_GET_FLOW, "get_flow", STAFF, 0, OP_READ, .read = flow_get,
     .audit = "flow.read"},
    {PM__ENVELOPE__BODY_GET_BOARD, "get_board", STAFF | R(DISPLAY), 0, OP_READ,
     .read = flow_get_board},
};

#define NOPS PM_ARRAY_LEN(ops)

/* ---- latency statistics: log-linear histograms in microseconds ---- */

#define LOWER(a, b)  ((a) < (b) ? (a) : (b))
#define HIST_SUB     8
#define HIST_BUCKETS (64 * HIST_SUB)

struct op_stats {
    uint64_t count, errors, max_us;
    uint32_t total[HIST_BUCKETS];
    uint32_t handler[HIST_BUCKETS];
};

static struct op_stats stats[NOPS];

static unsigned hist_bucket(uint64_t us)
{
    if (us < HIST_SUB)
        return (unsigned)us;
    unsigned msb = 63 - (unsigned)__builtin_clzll(us);
    unsigned sub = (unsigned)(us >> (msb - 3)) & (HIST_SUB - 1);
    unsigned b = (msb - 2) * HIST_SUB + sub;
    return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

static uint64_t hist_value(unsigned b)
{
    if (b < HIST_SUB)
        return b;
    unsigned msb = b / HIST_SUB + 2;
    unsigned sub = b % HIST_SUB;
    /* upper edge of the bucket */
    return ((uint64_t)(HIST_SUB + sub + 1) << (msb - 3)) - 1;
}

static uint64_t hist_pct(const uint32_t *h, uint64_t count, double pct)
{
    if (!count)
        return 0;
    uint64_t want = (uint64_t)(pct * (double)count);
    if (want >= count)
        want = count - 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        seen += h[b];
        if (seen > want)
            return hist_value(b);
    }
    return hist_value(HIST_BUCKETS - 1);
}

void dispatch_fill_stats(req *r, Pm__Stats *st)
{
    size_t n = 0;
    for (size_t i = 0; i < NOPS; i++)
        n += stats[i].count > 0;
    st->ops = pm_arena_alloc(&r->arena, sizeof *st->ops * (n ? n : 1));
    if (!st->ops)
        return;
    for (size_t i = 0; i < NOPS; i++) {
        struct op_stats *s = &stats[i];
        if (!s->count)
            continue;
        Pm__OpStat *o = pm_msg_new(&r->arena, &pm__op_stat__descriptor);
        if (!o)
            return;
        o->op = (char *)ops[i].name;
        o->count = s->count;
        o->errors = s->errors;
        o->max_us = s->max_us;
        /* a bucket's upper edge may lie past the largest value seen */
        o->p50_us = LOWER(hist_pct(s->total, s->count, 0.50), s->max_us);
        o->p99_us = LOWER(hist_pct(s->total, s->count, 0.99), s->max_us);
        o->handler_p50_us = LOWER(hist_pct(s->handler, s->count, 0.50), o->p50_us);
        o->handler_p99_us = LOWER(hist_pct(s->handler, s->count, 0.99), o->p99_us);
        st->ops[st->n_ops++] = o;
    }
}

/* ---- lookup ---- */

const op *op_find(Pm__Envelope__BodyCase body)
{
    for (size_t i = 0; i < NOPS; i++)
        if (ops[i].body == body)
            return &ops[i];
    return NULL;
}

int perm_allowed(Pm__Envelope__BodyCase body, int role)
{
    const op *o = op_find(body);
    if (!o || role <= PM__ROLE__ROLE_NONE || role > PM__ROLE__DISPLAY)
        return 0;
    if (o->flags & (OPF_PRELOGIN | OPF_ANY_ROLE))
        return 1;
    return (o->roles & ROLE_BIT(role)) != 0;
}

/* ---- handler tools ---- */

int req_fail(req *r, int code, const char *field, const char *fmt, ...)
{
    r->status = code;
    if (field)
        r->err_field = pm_arena_strdup(&r->arena, field);
    if (fmt) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        pm_utf8_cut(buf); /* a long value may have been cut mid-character */
        r->err_msg = pm_arena_strdup(&r->arena, buf);
    }
    return code;
}

int req_field_error(req *r, const char *field, const char *msg)
{
    Pm__FieldError **grown = pm_arena_alloc(&r->arena, sizeof *grown * (r->nfields + 1));
    Pm__FieldError *fe = pm_msg_new(&r->arena, &pm__field_error__descriptor);
    if (!grown || !fe)
        return PM_E_NOMEM;
    if (r->nfields)
        memcpy(grown, r->fields, sizeof *grown * r->nfields);
    fe->field = pm_arena_strdup(&r->arena, field);
    fe->message = pm_arena_strdup(&r->arena, msg);
    grown[r->nfields++] = fe;
    r->fields = grown;
    if (!r->err_field) {
        r->err_field = fe->field;
        r->err_msg = pm_arena_printf(&r->arena, "%s: %s", field, msg);
    }
    r->status = PM_E_INVALID_ARGUMENT;
    return PM_E_INVALID_ARGUMENT;
}

Pm__Envelope *req_respond(req *r, Pm__Envelope__BodyCase body)
{
    Pm__Envelope *e = pm_msg_new(&r->arena, &pm__envelope__descriptor);
    if (!e)
        return NULL;
    e->body_case = body;
    r->resp = e;
    return e;
}

static void drop_events(req *r)
{
    for (size_t i = 0; i < r->nevents; i++)
        sframe_unref(r->events[i].frame);
    free(r->events);
    r->events = NULL;
    r->nevents = 0;
}

int req_event(req *r, wctx *ctx, const char *const *topics, size_t ntopics, Pm__Event *ev)
{
    if (ntopics > PM_ARRAY_LEN(r->events[0].topics))
        return PM_E_INTERNAL;
    struct req_event *grown = realloc(r->events, sizeof *grown * (r->nevents + 1));
    if (!grown)
        return PM_E_NOMEM;
    r->events = grown;
    sframe *f;
    int rc = events_append(ctx, topics, ntopics, ev, &f);
    if (rc)
        return rc;
    struct req_event *re = &r->events[r->nevents++];
    re->frame = f;
    re->ntopics = ntopics;
    for (size_t i = 0; i < ntopics; i++)
        snprintf(re->topics[i], sizeof re->topics[i], "%s", topics[i]);
    return PM_OK;
}

static sframe *pack_answer(req *r, uint64_t id);

/* The answer's envelope: the response body on success, a typed error otherwise. */
static void answer_envelope(req *r, uint64_t id, Pm__Envelope *env, Pm__Error *err)
{
    *env = (Pm__Envelope)PM__ENVELOPE__INIT;
    *err = (Pm__Error)PM__ERROR__INIT;
    if (r->status == PM_OK && r->resp) {
        *env = *r->resp;
    } else {
        int code = r->status ? r->status : PM_E_INTERNAL;
        env->body_case = PM__ENVELOPE__BODY_ERROR;
        env->error = err;
        err->code = pm_err_is_wire(code) ? (Pm__ErrorCode)-code : PM__ERROR_CODE__INTERNAL;
        err->message = (char *)(r->err_msg ? r->err_msg : pm_strerror(code));
        if (r->err_field)
            err->field = (char *)r->err_field;
        err->fields = r->fields;
        err->n_fields = r->nfields;
        err->conflicts = r->conflicts;
        err->n_conflicts = r->nconflicts;
        err->retry_after_ms = r->retry_after_ms;
    }
    env->id = id;
    env->request_key.len = 0;
    env->request_key.data = NULL;
}

/* The answer as a frame. One bigger than a frame may be (a list over years, say) would
 * make the client drop the connection as if the server had gone wrong: it becomes a typed
 * error that says to ask for less, decided on the size before anything is encoded. */
static sframe *pack_answer(req *r, uint64_t id)
{
    Pm__Envelope env;
    Pm__Error err;
    answer_envelope(r, id, &env, &err);
    size_t body = pm__envelope__get_packed_size(&env);
    if (body > PM_FRAME_MAX && r->status == PM_OK) {
        req_clear_error(r);
        r->status = PM_E_FRAME_TOO_LARGE;
        r->err_msg = pm_arena_printf(&r->arena,
                                     "the answer would be %zu KiB, more than one message carries "
                                     "(%u KiB): ask for less (a shorter period, a narrower search)",
                                     body / 1024, PM_FRAME_MAX / 1024);
        r->resp = NULL;
        answer_envelope(r, id, &env, &err);
        body = pm__envelope__get_packed_size(&env);
    }
    return sframe_pack_sized(&env, body);
}

static void record_stats(req *r, uint64_t handler_us)
{
    if (!r->op)
        return;
    struct op_stats *s = &stats[r->op - ops];
    uint64_t total = pm_mono_us() - r->t0_us;
    s->count++;
    if (r->status)
        s->errors++;
    if (total > s->max_us)
        s->max_us = total;
    s->total[hist_bucket(total)]++;
    s->handler[hist_bucket(handler_us)]++;
}

/* ---- finishing ---- */

void req_finish(req *r)
{
    conn *c = r->c;
    if (!c) { /* the server's own work: nobody to answer */
        for (size_t i = 0; i < r->nevents; i++)
            for (size_t t = 0; t < r->events[i].ntopics; t++)
                events_publish(r->events[i].frame, r->events[i].topics[t]);
        if (r->status && r->status != PM_E_NOT_FOUND)
            pm_warn("%s: %s", r->audit_action ? r->audit_action : "system job",
                    r->err_msg ? r->err_msg : pm_strerror(r->status));
        drop_events(r);
        sframe_unref(r->answer);
        pm_arena_free(&r->arena);
        free(r);
        return;
    }
    if (!r->answer || r->status != r->answer_status) {
        if (r->status)
            drop_events(r);
        sframe_unref(r->answer);
        r->answer = pack_answer(r, r->id);
    }
    if (!r->answer) {
        conn_abort(c, "out of memory");
    } else if (!c->closing) {
        conn_send(c, r->answer);
    }
    /* a subscriber of several of an event's topics gets it once: publishing skips
     * connections that already have its sequence number */
    for (size_t i = 0; i < r->nevents; i++)
        for (size_t t = 0; t < r->events[i].ntopics; t++)
            events_publish(r->events[i].frame, r->events[i].topics[t]);
    record_stats(r, r->handler_us ? r->handler_us : pm_mono_us() - r->t0_us);
    drop_events(r);
    sframe_unref(r->answer);
    pm_arena_free(&r->arena);
    free(r->frame);
    free(r);
    conn_request_done(c);
}

req *req_system(const char *action)
{
    req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pm_arena_init(&r->arena, 0);
    r->env = pm_msg_new(&r->arena, &pm__envelope__descriptor);
    if (!r->env) {
        free(r);
        return NULL;
    }
    r->t0_us = pm_mono_us();
    r->answer_status = -1;
    r->role = PM__ROLE__MANAGER;
    r->username = "practiced";
    r->device = "practiced";
    r->audit_action = action;
    return r;
}

void req_clear_error(req *r)
{
    r->status = 0;
    r->err_msg = r->err_field = NULL;
    r->fields = NULL;
    r->nfields = 0;
    r->conflicts = NULL;
    r->nconflicts = 0;
    r->retry_after_ms = 0;
}

/* ---- the writer path ---- */

/* The stored answer's key: the request key, then the account (keys belong to their
 * caller). Clients that start their keys with the time, as libpractice does, make the
 * table grow at its end instead of dirtying a page per account in every batch. */
static int idem_key(req *r, uint8_t *key, size_t *klen)
{
    size_t n = r->env->request_key.len;
    if (n == 0)
        return 0;
    if (n > 64)
        return -1;
    memcpy(key, r->env->request_key.data, n);
    pm_put_u64(key + n, r->account_id);
    *klen = n + 8;
    return 1;
}

/* A repeated request key: the stored first answer, under this request's id. */
static int idem_lookup(req *r, wctx *ctx, int *found)
{
    uint8_t key[72];
    size_t klen;
    *found = 0;
    int k = idem_key(r, key, &klen);
    if (k <= 0)
        return k < 0 ? req_fail(r, PM_E_INVALID_ARGUMENT, "request_key", "at most 64 bytes")
                     : PM_OK;
    void *out;
    int rc = store_get_pb(ctx->txn, store_dbi(ctx->st, DB_IDEM), key, klen,
                          &pm__stored_answer__descriptor, &r->arena, &out);
    if (rc == PM_E_NOT_FOUND)
        return PM_OK;
    if (rc)
        return rc;
    Pm__StoredAnswer *sa = out;
    Pm__Envelope *env =
        pm__envelope__unpack(pm_arena_pbc(&r->arena), sa->envelope.len, sa->envelope.data);
    if (!env)
        return PM_E_INTERNAL;
    env->id = r->id;
    r->answer = sframe_pack(env);
    if (!r->answer)
        return PM_E_NOMEM;
    *found = 1;
    return PM_OK;
}

static int idem_store(req *r, wctx *ctx)
{
    uint8_t key[72];
    size_t klen;
    if (idem_key(r, key, &klen) <= 0)
        return PM_OK;
    /* The answer as sent, less its leading id field (field 1 is packed first): a replay
     * puts the new request's id back. */
    const uint8_t *body = r->answer->data + PM_FRAME_HDR;
    size_t len = r->answer->len - PM_FRAME_HDR, skip = 0;
    if (len && body[0] == 0x08) {
        skip = 1;
        while (skip < len && (body[skip] & 0x80))
            skip++;
        skip++;
    }
    if (skip > len)
        return PM_E_INTERNAL;
    Pm__StoredAnswer sa = PM__STORED_ANSWER__INIT;
    sa.time = ctx->now;
    sa.envelope.data = (uint8_t *)body + skip;
    sa.envelope.len = len - skip;
    int rc = store_put_pb(ctx->txn, store_dbi(ctx->st, DB_IDEM), key, klen, &sa.base);
    if (rc)
        return rc;
    uint8_t tkey[80];
    pm_put_u64(tkey, ctx->now);
    memcpy(tkey + 8, key, klen);
    return store_put(ctx->txn, store_dbi(ctx->st, DB_IDEM_TIME), tkey, 8 + klen, "", 0);
}

/* The audit action of a request, or NULL when it is not audited. */
static const char *audited(const req *r)
{
    if (r->audit_action)
        return r->audit_action;
    return r->op ? r->op->audit : NULL;
}

static int audit_req(req *r, MDB_txn *txn, int status)
{
    audit_info ai = {
        .username = r->username,
        .device = r->device,
        .action = audited(r) ? audited(r) : (r->op ? r->op->name : "request"),
        .record = r->audit_record,
        .detail = status && r->err_msg ? r->err_msg : r->audit_detail,
        .outcome = status == 0                        ? PM__OUTCOME__SUCCESS
                   : status == PM_E_PERMISSION_DENIED ? PM__OUTCOME__DENIED
                                                      : PM__OUTCOME__FAILURE,
        .error = status,
        .also = status == 0 ? r->audit_also : NULL,
        .nalso = status == 0 ? r->naudit_also : 0,
    };
    return audit_append(txn, srv.st, &ai);
}

static void reset_output(req *r)
{
    drop_events(r);
    sframe_unref(r->answer);
    r->answer = NULL;
    r->resp = NULL;
    r->nboards = 0;
    req_clear_error(r);
}

/* Errors a retry with the same key should see again; others (storage, internal) are
 * worth retrying for real. */
static int final_error(int rc)
{
    return rc == PM_E_INVALID_ARGUMENT || rc == PM_E_CONFLICT || rc == PM_E_NOT_FOUND ||
           rc == PM_E_ALREADY_EXISTS || rc == PM_E_PERMISSION_DENIED;
}

static int write_run(wjob *j, wctx *ctx)
{
    req *r = (req *)j;
    reset_output(r);
    if (r->write_runs++ && r->frame) {
        /* Run again (the map grew, or the batch went nested after a job failed after
         * writing): from the request as it came, not as the first run left it (handlers
         * fill in versions and ids on it). What a handler keeps in r->ext it reads from
         * the store again each run (login_write, close_all_run). */
        r->env = pm_frame_decode(&r->arena, r->frame, r->frame_len);
        if (!r->env)
            return PM_E_NOMEM;
    }
    int found;
    int rc = idem_lookup(r, ctx, &found);
    if (rc)
        return rc;
    if (found) {
        r->answer_status = 0;
        r->replayed = 1;
        return PM_OK;
    }
    /* A handler may succeed as a job and still answer with an error (a failed login
     * whose count must be saved): the answer carries r->status either way. */
    rc = r->write_fn(r, ctx);
    if (rc == PM_OK)
        rc = flow_boards_flush(r, ctx);
    if (rc) {
        if (!r->status)
            r->status = rc;
        return rc;
    }
    if (audited(r) && (rc = audit_req(r, ctx->txn, r->status)))
        return rc;
    int ok = r->status == PM_OK;
    r->answer = pack_answer(r, r->id);
    if (!r->answer)
        return PM_E_NOMEM;
    /* a success whose answer cannot be sent (over a frame): undone, as the answer says */
    if (ok && r->status == PM_E_FRAME_TOO_LARGE)
        return PM_E_FRAME_TOO_LARGE;
    r->answer_status = r->status;
    if (r->status == PM_OK || final_error(r->status))
        return idem_store(r, ctx);
    return PM_OK;
}

static int write_failed(wjob *j, wctx *ctx, int rc)
{
    req *r = (req *)j;
    drop_events(r);
    sframe_unref(r->answer);
    r->answer = NULL;
    if (rc == PM_E_MAP_FULL)
        return rc;
    if (!r->status)
        r->status = rc;
    int arc = PM_OK;
    if (audited(r))
        arc = audit_req(r, ctx->txn, r->status);
    r->answer = pack_answer(r, r->id);
    r->answer_status = r->status;
    /* without its answer (no memory for it) the key is not kept: a retry runs again */
    if (arc == PM_OK && r->answer && final_error(r->status))
        arc = idem_store(r, ctx);
    return arc == PM_E_MAP_FULL ? arc : PM_OK;
}

static void write_done(wjob *j)
{
    req *r = (req *)j;
    if (!j->committed) {
        /* The batch did not commit: nothing of this request was saved, and nothing the
         * attempt found (conflicts, a retry delay) holds. */
        drop_events(r);
        int status = j->status ? j->status : PM_E_STORAGE;
        req_clear_error(r);
        r->status = status;
        r->answer_status = -1;
    } else if (r->replayed) {
        srv.replayed++;
        /* The stored answer goes out as it is; its events went out the first time. */
        drop_events(r);
    }
    if (r->done_hook)
        r->done_hook(r);
    else
        req_finish(r);
}

void req_submit_write(req *r, int (*fn)(req *r, wctx *ctx))
{
    r->write_fn = fn;
    r->job.run = write_run;
    r->job.failed = write_failed;
    r->job.done = write_done;
    r->job.owner = r->c ? r->c->id : 0;
    store_submit(srv.st, &r->job);
}

/* ---- the audit-only path (reads of patient data, refusals) ---- */

static int audit_run(wjob *j, wctx *ctx)
{
    req *r = (req *)j;
    return audit_req(r, ctx->txn, r->status);
}

static void audit_done(wjob *j)
{
    req *r = (req *)j;
    if (!j->committed || j->status) {
        /* Not audited, so not disclosed. */
        int status = j->status ? j->status : PM_E_STORAGE;
        r->resp = NULL;
        req_clear_error(r);
        r->status = status;
        r->err_msg = "could not record the access; nothing disclosed";
    }
    req_finish(r);
}

void req_submit_audit(req *r)
{
    if (!r->handler_us)
        r->handler_us = pm_mono_us() - r->t0_us;
    r->answer = pack_answer(r, r->id);
    r->answer_status = r->status;
    r->job.run = audit_run;
    r->job.failed = NULL;
    r->job.done = audit_done;
    r->job.owner = r->c ? r->c->id : 0;
    store_submit(srv.st, &r->job);
}

/* ---- reads ---- */

static void run_read(req *r)
{
    MDB_txn *txn;
    int rc = store_read_begin(srv.st, &txn);
    if (rc == PM_OK) {
        rc = r->op->read(r, txn);
        store_read_end(srv.st);
    }
    if (rc && !r->status)
        r->status = rc;
    r->handler_us = pm_mono_us() - r->t0_us;
    if (r->op->audit)
        req_submit_audit(r);
    else
        req_finish(r);
}

/* ---- small built-in requests ---- */

static void op_ping(req *r)
{
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_PONG);
    Pm__Pong *p = pm_msg_new(&r->arena, &pm__pong__descriptor);
    if (e && p) {
        p->nonce = r->env->ping->nonce;
        e->pong = p;
    }
    req_finish(r);
}

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (uint64_t)rss * 4096;
}

static int op_stats(req *r, MDB_txn *txn)
{
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_STATS);
    Pm__Stats *st = pm_msg_new(&r->arena, &pm__stats__descriptor);
    if (!e || !st)
        return PM_E_NOMEM;
    e->stats = st;
    dispatch_fill_stats(r, st);
    store_stats ss;
    store_get_stats(srv.st, &ss);
    st->connections = srv.nconns;
    st->sessions = auth_session_count();
    st->commits = ss.commits;
    st->committed_writes = ss.jobs;
    st->max_batch = ss.max_batch;
    st->writer_run_us = ss.run_us;
    st->writer_commit_us = ss.commit_us;
    st->writer_isolated = ss.isolated;
    st->replayed_answers = srv.replayed;
    uint64_t issued;
    st->tls_handshakes = srv.handshakes;
    st->tls_deferred = srv.handshakes_deferred;
    tickets_stats(srv.tickets, &st->tls_resumed, &issued);
    store_last_u64(txn, store_dbi(srv.st, DB_EVENTS), &st->last_event_seq);
    st->rss_bytes = rss_bytes();
    st->map_size = store_map_size(srv.st);
    auth_hash_stats(&st->hashes, &st->hash_peak);
    return PM_OK;
}

static void hello(req *r)
{
    conn *c = r->c;
    const Pm__Hello *h = r->env->hello;
    if (h->protocol_version != PM_PROTOCOL_VERSION) {
        req_fail(r, PM_E_UNSUPPORTED_VERSION, "protocol_version",
                 "this server speaks protocol version %d", PM_PROTOCOL_VERSION);
        req_finish(r);
        conn_end(c, "unsupported protocol version");
        return;
    }
    c->hello_done = 1;
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_HELLO_OK);
    Pm__HelloOk *ok = pm_msg_new(&r->arena, &pm__hello_ok__descriptor);
    if (e && ok) {
        ok->protocol_version = PM_PROTOCOL_VERSION;
        ok->server = "practiced/" PM_VERSION;
        ok->practice_name = srv.practice_name;
        ok->timezone = srv.timezone;
        ok->clock_speed = sched_clock_speed_of();
        ok->max_frame_before_login = PM_FRAME_MAX_PRELOGIN;
        ok->max_frame = PM_FRAME_MAX;
        e->hello_ok = ok;
    }
    req_finish(r);
}

void dispatch_frame(conn *c, uint8_t *body, uint32_t len)
{
    req *r = calloc(1, sizeof *r);
    if (!r) {
        free(body);
        conn_abort(c, "out of memory");
        return;
    }
    conn_request_begin(c);
    r->c = c;
    r->frame = body;
    r->frame_len = len;
    r->t0_us = pm_mono_us();
    r->answer_status = -1;
    pm_arena_init(&r->arena, pm_frame_decode_budget(len));
    r->env = pm_frame_decode(&r->arena, body, len);
    r->arena.budget = 0; /* decoding is bounded; what handlers build is theirs to bound */
    if (!r->env) {
        req_fail(r, PM_E_PROTOCOL, NULL, "message does not decode as a pm.Envelope");
        req_finish(r);
        return;
    }
    r->id = r->env->id;
    const char *bad;
    if (!pm_msg_text_valid(&r->env->base, &bad)) {
        req_fail(r, PM_E_PROTOCOL, bad, "field %s is not valid UTF-8 text", bad);
        req_finish(r);
        return;
    }
    Pm__Envelope__BodyCase body_case = r->env->body_case;
    if (!c->hello_done || body_case == PM__ENVELOPE__BODY_HELLO) {
        if (body_case == PM__ENVELOPE__BODY_HELLO && !c->hello_done) {
            hello(r);
        } else {
            req_fail(r, PM_E_PROTOCOL, NULL,
                     c->hello_done ? "Hello was already sent" : "send Hello first");
            req_finish(r);
            if (!c->hello_done)
                conn_end(c, "no Hello");
        }
        return;
    }
    r->op = op_find(body_case);
    if (!r->op) {
        req_fail(r, PM_E_UNKNOWN_REQUEST, NULL, "unknown request (message field %d)",
                 (int)body_case);
        req_finish(r);
        return;
    }
    if (srv.stopping) {
        req_fail(r, PM_E_SHUTTING_DOWN, NULL, NULL);
        req_finish(r);
        return;
    }
    int rc = auth_gate(r);
    if (rc) {
        if (!r->status)
            req_fail(r, rc, NULL, NULL);
        if (rc == PM_E_PERMISSION_DENIED && r->op->audit)
            req_submit_audit(r);
        else
            req_finish(r);
        return;
    }
    switch (r->op->kind) {
    case OP_READ:
        run_read(r);
        break;
    case OP_WRITE:
        req_submit_write(r, r->op->write);
        break;
    case OP_CUSTOM:
        r->op->custom(r);
        break;
    }
}
