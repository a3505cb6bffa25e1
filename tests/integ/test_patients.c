/* The patient register against a real practiced: create, read, update, search, list,
 * the audit trail of each, conflicts, retries with request keys, and live events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"
#include "pm_err.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static ts_server S;
static pc_client *M; /* the manager */
static pc_client *R; /* a receptionist */

static int setup(void **state)
{
    (void)state;
    if (ts_init(&S, NULL) || ts_start(&S, NULL))
        return -1;
    M = ts_manager(&S);
    R = M ? ts_user(&S, M, "rhea", PM__ROLE__RECEPTIONIST) : NULL;
    return R ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    pc_free(R);
    pc_free(M);
    int rc = ts_stop(&S, SIGTERM);
    if (rc == 0)
        ts_cleanup(&S);
    return rc;
}

static Pm__Envelope *search_env(pm_arena *a, const char *name, const char *dob, const char *phone)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_SEARCH_PATIENTS);
    Pm__SearchPatients *q = pm_msg_new(a, &pm__search_patients__descriptor);
    q->name = (char *)(name ? name : "");
    q->date_of_birth = (char *)(dob ? dob : "");
    q->phone = (char *)(phone ? phone : "");
    e->search_patients = q;
    return e;
}

static Pm__PatientList *search(pc_client *c, pm_arena *a, const char *name, const char *dob,
                               const char *phone)
{
    Pm__Envelope *resp = NULL;
    int rc = pc_call(c, search_env(a, name, dob, phone), a, &resp);
    assert_int_equal(rc, PM_OK);
    return resp->patient_list;
}

static int has(const Pm__PatientList *l, const char *mrn)
{
    for (size_t i = 0; i < l->n_patients; i++)
        if (strcmp(l->patients[i]->mrn, mrn) == 0)
            return 1;
    return 0;
}

static int update(pc_client *c, pm_arena *a, Pm__Patient *p, Pm__Patient **out)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_UPDATE_PATIENT), *resp = NULL;
    Pm__UpdatePatient *u = pm_msg_new(a, &pm__update_patient__descriptor);
    u->patient = p;
    e->update_patient = u;
    int rc = pc_call(c, e, a, &resp);
    if (rc == PM_OK && out)
        *out = resp->patient_ok->patient;
    return rc;
}

static Pm__AuditList *audit(pc_client *c, pm_arena *a, const char *mrn, const char *user)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_QUERY_AUDIT), *resp = NULL;
    Pm__QueryAudit *q = pm_msg_new(a, &pm__query_audit__descriptor);
    q->mrn = (char *)(mrn ? mrn : "");
    q->username = (char *)(user ? user : "");
    e->query_audit = q;
    assert_int_equal(pc_call(c, e, a, &resp), PM_OK);
    return resp->audit_list;
}

static int count_action(const Pm__AuditList *l, const char *action, Pm__Outcome outcome)
{
    int n = 0;
    for (size_t i = 0; i < l->n_entries; i++)
        n += strcmp(l->entries[i]->action, action) == 0 && l->entries[i]->outcome == outcome;
    return n;
}

static void test_create_read_update_search(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Patient *p, *q;
    assert_int_equal(
        ts_create_patient(R, &a, "José", "Núñez-García", "1984-02-29", "+34 612 345 678", &p),
        PM_OK);
    assert_int_equal(p->version, 1);
    assert_string_equal(p->created_by, "rhea");
    assert_true(strlen(p->mrn) >= 6);

    assert_int_equal(ts_get_patient(R, &a, p->mrn, &q), PM_OK);
    assert_string_equal(q->first_name, "José");
    assert_string_equal(q->last_name, "Núñez-García");
    assert_string_equal(q->date_of_birth, "1984-02-29");
    assert_int_equal(q->n_phones, 1);

    /* search: prefixes of any name word, case and accents folded, with other criteria */
    assert_true(has(search(R, &a, "nun", NULL, NULL), p->mrn));
    assert_true(has(search(R, &a, "GARC", NULL, NULL), p->mrn));
    assert_true(has(search(R, &a, "jose nu", NULL, NULL), p->mrn));
    assert_false(has(search(R, &a, "jose smith", NULL, NULL), p->mrn));
    assert_true(has(search(R, &a, NULL, "1984-02-29", NULL), p->mrn));
    assert_true(has(search(R, &a, "nu", "1984-02-29", NULL), p->mrn));
    assert_false(has(search(R, &a, "nu", "1984-03-01", NULL), p->mrn));
    assert_true(has(search(R, &a, NULL, NULL, "345 678"), p->mrn));
    assert_true(has(search(R, &a, NULL, NULL, "0034612345678"), p->mrn) == 0);
    assert_true(has(search(R, &a, NULL, NULL, "612345678"), p->mrn));

    /* update with the version read; the old name no longer finds it, the new one does */
    q->last_name = "Núñez";
    q->preferred_name = "Pepe";
    Pm__Patient *u = NULL;
    assert_int_equal(update(R, &a, q, &u), PM_OK);
    assert_int_equal(u->version, 2);
    assert_string_equal(u->updated_by, "rhea");
    assert_false(has(search(R, &a, "garcia", NULL, NULL), p->mrn));
    assert_true(has(search(R, &a, "pepe", NULL, NULL), p->mrn));

    /* a second edit from the stale version is a typed conflict, and nothing changes */
    q->version = 1;
    q->last_name = "Overwritten";
    assert_int_equal(update(M, &a, q, NULL), PM_E_CONFLICT);
    assert_string_equal(pc_last_error_detail(M)->field, "version");
    assert_non_null(strstr(pc_last_error(M), "rhea"));
    assert_int_equal(ts_get_patient(M, &a, p->mrn, &q), PM_OK);
    assert_string_equal(q->last_name, "Núñez");
    assert_int_equal(q->version, 2);

    /* the audit trail: created, read, updated, the refused update, searches that showed it */
    Pm__AuditList *al = audit(M, &a, p->mrn, NULL);
    assert_true(al->chain_ok);
    assert_int_equal(count_action(al, "patient.create", PM__OUTCOME__SUCCESS), 1);
    assert_int_equal(count_action(al, "patient.read", PM__OUTCOME__SUCCESS), 2);
    assert_int_equal(count_action(al, "patient.update", PM__OUTCOME__SUCCESS), 1);
    assert_int_equal(count_action(al, "patient.update", PM__OUTCOME__FAILURE), 1);
    assert_true(count_action(al, "patient.search", PM__OUTCOME__SUCCESS) >= 6);
    for (size_t i = 0; i < al->n_entries; i++) {
        Pm__AuditEntry *e = al->entries[i];
        assert_true(strlen(e->username) > 0);
        assert_non_null(strstr(e->device, "127.0.0.1"));
        assert_true(e->time > 0);
    }
    /* an MRN typed with a dash is the same patient, audited under its own MRN */
    char dashed[32];
    snprintf(dashed, sizeof dashed, "%.3s-%s", p->mrn, p->mrn + 3);
    assert_int_equal(ts_get_patient(R, &a, dashed, &q), PM_OK);
    al = audit(M, &a, p->mrn, "rhea");
    assert_int_equal(count_action(al, "patient.read", PM__OUTCOME__SUCCESS), 2);
    pm_arena_free(&a);
}

static void test_validation(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    assert_int_equal(ts_create_patient(R, &a, "", "Doe", "2999-01-01", "12", NULL),
                     PM_E_INVALID_ARGUMENT);
    const Pm__Error *err = pc_last_error_detail(R);
    assert_string_equal(err->field, "first_name");
    assert_int_equal(err->n_fields, 3);
    assert_string_equal(err->fields[1]->field, "date_of_birth");
    assert_string_equal(err->fields[2]->field, "phones[0].number");
    assert_int_equal(ts_get_patient(R, &a, "12345", NULL), PM_E_INVALID_ARGUMENT);
    assert_int_equal(ts_get_patient(R, &a, "99999997", NULL), PM_E_NOT_FOUND);
    /* a biller may read but not register patients */
    pc_client *b = ts_user(&S, M, "bill", PM__ROLE__BILLER);
    assert_non_null(b);
    assert_int_equal(ts_create_patient(b, &a, "Ann", "Lee", "1970-01-01", NULL, NULL),
                     PM_E_PERMISSION_DENIED);
    Pm__AuditList *al = audit(M, &a, NULL, "bill");
    assert_int_equal(count_action(al, "patient.create", PM__OUTCOME__DENIED), 1);
    pc_free(b);
    pm_arena_free(&a);
}

/* A retry with the same request key gets the first answer; the work happens once. */
static void test_request_key(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_CREATE_PATIENT), *r1, *r2;
    Pm__CreatePatient *cp = pm_msg_new(&a, &pm__create_patient__descriptor);
    Pm__Patient *p = pm_msg_new(&a, &pm__patient__descriptor);
    p->first_name = "Retry";
    p->last_name = "Onceonly";
    p->date_of_birth = "2001-01-01";
    cp->patient = p;
    e->create_patient = cp;
    static uint8_t key[16] = "same-key-twice!";
    e->request_key.data = key;
    e->request_key.len = sizeof key;
    assert_int_equal(pc_call(R, e, &a, &r1), PM_OK);
    assert_int_equal(pc_call(R, e, &a, &r2), PM_OK);
    assert_string_equal(r1->patient_ok->patient->mrn, r2->patient_ok->patient->mrn);
    assert_int_equal(search(R, &a, "onceonly", NULL, NULL)->n_patients, 1);
    /* the key is the caller's: another account's identical key is another request */
    assert_int_equal(pc_call(M, e, &a, &r2), PM_OK);
    assert_string_not_equal(r1->patient_ok->patient->mrn, r2->patient_ok->patient->mrn);
    /* a failed request's answer is remembered too */
    p->date_of_birth = "not a date";
    key[0] = 'X';
    assert_int_equal(pc_call(R, e, &a, &r1), PM_E_INVALID_ARGUMENT);
    p->date_of_birth = "2001-01-01";
    assert_int_equal(pc_call(R, e, &a, &r1), PM_E_INVALID_ARGUMENT);
    pm_arena_free(&a);
}

struct seen {
    uint64_t seqs[64];
    char mrns[64][24];
    int n;
};

static void on_event(void *ud, const Pm__Envelope *env)
{
    struct seen *s = ud;
    if (env->body_case == PM__ENVELOPE__BODY_EVENT && s->n < 64 &&
        env->event->body_case == PM__EVENT__BODY_PATIENT_CHANGED) {
        s->seqs[s->n] = env->event->seq;
        snprintf(s->mrns[s->n], sizeof s->mrns[0], "%s", env->event->patient_changed->patient->mrn);
        s->n++;
    }
}

static void wait_events(pc_client *c, struct seen *s, int want)
{
    for (int i = 0; i < 100 && s->n < want; i++)
        pc_poll(c, 100);
}

/* Every change is an event on "patients"; a subscriber that comes back gets what it
 * missed, in order, without duplicates. */
static void test_events_and_replay(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    pc_client *w = ts_user(&S, M, "watcher", PM__ROLE__CLINICIAN);
    assert_non_null(w);
    struct seen seen = {0};
    pc_on_event(w, on_event, &seen);
    const char *topic = "patients";
    Pm__Subscribed *sub;
    assert_int_equal(pc_subscribe(w, &topic, 1, 0, &a, &sub), PM_OK);
    Pm__Patient *p1, *p2, *p3;
    assert_int_equal(ts_create_patient(R, &a, "Eve", "Live", "1990-01-01", NULL, &p1), PM_OK);
    wait_events(w, &seen, 1);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.mrns[0], p1->mrn);
    assert_true(seen.seqs[0] > sub->last_seq);
    uint64_t last = seen.seqs[0];

    /* the subscriber goes away; two changes happen; it comes back from where it was */
    pc_free(w);
    assert_int_equal(ts_create_patient(R, &a, "Mia", "Missed", "1991-01-01", NULL, &p2), PM_OK);
    assert_int_equal(ts_create_patient(R, &a, "Max", "Missed", "1992-01-01", NULL, &p3), PM_OK);
    w = ts_client(&S);
    assert_int_equal(pc_login(w, "watcher", "watcher-password-1", "t", &a, NULL), PM_OK);
    struct seen again = {0};
    pc_on_event(w, on_event, &again);
    assert_int_equal(pc_subscribe(w, &topic, 1, last, &a, &sub), PM_OK);
    assert_int_equal(sub->replayed, 2);
    assert_int_equal(ts_create_patient(R, &a, "Lia", "Live", "1993-01-01", NULL, NULL), PM_OK);
    wait_events(w, &again, 3);
    assert_int_equal(again.n, 3);
    assert_string_equal(again.mrns[0], p2->mrn);
    assert_string_equal(again.mrns[1], p3->mrn);
    for (int i = 1; i < again.n; i++)
        assert_true(again.seqs[i] > again.seqs[i - 1]);
    assert_true(again.seqs[0] > last);
    /* an unknown topic, and a position from the future, are refused */
    const char *bad = "everything";
    assert_int_equal(pc_subscribe(w, &bad, 1, 0, &a, NULL), PM_E_PERMISSION_DENIED);
    assert_int_equal(pc_subscribe(w, &topic, 1, 1u << 30, &a, NULL), PM_E_RELOAD);
    pc_free(w);
    pm_arena_free(&a);
}

/* Confidential records stay out of other roles' searches and lists. */
static void test_confidential(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_CREATE_PATIENT), *resp = NULL;
    Pm__CreatePatient *cp = pm_msg_new(&a, &pm__create_patient__descriptor);
    Pm__Patient *p = pm_msg_new(&a, &pm__patient__descriptor);
    p->first_name = "Vera";
    p->last_name = "Hidden";
    p->date_of_birth = "1960-06-06";
    p->privacy = pm_msg_new(&a, &pm__privacy_flags__descriptor);
    p->privacy->confidential = 1;
    cp->patient = p;
    e->create_patient = cp;
    assert_int_equal(pc_call(M, e, &a, &resp), PM_OK);
    const char *mrn = resp->patient_ok->patient->mrn;
    assert_false(has(search(R, &a, "hidden", NULL, NULL), mrn));
    assert_true(has(search(M, &a, "hidden", NULL, NULL), mrn));
    pm_arena_free(&a);
}

/* Listing pages through the whole register in name order. */
static void test_list_pages(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    for (int i = 0; i < 12; i++) {
        char last[32];
        snprintf(last, sizeof last, "Zz%02d", 11 - i);
        assert_int_equal(ts_create_patient(R, &a, "Page", last, "1999-09-09", NULL, NULL), PM_OK);
    }
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_LIST_PATIENTS), *resp = NULL;
    Pm__ListPatients *lp = pm_msg_new(&a, &pm__list_patients__descriptor);
    lp->limit = 5;
    e->list_patients = lp;
    char prev[64] = "";
    int total = 0, zz = 0, pages = 0;
    do {
        e->request_key.len = 0;
        assert_int_equal(pc_call(R, e, &a, &resp), PM_OK);
        Pm__PatientList *pl = resp->patient_list;
        for (size_t i = 0; i < pl->n_patients; i++) {
            char key[64];
            snprintf(key, sizeof key, "%s", pl->patients[i]->last_name);
            for (char *k = key; *k; k++)
                if (*k >= 'A' && *k <= 'Z')
                    *k = (char)(*k + 32);
            assert_true(strcmp(prev, key) <= 0);
            snprintf(prev, sizeof prev, "%s", key);
            zz += strncmp(key, "zz", 2) == 0;
            total++;
        }
        lp->cursor = pl->next_cursor;
        pages++;
    } while (lp->cursor.len && pages < 100);
    assert_int_equal(zz, 12);
    assert_true(pages >= 3);
    assert_true(total >= 12);
    pm_arena_free(&a);
}

/* A user's audit trail is complete across the index's blocks of entries, newest-first
 * and paging forward. */
static void test_audit_by_user_pages(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    pc_client *u = ts_user(&S, M, "auditee", PM__ROLE__CLINICIAN);
    assert_non_null(u);
    Pm__Patient *p;
    assert_int_equal(ts_create_patient(R, &a, "Read", "Often", "1955-05-05", NULL, &p), PM_OK);
    char mrn[24];
    snprintf(mrn, sizeof mrn, "%s", p->mrn);
    const int reads = 1500; /* more than one block of 1024 entries */
    for (int i = 0; i < reads; i++) {
        assert_int_equal(ts_get_patient(u, &a, mrn, NULL), PM_OK);
        if (i % 400 == 0) /* someone else in between */
            assert_int_equal(ts_get_patient(R, &a, mrn, NULL), PM_OK);
        pm_arena_free(&a);
    }
    /* the newest pages, back to the first: the last 100, oldest of them first, and so on */
    Pm__Envelope *ne = pc_env(&a, PM__ENVELOPE__BODY_QUERY_AUDIT), *nresp;
    Pm__QueryAudit *nq = pm_msg_new(&a, &pm__query_audit__descriptor);
    nq->username = "auditee";
    nq->newest = 1;
    ne->query_audit = nq;
    int back = 0, back_pages = 0;
    uint64_t floor = UINT64_MAX;
    do {
        ne->request_key.len = 0;
        assert_int_equal(pc_call(M, ne, &a, &nresp), PM_OK);
        Pm__AuditList *al = nresp->audit_list;
        if (back_pages == 0)
            assert_int_equal(al->n_entries, 100);
        for (size_t i = 0; i < al->n_entries; i++) {
            assert_string_equal(al->entries[i]->username, "auditee");
            assert_true(al->entries[i]->seq < floor); /* every page older than the last */
            if (i)
                assert_true(al->entries[i]->seq > al->entries[i - 1]->seq);
        }
        if (al->n_entries)
            floor = al->entries[0]->seq;
        back += (int)al->n_entries;
        nq->before_seq = al->next_before_seq;
        back_pages++;
    } while (nq->before_seq && back_pages < 40);
    assert_int_equal(back, reads + 2);
    /* paging forward from the start finds every one: login, password change, reads */
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_QUERY_AUDIT), *resp = NULL;
    Pm__QueryAudit *q = pm_msg_new(&a, &pm__query_audit__descriptor);
    q->username = "auditee";
    q->limit = 1000;
    q->since = 1;
    e->query_audit = q;
    int total = 0, pages = 0;
    uint64_t prev = 0;
    do {
        e->request_key.len = 0;
        assert_int_equal(pc_call(M, e, &a, &resp), PM_OK);
        for (size_t i = 0; i < resp->audit_list->n_entries; i++) {
            Pm__AuditEntry *en = resp->audit_list->entries[i];
            assert_string_equal(en->username, "auditee");
            assert_true(en->seq > prev);
            prev = en->seq;
            total++;
        }
        assert_true(resp->audit_list->chain_ok);
        q->after_seq = resp->audit_list->next_after_seq;
        q->since = 0;
        pages++;
    } while (q->after_seq && pages < 10);
    assert_int_equal(total, reads + 2);
    assert_int_equal(pages, 2);
    pc_free(u);
    pm_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_read_update_search),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_request_key),
        cmocka_unit_test(test_events_and_replay),
        cmocka_unit_test(test_confidential),
        cmocka_unit_test(test_list_pages),
        cmocka_unit_test(test_audit_by_user_pages),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
