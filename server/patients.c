#include "patients.h"

#include "dispatch.h"
#include "events.h"
#include "pm_err.h"
#include "pm_log.h"
#include "pm_time.h"
#include "pm_util.h"
#include "server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FIRST_PATIENT_ID 10001
#define SEARCH_DEFAULT   50
#define SEARCH_MAX       500
#define SEARCH_SCAN_MAX  20000 /* index entries looked at before giving up on more matches */
#define NAME_MAX_CHARS   100
#define KEY_MAX          256
#define MAX_KEYS         48
#define TOPIC_PATIENTS   "patients"

/* Name index entry kinds: 'L' last name then first name, for the ordered listing and for
 * prefixes of the last name; 'W' every other word of every name (the first and preferred
 * names' words, a last name's words after its first, a hyphenated first name whole).
 * A search word looks in both. One key fewer per patient than a separate last-name word:
 * every key is a page a create may dirty. */
#define KIND_LIST 'L'
#define KIND_WORD 'W'

/* ---- MRN ---- */

static int luhn_digit(const char *digits)
{
    int sum = 0, dbl = 1;
    for (size_t i = strlen(digits); i-- > 0;) {
        int d = digits[i] - '0';
        if (dbl) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
        dbl = !dbl;
    }
    return (10 - sum % 10) % 10;
}

void mrn_format(uint64_t id, char out[24])
{
    char digits[22];
    snprintf(digits, sizeof digits, "%llu", (unsigned long long)id);
    snprintf(out, 24, "%s%d", digits, luhn_digit(digits));
}

int mrn_parse(const char *s, uint64_t *id)
{
    char d[24];
    size_t n = 0;
    for (; *s; s++) {
        if (*s == ' ' || *s == '-')
            continue;
        if (*s < '0' || *s > '9' || n >= 20)
            return -1;
        d[n++] = *s;
    }
    if (n < 2)
        return -1;
    d[n] = 0;
    int check = d[n - 1] - '0';
    d[n - 1] = 0;
    if (luhn_digit(d) != check)
        return -1;
    char *end;
    unsigned long long v = strtoull(d, &end, 10);
    if (*end || v == 0)
        return -1;
    *id = v;
    return 0;
}

static const char *canonical_mrn(req *r, uint64_t id)
{
    char mrn[24];
    mrn_format(id, mrn);
    return pm_arena_strdup(&r->arena, mrn);
}

/* ---- validation ---- */

static int text_ok(req *r, const char *field, const char *s, size_t max_chars, int required,
                   int multiline)
{
    size_t n = strlen(s);
    if (required && n == 0)
        return req_field_error(r, field, "required"), 0;
    if (!pm_utf8_valid(s, n, multiline))
        return req_field_error(r, field,
                               multiline ? "not valid text" : "not valid text on one line"),
               0;
    if (pm_utf8_len(s) > max_chars) {
        char msg[64];
        snprintf(msg, sizeof msg, "at most %zu characters", max_chars);
        return req_field_error(r, field, msg), 0;
    }
    return 1;
}

static int phone_ok(const char *s)
{
    size_t digits = 0;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (!strchr("+ ()-./", *p))
            return 0;
    }
    return digits >= 7 && digits <= 15;
}

static int email_ok(const char *s)
{
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n > 254 || !at || at == s || strchr(at + 1, '@'))
        return 0;
    const char *dot = strrchr(at, '.');
    if (!dot || dot == at + 1 || !dot[1])
        return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == ',' || *p == ';' || *p == '<' ||
            *p == '>')
            return 0;
    return 1;
}

/* A BCP 47-ish language tag: "en", "es", "pt-BR", "zh-Hant". */
static int language_ok(const char *s)
{
    size_t n = strlen(s), i = 0, part = 0;
    if (n == 0)
        return 1;
    if (n > 35)
        return 0;
    while (i < n) {
        size_t len = 0;
        while (i < n && s[i] != '-') {
            char ch = s[i];
            int letter = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
            int digit = ch >= '0' && ch <= '9';
            if (!letter && !(digit && part > 0))
                return 0;
            len++;
            i++;
        }
        if (part == 0 ? (len < 2 || len > 3) : (len < 2 || len > 8))
            return 0;
        part++;
        if (i < n)
            i++;
        if (i == n && s[n - 1] == '-')
            return 0;
    }
    return 1;
}

int patient_validate(req *r, const Pm__Patient *p)
{
    text_ok(r, "first_name", p->first_name, NAME_MAX_CHARS, 1, 0);
    text_ok(r, "last_name", p->last_name, NAME_MAX_CHARS, 1, 0);
    text_ok(r, "preferred_name", p->preferred_name, NAME_MAX_CHARS, 0, 0);
    int y, m, d;
    if (!*p->date_of_birth) {
        req_field_error(r, "date_of_birth", "required (YYYY-MM-DD)");
    } else if (pm_parse_date(p->date_of_birth, &y, &m, &d) != 0) {
        req_field_error(r, "date_of_birth", "not a date (YYYY-MM-DD)");
    } else {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        int today = (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
        int dob = y * 10000 + m * 100 + d;
        if (dob > today)
            req_field_error(r, "date_of_birth", "in the future");
        else if (y < 1880)
            req_field_error(r, "date_of_birth", "before 1880");
    }
    if (p->sex < PM__SEX__SEX_UNSPECIFIED || p->sex > PM__SEX__UNKNOWN)
        req_field_error(r, "sex", "one of female, male, other, unknown");
    if (p->n_phones > 5)
        req_field_error(r, "phones", "at most 5");
    for (size_t i = 0; i < p->n_phones && i < 5; i++) {
        char f[32];
        snprintf(f, sizeof f, "phones[%zu].number", i);
        if (!phone_ok(p->phones[i]->number))
            req_field_error(r, f, "7 to 15 digits; + ( ) - . / and spaces allowed");
        if (p->phones[i]->kind < PM__PHONE_KIND__PHONE_UNSPECIFIED ||
            p->phones[i]->kind > PM__PHONE_KIND__WORK) {
            snprintf(f, sizeof f, "phones[%zu].kind", i);
            req_field_error(r, f, "one of mobile, home, work");
        }
    }
    if (*p->email && !email_ok(p->email))
        req_field_error(r, "email", "not an email address");
    if (p->address) {
        text_ok(r, "address.line1", p->address->line1, 200, 0, 0);
        text_ok(r, "address.line2", p->address->line2, 200, 0, 0);
        text_ok(r, "address.city", p->address->city, 100, 0, 0);
        text_ok(r, "address.region", p->address->region, 100, 0, 0);
        text_ok(r, "address.postal_code", p->address->postal_code, 20, 0, 0);
        text_ok(r, "address.country", p->address->country, 60, 0, 0);
    }
    if (!language_ok(p->preferred_language))
        req_field_error(r, "preferred_language", "a language tag such as en, es or pt-BR");
    if (p->insurance) {
        text_ok(r, "insurance.payer", p->insurance->payer, 100, 0, 0);
        text_ok(r, "insurance.member_id", p->insurance->member_id, 50, 0, 0);
        text_ok(r, "insurance.group_number", p->insurance->group_number, 50, 0, 0);
    }
    if (p->emergency_contact) {
        text_ok(r, "emergency_contact.name", p->emergency_contact->name, 100, 0, 0);
        text_ok(r, "emergency_contact.relationship", p->emergency_contact->relationship, 50, 0, 0);
        if (*p->emergency_contact->phone && !phone_ok(p->emergency_contact->phone))
            req_field_error(r, "emergency_contact.phone",
                            "7 to 15 digits; + ( ) - . / and spaces allowed");
    }
    text_ok(r, "notes", p->notes, 4000, 0, 1);
    return r->nfields ? PM_E_INVALID_ARGUMENT : PM_OK;
}

/* ---- index keys ---- */

typedef struct keyset {
    size_t n;
    struct {
        enum store_db db;
        size_t len;
        uint8_t k[KEY_MAX];
    } keys[MAX_KEYS];
} keyset;

static void keyset_add(keyset *ks, enum store_db db, const void *p, size_t len, uint64_t id)
{
    if (ks->n == MAX_KEYS || len + 8 > KEY_MAX)
        return;
    for (size_t i = 0; i < ks->n; i++) /* a name may repeat a word */
        if (ks->keys[i].db == db && ks->keys[i].len == len + 8 &&
            memcmp(ks->keys[i].k, p, len) == 0)
            return;
    memcpy(ks->keys[ks->n].k, p, len);
    pm_put_u64(ks->keys[ks->n].k + len, id);
    ks->keys[ks->n].len = len + 8;
    ks->keys[ks->n].db = db;
    ks->n++;
}

/* Each word of a folded name, and the name whole: "anne-marie" -> "anne-marie", "anne",
 * "marie". */
static void add_words(keyset *ks, const char *name, uint64_t id, int last_name)
{
    char folded[4 * NAME_MAX_CHARS + 8];
    size_t n = pm_fold(name, folded, sizeof folded);
    if (n == 0)
        return;
    uint8_t k[KEY_MAX];
    size_t start = 0;
    int first_word = 1;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || folded[i] == ' ' || folded[i] == '-') {
            size_t len = i - start;
            int skip = last_name && first_word; /* the 'L' key starts with it */
            if (len > 0)
                first_word = 0;
            if (len > 0 && len + 2 < KEY_MAX - 8 && !skip) {
                k[0] = KIND_WORD;
                memcpy(k + 1, folded + start, len);
                k[1 + len] = 0;
                keyset_add(ks, DB_PAT_NAME, k, len + 2, id);
            }
            start = i + 1;
        }
    }
    if (!last_name && (strchr(folded, ' ') || strchr(folded, '-'))) {
        size_t len = n < KEY_MAX - 12 ? n : KEY_MAX - 12;
        k[0] = KIND_WORD;
        memcpy(k + 1, folded, len);
        k[1 + len] = 0;
        keyset_add(ks, DB_PAT_NAME, k, len + 2, id);
    }
}

/* Phone numbers are indexed by their digits reversed, so that a search by the last
 * digits is a prefix scan. */
static void reversed_digits(const char *s, char *out, size_t max)
{
    char d[32];
    size_t n = pm_digits(s, d, sizeof d);
    if (n >= max)
        n = max - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = d[n - 1 - i];
    out[n] = 0;
}

static void patient_keys(const Pm__Patient *p, uint64_t id, keyset *ks)
{
    ks->n = 0;
    char last[4 * NAME_MAX_CHARS + 8], first[4 * NAME_MAX_CHARS + 8];
    size_t ll = pm_fold(p->last_name, last, sizeof last);
    size_t fl = pm_fold(p->first_name, first, sizeof first);
    uint8_t k[KEY_MAX];
    if (ll > 100)
        ll = 100;
    if (fl > 100)
        fl = 100;
    k[0] = KIND_LIST;
    memcpy(k + 1, last, ll);
    k[1 + ll] = 0;
    memcpy(k + 2 + ll, first, fl);
    k[2 + ll + fl] = 0;
    keyset_add(ks, DB_PAT_NAME, k, 3 + ll + fl, id);
    add_words(ks, p->last_name, id, 1);
    add_words(ks, p->first_name, id, 0);
    add_words(ks, p->preferred_name, id, 0);
    int y, m, d;
    if (pm_parse_date(p->date_of_birth, &y, &m, &d) == 0) {
        char dob[9];
        snprintf(dob, sizeof dob, "%04d%02d%02d", y, m, d);
        keyset_add(ks, DB_PAT_DOB, dob, 8, id);
    }
    for (size_t i = 0; i < p->n_phones; i++) {
        char rev[20];
        reversed_digits(p->phones[i]->number, rev, sizeof rev);
        size_t n = strlen(rev);
        if (n) {
            rev[n] = 0;
            keyset_add(ks, DB_PAT_PHONE, rev, n + 1, id);
        }
    }
}

static int keyset_apply(MDB_txn *txn, const keyset *ks, int put)
{
    for (size_t i = 0; i < ks->n; i++) {
        MDB_dbi dbi = store_dbi(srv.st, ks->keys[i].db);
        int rc = put ? store_put(txn, dbi, ks->keys[i].k, ks->keys[i].len, "", 0)
                     : store_del(txn, dbi, ks->keys[i].k, ks->keys[i].len);
        if (rc && !(rc == PM_E_NOT_FOUND && !put))
            return rc;
    }
    return PM_OK;
}

/* ---- records ---- */

int patient_load(MDB_txn *txn, uint64_t id, pm_arena *a, Pm__Patient **out)
{
    uint8_t k[8];
    pm_put_u64(k, id);
    void *m;
    int rc =
        store_get_pb(txn, store_dbi(srv.st, DB_PATIENTS), k, 8, &pm__patient__descriptor, a, &m);
    if (rc == PM_OK)
        *out = m;
    return rc;
}

static int patient_store(MDB_txn *txn, uint64_t id, const Pm__Patient *p, int is_new)
{
    uint8_t k[8];
    pm_put_u64(k, id);
    MDB_dbi dbi = store_dbi(srv.st, DB_PATIENTS);
    return is_new ? store_append_pb(txn, dbi, k, 8, &p->base)
                  : store_put_pb(txn, dbi, k, 8, &p->base);
}

static int patient_event(req *r, wctx *ctx, const char *action, Pm__Patient *p)
{
    Pm__Event *ev = pm_msg_new(&r->arena, &pm__event__descriptor);
    Pm__PatientChanged *pc = pm_msg_new(&r->arena, &pm__patient_changed__descriptor);
    if (!ev || !pc)
        return PM_E_NOMEM;
    pc->action = (char *)action;
    pc->patient = p;
    ev->body_case = PM__EVENT__BODY_PATIENT_CHANGED;
    ev->patient_changed = pc;
    static const char *const topics[] = {TOPIC_PATIENTS};
    return req_event(r, ctx, topics, 1, ev);
}

static int respond_patient(req *r, Pm__Patient *p)
{
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_PATIENT_OK);
    Pm__PatientOk *ok = pm_msg_new(&r->arena, &pm__patient_ok__descriptor);
    if (!e || !ok)
        return PM_E_NOMEM;
    ok->patient = p;
    e->patient_ok = ok;
    return PM_OK;
}

int patients_create(req *r, wctx *ctx)
{
    Pm__Patient *p = r->env->create_patient->patient;
    if (!p)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "patient", "required");
    int rc = patient_validate(r, p);
    if (rc)
        return rc;
    uint64_t id;
    if ((rc = store_next_id(ctx->txn, ctx->st, "seq.patient", FIRST_PATIENT_ID, &id)))
        return rc;
    char mrn[24];
    mrn_format(id, mrn);
    p->mrn = pm_arena_strdup(&r->arena, mrn);
    p->version = 1;
    p->created_at = p->updated_at = ctx->now;
    p->created_by = p->updated_by = (char *)r->username;
    r->audit_record = p->mrn;
    keyset ks;
    patient_keys(p, id, &ks);
    if ((rc = patient_store(ctx->txn, id, p, 1)) || (rc = keyset_apply(ctx->txn, &ks, 1)) ||
        (rc = patient_event(r, ctx, "created", p)))
        return rc;
    return respond_patient(r, p);
}

int patients_update(req *r, wctx *ctx)
{
    Pm__Patient *p = r->env->update_patient->patient;
    if (!p)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "patient", "required");
    uint64_t id;
    r->audit_record = p->mrn;
    if (mrn_parse(p->mrn, &id) != 0)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "mrn", "not a valid MRN");
    r->audit_record = canonical_mrn(r, id);
    if (p->version == 0)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "version",
                        "required: the version you read, so that no change is overwritten");
    Pm__Patient *old;
    int rc = patient_load(ctx->txn, id, &r->arena, &old);
    if (rc == PM_E_NOT_FOUND)
        return req_fail(r, rc, "mrn", "no patient %s", p->mrn);
    if (rc)
        return rc;
    if (old->version != p->version)
        return req_fail(r, PM_E_CONFLICT, "version",
                        "changed by %s since you read it (you have version %u, it is now %u); "
                        "reload and edit again",
                        *old->updated_by ? old->updated_by : "someone", p->version, old->version);
    if ((rc = patient_validate(r, p)))
        return rc;
    p->mrn = old->mrn;
    p->version = old->version + 1;
    p->created_at = old->created_at;
    p->created_by = old->created_by;
    p->updated_at = ctx->now;
    p->updated_by = (char *)r->username;
    keyset before, after;
    patient_keys(old, id, &before);
    patient_keys(p, id, &after);
    if ((rc = keyset_apply(ctx->txn, &before, 0)) || (rc = keyset_apply(ctx->txn, &after, 1)) ||
        (rc = patient_store(ctx->txn, id, p, 0)) || (rc = patient_event(r, ctx, "updated", p)))
        return rc;
    return respond_patient(r, p);
}

int patients_get(req *r, MDB_txn *txn)
{
    const char *mrn = r->env->get_patient->mrn;
    r->audit_record = mrn;
    uint64_t id;
    if (mrn_parse(mrn, &id) != 0)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "mrn", "not a valid MRN");
    /* audited under the MRN as stored, however it was typed */
    r->audit_record = canonical_mrn(r, id);
    Pm__Patient *p;
    int rc = patient_load(txn, id, &r->arena, &p);
    if (rc == PM_E_NOT_FOUND)
        return req_fail(r, rc, "mrn", "no patient %s", mrn);
    if (rc)
        return rc;
    return respond_patient(r, p);
}

/* ---- search ---- */

/* A set of patient ids: open addressing, ids are never 0. */
typedef struct idset {
    uint64_t *v;
    size_t n, cap; /* cap is a power of two, kept at most half full */
} idset;

static void idset_free(idset *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static size_t idset_slot(const idset *s, uint64_t id)
{
    size_t i = (size_t)(id * 0x9e3779b97f4a7c15ull) & (s->cap - 1);
    while (s->v[i] && s->v[i] != id)
        i = (i + 1) & (s->cap - 1);
    return i;
}

static int idset_has(const idset *s, uint64_t id)
{
    return s->cap && s->v[idset_slot(s, id)] == id;
}

/* 1 if added, 0 if it was there, -1 out of memory. */
static int idset_add(idset *s, uint64_t id)
{
    if (2 * (s->n + 1) > s->cap) {
        idset g = {calloc(s->cap ? s->cap * 2 : 64, sizeof *g.v), 0, s->cap ? s->cap * 2 : 64};
        if (!g.v)
            return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->v[i])
                g.v[idset_slot(&g, s->v[i])] = s->v[i], g.n++;
        free(s->v);
        *s = g;
    }
    size_t i = idset_slot(s, id);
    if (s->v[i])
        return 0;
    s->v[i] = id;
    s->n++;
    return 1;
}

/* Whether word w (n bytes) starts with token t. */
static int starts_with(const char *w, size_t n, const char *t, size_t tl)
{
    return n >= tl && memcmp(w, t, tl) == 0;
}

/* Whether every token is a prefix of a word of one of the names (or of a whole name, so
 * that "smith-jo" finds "Smith-Jones"). Names are as stored; tokens are folded. */
static int words_match(const char *const names[3], char tokens[][104], size_t ntok)
{
    char folded[3][4 * NAME_MAX_CHARS + 8];
    size_t len[3];
    for (int i = 0; i < 3; i++)
        len[i] = pm_fold(names[i], folded[i], sizeof folded[i]);
    for (size_t t = 0; t < ntok; t++) {
        size_t tl = strlen(tokens[t]);
        int found = 0;
        for (int i = 0; i < 3 && !found; i++) {
            const char *f = folded[i];
            found = starts_with(f, len[i], tokens[t], tl);
            for (size_t k = 0; k < len[i] && !found; k++)
                if (f[k] == ' ' || f[k] == '-')
                    found = starts_with(f + k + 1, len[i] - k - 1, tokens[t], tl);
        }
        if (!found)
            return 0;
    }
    return 1;
}

static int names_match(const Pm__Patient *p, char tokens[][104], size_t ntok)
{
    const char *names[3] = {p->first_name, p->last_name, p->preferred_name};
    return words_match(names, tokens, ntok);
}

/* The same test on a stored record's bytes, without decoding it: the three name fields
 * (3, 4, 5) are picked out of the protobuf wire format. Most candidates of a search fail
 * here at a fraction of a decode's cost. */
static int stored_names_match(const uint8_t *p, size_t n, char tokens[][104], size_t ntok)
{
    static const unsigned fields[3] = {3, 4, 5}; /* first_name, last_name, preferred_name */
    const uint8_t *val[3];
    size_t len[3];
    if (pm_pb_fields(p, n, fields, 3, val, len) < 0)
        return 1; /* let the real decoder judge */
    char names[3][4 * NAME_MAX_CHARS + 8];
    for (unsigned f = 0; f < 3; f++) {
        size_t l = len[f] < sizeof names[f] ? len[f] : 0;
        memcpy(names[f], val[f], l);
        names[f][l] = 0;
    }
    const char *v[3] = {names[0], names[1], names[2]};
    return words_match(v, tokens, ntok);
}

int patient_brief(MDB_txn *txn, uint64_t id, pm_arena *a, const char **mrn, const char **name)
{
    uint8_t k[8];
    pm_put_u64(k, id);
    MDB_val key = {8, k}, v;
    int rc = mdb_get(txn, store_dbi(srv.st, DB_PATIENTS), &key, &v);
    if (rc)
        return pm_err_from_mdb(rc);
    static const unsigned fields[4] = {1, 4, 3, 5}; /* mrn, last, first, preferred name */
    const uint8_t *f[4];
    size_t l[4];
    if (pm_pb_fields(v.mv_data, v.mv_size, fields, 4, f, l) < 0 || l[0] == 0) {
        pm_error("patients: patient %llu does not decode", (unsigned long long)id);
        return PM_E_INTERNAL;
    }
    *mrn = pm_arena_strndup(a, (const char *)f[0], l[0]);
    *name = l[3] ? pm_arena_printf(a, "%.*s, %.*s (%.*s)", (int)l[1], f[1], (int)l[2], f[2],
                                   (int)l[3], f[3])
                 : pm_arena_printf(a, "%.*s, %.*s", (int)l[1], f[1], (int)l[2], f[2]);
    return *mrn && *name ? PM_OK : PM_E_NOMEM;
}

/* Loads a search candidate, unless its names already rule it out. */
static int candidate_load(MDB_txn *txn, uint64_t id, char tokens[][104], size_t ntok, pm_arena *a,
                          Pm__Patient **out)
{
    uint8_t k[8];
    pm_put_u64(k, id);
    MDB_val key = {8, k}, val;
    if (mdb_get(txn, store_dbi(srv.st, DB_PATIENTS), &key, &val) != 0)
        return 0;
    if (ntok && !stored_names_match(val.mv_data, val.mv_size, tokens, ntok))
        return 0;
    *out = pm__patient__unpack(pm_arena_pbc(a), val.mv_size, val.mv_data);
    return *out != NULL;
}

static int visible(const req *r, const Pm__Patient *p)
{
    return !(p->privacy && p->privacy->confidential) || r->role == PM__ROLE__MANAGER;
}

static int cmp_patients(const void *a, const void *b)
{
    const Pm__Patient *x = *(Pm__Patient *const *)a, *y = *(Pm__Patient *const *)b;
    char fx[256], fy[256];
    pm_fold(x->last_name, fx, sizeof fx);
    pm_fold(y->last_name, fy, sizeof fy);
    int c = strcmp(fx, fy);
    if (c)
        return c;
    pm_fold(x->first_name, fx, sizeof fx);
    pm_fold(y->first_name, fy, sizeof fy);
    c = strcmp(fx, fy);
    return c ? c : strcmp(x->mrn, y->mrn);
}

static int respond_list(req *r, Pm__Patient **v, size_t n, const uint8_t *cursor, size_t clen)
{
    Pm__Envelope *e = req_respond(r, PM__ENVELOPE__BODY_PATIENT_LIST);
    Pm__PatientList *pl = pm_msg_new(&r->arena, &pm__patient_list__descriptor);
    if (!e || !pl)
        return PM_E_NOMEM;
    pl->patients = v;
    pl->n_patients = n;
    if (clen) {
        pl->next_cursor.data = pm_arena_memdup(&r->arena, cursor, clen);
        pl->next_cursor.len = clen;
    }
    e->patient_list = pl;
    /* Each patient disclosed is findable in the audit log under its MRN. */
    r->audit_also = pm_arena_alloc(&r->arena, sizeof *r->audit_also * (n ? n : 1));
    if (r->audit_also) {
        for (size_t i = 0; i < n; i++)
            r->audit_also[i] = v[i]->mrn;
        r->naudit_also = n;
    }
    return PM_OK;
}

#define WORD_SCAN      20000 /* index entries a word may cover and still narrow a search */
#define FEW_CANDIDATES 256

/* Collects the ids under a key prefix into out; *complete says whether the whole range
 * fit within max entries. */
static int scan_index(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t plen, size_t max,
                      idset *out, int *complete)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return pm_err_from_mdb(rc);
    MDB_val k = {plen, (void *)prefix}, v;
    size_t seen = 0;
    *complete = 1;
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < plen + 8 || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if (++seen > max) {
            *complete = 0;
            break;
        }
        if (idset_add(out, pm_get_u64((uint8_t *)k.mv_data + k.mv_size - 8)) < 0) {
            rc = MDB_PANIC; /* reported as out of memory below */
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_PANIC ? PM_E_NOMEM : PM_OK;
}

static size_t word_prefix(int kind, const char *token, uint8_t *prefix)
{
    size_t n = strlen(token);
    prefix[0] = (uint8_t)kind;
    memcpy(prefix + 1, token, n);
    return n + 1;
}

static const int word_kinds[2] = {KIND_LIST, KIND_WORD};

/* The ids every word's index range has in common, using only the words whose ranges are
 * small enough to read whole. *narrowed is 0 when no word was. */
static int narrow_by_words(MDB_txn *txn, char tokens[][104], size_t ntok, idset *out, int *narrowed)
{
    MDB_dbi dbi = store_dbi(srv.st, DB_PAT_NAME);
    *narrowed = 0;
    /* longest words first: they are likely the rarest */
    size_t order[8];
    for (size_t t = 0; t < ntok; t++) {
        size_t k = t;
        while (k > 0 && strlen(tokens[order[k - 1]]) < strlen(tokens[t])) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = t;
    }
    for (size_t i = 0; i < ntok; i++) {
        size_t t = order[i];
        if (*narrowed && out->n <= FEW_CANDIDATES)
            break; /* checking the rest on so few records is cheaper than more ranges */
        idset ids = {0};
        int complete = 1, rc = PM_OK;
        for (int kind = 0; kind < 2 && rc == PM_OK && complete; kind++) {
            uint8_t prefix[KEY_MAX];
            size_t plen = word_prefix(word_kinds[kind], tokens[t], prefix);
            rc = scan_index(txn, dbi, prefix, plen, WORD_SCAN - ids.n, &ids, &complete);
        }
        if (rc || !complete) {
            idset_free(&ids);
            if (rc)
                return rc;
            continue;
        }
        if (!*narrowed) {
            *out = ids;
            *narrowed = 1;
            continue;
        }
        idset both = {0};
        for (size_t j = 0; j < out->cap; j++)
            if (out->v[j] && idset_has(&ids, out->v[j]) && idset_add(&both, out->v[j]) < 0) {
                idset_free(&both);
                idset_free(&ids);
                return PM_E_NOMEM;
            }
        idset_free(&ids);
        idset_free(out);
        *out = both;
    }
    return PM_OK;
}

static int patient_matches(const req *r, const Pm__Patient *p, char tokens[][104], size_t ntok,
                           const char *dob, const char *dob_text, const char *phone)
{
    if (!names_match(p, tokens, ntok) || !visible(r, p))
        return 0;
    if (*dob && strncmp(p->date_of_birth, dob_text, 10) != 0)
        return 0;
    if (*phone) {
        for (size_t i = 0; i < p->n_phones; i++) {
            char rev[20];
            reversed_digits(p->phones[i]->number, rev, sizeof rev);
            if (strncmp(rev, phone, strlen(phone)) == 0)
                return 1;
        }
        return 0;
    }
    return 1;
}

/* Walks the longest word's index ranges, loading records until limit match. */
static int walk_word(req *r, MDB_txn *txn, char tokens[][104], size_t ntok, const char *dob,
                     const char *dob_text, const char *phone, Pm__Patient **out, size_t limit,
                     size_t *n)
{
    size_t best = 0;
    for (size_t t = 1; t < ntok; t++)
        if (strlen(tokens[t]) > strlen(tokens[best]))
            best = t;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store_dbi(srv.st, DB_PAT_NAME), &cur);
    if (rc)
        return pm_err_from_mdb(rc);
    idset seen = {0};
    size_t scanned = 0;
    for (int kind = 0; kind < 2 && rc == PM_OK; kind++) {
        uint8_t prefix[KEY_MAX];
        size_t plen = word_prefix(word_kinds[kind], tokens[best], prefix);
        MDB_val k = {plen, prefix}, v;
        for (int g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); g == 0 && *n < limit;
             g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (k.mv_size < plen + 8 || memcmp(k.mv_data, prefix, plen) != 0 ||
                ++scanned > SEARCH_SCAN_MAX)
                break;
            uint64_t id = pm_get_u64((uint8_t *)k.mv_data + k.mv_size - 8);
            int added = idset_add(&seen, id);
            if (added < 0) {
                rc = PM_E_NOMEM;
                break;
            }
            Pm__Patient *p;
            if (added && candidate_load(txn, id, tokens, ntok, &r->arena, &p) &&
                patient_matches(r, p, tokens, ntok, dob, dob_text, phone))
                out[(*n)++] = p;
        }
    }
    mdb_cursor_close(cur);
    idset_free(&seen);
    return rc;
}

int patients_search(req *r, MDB_txn *txn)
{
    const Pm__SearchPatients *q = r->env->search_patients;
    uint32_t limit = q->limit ? q->limit : SEARCH_DEFAULT;
    if (limit > SEARCH_MAX)
        limit = SEARCH_MAX;
    char tokens[8][104];
    size_t ntok = 0;
    if (strlen(q->name) > 200)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "name", "at most 200 characters");
    char folded[808];
    pm_fold(q->name, folded, sizeof folded);
    for (char *save = NULL, *t = strtok_r(folded, " ,", &save); t && ntok < 8;
         t = strtok_r(NULL, " ,", &save))
        snprintf(tokens[ntok++], sizeof tokens[0], "%.100s", t);
    char dob[9] = "";
    if (*q->date_of_birth) {
        int y, m, d;
        if (pm_parse_date(q->date_of_birth, &y, &m, &d) != 0)
            return req_fail(r, PM_E_INVALID_ARGUMENT, "date_of_birth", "not a date (YYYY-MM-DD)");
        snprintf(dob, sizeof dob, "%04d%02d%02d", y, m, d);
    }
    char phone[20] = "";
    if (*q->phone) {
        reversed_digits(q->phone, phone, sizeof phone);
        if (strlen(phone) < 4)
            return req_fail(r, PM_E_INVALID_ARGUMENT, "phone", "give at least 4 digits");
    }
    r->audit_detail = pm_arena_printf(&r->arena, "name=\"%s\" dob=%s phone=%s mrn=%s", q->name,
                                      q->date_of_birth, q->phone, q->mrn);
    Pm__Patient **out = pm_arena_alloc(&r->arena, sizeof *out * limit);
    if (!out)
        return PM_E_NOMEM;
    size_t n = 0;

    if (*q->mrn) {
        uint64_t id;
        Pm__Patient *p;
        if (mrn_parse(q->mrn, &id) != 0)
            return req_fail(r, PM_E_INVALID_ARGUMENT, "mrn", "not a valid MRN");
        if (patient_load(txn, id, &r->arena, &p) == PM_OK &&
            patient_matches(r, p, tokens, ntok, dob, q->date_of_birth, phone))
            out[n++] = p;
        return respond_list(r, out, n, NULL, 0);
    }
    if (!ntok && !*dob && !*phone)
        return req_fail(r, PM_E_INVALID_ARGUMENT, "name",
                        "give a name, date of birth, phone or MRN");

    /* A record is loaded only once the indexes make it a likely match. */
    idset cand = {0};
    int narrowed = 0;
    int rc = PM_OK;
    if (*dob || *phone) {
        uint8_t prefix[KEY_MAX];
        size_t plen = *dob ? 8 : strlen(phone);
        memcpy(prefix, *dob ? dob : phone, plen);
        /* a common birth date or phone ending is read to SEARCH_SCAN_MAX entries, no
         * further: enough for any page of answers, bounded for the loop thread */
        int complete;
        rc = scan_index(txn, store_dbi(srv.st, *dob ? DB_PAT_DOB : DB_PAT_PHONE), prefix, plen,
                        SEARCH_SCAN_MAX, &cand, &complete);
        narrowed = 1;
    } else if (ntok > 1) {
        rc = narrow_by_words(txn, tokens, ntok, &cand, &narrowed);
    } /* one word: its own range, in order, is the shortest way to enough matches */
    if (rc == PM_OK && !narrowed) {
        /* Every word is common ("s", "jo"): walk the longest one's range instead, loading
         * records until enough match. */
        rc = walk_word(r, txn, tokens, ntok, dob, q->date_of_birth, phone, out, limit, &n);
    } else if (rc == PM_OK) {
        for (size_t i = 0; i < cand.cap && n < limit; i++) {
            Pm__Patient *p;
            if (!cand.v[i] || !candidate_load(txn, cand.v[i], tokens, ntok, &r->arena, &p))
                continue;
            if (patient_matches(r, p, tokens, ntok, dob, q->date_of_birth, phone))
                out[n++] = p;
        }
    }
    idset_free(&cand);
    if (rc)
        return rc;
    qsort(out, n, sizeof *out, cmp_patients);
    return respond_list(r, out, n, NULL, 0);
}

int patients_list(req *r, MDB_txn *txn)
{
    const Pm__ListPatients *q = r->env->list_patients;
    uint32_t limit = q->limit ? q->limit : SEARCH_DEFAULT;
    if (limit > SEARCH_MAX)
        limit = SEARCH_MAX;
    if (q->cursor.len > KEY_MAX || (q->cursor.len && q->cursor.data[0] != KIND_LIST))
        return req_fail(r, PM_E_INVALID_ARGUMENT, "cursor", "not a cursor from this server");
    Pm__Patient **out = pm_arena_alloc(&r->arena, sizeof *out * limit);
    if (!out)
        return PM_E_NOMEM;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, store_dbi(srv.st, DB_PAT_NAME), &cur);
    if (rc)
        return pm_err_from_mdb(rc);
    uint8_t start[KEY_MAX] = {KIND_LIST};
    MDB_val k = {1, start}, v;
    if (q->cursor.len) {
        memcpy(start, q->cursor.data, q->cursor.len);
        k.mv_size = q->cursor.len;
    }
    size_t n = 0;
    uint8_t last[KEY_MAX];
    size_t last_len = 0;
    int more = 0;
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < 9 || ((uint8_t *)k.mv_data)[0] != KIND_LIST)
            break;
        if (q->cursor.len && k.mv_size == q->cursor.len &&
            memcmp(k.mv_data, q->cursor.data, k.mv_size) == 0)
            continue; /* the cursor is the last one already sent */
        if (n == limit) {
            more = 1;
            break;
        }
        Pm__Patient *p;
        uint64_t id = pm_get_u64((uint8_t *)k.mv_data + k.mv_size - 8);
        if (patient_load(txn, id, &r->arena, &p) != PM_OK || !visible(r, p))
            continue;
        out[n++] = p;
        memcpy(last, k.mv_data, k.mv_size);
        last_len = k.mv_size;
    }
    mdb_cursor_close(cur);
    r->audit_detail = pm_arena_printf(&r->arena, "%zu patients", n);
    return respond_list(r, out, n, last, more ? last_len : 0);
}

/* ---- offline check ---- */

static int keyset_has(const keyset *ks, enum store_db db, const void *k, size_t len)
{
    for (size_t i = 0; i < ks->n; i++)
        if (ks->keys[i].db == db && ks->keys[i].len == len && memcmp(ks->keys[i].k, k, len) == 0)
            return 1;
    return 0;
}

int patients_check(MDB_txn *txn, store *st, void (*problem)(void *ud, const char *msg), void *ud,
                   uint64_t *count)
{
    char msg[256];
    MDB_cursor *cur;
    MDB_val k, v;
    *count = 0;
    int rc = mdb_cursor_open(txn, store_dbi(st, DB_PATIENTS), &cur);
    if (rc)
        return pm_err_from_mdb(rc);
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        (*count)++;
        uint64_t id = k.mv_size == 8 ? pm_get_u64(k.mv_data) : 0;
        Pm__Patient *p = pm__patient__unpack(NULL, v.mv_size, v.mv_data);
        if (!id || !p) {
            snprintf(msg, sizeof msg, "patient record %llu does not decode",
                     (unsigned long long)id);
            problem(ud, msg);
            if (p)
                pm__patient__free_unpacked(p, NULL);
            continue;
        }
        char mrn[24];
        mrn_format(id, mrn);
        if (strcmp(mrn, p->mrn) != 0) {
            snprintf(msg, sizeof msg, "patient %llu carries MRN %s, expected %s",
                     (unsigned long long)id, p->mrn, mrn);
            problem(ud, msg);
        }
        keyset ks;
        patient_keys(p, id, &ks);
        for (size_t i = 0; i < ks.n; i++) {
            MDB_val ik = {ks.keys[i].len, ks.keys[i].k}, iv;
            if (mdb_get(txn, store_dbi(st, ks.keys[i].db), &ik, &iv) != 0) {
                snprintf(msg, sizeof msg, "patient %s is missing from an index (%s)", mrn,
                         ks.keys[i].db == DB_PAT_NAME  ? "names"
                         : ks.keys[i].db == DB_PAT_DOB ? "dates of birth"
                                                       : "phones");
                problem(ud, msg);
            }
        }
        pm__patient__free_unpacked(p, NULL);
    }
    mdb_cursor_close(cur);

    static const enum store_db idx[] = {DB_PAT_NAME, DB_PAT_DOB, DB_PAT_PHONE};
    for (size_t x = 0; x < PM_ARRAY_LEN(idx); x++) {
        if ((rc = mdb_cursor_open(txn, store_dbi(st, idx[x]), &cur)))
            return pm_err_from_mdb(rc);
        for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
             g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (k.mv_size < 9) {
                problem(ud, "a patient index entry is too short");
                continue;
            }
            uint64_t id = pm_get_u64((uint8_t *)k.mv_data + k.mv_size - 8);
            uint8_t pk[8];
            pm_put_u64(pk, id);
            MDB_val rk = {8, pk}, rv;
            Pm__Patient *p = NULL;
            if (mdb_get(txn, store_dbi(st, DB_PATIENTS), &rk, &rv) == 0)
                p = pm__patient__unpack(NULL, rv.mv_size, rv.mv_data);
            keyset ks;
            int ok = 0;
            if (p) {
                patient_keys(p, id, &ks);
                ok = keyset_has(&ks, idx[x], k.mv_data, k.mv_size);
                pm__patient__free_unpacked(p, NULL);
            }
            if (!ok) {
                snprintf(msg, sizeof msg, "an index entry points at patient %llu, which %s",
                         (unsigned long long)id, p ? "does not have that value" : "does not exist");
                problem(ud, msg);
            }
        }
        mdb_cursor_close(cur);
    }
    return PM_OK;
}
