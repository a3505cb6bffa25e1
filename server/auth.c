#include "auth.h"

#include "audit.h"
#include "dispatch.h"
#include "events.h"
#include "pm_err.h"
#include "pm_log.h"
#include "pm_time.h"
#include "pm_util.h"
#include "scheduling.h"
#include "server.h"

#include <argon2.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_BUCKETS 1024
#define HASH_QUEUE_MAX  256
#define SALT_LEN        16
#define HASH_LEN        32
#define ENCODED_MAX     160

static session *sessions[SESSION_BUCKETS];
static size_t nsessions;
static argon2_params params;
static char dummy_hash[ENCODED_MAX]; /* verified against for unknown users */

/* ---- passwords ---- */

int password_hash(const argon2_params *p, const char *password, char *out, size_t outlen)
{
    uint8_t salt[SALT_LEN];
    if (pm_random(salt, sizeof salt))
        return PM_E_INTERNAL;
    int rc = argon2id_hash_encoded(p->t, p->m_kib, 1, password, strlen(password), salt, sizeof salt,
                                   HASH_LEN, out, outlen);
    return rc == ARGON2_OK ? PM_OK : PM_E_INTERNAL;
}

int password_verify(const char *encoded, const char *password)
{
    return argon2id_verify(encoded, password, strlen(password)) == ARGON2_OK;
}

void password_generate(char *out, size_t groups)
{
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789"; /* 32, no l o 0 1 */
    uint8_t rnd[64];
    size_t n = groups * 4;
    if (n > sizeof rnd)
        n = sizeof rnd;
    if (pm_random(rnd, n))
        abort(); /* no randomness: nothing safe to hand out */
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && i % 4 == 0)
            out[o++] = '-';
        out[o++] = alphabet[rnd[i] & 31];
    }
    out[o] = 0;
    mbedtls_platform_zeroize(rnd, sizeof rnd);
}

const char *password_policy(const char *pw)
{
    size_t bytes = strlen(pw);
    if (bytes > PASSWORD_MAX)
        return "at most 128 bytes";
    if (!pm_utf8_valid(pw, bytes, 0))
        return "not valid text";
    if (pm_utf8_len(pw) < PASSWORD_MIN)
        return "at least 10 characters";
    /* one character (of any length in bytes) over and over */
    size_t first = 1;
    while (first < bytes && ((unsigned char)pw[first] & 0xc0) == 0x80)
        first++;
    int same = bytes % first == 0;
    for (size_t i = first; same && i < bytes; i += first)
        same = memcmp(pw + i, pw, first) == 0;
    if (same)
        return "not one character repeated";
    return NULL;
}

int username_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > USERNAME_MAX || !(name[0] >= 'a' && name[0] <= 'z'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
              ch == '-'))
            return 0;
    }
    return 1;
}

/* Login names are compared in lower case; anything is accepted, unknown names simply
 * match no account. */
static void fold_username(const char *in, char *out, size_t n)
{
    size_t i = 0;
    for (; in[i] && i + 1 < n; i++)
        out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] + 32) : in[i];
    out[i] = 0;
}

int argon2_params_load(MDB_txn *txn, store *st, argon2_params *p)
{
    uint64_t m = ARGON2_DEFAULT_M_KIB, t = ARGON2_DEFAULT_T;
    store_meta_get_u64(txn, st, "argon2.m_kib", &m);
    store_meta_get_u64(txn, st, "argon2.t", &t);
    p->m_kib = (uint32_t)m;
    p->t = (uint32_t)t;
    return PM_OK;
}

/* ---- accounts in the store ---- */

static int account_get_by_name(MDB_txn *txn, const char *name, pm_arena *a, Pm__StoredAccount **out)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    if (k.mv_size == 0)
        return PM_E_NOT_FOUND;
    int rc = mdb_get(txn, store_dbi(srv.st, DB_ACCT_NAME), &k, &v);
    if (rc)
        return pm_err_from_mdb(rc);
    if (v.mv_size != 8)
        return PM_E_INTERNAL;
    void *m;
    rc = store_get_pb(txn, store_dbi(srv.st, DB_ACCOUNTS), v.mv_data, 8,
                      &pm__stored_account__descriptor, a, &m);
    if (rc == PM_OK)
        *out = m;
    return rc;
}

static int account_get_by_id(MDB_txn *txn, store *st, uint64_t id, pm_arena *a,
                             Pm__StoredAccount **out)
{
    uint8_t k[8];
    pm_put_u64(k, id);
    void *m;
    int rc =
        store_get_pb(txn, store_dbi(st, DB_ACCOUNTS), k, 8, &pm__stored_account__descriptor, a, &m);
    if (rc == PM_OK)
        *out = m;
    return rc;
}

static int account_put(MDB_txn *txn, store *st, Pm__StoredAccount *sa)
{
    uint8_t k[8];
    pm_put_u64(k, sa->account->id);
    return store_put_pb(txn, store_dbi(st, DB_ACCOUNTS), k, 8, &sa->base);
}

int account_insert(MDB_txn *txn, store *st, const char *username, const char *display_name,
                   int role, const char *pw_hash, int must_change, int device, const char *location,
                   uint64_t now, Pm__Account **out, pm_arena *a)
{
    MDB_val k = {strlen(username), (void *)username}, v;
    int rc = mdb_get(txn, store_dbi(st, DB_ACCT_NAME), &k, &v);
    if (rc == 0)
        return PM_E_ALREADY_EXISTS;
    if (rc != MDB_NOTFOUND)
        return pm_err_from_mdb(rc);
    uint64_t id;
    if ((rc = store_next_id(txn, st, "seq.account", 1, &id)))
        return rc;
    Pm__Account *acct = pm_msg_new(a, &pm__account__descriptor);
    Pm__StoredAccount *sa = pm_msg_new(a, &pm__stored_account__descriptor);
    if (!acct || !sa)
        return PM_E_NOMEM;
    acct->id = id;
    acct->username = pm_arena_strdup(a, username);
    acct->display_name = pm_arena_strdup(a, display_name);
    acct->role = (Pm__Role)role;
    acct->must_change_password = must_change;
    acct->created_at = now;
    acct->version = 1;
    acct->location = pm_arena_strdup(a, location ? location : "");
    acct->device = device;
    sa->account = acct;
    sa->password_hash = pm_arena_strdup(a, pw_hash);
    if (!acct->username || !acct->display_name || !acct->location || !sa->password_hash)
        return PM_E_NOMEM;
    uint8_t idk[8];
    pm_put_u64(idk, id);
    if ((rc = store_put(txn, store_dbi(st, DB_ACCT_NAME), username, strlen(username), idk, 8)) ||
        (rc = account_put(txn, st, sa)))
        return rc;
    *out = acct;
    return PM_OK;
}

/* ---- sessions in memory ---- */

static unsigned bucket_of(const uint8_t hash[32])
{
    return (unsigned)pm_get_u32(hash) % SESSION_BUCKETS;
}

static session *session_find(const uint8_t hash[32])
{
    for (session *s = sessions[bucket_of(hash)]; s; s = s->next)
        if (memcmp(s->hash, hash, 32) == 0)
            return s;
    return NULL;
}

static session *session_add(const uint8_t hash[32], const Pm__Account *a, const char *device,
                            uint64_t expires_wall)
{
    session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    memcpy(s->hash, hash, 32);
    s->account_id = a->id;
    s->role = a->role;
    s->must_change = a->must_change_password;
    snprintf(s->username, sizeof s->username, "%s", a->username);
    snprintf(s->location, sizeof s->location, "%s", a->location);
    snprintf(s->device, sizeof s->device, "%s", device ? device : "");
    s->expires_wall = expires_wall;
    uint64_t now_wall = pm_wall_s(), now_ms = pm_mono_ms();
    uint64_t left = expires_wall > now_wall ? expires_wall - now_wall : 0;
    s->abs_deadline_ms = now_ms + left * 1000;
    s->last_active_ms = now_ms;
    unsigned b = bucket_of(hash);
    s->next = sessions[b];
    sessions[b] = s;
    nsessions++;
    return s;
}

size_t auth_session_count(void)
{
    return nsessions;
}

static void bind_conn(conn *c, session *s)
{
    if (c->sess == s)
        return;
    if (c->sess)
        c->sess->nconns--;
    c->sess = s;
    s->nconns++;
    conn_session_changed(c);
}

static void unbind_conn(conn *c, int reason, const char *msg)
{
    c->sess->nconns--;
    c->sess = NULL;
    conn_session_changed(c);
    events_conn_closed(c); /* its screens must clear: no more events */
    if (reason) {
        Pm__Envelope env = PM__ENVELOPE__INIT;
        Pm__SessionLocked sl = PM__SESSION_LOCKED__INIT;
        env.body_case = PM__ENVELOPE__BODY_SESSION_LOCKED;
        env.session_locked = &sl;
        sl.reason = (Pm__ErrorCode)-reason;
        sl.message = (char *)msg;
        conn_send_env(c, &env);
    }
}

/* A fire-and-forget writer job that deletes sessions from the store. */
struct session_del_job {
    wjob job;
    size_t n;
    uint8_t hashes[][32];
};

static int session_del_run(wjob *j, wctx *ctx)
{
    struct session_del_job *d = (struct session_del_job *)j;
    for (size_t i = 0; i < d->n; i++) {
        int rc = store_del(ctx->txn, store_dbi(ctx->st, DB_SESSIONS), d->hashes[i], 32);
        if (rc && rc != PM_E_NOT_FOUND)
            return rc;
    }
    return PM_OK;
}

static void session_del_done(wjob *j)
{
    if (!j->committed)
        pm_warn("auth: could not delete %zu ended session(s) from the store; they stay expired",
                ((struct session_del_job *)j)->n);
    free(j);
}

static void session_forget(const uint8_t hash[32])
{
    struct session_del_job *d = calloc(1, sizeof *d + 32);
    if (!d)
        return;
    d->n = 1;
    memcpy(d->hashes[0], hash, 32);
    d->job.run = session_del_run;
    d->job.done = session_del_done;
    store_submit(srv.st, &d->job);
}

/* Ends a session in memory: its connections are told (reason != 0) and unbound. */
static void session_end(session *s, int reason, const char *msg)
{
    if (s->nconns)
        for (conn *c = srv.conns; c; c = c->next)
            if (c->sess == s)
                unbind_conn(c, reason, msg);
    session **pp = &sessions[bucket_of(s->hash)];
    while (*pp != s)
        pp = &(*pp)->next;
    *pp = s->next;
    nsessions--;
    free(s);
}

static void sessions_end_account(uint64_t account_id, int reason, const char *msg)
{
    for (unsigned b = 0; b < SESSION_BUCKETS; b++) {
        session *s = sessions[b];
        while (s) {
            session *next = s->next;
            if (s->account_id == account_id)
                session_end(s, reason, msg);
            s = next;
        }
    }
}

/* Why a session is no longer valid, or 0. */
static int session_expired(const session *s, uint64_t now_ms, const char **why)
{
    if (now_ms >= s->abs_deadline_ms) {
        *why = "session reached its maximum length; log in again";
        return PM_E_SESSION_EXPIRED;
    }
    if (s->role != PM__ROLE__DISPLAY &&
        now_ms - s->last_active_ms >= (uint64_t)srv.cfg.idle_timeout_s * 1000) {
        *why = "idle for too long; log in again";
        return PM_E_SESSION_EXPIRED;
    }
    return 0;
}

void auth_tick(void)
{
    uint64_t now = pm_mono_ms();
    for (unsigned b = 0; b < SESSION_BUCKETS; b++) {
        session *s = sessions[b];
        while (s) {
            session *next = s->next;
            const char *why;
            if (session_expired(s, now, &why)) {
                pm_info("auth: session of %s ended: %s", s->username, why);
                session_forget(s->hash);
                session_end(s, PM_E_SESSION_EXPIRED, why);
            }
            s = next;
        }
    }
}

int auth_gate(req *r)
{
    conn *c = r->c;
    session *s = c->sess;
    if (s) {
        const char *why;
        if (session_expired(s, pm_mono_ms(), &why)) {
            session_forget(s->hash);
            session_end(s, PM_E_SESSION_EXPIRED, why);
            s = NULL;
            if (!(r->op->flags & OPF_PRELOGIN))
                return req_fail(r, PM_E_SESSION_EXPIRED, NULL, "%s", why);
        }
    }
    if (s) {
        s->last_active_ms = pm_mono_ms();
        r->account_id = s->account_id;
        r->role = s->role;
        r->username = pm_arena_strdup(&r->arena, s->username);
        r->location = pm_arena_strdup(&r->arena, s->location);
        r->device = pm_arena_printf(&r->arena, "%s (%s)", s->device, c->peer);
    } else {
        r->device = pm_arena_printf(&r->arena, "(%s)", c->peer);
    }
    if (r->op->flags & OPF_PRELOGIN)
        return PM_OK;
    if (!s)
        return PM_E_UNAUTHENTICATED;
    if (s->must_change && !(r->op->flags & OPF_ONE_TIME))
        return req_fail(r, PM_E_PASSWORD_CHANGE_REQUIRED, NULL,
                        "this is a one-time password: set your own password first");
    if (!perm_allowed(r->op->body, s->role))
        return req_fail(
            r, PM_E_PERMISSION_DENIED, NULL, "the %s role may not do %s",
            protobuf_c_enum_descriptor_get_value(&pm__role__descriptor, s->role)
                ? protobuf_c_enum_descriptor_get_value(&pm__role__descriptor, s->role)->name
                : "?",
            r->op->name);
    return PM_OK;
}

void auth_conn_closed(conn *c)
{
    if (c->sess) {
        c->sess->nconns--;
        c->sess = NULL;
    }
}

/* ---- Argon2 on the thread pool, a bounded number at once ---- */

typedef struct hash_work {
    uv_work_t w;
    struct hash_work *next;
    req *r;
    void (*after)(req *r, struct hash_work *hw);
    /* in */
    char *verify_hash;  /* verify password against this, when set */
    char *password;     /* wiped and freed after */
    char *new_password; /* hash this, when set */
    /* out */
    int verified;
    int hashed;
    char encoded[ENCODED_MAX];
} hash_work;

static hash_work *hq_head, **hq_tail = &hq_head;
static unsigned hq_len, hq_running, hq_peak;
static uint64_t hq_done;

void auth_hash_stats(uint64_t *done, uint64_t *peak)
{
    *done = hq_done;
    *peak = hq_peak;
}

static void wipe_free(char *s)
{
    if (s) {
        mbedtls_platform_zeroize(s, strlen(s));
        free(s);
    }
}

static void hash_work_cb(uv_work_t *w)
{
    hash_work *hw = (hash_work *)w;
    if (hw->verify_hash)
        hw->verified = password_verify(hw->verify_hash, hw->password ? hw->password : "");
    if (hw->new_password)
        hw->hashed =
            password_hash(&params, hw->new_password, hw->encoded, sizeof hw->encoded) == PM_OK;
}

static void hash_start_next(void);

static void hash_after_cb(uv_work_t *w, int status)
{
    (void)status;
    hash_work *hw = (hash_work *)w;
    hq_running--;
    hq_done++;
    wipe_free(hw->password);
    wipe_free(hw->new_password);
    hw->password = hw->new_password = NULL;
    hash_start_next();
    hw->after(hw->r, hw);
}

static void hash_start_next(void)
{
    while (hq_head && hq_running < srv.cfg.hash_concurrency) {
        hash_work *hw = hq_head;
        hq_head = hw->next;
        if (!hq_head)
            hq_tail = &hq_head;
        hq_len--;
        hq_running++;
        if (hq_running > hq_peak)
            hq_peak = hq_running;
        if (uv_queue_work(srv.loop, &hw->w, hash_work_cb, hash_after_cb) != 0) {
            hq_running--;
            hw->verified = hw->hashed = 0;
            hw->after(hw->r, hw);
        }
    }
}

/* Queues hashing work; PM_E_BUSY when too much is waiting already. */
static int hash_submit(hash_work *hw)
{
    if (hq_len >= HASH_QUEUE_MAX)
        return PM_E_BUSY;
    hw->next = NULL;
    *hq_tail = hw;
    hq_tail = &hw->next;
    hq_len++;
    hash_start_next();
    return PM_OK;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---- login ---- */

typedef struct login_state {
    hash_work hw;
    char name[72];
    int skip_hash; /* locked: no hashing at all */
    uint8_t token[32];
    uint8_t token_hash[32];
    uint32_t fail_count;
    Pm__Account *account;
    char device[64];
    uv_timer_t delay;
} login_state;

static int login_write(req *r, wctx *ctx)
{
    login_state *ls = r->ext;
    MDB_dbi fdbi = store_dbi(ctx->st, DB_LOGIN_FAIL);
    r->username = ls->name;
    r->audit_record = ls->name;
    Pm__LoginFailures *lf = NULL;
    void *m;
    int rc = store_get_pb(ctx->txn, fdbi, ls->name, strlen(ls->name),
                          &pm__login_failures__descriptor, &r->arena, &m);
    if (rc == PM_OK)
        lf = m;
    else if (rc != PM_E_NOT_FOUND)
        return rc;
    if (lf && lf->locked_until > ctx->now) {
        r->retry_after_ms = (uint32_t)((lf->locked_until - ctx->now) * 1000);
        ls->fail_count = lf->count;
        req_fail(r, PM_E_LOCKED, NULL, "too many failed logins; try again in %llu min",
                 (unsigned long long)((lf->locked_until - ctx->now + 59) / 60));
        return PM_OK;
    }
    Pm__StoredAccount *sa = NULL;
    rc = account_get_by_name(ctx->txn, ls->name, &r->arena, &sa);
    if (rc && rc != PM_E_NOT_FOUND)
        return rc;
    if (sa && ls->hw.verified) {
        if (sa->account->disabled) {
            req_fail(r, PM_E_ACCOUNT_DISABLED, NULL, "this account is disabled; ask a manager");
            return PM_OK;
        }
        if (lf && (rc = store_del(ctx->txn, fdbi, ls->name, strlen(ls->name))))
            return rc;
        Pm__StoredSession ss = PM__STORED_SESSION__INIT;
        ss.account_id = sa->account->id;
        ss.created_at = ctx->now;
        ss.expires_at = ctx->now + srv.cfg.session_max_s;
        ss.device = ls->device;
        rc = store_put_pb(ctx->txn, store_dbi(ctx->st, DB_SESSIONS), ls->token_hash, 32, &ss.base);
        if (rc)
            return rc;
        Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_LOGIN_OK);
        Pm__LoginOk *ok = pm_msg_new(&r->arena, &pm__login_ok__descriptor);
        if (!e || !ok)
            return PM_E_NOMEM;
        ok->token.data = ls->token;
        ok->token.len = 32;
        ok->account = sa->account;
        ok->must_change_password = sa->account->must_change_password;
        ok->expires_at = ss.expires_at;
        ok->idle_timeout_s = sa->account->role == PM__ROLE__DISPLAY ? 0 : srv.cfg.idle_timeout_s;
        e->login_ok = ok;
        ls->account = sa->account;
        return PM_OK;
    }
    /* Wrong password or no such user: one answer, one cost. */
    Pm__LoginFailures nf = PM__LOGIN_FAILURES__INIT;
    if (lf && !(lf->locked_until && lf->locked_until <= ctx->now))
        nf.count = lf->count;
    nf.count++;
    nf.last_failure = ctx->now;
    if (nf.count >= srv.cfg.lockout_failures)
        nf.locked_until = ctx->now + srv.cfg.lockout_s;
    rc = store_put_pb(ctx->txn, fdbi, ls->name, strlen(ls->name), &nf.base);
    if (rc)
        return rc;
    ls->fail_count = nf.count;
    if (nf.locked_until) {
        r->retry_after_ms = srv.cfg.lockout_s * 1000;
        req_fail(r, PM_E_LOCKED, NULL, "too many failed logins; try again in %u min",
                 (srv.cfg.lockout_s + 59) / 60);
    } else {
        req_fail(r, PM_E_BAD_CREDENTIALS, NULL, NULL);
    }
    return PM_OK;
}

static void login_delay_closed(uv_handle_t *h)
{
    req *r = h->data;
    login_state *ls = r->ext;
    free(ls);
    r->ext = NULL;
    req_finish(r);
}

static void login_delay_fired(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, login_delay_closed);
}

static void login_done(req *r)
{
    login_state *ls = r->ext;
    if (r->status == PM_OK && ls->account) {
        session *s = session_add(ls->token_hash, ls->account, ls->device,
                                 pm_wall_s() + srv.cfg.session_max_s);
        if (!s) {
            r->status = PM_E_NOMEM;
        } else if (!r->c->closing) {
            bind_conn(r->c, s);
            snprintf(r->c->device, sizeof r->c->device, "%s", ls->device);
        }
        pm_info("auth: %s logged in from %s (%s)", ls->name, r->c->peer, ls->device);
    } else if (r->status == PM_E_BAD_CREDENTIALS || r->status == PM_E_LOCKED) {
        pm_warn("auth: failed login for '%s' from %s (%s, %u in a row)", ls->name, r->c->peer,
                pm_err_name(r->status), ls->fail_count);
        /* The same growing delay for every name, known or not. */
        uint64_t delay = srv.cfg.login_delay_ms;
        for (uint32_t i = 1; i < ls->fail_count && delay < srv.cfg.login_delay_max_ms; i++)
            delay *= 2;
        if (delay > srv.cfg.login_delay_max_ms)
            delay = srv.cfg.login_delay_max_ms;
        if (delay) {
            uv_timer_init(srv.loop, &ls->delay);
            ls->delay.data = r;
            uv_timer_start(&ls->delay, login_delay_fired, delay, 0);
            return;
        }
    }
    free(ls);
    r->ext = NULL;
    req_finish(r);
}

static void login_hashed(req *r, hash_work *hw)
{
    (void)hw;
    r->done_hook = login_done;
    req_submit_write(r, login_write);
}

void auth_login(req *r)
{
    const Pm__Login *l = r->env->login;
    login_state *ls = calloc(1, sizeof *ls);
    if (!ls) {
        req_fail(r, PM_E_NOMEM, NULL, NULL);
        req_finish(r);
        return;
    }
    r->ext = ls;
    fold_username(l->username, ls->name, sizeof ls->name);
    snprintf(ls->device, sizeof ls->device, "%s", *l->device ? l->device : "unnamed device");
    if (!pm_utf8_valid(ls->device, strlen(ls->device), 0))
        snprintf(ls->device, sizeof ls->device, "unnamed device");
    r->device = pm_arena_printf(&r->arena, "%s (%s)", ls->device, r->c->peer);
    if (pm_random(ls->token, 32)) {
        free(ls);
        r->ext = NULL;
        req_fail(r, PM_E_INTERNAL, NULL, NULL);
        req_finish(r);
        return;
    }
    pm_sha256(ls->token, 32, ls->token_hash);

    /* Look the name up now, so that hashing runs against its hash, or the stand-in. */
    MDB_txn *txn;
    const char *verify = dummy_hash;
    int locked = 0;
    if (store_read_begin(srv.st, &txn) == PM_OK) {
        Pm__StoredAccount *sa;
        if (username_valid(ls->name) && account_get_by_name(txn, ls->name, &r->arena, &sa) == PM_OK)
            verify = sa->password_hash;
        void *m;
        if (store_get_pb(txn, store_dbi(srv.st, DB_LOGIN_FAIL), ls->name, strlen(ls->name),
                         &pm__login_failures__descriptor, &r->arena, &m) == PM_OK)
            locked = ((Pm__LoginFailures *)m)->locked_until > pm_wall_s();
        store_read_end(srv.st);
    }
    if (locked || strlen(l->password) > PASSWORD_MAX) {
        login_hashed(r, &ls->hw);
        return;
    }
    ls->hw.r = r;
    ls->hw.after = login_hashed;
    ls->hw.verify_hash = pm_arena_strdup(&r->arena, verify);
    ls->hw.password = dup_or_null(l->password);
    if (!ls->hw.password || !ls->hw.verify_hash || hash_submit(&ls->hw) != PM_OK) {
        free(ls->hw.password);
        free(ls);
        r->ext = NULL;
        r->retry_after_ms = 1000;
        req_fail(r, PM_E_BUSY, NULL, "too many logins at once; try again");
        req_finish(r);
    }
}

/* ---- resume, logout ---- */

static Pm__Envelope *login_ok_for(req *r, session *s, Pm__Account *a)
{
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_LOGIN_OK);
    Pm__LoginOk *ok = pm_msg_new(&r->arena, &pm__login_ok__descriptor);
    if (!e || !ok)
        return NULL;
    ok->account = a;
    ok->must_change_password = s->must_change;
    ok->expires_at = s->expires_wall;
    ok->idle_timeout_s = s->role == PM__ROLE__DISPLAY ? 0 : srv.cfg.idle_timeout_s;
    e->login_ok = ok;
    return e;
}

void auth_resume(req *r)
{
    const Pm__Resume *rs = r->env->resume;
    uint8_t hash[32];
    pm_sha256(rs->token.data, rs->token.len, hash);
    session *s = rs->token.len == 32 ? session_find(hash) : NULL;
    const char *why = NULL;
    if (s && session_expired(s, pm_mono_ms(), &why)) {
        session_forget(s->hash);
        session_end(s, PM_E_SESSION_EXPIRED, why);
        s = NULL;
    }
    if (!s) {
        req_fail(r, PM_E_SESSION_EXPIRED, NULL, "%s", why ? why : "no such session; log in again");
        req_finish(r);
        return;
    }
    MDB_txn *txn;
    Pm__StoredAccount *sa = NULL;
    int rc = store_read_begin(srv.st, &txn);
    if (rc == PM_OK) {
        rc = account_get_by_id(txn, srv.st, s->account_id, &r->arena, &sa);
        store_read_end(srv.st);
    }
    if (rc || sa->account->disabled) {
        session_forget(s->hash);
        session_end(s, PM_E_ACCOUNT_DISABLED, "account disabled");
        req_fail(r, rc ? rc : PM_E_ACCOUNT_DISABLED, NULL, NULL);
        req_finish(r);
        return;
    }
    s->last_active_ms = pm_mono_ms();
    bind_conn(r->c, s);
    if (*rs->device)
        snprintf(r->c->device, sizeof r->c->device, "%s", rs->device);
    login_ok_for(r, s, sa->account);
    req_finish(r);
}

typedef struct logout_state {
    uint8_t hash[32];
} logout_state;

static int logout_write(req *r, wctx *ctx)
{
    logout_state *st = r->ext;
    r->audit_record = r->username;
    int rc = store_del(ctx->txn, store_dbi(ctx->st, DB_SESSIONS), st->hash, 32);
    if (rc && rc != PM_E_NOT_FOUND)
        return rc;
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_OK);
    Pm__Ok *ok = pm_msg_new(&r->arena, &pm__ok__descriptor);
    if (!e || !ok)
        return PM_E_NOMEM;
    e->ok = ok;
    return PM_OK;
}

static void logout_done(req *r)
{
    logout_state *st = r->ext;
    if (r->status == PM_OK) {
        session *s = session_find(st->hash);
        if (s) {
            /* This connection asked; the others sharing the session are told. */
            if (r->c->sess == s)
                unbind_conn(r->c, 0, NULL);
            session_end(s, PM_E_SESSION_EXPIRED, "logged out");
        }
    }
    free(st);
    r->ext = NULL;
    req_finish(r);
}

void auth_logout(req *r)
{
    logout_state *st = calloc(1, sizeof *st);
    if (!st) {
        req_fail(r, PM_E_NOMEM, NULL, NULL);
        req_finish(r);
        return;
    }
    memcpy(st->hash, r->c->sess->hash, 32);
    r->ext = st;
    r->done_hook = logout_done;
    req_submit_write(r, logout_write);
}

/* ---- password changes and account management ---- */

typedef struct acct_state {
    hash_work hw;
    char username[USERNAME_MAX + 1];
    char display_name[128];
    char location[64];
    char secret[64]; /* the one-time password or device secret, shown once */
    int role;
    int device;
    int disabled;
    uint64_t account_id; /* whose sessions end after the write */
    const char *end_reason;
} acct_state;

static void acct_free(req *r)
{
    acct_state *as = r->ext;
    if (as) {
        mbedtls_platform_zeroize(as->secret, sizeof as->secret);
        free(as->hw.password);
        free(as->hw.new_password);
        free(as);
    }
    r->ext = NULL;
}

static void acct_done(req *r)
{
    acct_state *as = r->ext;
    if (r->status == PM_OK && as->account_id)
        sessions_end_account(as->account_id,
                             as->disabled ? PM_E_ACCOUNT_DISABLED : PM_E_SESSION_EXPIRED,
                             as->end_reason ? as->end_reason : "your password was reset");
    if (r->status == PM_OK && r->op->body == PM__ENVELOPE__BODY_CHANGE_PASSWORD)
        for (unsigned b = 0; b < SESSION_BUCKETS; b++)
            for (session *s = sessions[b]; s; s = s->next)
                if (s->account_id == r->account_id)
                    s->must_change = 0;
    acct_free(r);
    req_finish(r);
}

static void acct_fail_now(req *r, int code, const char *field, const char *msg)
{
    req_fail(r, code, field, "%s", msg);
    acct_free(r);
    req_finish(r);
}

static Pm__Envelope *credential_answer(req *r, Pm__Account *a, const char *secret)
{
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_ACCOUNT_CREDENTIAL);
    Pm__AccountCredential *ac = pm_msg_new(&r->arena, &pm__account_credential__descriptor);
    if (!e || !ac)
        return NULL;
    ac->account = a;
    ac->one_time_password = pm_arena_strdup(&r->arena, secret);
    e->account_credential = ac;
    return e;
}

static int create_write(req *r, wctx *ctx)
{
    acct_state *as = r->ext;
    r->audit_record = as->username;
    Pm__Account *a;
    int rc =
        account_insert(ctx->txn, ctx->st, as->username, as->display_name, as->role, as->hw.encoded,
                       !as->device, as->device, as->location, ctx->now, &a, &r->arena);
    if (rc == PM_E_ALREADY_EXISTS)
        return req_fail(r, rc, as->device ? "name" : "username", "%s is taken", as->username);
    if (rc)
        return rc;
    return credential_answer(r, a, as->secret) ? PM_OK : PM_E_NOMEM;
}

static void after_hash_then_write(req *r, hash_work *hw, int (*fn)(req *, wctx *))
{
    if (!hw->hashed) {
        req_fail(r, PM_E_INTERNAL, NULL, "password hashing failed");
        acct_free(r);
        req_finish(r);
        return;
    }
    r->done_hook = acct_done;
    req_submit_write(r, fn);
}

static void create_hashed(req *r, hash_work *hw)
{
    after_hash_then_write(r, hw, create_write);
}

static acct_state *acct_begin(req *r)
{
    acct_state *as = calloc(1, sizeof *as);
    if (!as) {
        req_fail(r, PM_E_NOMEM, NULL, NULL);
        req_finish(r);
        return NULL;
    }
    r->ext = as;
    as->hw.r = r;
    return as;
}

static void acct_hash_secret(req *r, acct_state *as, void (*after)(req *, hash_work *))
{
    as->hw.after = after;
    as->hw.new_password = strdup(as->secret);
    if (!as->hw.new_password) {
        acct_fail_now(r, PM_E_NOMEM, NULL, "out of memory");
        return;
    }
    if (hash_submit(&as->hw) != PM_OK) {
        r->retry_after_ms = 1000;
        acct_fail_now(r, PM_E_BUSY, NULL, "server busy hashing passwords; try again");
    }
}

void accounts_create(req *r)
{
    const Pm__CreateAccount *ca = r->env->create_account;
    acct_state *as = acct_begin(r);
    if (!as)
        return;
    if (!username_valid(ca->username)) {
        acct_fail_now(r, PM_E_INVALID_ARGUMENT, "username",
                      "1 to 32 of a-z, 0-9, '.', '_' or '-', starting with a letter");
        return;
    }
    if (ca->role < PM__ROLE__MANAGER || ca->role > PM__ROLE__CLINICIAN) {
        acct_fail_now(r, PM_E_INVALID_ARGUMENT, "role",
                      "one of manager, receptionist, biller, clinician (displays are devices)");
        return;
    }
    size_t dl = strlen(ca->display_name);
    if (dl > 100 || !pm_utf8_valid(ca->display_name, dl, 0)) {
        acct_fail_now(r, PM_E_INVALID_ARGUMENT, "display_name", "at most 100 characters of text");
        return;
    }
    snprintf(as->username, sizeof as->username, "%s", ca->username);
    snprintf(as->display_name, sizeof as->display_name, "%s", dl ? ca->display_name : ca->username);
    as->role = ca->role;
    password_generate(as->secret, 3);
    acct_hash_secret(r, as, create_hashed);
}

void accounts_create_device(req *r)
{
    const Pm__CreateDevice *cd = r->env->create_device;
    acct_state *as = acct_begin(r);
    if (!as)
        return;
    if (!username_valid(cd->name)) {
        acct_fail_now(r, PM_E_INVALID_ARGUMENT, "name",
                      "1 to 32 of a-z, 0-9, '.', '_' or '-', starting with a letter");
        return;
    }
    MDB_txn *txn;
    int known = 0;
    if (store_read_begin(srv.st, &txn) == PM_OK) {
        Pm__Location *loc;
        known = sched_code_valid(cd->location) &&
                setup_location(txn, cd->location, &r->arena, &loc) == PM_OK;
        store_read_end(srv.st);
    }
    if (!known) {
        acct_fail_now(r, PM_E_INVALID_ARGUMENT, "location",
                      "the location whose board it shows (set up with 'practice location add')");
        return;
    }
    snprintf(as->username, sizeof as->username, "%s", cd->name);
    snprintf(as->display_name, sizeof as->display_name, "display %s", cd->name);
    snprintf(as->location, sizeof as->location, "%s", cd->location);
    as->role = PM__ROLE__DISPLAY;
    as->device = 1;
    password_generate(as->secret, 8);
    acct_hash_secret(r, as, create_hashed);
}

static int reset_write(req *r, wctx *ctx)
{
    acct_state *as = r->ext;
    r->audit_record = as->username;
    Pm__StoredAccount *sa;
    int rc = account_get_by_name(ctx->txn, as->username, &r->arena, &sa);
    if (rc == PM_E_NOT_FOUND)
        return req_fail(r, rc, "username", "no account %s", as->username);
    if (rc)
        return rc;
    sa->password_hash = as->hw.encoded;
    sa->account->must_change_password = !sa->account->device;
    sa->account->version++;
    if ((rc = account_put(ctx->txn, ctx->st, sa)))
        return rc;
    /* A reset also lifts a lockout: the manager vouches for the person. */
    rc = store_del(ctx->txn, store_dbi(ctx->st, DB_LOGIN_FAIL), as->username, strlen(as->username));
    if (rc && rc != PM_E_NOT_FOUND)
        return rc;
    as->account_id = sa->account->id;
    as->end_reason = "your password was reset";
    return credential_answer(r, sa->account, as->secret) ? PM_OK : PM_E_NOMEM;
}

static void reset_hashed(req *r, hash_work *hw)
{
    after_hash_then_write(r, hw, reset_write);
}

void accounts_reset_password(req *r)
{
    const Pm__ResetPassword *rp = r->env->reset_password;
    acct_state *as = acct_begin(r);
    if (!as)
        return;
    if (!username_valid(rp->username)) {
        acct_fail_now(r, PM_E_NOT_FOUND, "username", "no such account");
        return;
    }
    snprintf(as->username, sizeof as->username, "%s", rp->username);
    MDB_txn *txn;
    int device = 0;
    if (store_read_begin(srv.st, &txn) == PM_OK) {
        Pm__StoredAccount *sa;
        if (account_get_by_name(txn, as->username, &r->arena, &sa) == PM_OK)
            device = sa->account->device;
        store_read_end(srv.st);
    }
    password_generate(as->secret, device ? 8 : 3);
    acct_hash_secret(r, as, reset_hashed);
}

/* A stored session of the account *arg. */
static int session_of(const MDB_val *k, const MDB_val *v, void *arg, enum store_sweep *what)
{
    (void)k;
    Pm__StoredSession *ss = pm__stored_session__unpack(NULL, v->mv_size, v->mv_data);
    *what = ss && ss->account_id == *(const uint64_t *)arg ? SWEEP_DELETE : SWEEP_KEEP;
    if (ss)
        pm__stored_session__free_unpacked(ss, NULL);
    return PM_OK;
}

static int disable_write(req *r, wctx *ctx)
{
    acct_state *as = r->ext;
    r->audit_record = as->username;
    r->audit_detail = as->disabled ? "disabled" : "enabled";
    Pm__StoredAccount *sa;
    int rc = account_get_by_name(ctx->txn, as->username, &r->arena, &sa);
    if (rc == PM_E_NOT_FOUND)
        return req_fail(r, rc, "username", "no account %s", as->username);
    if (rc)
        return rc;
    if (sa->account->id == r->account_id && as->disabled)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "username", "you cannot disable yourself");
    sa->account->disabled = as->disabled;
    sa->account->version++;
    if ((rc = account_put(ctx->txn, ctx->st, sa)))
        return rc;
    if (as->disabled) {
        /* Its stored sessions go too, so a restart does not bring them back. */
        unsigned gone;
        if ((rc = store_sweep(ctx->txn, store_dbi(ctx->st, DB_SESSIONS), UINT_MAX, UINT_MAX, NULL,
                              session_of, &sa->account->id, &gone)))
            return rc;
        as->account_id = sa->account->id;
        as->end_reason = "account disabled";
    }
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_ACCOUNT_OK);
    Pm__AccountOk *ok = pm_msg_new(&r->arena, &pm__account_ok__descriptor);
    if (!e || !ok)
        return PM_E_NOMEM;
    ok->account = sa->account;
    e->account_ok = ok;
    return PM_OK;
}

void accounts_set_disabled(req *r)
{
    const Pm__SetAccountDisabled *sd = r->env->set_account_disabled;
    acct_state *as = acct_begin(r);
    if (!as)
        return;
    if (!username_valid(sd->username)) {
        acct_fail_now(r, PM_E_NOT_FOUND, "username", "no such account");
        return;
    }
    snprintf(as->username, sizeof as->username, "%s", sd->username);
    as->disabled = sd->disabled;
    r->done_hook = acct_done;
    req_submit_write(r, disable_write);
}

static int change_write(req *r, wctx *ctx)
{
    acct_state *as = r->ext;
    r->audit_record = r->username;
    Pm__StoredAccount *sa;
    int rc = account_get_by_id(ctx->txn, ctx->st, r->account_id, &r->arena, &sa);
    if (rc)
        return rc;
    sa->password_hash = as->hw.encoded;
    sa->account->must_change_password = 0;
    sa->account->version++;
    if ((rc = account_put(ctx->txn, ctx->st, sa)))
        return rc;
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_ACCOUNT_OK);
    Pm__AccountOk *ok = pm_msg_new(&r->arena, &pm__account_ok__descriptor);
    if (!e || !ok)
        return PM_E_NOMEM;
    ok->account = sa->account;
    e->account_ok = ok;
    return PM_OK;
}

static void change_hashed(req *r, hash_work *hw)
{
    if (hw->verify_hash && !hw->verified) {
        req_fail(r, PM_E_BAD_CREDENTIALS, "old_password", "the current password is wrong");
        r->done_hook = NULL;
        /* recorded like any failed change */
        acct_free(r);
        req_submit_audit(r);
        return;
    }
    after_hash_then_write(r, hw, change_write);
}

void auth_change_password(req *r)
{
    const Pm__ChangePassword *cp = r->env->change_password;
    acct_state *as = acct_begin(r);
    if (!as)
        return;
    r->audit_record = r->username;
    const char *bad = password_policy(cp->new_password);
    if (bad) {
        req_field_error(r, "new_password", bad);
        acct_free(r);
        req_submit_audit(r);
        return;
    }
    MDB_txn *txn;
    Pm__StoredAccount *sa = NULL;
    int rc = store_read_begin(srv.st, &txn);
    if (rc == PM_OK) {
        rc = account_get_by_id(txn, srv.st, r->account_id, &r->arena, &sa);
        store_read_end(srv.st);
    }
    if (rc) {
        acct_fail_now(r, rc, NULL, pm_strerror(rc));
        return;
    }
    if (!sa->account->must_change_password || *cp->old_password) {
        as->hw.verify_hash = sa->password_hash;
        as->hw.password = strdup(cp->old_password);
    }
    as->hw.new_password = strdup(cp->new_password);
    as->hw.after = change_hashed;
    if (!as->hw.new_password || (as->hw.verify_hash && !as->hw.password)) {
        acct_fail_now(r, PM_E_NOMEM, NULL, "out of memory");
        return;
    }
    if (hash_submit(&as->hw) != PM_OK) {
        r->retry_after_ms = 1000;
        acct_fail_now(r, PM_E_BUSY, NULL, "server busy hashing passwords; try again");
    }
}

int accounts_list(req *r, MDB_txn *txn)
{
    int all = r->env->list_accounts->include_disabled;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store_dbi(srv.st, DB_ACCOUNTS), &cur);
    if (rc)
        return pm_err_from_mdb(rc);
    size_t n = 0, cap = 0;
    void **v = NULL;
    MDB_val k, val;
    for (int g = mdb_cursor_get(cur, &k, &val, MDB_FIRST); g == 0 && rc == PM_OK;
         g = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
        Pm__StoredAccount *sa =
            pm__stored_account__unpack(pm_arena_pbc(&r->arena), val.mv_size, val.mv_data);
        if (!sa || !sa->account || (sa->account->disabled && !all))
            continue;
        if (pm_arena_push(&r->arena, &v, &n, &cap, sa->account))
            rc = PM_E_NOMEM;
    }
    mdb_cursor_close(cur);
    if (rc)
        return rc;
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_ACCOUNT_LIST);
    Pm__AccountList *al = pm_msg_new(&r->arena, &pm__account_list__descriptor);
    if (!e || !al)
        return PM_E_NOMEM;
    al->accounts = (Pm__Account **)v;
    al->n_accounts = n;
    e->account_list = al;
    return PM_OK;
}

/* ---- start and stop ---- */

int auth_init(void)
{
    MDB_txn *txn;
    int rc = store_txn_begin(srv.st, 0, &txn);
    if (rc)
        return rc;
    argon2_params_load(txn, srv.st, &params);
    /* Sessions that outlived the restart: back in memory with a fresh idle window. */
    MDB_cursor *cur;
    size_t loaded = 0, dropped = 0;
    uint64_t now = pm_wall_s();
    pm_arena a;
    pm_arena_init(&a, 0);
    if (mdb_cursor_open(txn, store_dbi(srv.st, DB_SESSIONS), &cur) == 0) {
        MDB_val k, v;
        for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
             g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            Pm__StoredSession *ss =
                pm__stored_session__unpack(pm_arena_pbc(&a), v.mv_size, v.mv_data);
            Pm__StoredAccount *sa = NULL;
            if (k.mv_size == 32 && ss && ss->expires_at > now &&
                account_get_by_id(txn, srv.st, ss->account_id, &a, &sa) == PM_OK &&
                !sa->account->disabled &&
                session_add(k.mv_data, sa->account, ss->device, ss->expires_at))
                loaded++;
            else
                dropped++;
        }
        mdb_cursor_close(cur);
    }
    pm_arena_free(&a);
    mdb_txn_abort(txn);
    if (loaded || dropped)
        pm_info("auth: %zu session(s) restored, %zu expired", loaded, dropped);
    char pw[32];
    password_generate(pw, 3);
    rc = password_hash(&params, pw, dummy_hash, sizeof dummy_hash);
    mbedtls_platform_zeroize(pw, sizeof pw);
    return rc;
}

void auth_shutdown(void)
{
    for (unsigned b = 0; b < SESSION_BUCKETS; b++) {
        session *s = sessions[b];
        while (s) {
            session *next = s->next;
            free(s);
            s = next;
        }
        sessions[b] = NULL;
    }
    nsessions = 0;
}
