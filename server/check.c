/* practiced check: verifies a data directory offline (or beside a running server, on one
 * consistent snapshot). */
#include "audit.h"
#include "events.h"
#include "patients.h"
#include "scheduling.h"
#include "pm_err.h"
#include "pm_log.h"
#include "pm_util.h"
#include "server.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define MAX_SHOWN 50

typedef struct report {
    unsigned problems;
} report;

static void problem(void *ud, const char *msg)
{
    report *rep = ud;
    if (rep->problems < MAX_SHOWN)
        printf("  PROBLEM: %s\n", msg);
    else if (rep->problems == MAX_SHOWN)
        printf("  (further problems not shown)\n");
    rep->problems++;
}

static void check_accounts(MDB_txn *txn, store *st, report *rep, uint64_t *count)
{
    char msg[256];
    MDB_cursor *cur;
    MDB_val k, v;
    *count = 0;
    if (mdb_cursor_open(txn, store_dbi(st, DB_ACCOUNTS), &cur))
        return;
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        (*count)++;
        Pm__StoredAccount *sa = pm__stored_account__unpack(NULL, v.mv_size, v.mv_data);
        if (!sa || !sa->account || k.mv_size != 8 || sa->account->id != pm_get_u64(k.mv_data)) {
            problem(rep, "an account record does not decode or has the wrong id");
        } else {
            MDB_val nk = {strlen(sa->account->username), sa->account->username}, nv;
            if (mdb_get(txn, store_dbi(st, DB_ACCT_NAME), &nk, &nv) != 0 || nv.mv_size != 8 ||
                pm_get_u64(nv.mv_data) != sa->account->id) {
                snprintf(msg, sizeof msg, "account %s is missing from the name index",
                         sa->account->username);
                problem(rep, msg);
            }
        }
        if (sa)
            pm__stored_account__free_unpacked(sa, NULL);
    }
    mdb_cursor_close(cur);
    if (mdb_cursor_open(txn, store_dbi(st, DB_ACCT_NAME), &cur))
        return;
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        MDB_val ak = v, av;
        if (v.mv_size != 8 || mdb_get(txn, store_dbi(st, DB_ACCOUNTS), &ak, &av) != 0) {
            snprintf(msg, sizeof msg, "username %.*s points at no account", (int)k.mv_size,
                     (char *)k.mv_data);
            problem(rep, msg);
        }
    }
    mdb_cursor_close(cur);
}

static void check_events(MDB_txn *txn, store *st, report *rep, uint64_t *count)
{
    char msg[256];
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t expect = 0;
    *count = 0;
    if (mdb_cursor_open(txn, store_dbi(st, DB_EVENTS), &cur))
        return;
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        (*count)++;
        uint64_t seq = k.mv_size == 8 ? pm_get_u64(k.mv_data) : 0;
        if (expect && seq != expect) {
            snprintf(msg, sizeof msg, "event sequence jumps from %llu to %llu",
                     (unsigned long long)(expect - 1), (unsigned long long)seq);
            problem(rep, msg);
        }
        expect = seq + 1;
        const char *tp[EVENT_TOPICS_MAX];
        size_t tl[EVENT_TOPICS_MAX], nt = 0;
        size_t off = events_stored_topics(v.mv_data, v.mv_size, tp, tl, &nt);
        Pm__Event *ev = NULL;
        if (off)
            ev = pm__event__unpack(NULL, v.mv_size - off, (uint8_t *)v.mv_data + off);
        int same = ev && ev->n_topics == nt;
        for (size_t i = 0; same && i < nt; i++)
            same = strlen(ev->topics[i]) == tl[i] && memcmp(ev->topics[i], tp[i], tl[i]) == 0;
        if (!ev || ev->seq != seq || !same) {
            snprintf(msg, sizeof msg, "event %llu does not decode or disagrees with its key",
                     (unsigned long long)seq);
            problem(rep, msg);
        }
        if (ev)
            pm__event__free_unpacked(ev, NULL);
    }
    mdb_cursor_close(cur);
}

/* Each index entry names an audit entry (unit 1) or a block of them that exists. */
static void check_audit_index(MDB_txn *txn, store *st, enum store_db db, uint64_t unit, report *rep)
{
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_cursor_open(txn, store_dbi(st, db), &cur))
        return;
    for (int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *p = k.mv_data, *nul = memchr(p, 0, k.mv_size);
        int rec = db == DB_RECORDS;
        size_t pl = nul ? (size_t)(nul - p) + 1 + (size_t)rec : k.mv_size;
        int kind = rec && nul && pl <= k.mv_size ? p[pl - 1] : 0;
        if (kind == REC_APPT)
            continue; /* a patient's appointment (sched_check sees to those) */
        if (rec && kind != REC_AUDIT) {
            problem(rep, "a records entry of no known kind");
            continue;
        }
        uint8_t seq[8] = {0};
        if (k.mv_size == pl + 8) {
            uint64_t n = pm_get_u64(p + pl);
            pm_put_u64(seq, unit == 1 ? n : (n ? n * unit : 1));
        }
        MDB_val ak = {8, seq}, av;
        if (k.mv_size != pl + 8 || mdb_get(txn, store_dbi(st, DB_AUDIT), &ak, &av) != 0) {
            problem(rep, "an audit index entry points at no audit entry");
            break;
        }
    }
    mdb_cursor_close(cur);
}

int cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *dir = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd') {
            dir = optarg;
        } else if (c == 'h') {
            printf("usage: practiced check --data DIR\n\n"
                   "Verifies a practice's data: records decode, every index entry points at a\n"
                   "record and every record is in its indexes, the audit hash chain is intact,\n"
                   "event numbers are contiguous. Exit 0 when all is well, 1 with a report.\n");
            return 0;
        } else {
            fprintf(stderr, "usage: practiced check --data DIR\n");
            return 2;
        }
    }
    if (!dir || optind < argc) {
        fprintf(stderr, "usage: practiced check --data DIR\n");
        return 2;
    }
    store *st;
    int rc = store_open(&st, dir, STORE_READONLY);
    if (rc) {
        fprintf(stderr, "practiced check: cannot open %s: %s\n", dir, pm_strerror(rc));
        return 1;
    }
    srv.st = st;
    MDB_txn *txn;
    if ((rc = store_txn_begin(st, 0, &txn))) {
        fprintf(stderr, "practiced check: cannot read %s: %s\n", dir, pm_strerror(rc));
        store_close(st);
        return 1;
    }
    report rep = {0};
    uint64_t accounts, patients, events, audits, bad;
    printf("checking %s\n", dir);
    check_accounts(txn, st, &rep, &accounts);
    printf("  accounts: %llu\n", (unsigned long long)accounts);
    if (patients_check(txn, st, problem, &rep, &patients))
        problem(&rep, "patients could not be read");
    printf("  patients: %llu\n", (unsigned long long)patients);
    audit_verify_chain(txn, st, &audits, &bad);
    if (bad) {
        char msg[128];
        snprintf(msg, sizeof msg, "audit hash chain broken at entry %llu", (unsigned long long)bad);
        problem(&rep, msg);
    }
    check_audit_index(txn, st, DB_RECORDS, 1, &rep);
    check_audit_index(txn, st, DB_AUDIT_USER, AUDIT_USER_BLOCK, &rep);
    printf("  audit entries: %llu%s\n", (unsigned long long)audits,
           bad ? "" : " (hash chain intact)");
    check_events(txn, st, &rep, &events);
    printf("  events kept: %llu\n", (unsigned long long)events);
    uint64_t appts;
    sched_check(txn, st, problem, &rep, &appts);
    printf("  appointments: %llu\n", (unsigned long long)appts);
    mdb_txn_abort(txn);
    store_close(st);
    srv.st = NULL;
    if (rep.problems) {
        printf("%u problem(s) found\n", rep.problems);
        return 1;
    }
    printf("ok\n");
    return 0;
}
