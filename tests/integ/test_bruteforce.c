/* Password guessing against a real account, as fast as the server lets it happen.
 *
 * Two attackers pipeline 1,000 wrong passwords each on their own connection while a
 * logged-in manager's control client pings and searches. The server must lock the
 * account after --lockout-failures (10) failures however the guesses interleave, never
 * run more than --hash-concurrency (2) Argon2 hashes at once, stop hashing once the
 * account is locked, keep the control client fast, and audit every attempt it answered
 * as a login failure in an intact hash chain. An unknown name must be answered exactly
 * like a wrong password, with the same delays and the same hashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"
#include "pm_err.h"
#include "pm_time.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOCKOUT   10
#define HASHES    2
#define DELAY_MS  1 /* first failure's delay; doubles per failure, 512 ms once locked */
#define ATTEMPTS  1000
#define WINDOW    100 /* logins in flight per attacker (the server pauses reading at 128) */
#define ATTACKERS 2

static ts_server S;
static pc_client *MGR;
static pc_client *CTL;         /* the control client of the attack */
static size_t ATTACK_ANSWERED; /* attempts the two attackers got answers to */

static int setup(void **state)
{
    (void)state;
    char args[256];
    snprintf(args, sizeof args, "--lockout-failures %d --hash-concurrency %d --login-delay-ms %d",
             LOCKOUT, HASHES, DELAY_MS);
    if (ts_init(&S, NULL) || ts_start(&S, args))
        return -1;
    MGR = ts_manager(&S);
    return MGR ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    pc_free(CTL);
    pc_free(MGR);
    int rc = ts_stop(&S, SIGTERM);
    if (rc == 0)
        ts_cleanup(&S);
    return rc;
}

static void stats(uint64_t *hashes, uint64_t *peak)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_GET_STATS), *resp = NULL;
    e->get_stats = pm_msg_new(&a, &pm__get_stats__descriptor);
    assert_int_equal(pc_call(MGR, e, &a, &resp), PM_OK);
    *hashes = resp->stats->hashes;
    *peak = resp->stats->hash_peak;
    pm_arena_free(&a);
}

static int create_account(const char *name, char *otp, size_t n)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_CREATE_ACCOUNT), *resp = NULL;
    e->create_account = pm_msg_new(&a, &pm__create_account__descriptor);
    e->create_account->username = (char *)name;
    e->create_account->role = PM__ROLE__RECEPTIONIST;
    int rc = pc_call(MGR, e, &a, &resp);
    if (rc == PM_OK)
        snprintf(otp, n, "%s", resp->account_credential->one_time_password);
    pm_arena_free(&a);
    return rc;
}

/* Every audit entry filed under username: login failures counted by error code. */
typedef struct audit_count {
    uint64_t entries, failures, bad, locked, other, pages;
    uint64_t from_a, from_b; /* failures by the device the attackers gave */
    int chain_ok;
} audit_count;

/* Pages through QueryAudit{username} following next_after_seq. from_start: ask for
 * since = 1 (oldest first from the start); otherwise begin as the proto describes paging,
 * with after_seq = 0. */
static void audit_walk(const char *username, int from_start, audit_count *ac)
{
    memset(ac, 0, sizeof *ac);
    ac->chain_ok = 1;
    uint64_t after = 0;
    do {
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_QUERY_AUDIT), *resp = NULL;
        e->query_audit = pm_msg_new(&a, &pm__query_audit__descriptor);
        e->query_audit->username = (char *)username;
        e->query_audit->limit = 1000;
        e->query_audit->after_seq = after;
        e->query_audit->since = from_start ? 1 : 0;
        assert_int_equal(pc_call(MGR, e, &a, &resp), PM_OK);
        Pm__AuditList *l = resp->audit_list;
        ac->pages++;
        ac->chain_ok &= l->chain_ok;
        for (size_t i = 0; i < l->n_entries; i++) {
            Pm__AuditEntry *en = l->entries[i];
            ac->entries++;
            assert_string_equal(en->username, username);
            if (strcmp(en->action, "login") != 0 || en->outcome != PM__OUTCOME__FAILURE)
                continue;
            ac->failures++;
            assert_string_equal(en->record, username);
            ac->from_a += strncmp(en->device, "attacker A (", 12) == 0;
            ac->from_b += strncmp(en->device, "attacker B (", 12) == 0;
            if (en->error == PM__ERROR_CODE__BAD_CREDENTIALS)
                ac->bad++;
            else if (en->error == PM__ERROR_CODE__LOCKED)
                ac->locked++;
            else
                ac->other++;
        }
        assert_true(l->next_after_seq == 0 || l->next_after_seq > after);
        after = l->next_after_seq;
        pm_arena_free(&a);
    } while (after);
}

static void audit_of(const char *username, audit_count *ac)
{
    audit_walk(username, 1, ac);
}

/* ---- an unknown name is answered like a wrong password ---- */

typedef struct attempt {
    int code;
    char message[160];
    uint32_t retry_after_ms;
    uint64_t us;
} attempt;

static void guess_sequence(const char *name, attempt *at, int n, uint64_t *hashed)
{
    pc_client *c = ts_client(&S);
    assert_non_null(c);
    uint64_t h0, h1, peak;
    stats(&h0, &peak);
    for (int i = 0; i < n; i++) {
        pm_arena a;
        pm_arena_init(&a, 0);
        char pw[64];
        snprintf(pw, sizeof pw, "not the password %d", i);
        uint64_t t0 = pm_mono_us();
        at[i].code = pc_login(c, name, pw, "guessing desk", &a, NULL);
        at[i].us = pm_mono_us() - t0;
        snprintf(at[i].message, sizeof at[i].message, "%s", pc_last_error(c));
        const Pm__Error *err = pc_last_error_detail(c);
        at[i].retry_after_ms = err ? err->retry_after_ms : 0;
        pm_arena_free(&a);
    }
    stats(&h1, &peak);
    *hashed = h1 - h0;
    pc_free(c);
}

static void test_unknown_name_same_answers(void **state)
{
    (void)state;
    char otp[64];
    assert_int_equal(create_account("rhea", otp, sizeof otp), PM_OK);
    enum { N = LOCKOUT + 2 };
    attempt known[N], unknown[N];
    uint64_t hk, hu;
    guess_sequence("rhea", known, N, &hk);
    guess_sequence("nobody-here", unknown, N, &hu);
    printf("      attempt  wrong password (rhea)            unknown name (nobody-here)\n");
    for (int i = 0; i < N; i++)
        printf("      %7d  %-16s %7.1f ms        %-16s %7.1f ms\n", i + 1,
               pm_err_name(known[i].code), (double)known[i].us / 1000.0,
               pm_err_name(unknown[i].code), (double)unknown[i].us / 1000.0);
    printf("      Argon2 runs: %llu for rhea, %llu for the unknown name\n", (unsigned long long)hk,
           (unsigned long long)hu);
    for (int i = 0; i < N; i++) {
        int want = i < LOCKOUT - 1 ? PM_E_BAD_CREDENTIALS : PM_E_LOCKED;
        assert_int_equal(known[i].code, want);
        assert_int_equal(unknown[i].code, want);
        /* the same words (the minutes left may tick over between the two) */
        if (want == PM_E_BAD_CREDENTIALS)
            assert_string_equal(known[i].message, unknown[i].message);
        else
            assert_memory_equal(known[i].message, unknown[i].message, 30);
        assert_true((known[i].retry_after_ms > 0) == (unknown[i].retry_after_ms > 0));
        uint32_t dk = known[i].retry_after_ms, du = unknown[i].retry_after_ms;
        assert_true((dk > du ? dk - du : du - dk) <= 2000);
    }
    /* the growing delay applies to both: the 10th failure waits DELAY_MS << 9 */
    uint64_t floor_us = (uint64_t)(DELAY_MS << (LOCKOUT - 1)) * 1000 * 8 / 10;
    assert_true(known[LOCKOUT - 1].us >= floor_us);
    assert_true(unknown[LOCKOUT - 1].us >= floor_us);
    assert_true(known[LOCKOUT].us >= floor_us);
    assert_true(unknown[LOCKOUT].us >= floor_us);
    /* the same hashing: every attempt before the lock, none after */
    assert_int_equal(hk, hu);
    assert_int_equal(hk, LOCKOUT);
    /* both sequences are in the audit log, filed under the name tried */
    audit_count ak, au;
    audit_of("rhea", &ak);
    audit_of("nobody-here", &au);
    assert_int_equal(ak.failures, N);
    assert_int_equal(au.failures, N);
    assert_int_equal(au.bad, LOCKOUT - 1);
    assert_true(ak.chain_ok && au.chain_ok);
    /* and the right password is refused while locked */
    pc_client *c = ts_client(&S);
    pm_arena a;
    pm_arena_init(&a, 0);
    assert_int_equal(pc_login(c, "rhea", otp, "desk", &a, NULL), PM_E_LOCKED);
    pm_arena_free(&a);
    pc_free(c);
}

/* ---- two attackers ---- */

typedef struct attacker {
    int idx;
    pthread_t th;
    size_t sent, answered, bad, locked, busy, other;
    uint64_t elapsed_us;
    int lost; /* the connection broke or an answer did not come */
    char why[200];
    uint8_t seen[ATTEMPTS + 1];
} attacker;

static void *attack(void *ud)
{
    attacker *at = ud;
    ts_raw *r = ts_raw_open(&S);
    if (!r || ts_raw_login(r, NULL)) {
        snprintf(at->why, sizeof at->why, "could not connect and say Hello");
        at->lost = 1;
        ts_raw_close(r);
        return NULL;
    }
    uint64_t t0 = pm_mono_us();
    while (at->answered < ATTEMPTS) {
        while (at->sent < ATTEMPTS && at->sent - at->answered < WINDOW) {
            pm_arena a;
            pm_arena_init(&a, 0);
            Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_LOGIN);
            e->login = pm_msg_new(&a, &pm__login__descriptor);
            char pw[64];
            snprintf(pw, sizeof pw, "guess %d-%zu", at->idx, at->sent);
            e->login->username = "victim";
            e->login->password = pw;
            e->login->device = at->idx ? "attacker B" : "attacker A";
            e->id = at->sent + 1;
            int rc = ts_raw_env(r, e);
            pm_arena_free(&a);
            if (rc) {
                snprintf(at->why, sizeof at->why, "send failed after %zu", at->sent);
                at->lost = 1;
                goto out;
            }
            at->sent++;
        }
        uint8_t *body;
        uint32_t len;
        int rc = ts_raw_frame(r, 30000, &body, &len);
        if (rc != 1) {
            snprintf(at->why, sizeof at->why, "no answer (%d) after %zu answers", rc, at->answered);
            at->lost = 1;
            goto out;
        }
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Envelope *e = pm__envelope__unpack(pm_arena_pbc(&a), len, body);
        free(body);
        if (!e || e->id == 0 || e->id > ATTEMPTS || at->seen[e->id]) {
            at->other++;
        } else {
            at->seen[e->id] = 1;
            int code = e->body_case == PM__ENVELOPE__BODY_ERROR ? -(int)e->error->code : 0;
            if (code == PM_E_BAD_CREDENTIALS)
                at->bad++;
            else if (code == PM_E_LOCKED)
                at->locked++;
            else if (code == PM_E_BUSY)
                at->busy++;
            else
                at->other++;
        }
        at->answered++;
        pm_arena_free(&a);
    }
out:
    at->elapsed_us = pm_mono_us() - t0;
    ts_raw_close(r);
    return NULL;
}

static void test_two_attackers(void **state)
{
    (void)state;
    char otp[64];
    assert_int_equal(create_account("victim", otp, sizeof otp), PM_OK);
    pm_arena a;
    pm_arena_init(&a, 0);
    static const char *const smiths[] = {"Anna", "Ben", "Cleo", "Dev", "Eli"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(ts_create_patient(MGR, &a, smiths[i], "Smith", "1980-02-02", NULL, NULL),
                         PM_OK);
    pm_arena_free(&a);
    /* the control client: a second connection on the manager's session */
    pc_client *ctl = CTL = ts_manager(&S);
    assert_non_null(ctl);
    uint64_t h0, peak0;
    stats(&h0, &peak0);

    ts_control *t = ts_control_start(ctl, "smi", 5);
    assert_non_null(t);
    ts_latency idle;
    usleep(500 * 1000);
    ts_control_sample(t, "before the attack", &idle);

    static attacker at[ATTACKERS];
    memset(at, 0, sizeof at);
    uint64_t t0 = pm_mono_us();
    for (int i = 0; i < ATTACKERS; i++) {
        at[i].idx = i;
        assert_int_equal(pthread_create(&at[i].th, NULL, attack, &at[i]), 0);
    }
    for (int i = 0; i < ATTACKERS; i++)
        pthread_join(at[i].th, NULL);
    uint64_t wall = pm_mono_us() - t0;
    ts_latency during;
    ts_control_sample(t, "during the attack", &during);
    ts_latency all;
    ts_control_stop(t, "whole run", &all);

    size_t answered = 0, bad = 0, locked = 0, busy = 0, other = 0;
    for (int i = 0; i < ATTACKERS; i++) {
        printf("      attacker %c: %zu sent, %zu answered in %.1f s (%.0f/s): %zu BAD_CREDENTIALS, "
               "%zu LOCKED, %zu BUSY, %zu other%s%s\n",
               'A' + i, at[i].sent, at[i].answered, (double)at[i].elapsed_us / 1e6,
               (double)at[i].answered * 1e6 / (double)(at[i].elapsed_us ? at[i].elapsed_us : 1),
               at[i].bad, at[i].locked, at[i].busy, at[i].other, at[i].lost ? ": " : "", at[i].why);
        answered += at[i].answered;
        bad += at[i].bad;
        locked += at[i].locked;
        busy += at[i].busy;
        other += at[i].other;
    }
    uint64_t h1, peak;
    stats(&h1, &peak);
    printf("      %zu attempts in %.1f s; Argon2 runs during the attack: %llu, at most %llu at "
           "once\n",
           answered, (double)wall / 1e6, (unsigned long long)(h1 - h0), (unsigned long long)peak);
    for (int i = 0; i < ATTACKERS; i++)
        assert_false(at[i].lost);
    assert_int_equal(answered, ATTACKERS * ATTEMPTS);
    assert_int_equal(other, 0);
    assert_int_equal(busy, 0);
    /* exactly LOCKOUT-1 guesses were ever judged, however the two interleaved */
    assert_int_equal(bad, LOCKOUT - 1);
    assert_int_equal(locked, ATTACKERS * ATTEMPTS - (LOCKOUT - 1));
    /* never more hashes at once than allowed, and none once the lock was known: only
     * what was already in flight when it fell was hashed */
    assert_true(peak <= HASHES);
    assert_true(h1 - h0 <= (uint64_t)ATTACKERS * WINDOW + LOCKOUT);

    /* the control client stayed fast */
    assert_int_equal(all.errors, 0);
    assert_true(during.n >= 10);
    assert_true(all.max_us < 1000 * 1000);

    /* locked: the right password too, without hashing it */
    pc_client *c = ts_client(&S);
    pm_arena_init(&a, 0);
    uint64_t h2, h3;
    stats(&h2, &peak);
    assert_int_equal(pc_login(c, "victim", otp, "desk", &a, NULL), PM_E_LOCKED);
    assert_true(pc_last_error_detail(c)->retry_after_ms > 0);
    stats(&h3, &peak);
    assert_int_equal(h3, h2);
    pm_arena_free(&a);
    pc_free(c);

    /* every attempt is in the audit log as a login failure, in an intact chain */
    audit_count ac;
    audit_of("victim", &ac);
    printf("      audit log for victim: %llu entries in %llu pages, %llu login failures "
           "(%llu BAD_CREDENTIALS, %llu LOCKED), chain %s\n",
           (unsigned long long)ac.entries, (unsigned long long)ac.pages,
           (unsigned long long)ac.failures, (unsigned long long)ac.bad,
           (unsigned long long)ac.locked, ac.chain_ok ? "ok" : "BROKEN");
    assert_int_equal(ac.failures, answered + 1); /* the attacks and the right password */
    assert_int_equal(ac.bad, bad);
    assert_int_equal(ac.locked, locked + 1);
    assert_int_equal(ac.other, 0);
    assert_int_equal(ac.from_a, at[0].answered);
    assert_int_equal(ac.from_b, at[1].answered);
    assert_true(ac.chain_ok);
    ATTACK_ANSWERED = answered;

    /* and practiced check agrees, beside the running server */
    char out[8192];
    int rc = ts_sh(out, sizeof out, "%s check --data %s 2>&1", ts_practiced(), S.dir);
    printf("%s", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "(hash chain intact)"));
}

/* The proto's paging rule: start with after_seq = 0, go on with next_after_seq until it
 * is 0. Every entry of the victim must come back that way too. */
static void test_audit_paging_from_zero(void **state)
{
    (void)state;
    audit_count all, paged;
    audit_walk("victim", 1, &all);
    audit_walk("victim", 0, &paged);
    printf("      QueryAudit{username: victim}: from since=1, %llu entries in %llu pages; "
           "from after_seq=0 as the proto describes paging, %llu entries in %llu pages\n",
           (unsigned long long)all.entries, (unsigned long long)all.pages,
           (unsigned long long)paged.entries, (unsigned long long)paged.pages);
    assert_true(ATTACK_ANSWERED > 1000);
    assert_true(all.failures > ATTACK_ANSWERED);
    if (paged.entries != all.entries)
        fail_msg("paging from after_seq 0 stopped with next_after_seq 0 after the newest %llu "
                 "of %llu entries: a client that pages by the proto misses %llu",
                 (unsigned long long)paged.entries, (unsigned long long)all.entries,
                 (unsigned long long)(all.entries - paged.entries));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_name_same_answers),
        cmocka_unit_test(test_two_attackers),
        cmocka_unit_test(test_audit_paging_from_zero),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
