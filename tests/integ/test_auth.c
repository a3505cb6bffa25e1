/* Accounts, logins, sessions and roles against a real practiced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"
#include "pm_err.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int call(pc_client *c, pm_arena *a, Pm__Envelope *e, Pm__Envelope **resp)
{
    Pm__Envelope *dummy;
    return pc_call(c, e, a, resp ? resp : &dummy);
}

static int create_account(pc_client *m, pm_arena *a, const char *name, int role, char *otp,
                          size_t n)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_CREATE_ACCOUNT), *resp = NULL;
    Pm__CreateAccount *ca = pm_msg_new(a, &pm__create_account__descriptor);
    ca->username = (char *)name;
    ca->role = (Pm__Role)role;
    e->create_account = ca;
    int rc = call(m, a, e, &resp);
    if (rc == PM_OK && otp)
        snprintf(otp, n, "%s", resp->account_credential->one_time_password);
    return rc;
}

static int login(ts_server *s, const char *user, const char *pw, pc_client **out)
{
    pc_client *c = ts_client(s);
    assert_non_null(c);
    pm_arena a;
    pm_arena_init(&a, 0);
    int rc = pc_login(c, user, pw, "auth test", &a, NULL);
    pm_arena_free(&a);
    if (out)
        *out = c;
    else
        pc_free(c);
    return rc;
}

static int ping(pc_client *c)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_PING);
    Pm__Ping *p = pm_msg_new(&a, &pm__ping__descriptor);
    p->nonce = 42;
    e->ping = p;
    Pm__Envelope *resp = NULL;
    int rc = pc_call(c, e, &a, &resp);
    if (rc == PM_OK)
        assert_int_equal(resp->pong->nonce, 42);
    pm_arena_free(&a);
    return rc;
}

static int list_accounts(pc_client *c)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_LIST_ACCOUNTS);
    e->list_accounts = pm_msg_new(&a, &pm__list_accounts__descriptor);
    int rc = call(c, &a, e, NULL);
    pm_arena_free(&a);
    return rc;
}

/* The first login uses the one-time password and must change it before anything else. */
static void test_one_time_password(void **state)
{
    (void)state;
    ts_server s;
    assert_int_equal(ts_init(&s, NULL), 0);
    assert_int_equal(ts_start(&s, NULL), 0);
    pc_client *c = ts_client(&s);
    assert_non_null(c);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__LoginOk *ok;
    assert_int_equal(pc_login(c, s.manager, s.otp, "desk", &a, &ok), PM_OK);
    assert_true(ok->must_change_password);
    assert_int_equal(ok->account->role, PM__ROLE__MANAGER);
    /* anything else is refused until the password is changed */
    assert_int_equal(list_accounts(c), PM_E_PASSWORD_CHANGE_REQUIRED);
    assert_int_equal(ping(c), PM_OK);
    /* a weak new password is refused with the field named */
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_CHANGE_PASSWORD);
    Pm__ChangePassword *cp = pm_msg_new(&a, &pm__change_password__descriptor);
    cp->old_password = s.otp;
    cp->new_password = "short";
    e->change_password = cp;
    assert_int_equal(call(c, &a, e, NULL), PM_E_INVALID_ARGUMENT);
    assert_string_equal(pc_last_error_detail(c)->field, "new_password");
    cp->new_password = "a much better password";
    e->request_key.len = 0;
    assert_int_equal(call(c, &a, e, NULL), PM_OK);
    assert_int_equal(list_accounts(c), PM_OK);
    pc_free(c);
    /* the one-time password no longer works; the new one does */
    assert_int_equal(login(&s, s.manager, s.otp, NULL), PM_E_BAD_CREDENTIALS);
    pc_client *d;
    assert_int_equal(login(&s, "ADMIN", "a much better password", &d), PM_OK);
    assert_int_equal(list_accounts(d), PM_OK);
    pc_free(d);
    pm_arena_free(&a);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    ts_cleanup(&s);
}

/* Wrong passwords and unknown users get the same answer, and both lock after N. */
static void test_lockout(void **state)
{
    (void)state;
    ts_server s;
    assert_int_equal(ts_init(&s, NULL), 0);
    assert_int_equal(ts_start(&s, "--lockout-failures 3 --lockout-time 2"), 0);
    pc_client *m = ts_manager(&s);
    assert_non_null(m);
    pm_arena a;
    pm_arena_init(&a, 0);
    char otp[64];
    assert_int_equal(create_account(m, &a, "rita", PM__ROLE__RECEPTIONIST, otp, sizeof otp), PM_OK);

    pc_client *c = ts_client(&s);
    char known_msg[256], unknown_msg[256];
    assert_int_equal(pc_login(c, "rita", "wrong password 1", "desk", &a, NULL),
                     PM_E_BAD_CREDENTIALS);
    snprintf(known_msg, sizeof known_msg, "%s", pc_last_error(c));
    assert_int_equal(pc_login(c, "nobody", "wrong password 1", "desk", &a, NULL),
                     PM_E_BAD_CREDENTIALS);
    snprintf(unknown_msg, sizeof unknown_msg, "%s", pc_last_error(c));
    assert_string_equal(known_msg, unknown_msg);

    assert_int_equal(pc_login(c, "rita", "wrong password 2", "desk", &a, NULL),
                     PM_E_BAD_CREDENTIALS);
    assert_int_equal(pc_login(c, "rita", "wrong password 3", "desk", &a, NULL), PM_E_LOCKED);
    assert_true(pc_last_error_detail(c)->retry_after_ms > 0);
    /* locked: even the right password is refused */
    assert_int_equal(pc_login(c, "rita", otp, "desk", &a, NULL), PM_E_LOCKED);
    /* an unknown name locks the same way */
    assert_int_equal(pc_login(c, "nobody", "x1234567890", "desk", &a, NULL), PM_E_BAD_CREDENTIALS);
    assert_int_equal(pc_login(c, "nobody", "x1234567890", "desk", &a, NULL), PM_E_LOCKED);

    /* the lock lasts --lockout-time, and survives a restart */
    pc_free(c);
    pc_free(m);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    assert_int_equal(ts_start(&s, "--lockout-failures 3 --lockout-time 2"), 0);
    assert_int_equal(login(&s, "rita", otp, NULL), PM_E_LOCKED);
    sleep(3);
    assert_int_equal(login(&s, "rita", otp, NULL), PM_OK);

    /* every failure is in the audit log */
    m = ts_manager(&s);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_QUERY_AUDIT), *resp = NULL;
    Pm__QueryAudit *q = pm_msg_new(&a, &pm__query_audit__descriptor);
    q->username = "rita";
    e->query_audit = q;
    assert_int_equal(call(m, &a, e, &resp), PM_OK);
    int failures = 0, successes = 0;
    for (size_t i = 0; i < resp->audit_list->n_entries; i++) {
        Pm__AuditEntry *en = resp->audit_list->entries[i];
        if (strcmp(en->action, "login") == 0) {
            failures += en->outcome == PM__OUTCOME__FAILURE;
            successes += en->outcome == PM__OUTCOME__SUCCESS;
        }
    }
    /* three wrong, one right while locked, one after the restart while still locked */
    assert_int_equal(failures, 5);
    assert_int_equal(successes, 1);
    assert_true(resp->audit_list->chain_ok);
    assert_true(ts_log_has(&s, "failed login for 'rita'"));
    pc_free(m);
    pm_arena_free(&a);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    ts_cleanup(&s);
}

struct locked_seen {
    int n;
    int reason;
};

static void on_push(void *ud, const Pm__Envelope *env)
{
    struct locked_seen *ls = ud;
    if (env->body_case == PM__ENVELOPE__BODY_SESSION_LOCKED) {
        ls->n++;
        ls->reason = -(int)env->session_locked->reason;
    }
}

/* An idle session ends: the screen is told, and the next request is refused. */
static void test_idle_timeout(void **state)
{
    (void)state;
    ts_server s;
    assert_int_equal(ts_init(&s, NULL), 0);
    assert_int_equal(ts_start(&s, "--idle-timeout 2"), 0);
    pc_client *m = ts_manager(&s);
    assert_non_null(m);
    assert_int_equal(ping(m), PM_OK);
    /* activity keeps it alive */
    for (int i = 0; i < 3; i++) {
        sleep(1);
        assert_int_equal(list_accounts(m), PM_OK);
    }
    struct locked_seen seen = {0};
    pc_on_event(m, on_push, &seen);
    int got = 0;
    for (int i = 0; i < 50 && !seen.n; i++)
        got += pc_poll(m, 100) > 0;
    assert_true(got > 0);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.reason, PM_E_SESSION_EXPIRED);
    assert_int_equal(list_accounts(m), PM_E_UNAUTHENTICATED);
    pc_free(m);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    ts_cleanup(&s);
}

/* Roles: the permission table, a display device, disabling an account. */
static void test_roles_and_disable(void **state)
{
    (void)state;
    ts_server s;
    assert_int_equal(ts_init(&s, NULL), 0);
    assert_int_equal(ts_start(&s, NULL), 0);
    pc_client *m = ts_manager(&s);
    assert_non_null(m);
    pm_arena a;
    pm_arena_init(&a, 0);
    pc_client *r = ts_user(&s, m, "rosa", PM__ROLE__RECEPTIONIST);
    assert_non_null(r);
    /* a receptionist may not manage accounts, and the refusal is audited */
    assert_int_equal(create_account(r, &a, "mallory", PM__ROLE__MANAGER, NULL, 0),
                     PM_E_PERMISSION_DENIED);
    assert_int_equal(list_accounts(r), PM_E_PERMISSION_DENIED);
    Pm__Patient *p;
    assert_int_equal(ts_create_patient(r, &a, "Ines", "Duarte", "1990-04-01", NULL, &p), PM_OK);

    /* a display device: for a location that exists; its secret logs in, and patients are
     * refused to it */
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_CREATE_DEVICE), *resp = NULL;
    Pm__CreateDevice *cd = pm_msg_new(&a, &pm__create_device__descriptor);
    cd->name = "lobby-tv";
    cd->location = "main";
    e->create_device = cd;
    assert_int_equal(call(m, &a, e, &resp), PM_E_INVALID_ARGUMENT);
    Pm__Envelope *le = pc_env(&a, PM__ENVELOPE__BODY_PUT_LOCATION);
    le->put_location = pm_msg_new(&a, &pm__put_location__descriptor);
    Pm__Location *loc = pm_msg_new(&a, &pm__location__descriptor);
    loc->id = "main";
    loc->name = "Main Street";
    le->put_location->location = loc;
    assert_int_equal(call(m, &a, le, NULL), PM_OK);
    e->request_key.len = 0;
    assert_int_equal(call(m, &a, e, &resp), PM_OK);
    char secret[64];
    snprintf(secret, sizeof secret, "%s", resp->account_credential->one_time_password);
    assert_true(strlen(secret) >= 39);
    pc_client *d;
    Pm__LoginOk *ok;
    d = ts_client(&s);
    assert_int_equal(pc_login(d, "lobby-tv", secret, "tv", &a, &ok), PM_OK);
    assert_false(ok->must_change_password);
    assert_int_equal(ok->account->role, PM__ROLE__DISPLAY);
    Pm__Patient *q;
    assert_int_equal(ts_get_patient(d, &a, p->mrn, &q), PM_E_PERMISSION_DENIED);
    const char *topic = "patients";
    assert_int_equal(pc_subscribe(d, &topic, 1, 0, &a, NULL), PM_E_PERMISSION_DENIED);
    pc_free(d);

    /* disabling rosa: her open session is told, and she can no longer log in */
    struct locked_seen seen = {0};
    pc_on_event(r, on_push, &seen);
    e = pc_env(&a, PM__ENVELOPE__BODY_SET_ACCOUNT_DISABLED);
    Pm__SetAccountDisabled *sd = pm_msg_new(&a, &pm__set_account_disabled__descriptor);
    sd->username = "rosa";
    sd->disabled = 1;
    e->set_account_disabled = sd;
    assert_int_equal(call(m, &a, e, NULL), PM_OK);
    for (int i = 0; i < 50 && !seen.n; i++)
        pc_poll(r, 100);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.reason, PM_E_ACCOUNT_DISABLED);
    assert_int_equal(ts_get_patient(r, &a, p->mrn, &q), PM_E_UNAUTHENTICATED);
    assert_int_equal(login(&s, "rosa", "rosa-password-1", NULL), PM_E_ACCOUNT_DISABLED);
    /* a manager cannot disable themselves */
    sd->username = s.manager;
    e->request_key.len = 0;
    assert_int_equal(call(m, &a, e, NULL), PM_E_INVALID_ARGUMENT);
    /* enabled again, she can */
    sd->username = "rosa";
    sd->disabled = 0;
    e->request_key.len = 0;
    assert_int_equal(call(m, &a, e, NULL), PM_OK);
    assert_int_equal(login(&s, "rosa", "rosa-password-1", NULL), PM_OK);

    /* a reset gives a new one-time password and ends the old one */
    e = pc_env(&a, PM__ENVELOPE__BODY_RESET_PASSWORD);
    Pm__ResetPassword *rp = pm_msg_new(&a, &pm__reset_password__descriptor);
    rp->username = "rosa";
    e->reset_password = rp;
    assert_int_equal(call(m, &a, e, &resp), PM_OK);
    char otp[64];
    snprintf(otp, sizeof otp, "%s", resp->account_credential->one_time_password);
    assert_int_equal(login(&s, "rosa", "rosa-password-1", NULL), PM_E_BAD_CREDENTIALS);
    assert_int_equal(login(&s, "rosa", otp, NULL), PM_OK);

    pc_free(r);
    pc_free(m);
    pm_arena_free(&a);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    ts_cleanup(&s);
}

static void tls_counts(pc_client *c, uint64_t *handshakes, uint64_t *resumed)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_GET_STATS), *resp = NULL;
    e->get_stats = pm_msg_new(&a, &pm__get_stats__descriptor);
    assert_int_equal(call(c, &a, e, &resp), PM_OK);
    *handshakes = resp->stats->tls_handshakes;
    *resumed = resp->stats->tls_resumed;
    pm_arena_free(&a);
}

/* A reconnecting client resumes its TLS session from a ticket (no ECDHE, no signature),
 * also after the server restarted: the ticket key is kept in the data directory. A
 * damaged key file costs one full handshake, not the server. */
static void test_tls_tickets_outlive_restart(void **state)
{
    (void)state;
    ts_server s;
    assert_int_equal(ts_init(&s, NULL), 0);
    assert_int_equal(ts_start(&s, NULL), 0);
    pc_client *m = ts_manager(&s);
    assert_non_null(m);
    uint64_t h0, r0, h, r;
    tls_counts(m, &h0, &r0);
    assert_int_equal(pc_reconnect(m), PM_OK);
    tls_counts(m, &h, &r);
    assert_int_equal(h, h0 + 1);
    assert_int_equal(r, r0 + 1);

    char path[512], out[256];
    snprintf(path, sizeof path, "%s/tickets.key", s.dir);
    assert_int_equal(ts_sh(out, sizeof out, "stat -c %%a %s", path), 0);
    assert_string_equal(out, "600\n");

    assert_int_equal(ts_restart(&s, NULL), 0);
    assert_int_equal(pc_reconnect(m), PM_OK);
    tls_counts(m, &h, &r);
    print_message("      after a restart: %llu handshake(s), %llu resumed from a ticket\n",
                  (unsigned long long)h, (unsigned long long)r);
    assert_int_equal(r, 1);

    /* the key file damaged: a new key, one full handshake, then resumption again */
    /* written while the server runs; read when it starts again */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a key", f);
    fclose(f);
    assert_int_equal(ts_restart(&s, NULL), 0);
    assert_true(ts_log_has(&s, "not a ticket key file"));
    assert_int_equal(pc_reconnect(m), PM_OK);
    tls_counts(m, &h, &r);
    assert_int_equal(r, 0);
    assert_int_equal(pc_reconnect(m), PM_OK);
    tls_counts(m, &h, &r);
    assert_int_equal(r, 1);
    pc_free(m);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    ts_cleanup(&s);
}

/* A session token resumes on a new connection and after a restart; logout ends it. */
static void test_resume_restart_logout(void **state)
{
    (void)state;
    ts_server s;
    assert_int_equal(ts_init(&s, NULL), 0);
    assert_int_equal(ts_start(&s, NULL), 0);
    pc_client *m = ts_manager(&s);
    assert_non_null(m);
    uint8_t token[32];
    memcpy(token, pc_token(m), 32);
    pc_free(m);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    assert_int_equal(ts_start(&s, NULL), 0);

    pc_opts o = {.host = "localhost", .port = s.port, .ca_file = s.ca};
    pc_client *c = pc_new(&o);
    pc_set_token(c, token, 32);
    assert_int_equal(pc_connect(c), PM_OK);
    assert_string_equal(pc_practice_name(c), "Test Practice");
    assert_string_equal(pc_timezone(c), "Europe/Paris");
    assert_int_equal(list_accounts(c), PM_OK);
    /* a second connection on the same session */
    pc_client *c2 = pc_new(&o);
    pc_set_token(c2, token, 32);
    assert_int_equal(pc_connect(c2), PM_OK);
    struct locked_seen seen = {0};
    pc_on_event(c2, on_push, &seen);

    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_LOGOUT);
    e->logout = pm_msg_new(&a, &pm__logout__descriptor);
    assert_int_equal(call(c, &a, e, NULL), PM_OK);
    assert_int_equal(list_accounts(c), PM_E_UNAUTHENTICATED);
    for (int i = 0; i < 50 && !seen.n; i++)
        pc_poll(c2, 100);
    assert_int_equal(seen.n, 1);
    pc_free(c2);
    /* the token is dead for good, also after a restart */
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    assert_int_equal(ts_start(&s, NULL), 0);
    pc_client *c3 = pc_new(&(pc_opts){.host = "127.0.0.1", .port = s.port, .ca_file = s.ca});
    pc_set_token(c3, token, 32);
    assert_int_equal(pc_connect(c3), PM_E_SESSION_EXPIRED);
    assert_null(pc_token(c3));
    pc_free(c3);
    pc_free(c);
    pm_arena_free(&a);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    ts_cleanup(&s);
}

/* --session-max 2: a stored session past its end is forgotten by the maintenance (which
 * runs at start), so the table does not keep every session ever opened. */
static void test_stored_sessions_forgotten(void **state)
{
    (void)state;
    ts_server s;
    assert_int_equal(ts_init(&s, NULL), 0);
    assert_int_equal(ts_start(&s, "--session-max 2"), 0);
    pc_client *m = ts_manager(&s);
    assert_non_null(m);
    long open = ts_db_entries(&s, "sessions");
    print_message("      stored sessions while logged in: %ld\n", open);
    assert_true(open >= 1);
    pc_free(m);
    usleep(3000 * 1000);
    assert_int_equal(ts_restart(&s, "--session-max 2"), 0);
    long left = ts_db_entries_wait(&s, "sessions", 0, 5000);
    print_message("      after they ended and a restart: %ld\n", left);
    assert_int_equal(left, 0);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    ts_cleanup(&s);
}

/* A client that does not know the practice's CA refuses the server, and a name the
 * certificate does not carry is refused too. */
static void test_tls_trust(void **state)
{
    (void)state;
    ts_server s, other;
    assert_int_equal(ts_init(&s, NULL), 0);
    assert_int_equal(ts_init(&other, NULL), 0);
    /* 127.0.0.2 is loopback too, but not a name in the certificate */
    assert_int_equal(ts_start(&s, "--listen 127.0.0.2:0"), 0);
    pc_opts o = {.host = "localhost", .port = s.port, .ca_file = other.ca, .retries = -1};
    pc_client *c = pc_new(&o);
    assert_int_equal(pc_connect(c), PM_E_CONNECT); /* localhost is 127.0.0.1: nobody there */
    pc_free(c);
    pc_opts o1 = {.host = "127.0.0.2", .port = s.port, .ca_file = other.ca, .retries = -1};
    c = pc_new(&o1);
    assert_int_equal(pc_connect(c), PM_E_CERT); /* another practice's CA */
    assert_non_null(strstr(pc_last_error(c), "not the practice's server"));
    pc_free(c);
    pc_opts o2 = {.host = "127.0.0.2", .port = s.port, .ca_file = s.ca, .retries = -1};
    c = pc_new(&o2);
    assert_int_equal(pc_connect(c), PM_E_CERT); /* the right CA, a name it does not carry */
    pc_free(c);
    /* enrolment by fingerprint: a wrong one is refused; the right one finds the CA, but the
     * name must still match */
    char err[256], path[400];
    snprintf(path, sizeof path, "%s/pinned.crt", s.dir);
    assert_int_equal(pc_fetch_ca("127.0.0.2", s.port, other.fingerprint, path, err, sizeof err),
                     PM_E_CERT);
    assert_int_equal(pc_fetch_ca("127.0.0.2", s.port, s.fingerprint, path, err, sizeof err),
                     PM_E_CERT);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    assert_int_equal(ts_start(&s, NULL), 0);
    assert_int_equal(pc_fetch_ca("127.0.0.1", s.port, s.fingerprint, path, err, sizeof err), PM_OK);
    pc_opts o3 = {.host = "localhost", .port = s.port, .ca_file = path};
    c = pc_new(&o3);
    assert_int_equal(pc_connect(c), PM_OK);
    pc_free(c);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    ts_cleanup(&s);
    ts_cleanup(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_time_password),
        cmocka_unit_test(test_lockout),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_roles_and_disable),
        cmocka_unit_test(test_resume_restart_logout),
        cmocka_unit_test(test_stored_sessions_forgotten),
        cmocka_unit_test(test_tls_trust),
        cmocka_unit_test(test_tls_tickets_outlive_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
