/* practiced check finds damage done by hand.
 *
 * A server makes a practice with patients, audit entries and events and stops. Each
 * case copies the data directory (cp -a) and damages the copy with raw LMDB, the way a
 * bad disk, a bug or a person with a hex editor might: an index entry gone, an index
 * entry for nobody, one byte of the audit log changed, an event missing, a patient
 * record overwritten. practiced check must exit 1 and say what is wrong; the untouched
 * original must still pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"
#include "pm_err.h"
#include "pm_util.h"

#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ts_server S;
static char MRN[8][24]; /* the patients made, by MRN */
static uint64_t ID[8];  /* and their record ids */
static int NPAT;
static uint64_t NAUDIT;  /* audit entries in the original */
static uint64_t NEVENTS; /* events in the original */

static uint64_t get_u64(const void *p)
{
    const uint8_t *b = p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static void put_u64(uint8_t *b, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        b[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* ---- a small raw-LMDB helper: the databases of server/store.h by name ---- */

typedef struct raw_db {
    MDB_env *env;
    MDB_txn *txn;
} raw_db;

static raw_db RAW; /* the copy being damaged; closed by close_raw if a case fails */

static int close_raw(void **state)
{
    (void)state;
    if (RAW.txn)
        mdb_txn_abort(RAW.txn);
    if (RAW.env)
        mdb_env_close(RAW.env);
    memset(&RAW, 0, sizeof RAW);
    return 0;
}

static void raw_open(raw_db *d, const char *dir)
{
    assert_int_equal(mdb_env_create(&d->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(d->env, 32), 0);
    int rc = mdb_env_open(d->env, dir, MDB_NOTLS, 0600);
    if (rc)
        fail_msg("mdb_env_open %s: %s", dir, mdb_strerror(rc));
    assert_int_equal(mdb_txn_begin(d->env, NULL, 0, &d->txn), 0);
}

static MDB_dbi raw_dbi(raw_db *d, const char *name)
{
    MDB_dbi dbi;
    int rc = mdb_dbi_open(d->txn, name, 0, &dbi);
    if (rc)
        fail_msg("database %s: %s", name, mdb_strerror(rc));
    return dbi;
}

static void raw_commit(raw_db *d)
{
    int rc = mdb_txn_commit(d->txn);
    d->txn = NULL;
    assert_int_equal(rc, 0);
    mdb_env_close(d->env);
    d->env = NULL;
}

static uint64_t raw_count(raw_db *d, const char *name)
{
    MDB_stat st;
    assert_int_equal(mdb_stat(d->txn, raw_dbi(d, name), &st), 0);
    return st.ms_entries;
}

/* ---- the practice ---- */

static int setup(void **state)
{
    (void)state;
    if (ts_init(&S, NULL) || ts_start(&S, NULL))
        return -1;
    pc_client *m = ts_manager(&S);
    if (!m)
        return -1;
    static const char *const names[][4] = {
        {"Ada", "Lovelace", "1915-12-10", "+44 20 7946 0001"},
        {"Alan", "Turing", "1912-06-23", "+44 20 7946 0002"},
        {"Grace", "Hopper", "1906-12-09", "+1 212 555 0003"},
        {"Edsger", "Dijkstra", "1930-05-11", "+31 20 555 0004"},
        {"Barbara", "Liskov", "1939-11-07", "+1 617 555 0005"},
        {"Donald", "Knuth", "1938-01-10", "+1 650 555 0006"},
    };
    pm_arena a;
    pm_arena_init(&a, 0);
    int rc = 0;
    for (int i = 0; i < 6 && rc == 0; i++) {
        Pm__Patient *p;
        rc = ts_create_patient(m, &a, names[i][0], names[i][1], names[i][2], names[i][3], &p);
        if (rc == 0) {
            snprintf(MRN[i], sizeof MRN[i], "%s", p->mrn);
            /* the MRN is the record id and a check digit */
            char digits[24];
            snprintf(digits, sizeof digits, "%.*s", (int)strlen(p->mrn) - 1, p->mrn);
            ID[i] = strtoull(digits, NULL, 10);
            NPAT++;
        }
    }
    /* reads and a refused lookup, so that the audit log has entries with details */
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = ts_get_patient(m, &a, MRN[i], NULL);
    if (rc == 0 && ts_get_patient(m, &a, "999999999", NULL) == PM_OK)
        rc = -1;
    /* a search (its audit entry has the criteria as detail), and more entries after it */
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_SEARCH_PATIENTS), *resp = NULL;
    e->search_patients = pm_msg_new(&a, &pm__search_patients__descriptor);
    e->search_patients->name = "ada";
    if (rc == 0)
        rc = pc_call(m, e, &a, &resp);
    for (int i = 3; i < 6 && rc == 0; i++)
        rc = ts_get_patient(m, &a, MRN[i], NULL);
    pm_arena_free(&a);
    pc_free(m);
    if (rc) {
        fprintf(stderr, "setup: %d\n", rc);
        return -1;
    }
    return ts_stop(&S, SIGTERM);
}

static int teardown(void **state)
{
    (void)state;
    ts_cleanup(&S);
    return 0;
}

/* practiced check on dir: its exit status, its report in out. */
static int check(const char *dir, char *out, size_t n)
{
    int rc = ts_sh(out, n, "%s check --data %s 2>&1", ts_practiced(), dir);
    return rc;
}

/* A copy of the practice for one case; removed with the test's directory. */
static void copy_of_original(const char *name, char *dir, size_t n)
{
    snprintf(dir, n, "%s/../%s", S.dir, name);
    assert_int_equal(ts_sh(NULL, 0, "rm -rf %s && cp -a %s %s", dir, S.dir, dir), 0);
}

/* practiced check on dir must find needle; returns its whole report (until the next call) */
static const char *expect_problem(const char *dir, const char *what, const char *needle)
{
    static char out[16384];
    int rc = check(dir, out, sizeof out);
    printf("      %s: practiced check exit %d\n", what, rc);
    for (const char *p = out; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] != 0))
        printf("        | %.*s\n", (int)strcspn(p, "\n"), p);
    assert_int_equal(rc, 1);
    if (!strstr(out, needle))
        fail_msg("the report does not say \"%s\"", needle);
    assert_non_null(strstr(out, "problem(s) found"));
    assert_null(strstr(out, "\nok\n"));
    return out;
}

static void test_original_passes(void **state)
{
    (void)state;
    char out[16384];
    int rc = check(S.dir, out, sizeof out);
    printf("      original: practiced check exit %d\n%s", rc, out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "\nok\n"));
    char want[64];
    snprintf(want, sizeof want, "patients: %d\n", NPAT);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "(hash chain intact)"));
    raw_open(&RAW, S.dir);
    NAUDIT = raw_count(&RAW, "audit");
    NEVENTS = raw_count(&RAW, "events");
    close_raw(NULL);
    printf("      %d patients, %llu audit entries, %llu events\n", NPAT, (unsigned long long)NAUDIT,
           (unsigned long long)NEVENTS);
    assert_int_equal(NPAT, 6);
    assert_true(NAUDIT >= 14);
    assert_int_equal(NEVENTS, 6);
}

/* The ordered-listing entry of the third patient ('L' last 0 first 0 id) goes. */
static void test_name_index_entry_deleted(void **state)
{
    (void)state;
    char dir[400];
    copy_of_original("no-name-entry", dir, sizeof dir);
    raw_db *d = &RAW;
    raw_open(d, dir);
    MDB_dbi dbi = raw_dbi(d, "pat_name");
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(d->txn, dbi, &cur), 0);
    MDB_val k, v;
    int deleted = 0;
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0 && !deleted;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *b = k.mv_data;
        if (k.mv_size > 9 && b[0] == 'L' && get_u64(b + k.mv_size - 8) == ID[2]) {
            printf("      deleting pat_name entry \"%.*s\" of patient %s\n", (int)k.mv_size - 9,
                   (const char *)b, MRN[2]);
            assert_int_equal(mdb_cursor_del(cur, 0), 0);
            deleted = 1;
        }
    }
    mdb_cursor_close(cur);
    assert_true(deleted);
    raw_commit(d);
    char needle[128];
    snprintf(needle, sizeof needle, "patient %s is missing from an index (names)", MRN[2]);
    expect_problem(dir, "a patient's name index entry deleted", needle);
}

/* A date-of-birth entry for a patient id that has no record. */
static void test_index_entry_for_nobody(void **state)
{
    (void)state;
    char dir[400];
    copy_of_original("ghost-entry", dir, sizeof dir);
    raw_db *d = &RAW;
    raw_open(d, dir);
    uint8_t key[16];
    memcpy(key, "19800229", 8);
    uint64_t ghost = ID[NPAT - 1] + 1000;
    put_u64(key + 8, ghost);
    MDB_val k = {16, key}, v = {0, ""};
    assert_int_equal(mdb_put(d->txn, raw_dbi(d, "pat_dob"), &k, &v, 0), 0);
    /* and a name entry for the same ghost */
    uint8_t nkey[32] = "Lghost";
    nkey[6] = 0;
    memcpy(nkey + 7, "casper", 6);
    nkey[13] = 0;
    put_u64(nkey + 14, ghost);
    MDB_val nk = {22, nkey};
    assert_int_equal(mdb_put(d->txn, raw_dbi(d, "pat_name"), &nk, &v, 0), 0);
    raw_commit(d);
    char needle[128];
    snprintf(needle, sizeof needle, "an index entry points at patient %llu, which does not exist",
             (unsigned long long)ghost);
    expect_problem(dir, "index entries for a patient that does not exist", needle);
}

/* Where field `field` (length-delimited) of an encoded message starts: its bytes'
 * offset and length, or -1. */
static long pb_find(const uint8_t *p, size_t n, unsigned field, size_t *len)
{
    size_t i = 0;
    while (i < n) {
        uint64_t tag = 0;
        for (int s = 0; i < n; s += 7) {
            tag |= (uint64_t)(p[i] & 0x7f) << s;
            if (!(p[i++] & 0x80))
                break;
        }
        unsigned wt = tag & 7;
        uint64_t l = 0;
        switch (wt) {
        case 0:
            while (i < n && (p[i++] & 0x80))
                ;
            break;
        case 1:
            i += 8;
            break;
        case 5:
            i += 4;
            break;
        case 2:
            for (int s = 0; i < n; s += 7) {
                l |= (uint64_t)(p[i] & 0x7f) << s;
                if (!(p[i++] & 0x80))
                    break;
            }
            if (tag >> 3 == field) {
                *len = l;
                return (long)i;
            }
            i += l;
            break;
        default:
            return -1;
        }
    }
    return -1;
}

/* One byte of one audit entry's detail, in the middle of the log, changes. */
static void test_audit_byte_changed(void **state)
{
    (void)state;
    char dir[400];
    copy_of_original("audit-byte", dir, sizeof dir);
    raw_db *d = &RAW;
    raw_open(d, dir);
    MDB_dbi dbi = raw_dbi(d, "audit");
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(d->txn, dbi, &cur), 0);
    MDB_val k, v;
    uint64_t victim = 0;
    uint8_t *copy = NULL;
    size_t vlen = 0;
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        size_t dl;
        long off = pb_find(v.mv_data, v.mv_size, 10 /* detail */, &dl);
        uint64_t seq = get_u64(k.mv_data);
        /* not the last entry: the break must be in the middle of the chain */
        if (off >= 0 && dl > 0 && seq > 1 && seq < NAUDIT) {
            victim = seq;
            vlen = v.mv_size;
            copy = malloc(vlen);
            memcpy(copy, v.mv_data, vlen);
            uint8_t *b = copy + off;
            printf("      audit entry %llu, detail \"%.*s\": byte 0 '%c' becomes '%c'\n",
                   (unsigned long long)seq, (int)dl, (const char *)b, b[0], b[0] ^ 0x20);
            b[0] ^= 0x20; /* a letter changes case: still valid text */
            break;
        }
    }
    mdb_cursor_close(cur);
    if (!victim)
        fail_msg("no audit entry in the middle of the log has a detail");
    uint8_t key[8];
    put_u64(key, victim);
    MDB_val kk = {8, key}, vv = {vlen, copy};
    assert_int_equal(mdb_put(d->txn, dbi, &kk, &vv, 0), 0);
    free(copy);
    raw_commit(d);
    char needle[128];
    snprintf(needle, sizeof needle, "audit hash chain broken at entry %llu",
             (unsigned long long)victim);
    expect_problem(dir, "one byte of an audit entry's detail changed", needle);
}

/* An event in the middle of the log disappears. */
static void test_event_deleted(void **state)
{
    (void)state;
    char dir[400];
    copy_of_original("no-event", dir, sizeof dir);
    raw_db *d = &RAW;
    raw_open(d, dir);
    MDB_dbi dbi = raw_dbi(d, "events");
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(d->txn, dbi, &cur), 0);
    MDB_val k, v;
    assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
    uint64_t first = get_u64(k.mv_data);
    assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_LAST), 0);
    uint64_t last = get_u64(k.mv_data);
    mdb_cursor_close(cur);
    uint64_t mid = first + (last - first) / 2;
    assert_true(mid > first && mid < last);
    uint8_t key[8];
    put_u64(key, mid);
    MDB_val kk = {8, key};
    printf("      deleting event %llu of %llu..%llu\n", (unsigned long long)mid,
           (unsigned long long)first, (unsigned long long)last);
    assert_int_equal(mdb_del(d->txn, dbi, &kk, NULL), 0);
    raw_commit(d);
    char needle[128];
    snprintf(needle, sizeof needle, "event sequence jumps from %llu to %llu",
             (unsigned long long)(mid - 1), (unsigned long long)(mid + 1));
    expect_problem(dir, "an event deleted in the middle of the log", needle);
}

/* A patient record is overwritten with garbage. */
static void test_patient_garbage(void **state)
{
    (void)state;
    char dir[400];
    copy_of_original("garbage-patient", dir, sizeof dir);
    raw_db *d = &RAW;
    raw_open(d, dir);
    uint8_t garbage[200];
    srand(11);
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)rand();
    garbage[0] = 0xff; /* wire type 7: never a valid message */
    uint8_t key[8];
    put_u64(key, ID[4]);
    MDB_val k = {8, key}, v = {sizeof garbage, garbage};
    assert_int_equal(mdb_put(d->txn, raw_dbi(d, "patients"), &k, &v, 0), 0);
    raw_commit(d);
    printf("      patient %s (record %llu) overwritten with %zu random bytes\n", MRN[4],
           (unsigned long long)ID[4], sizeof garbage);
    char needle[128];
    snprintf(needle, sizeof needle, "patient record %llu does not decode",
             (unsigned long long)ID[4]);
    expect_problem(dir, "a patient record replaced by garbage", needle);
}

/* In a patient's records (the entries of every kind that name the patient, side by side):
 * an audit entry past the end of the log, an appointment that does not exist, an entry of
 * no known kind. Each is found as what it is, and nothing else is blamed: not the
 * patient's real audit entries beside them, not the other kinds. */
static void test_records_entries_for_nothing(void **state)
{
    (void)state;
    static const char *const problems[] = {
        "an audit index entry points at no audit entry",
        "the patient index points at appointment 999999, which does not exist",
        "a records entry of no known kind",
    };
    static const struct {
        const char *name;
        uint8_t kind;
        size_t nums;
        int problem; /* the one of problems[] it must cause, alone */
    } cases[] = {
        {"records-audit", 'l', 1, 0},
        {"records-appt", 'a', 2, 1},
        {"records-unknown", 'z', 1, 2},
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(cases); i++) {
        char dir[400];
        copy_of_original(cases[i].name, dir, sizeof dir);
        raw_db *d = &RAW;
        raw_open(d, dir);
        uint8_t key[64];
        size_t n = strlen(MRN[3]);
        memcpy(key, MRN[3], n);
        key[n] = 0;
        key[n + 1] = cases[i].kind;
        put_u64(key + n + 2, cases[i].nums == 1 ? NAUDIT + 50 : 4102444800ull);
        put_u64(key + n + 10, 999999);
        MDB_val k = {n + 2 + 8 * cases[i].nums, key}, v = {0, ""};
        uint8_t val[9] = {0};
        if (cases[i].kind == 'a') {
            put_u64(val, 4102446600ull);
            v = (MDB_val){9, val};
        }
        assert_int_equal(mdb_put(d->txn, raw_dbi(d, "records"), &k, &v, 0), 0);
        raw_commit(d);
        const char *out = expect_problem(dir, cases[i].name, problems[cases[i].problem]);
        for (size_t j = 0; j < PM_ARRAY_LEN(problems); j++)
            if ((int)j != cases[i].problem && strstr(out, problems[j]))
                fail_msg("%s: also reported \"%s\"", cases[i].name, problems[j]);
        if (!strstr(out, "\n1 problem(s) found"))
            fail_msg("%s: more than the one problem", cases[i].name);
    }
}

/* All the cases above touched copies only. */
static void test_original_still_passes(void **state)
{
    (void)state;
    char out[16384];
    int rc = check(S.dir, out, sizeof out);
    printf("      original after the cases: practiced check exit %d, %s", rc,
           strstr(out, "\nok\n") ? "ok\n" : out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "\nok\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_original_passes, close_raw),
        cmocka_unit_test_teardown(test_name_index_entry_deleted, close_raw),
        cmocka_unit_test_teardown(test_index_entry_for_nobody, close_raw),
        cmocka_unit_test_teardown(test_audit_byte_changed, close_raw),
        cmocka_unit_test_teardown(test_event_deleted, close_raw),
        cmocka_unit_test_teardown(test_patient_garbage, close_raw),
        cmocka_unit_test_teardown(test_records_entries_for_nothing, close_raw),
        cmocka_unit_test_teardown(test_original_still_passes, close_raw),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
