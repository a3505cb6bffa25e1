/* Medical record numbers (the id and a Luhn check digit: typos are caught) and the
 * field-by-field validation of a patient, as a client would see it in Error.fields. */
#include "tu.h"

#include "dispatch.h"
#include "patients.h"
#include "pm_err.h"
#include "pm_util.h"
#include "server.h"

#include <time.h>

server srv;

/* ---- MRN ---- */

/* The Luhn check over a whole number, written out independently of patients.c: from the
 * right, every second digit doubled (less 9 when over 9); valid when the sum ends in 0. */
static int luhn_valid(const char *s)
{
    int sum = 0;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        int d = s[n - 1 - i] - '0';
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return n > 0 && sum % 10 == 0;
}

static void test_mrn_known(void **state)
{
    (void)state;
    char mrn[24];
    /* the textbook Luhn example: 7992739871 has check digit 3 */
    mrn_format(7992739871ull, mrn);
    assert_string_equal(mrn, "79927398713");
    /* the first patient (patients.h's comment says "100017", which fails Luhn) */
    mrn_format(10001, mrn);
    assert_string_equal(mrn, "100016");
    assert_false(luhn_valid("100017"));
    uint64_t id = 0;
    assert_int_equal(mrn_parse("100016", &id), 0);
    assert_int_equal(id, 10001);
    assert_int_equal(mrn_parse("100017", &id), -1);
    mrn_format(1, mrn);
    assert_string_equal(mrn, "18");
}

static void test_mrn_round_trip(void **state)
{
    (void)state;
    uint64_t ids[64];
    size_t n = 0;
    for (uint64_t v = 1; v < 1000000000000000000ull; v *= 7)
        ids[n++] = v;
    ids[n++] = 999999999999999999ull;
    ids[n++] = 1000000000000000000ull; /* 19 digits: the longest MRN is 20 */
    for (size_t i = 0; i < n; i++) {
        char mrn[24];
        mrn_format(ids[i], mrn);
        assert_true(luhn_valid(mrn));
        uint64_t back = 0;
        assert_int_equal(mrn_parse(mrn, &back), 0);
        assert_int_equal(back, ids[i]);
    }
    for (uint64_t v = 10001; v < 30001; v++) {
        char mrn[24];
        mrn_format(v, mrn);
        assert_true(luhn_valid(mrn));
        uint64_t back = 0;
        assert_int_equal(mrn_parse(mrn, &back), 0);
        assert_int_equal(back, v);
    }
}

/* Luhn catches every single-digit typo, and every swap of two neighbouring digits but
 * 0 and 9. */
static void test_mrn_typos(void **state)
{
    (void)state;
    size_t tried_typos = 0, tried_swaps = 0;
    for (uint64_t v = 10001; v < 12001; v += 3) {
        char mrn[24];
        mrn_format(v, mrn);
        size_t len = strlen(mrn);
        for (size_t i = 0; i < len; i++) {
            for (char d = '0'; d <= '9'; d++) {
                if (d == mrn[i])
                    continue;
                char typo[24];
                memcpy(typo, mrn, len + 1);
                typo[i] = d;
                uint64_t id = 0;
                if (mrn_parse(typo, &id) == 0)
                    fail_msg("typo %s of %s accepted as %llu", typo, mrn, (unsigned long long)id);
                tried_typos++;
            }
            if (i + 1 < len && mrn[i] != mrn[i + 1]) {
                char swap[24];
                memcpy(swap, mrn, len + 1);
                swap[i] = mrn[i + 1];
                swap[i + 1] = mrn[i];
                int nine_zero =
                    (mrn[i] == '0' && mrn[i + 1] == '9') || (mrn[i] == '9' && mrn[i + 1] == '0');
                uint64_t id = 0;
                if (!nine_zero && mrn_parse(swap, &id) == 0)
                    fail_msg("swap %s of %s accepted as %llu", swap, mrn, (unsigned long long)id);
                tried_swaps++;
            }
        }
    }
    assert_true(tried_typos > 30000);
    assert_true(tried_swaps > 2000);
}

static void test_mrn_separators_and_junk(void **state)
{
    (void)state;
    static const char *const same[] = {"100016",   "100-016",  "100 016",   "1-0-0-0-1-6",
                                       " 100016 ", "10 00 16", "--100016--"};
    for (size_t i = 0; i < TU_LEN(same); i++) {
        uint64_t id = 0;
        if (mrn_parse(same[i], &id) != 0)
            print_error("\"%s\" refused\n", same[i]);
        assert_int_equal(mrn_parse(same[i], &id), 0);
        assert_int_equal(id, 10001);
    }
    static const char *const bad[] = {"",
                                      "6",
                                      "-",
                                      "  ",
                                      "00",
                                      "100016a",
                                      "+100016",
                                      "100_016",
                                      "100.016",
                                      "10001６",
                                      "1000160000000000000000000",
                                      "184467440737095516150" /* UINT64_MAX + a digit */};
    for (size_t i = 0; i < TU_LEN(bad); i++) {
        uint64_t id = 77;
        if (mrn_parse(bad[i], &id) == 0)
            print_error("\"%s\" accepted as %llu\n", bad[i], (unsigned long long)id);
        assert_int_equal(mrn_parse(bad[i], &id), -1);
        assert_int_equal(id, 77);
    }
}

/* ---- patient validation ---- */

static req *new_req(void)
{
    req *r = calloc(1, sizeof *r);
    assert_non_null(r);
    pm_arena_init(&r->arena, 0);
    r->role = PM__ROLE__RECEPTIONIST;
    r->username = "desk";
    return r;
}

static void free_req(req *r)
{
    pm_arena_free(&r->arena);
    free(r);
}

/* A complete, valid patient; each case below spoils one field of it. */
typedef struct fixture {
    Pm__Patient p;
    Pm__Phone ph[6];
    Pm__Phone *phones[6];
    Pm__Address addr;
    Pm__Insurance ins;
    Pm__EmergencyContact ec;
    Pm__PrivacyFlags priv;
    char big[5000];
} fixture;

static void fixture_init(fixture *f)
{
    memset(f, 0, sizeof *f);
    Pm__Patient p = PM__PATIENT__INIT;
    Pm__Address addr = PM__ADDRESS__INIT;
    Pm__Insurance ins = PM__INSURANCE__INIT;
    Pm__EmergencyContact ec = PM__EMERGENCY_CONTACT__INIT;
    Pm__PrivacyFlags priv = PM__PRIVACY_FLAGS__INIT;
    f->p = p;
    f->addr = addr;
    f->ins = ins;
    f->ec = ec;
    f->priv = priv;
    for (int i = 0; i < 6; i++) {
        Pm__Phone ph = PM__PHONE__INIT;
        f->ph[i] = ph;
        f->ph[i].number = "+44 20 7946 0958";
        f->ph[i].kind = PM__PHONE_KIND__MOBILE;
        f->phones[i] = &f->ph[i];
    }
    f->p.first_name = "Ada";
    f->p.last_name = "Lovelace-Byron";
    f->p.preferred_name = "Ádá";
    f->p.date_of_birth = "1985-12-10";
    f->p.sex = PM__SEX__FEMALE;
    f->p.phones = f->phones;
    f->p.n_phones = 2;
    f->ph[1].number = "(020) 7946-0000";
    f->ph[1].kind = PM__PHONE_KIND__HOME;
    f->p.email = "ada.lovelace+clinic@example.co.uk";
    f->addr.line1 = "12 St James's Square";
    f->addr.city = "London";
    f->addr.postal_code = "SW1Y 4JH";
    f->addr.country = "United Kingdom";
    f->p.address = &f->addr;
    f->p.preferred_language = "en-GB";
    f->ins.payer = "NHS";
    f->ins.member_id = "943 476 5919";
    f->p.insurance = &f->ins;
    f->ec.name = "Charles Babbage";
    f->ec.relationship = "friend";
    f->ec.phone = "+44 20 7946 0001";
    f->p.emergency_contact = &f->ec;
    f->priv.no_sms = 1;
    f->p.privacy = &f->priv;
    f->p.notes = "Prefers mornings.\nAllergic to penicillin.\r\n\tSee 2019 letter.";
}

/* A string of n copies of unit, in the fixture's scratch space. */
static char *repeat(fixture *f, const char *unit, size_t n)
{
    size_t ul = strlen(unit);
    assert_true(ul * n < sizeof f->big);
    for (size_t i = 0; i < n; i++)
        memcpy(f->big + i * ul, unit, ul);
    f->big[ul * n] = 0;
    return f->big;
}

static void expect_valid(const Pm__Patient *p)
{
    req *r = new_req();
    int rc = patient_validate(r, p);
    for (size_t i = 0; i < r->nfields; i++)
        print_error("unexpected: %s: %s\n", r->fields[i]->field, r->fields[i]->message);
    assert_int_equal(rc, PM_OK);
    assert_int_equal(r->nfields, 0);
    assert_int_equal(r->status, PM_OK);
    assert_null(r->err_field);
    free_req(r);
}

/* Exactly one problem, reported on field. */
static void expect_field(const Pm__Patient *p, const char *field)
{
    req *r = new_req();
    int rc = patient_validate(r, p);
    if (r->nfields != 1 || strcmp(r->fields[0]->field, field) != 0) {
        print_error("expected one error on %s, got %zu:\n", field, r->nfields);
        for (size_t i = 0; i < r->nfields; i++)
            print_error("  %s: %s\n", r->fields[i]->field, r->fields[i]->message);
    }
    assert_int_equal(rc, PM_E_INVALID_ARGUMENT);
    assert_int_equal(r->status, PM_E_INVALID_ARGUMENT);
    assert_int_equal(r->nfields, 1);
    assert_string_equal(r->fields[0]->field, field);
    assert_true(strlen(r->fields[0]->message) > 0);
    /* the first field at fault is also the error's field */
    assert_string_equal(r->err_field, field);
    assert_non_null(r->err_msg);
    free_req(r);
}

static void test_valid_patient(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    expect_valid(&f.p);

    /* the smallest valid patient: names and date of birth */
    Pm__Patient min = PM__PATIENT__INIT;
    min.first_name = "Li";
    min.last_name = "Wu";
    min.date_of_birth = "2000-02-29";
    expect_valid(&min);

    /* limits are in characters: 100 two-byte letters are fine */
    fixture_init(&f);
    f.p.first_name = repeat(&f, "é", 100);
    expect_valid(&f.p);
    fixture_init(&f);
    f.p.notes = repeat(&f, "n", 4000);
    expect_valid(&f.p);
    fixture_init(&f);
    f.p.n_phones = 5;
    expect_valid(&f.p);
    fixture_init(&f);
    f.p.date_of_birth = "1880-01-01";
    expect_valid(&f.p);
    fixture_init(&f);
    f.ph[0].number = "1234567";                 /* 7 digits */
    f.ph[1].number = "+1 (234) 567-8901.234/5"; /* 15 digits */
    expect_valid(&f.p);

    static const char *const langs[] = {"", "en", "es", "pt-BR", "zh-Hant", "es-419", "fil"};
    for (size_t i = 0; i < TU_LEN(langs); i++) {
        fixture_init(&f);
        f.p.preferred_language = (char *)langs[i];
        expect_valid(&f.p);
    }
    /* optional parts may be empty or absent */
    fixture_init(&f);
    f.p.email = "";
    f.p.address = NULL;
    f.p.insurance = NULL;
    f.p.emergency_contact = NULL;
    f.p.privacy = NULL;
    f.p.n_phones = 0;
    f.p.notes = "";
    f.p.preferred_name = "";
    expect_valid(&f.p);
    fixture_init(&f);
    f.ec.phone = "";
    expect_valid(&f.p);
}

static void test_names(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    f.p.first_name = "";
    expect_field(&f.p, "first_name");
    fixture_init(&f);
    f.p.last_name = "";
    expect_field(&f.p, "last_name");
    fixture_init(&f);
    f.p.first_name = "Ad\xff"
                     "a";
    expect_field(&f.p, "first_name");
    fixture_init(&f);
    f.p.last_name = "Love\xc0\xaflace"; /* overlong '/' */
    expect_field(&f.p, "last_name");
    fixture_init(&f);
    f.p.first_name = "Ada\nDROP";
    expect_field(&f.p, "first_name");
    fixture_init(&f);
    f.p.preferred_name = "\x1b[2J";
    expect_field(&f.p, "preferred_name");
    fixture_init(&f);
    f.p.first_name = repeat(&f, "é", 101);
    expect_field(&f.p, "first_name");
}

/* A date as YYYY-MM-DD, days from today in the local zone. */
static void date_from_today(int days, char out[16])
{
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

static void test_date_of_birth(void **state)
{
    (void)state;
    fixture f;
    static const char *const bad[] = {"",           "1985-13-01", "1985-02-30", "2023-02-29",
                                      "10/12/1985", "1985-1-1",   "yesterday",  "1879-12-31",
                                      "0001-01-01", "9999-12-31"};
    for (size_t i = 0; i < TU_LEN(bad); i++) {
        fixture_init(&f);
        f.p.date_of_birth = (char *)bad[i];
        expect_field(&f.p, "date_of_birth");
    }
    /* tomorrow is in the future; today is not (retried if midnight passes meanwhile) */
    for (int attempt = 0; attempt < 2; attempt++) {
        char tomorrow[16], today[16], again[16];
        date_from_today(0, today);
        date_from_today(1, tomorrow);
        fixture_init(&f);
        f.p.date_of_birth = tomorrow;
        req *r = new_req();
        patient_validate(r, &f.p);
        fixture_init(&f);
        f.p.date_of_birth = today;
        req *r2 = new_req();
        patient_validate(r2, &f.p);
        date_from_today(0, again);
        if (strcmp(today, again) != 0) {
            free_req(r);
            free_req(r2);
            continue;
        }
        assert_int_equal(r->nfields, 1);
        assert_string_equal(r->fields[0]->field, "date_of_birth");
        assert_string_equal(r->fields[0]->message, "in the future");
        assert_int_equal(r2->nfields, 0);
        free_req(r);
        free_req(r2);
        break;
    }
}

static void test_phones(void **state)
{
    (void)state;
    fixture f;
    static const char *const bad[] = {"12",
                                      "",
                                      "123456",
                                      "555-CALL-NOW",
                                      "1234567890123456",
                                      "+44 20 7946 0958 ext 2",
                                      "☎ 1234567",
                                      "12345678\n9"};
    for (size_t i = 0; i < TU_LEN(bad); i++) {
        fixture_init(&f);
        f.ph[0].number = (char *)bad[i];
        expect_field(&f.p, "phones[0].number");
    }
    fixture_init(&f);
    f.ph[1].number = "12";
    expect_field(&f.p, "phones[1].number");
    fixture_init(&f);
    f.ph[0].kind = (Pm__PhoneKind)9;
    expect_field(&f.p, "phones[0].kind");
    fixture_init(&f);
    f.p.n_phones = 6;
    expect_field(&f.p, "phones");
    fixture_init(&f);
    f.ec.phone = "12";
    expect_field(&f.p, "emergency_contact.phone");
}

static void test_email_language_and_more(void **state)
{
    (void)state;
    fixture f;
    static const char *const emails[] = {"no-at-sign",
                                         "@example.org",
                                         "a@b",
                                         "a@.org",
                                         "a@b.",
                                         "a b@example.org",
                                         "a@b@example.org",
                                         "<a@example.org>",
                                         "a@example.org\n",
                                         "a,b@example.org"};
    for (size_t i = 0; i < TU_LEN(emails); i++) {
        fixture_init(&f);
        f.p.email = (char *)emails[i];
        expect_field(&f.p, "email");
    }
    static const char *const langs[] = {"english", "e",    "en-",    "-en",    "en_US",
                                        "1en",     "en-a", "en--GB", "en-GB-", "en GB"};
    for (size_t i = 0; i < TU_LEN(langs); i++) {
        fixture_init(&f);
        f.p.preferred_language = (char *)langs[i];
        expect_field(&f.p, "preferred_language");
    }
    fixture_init(&f);
    f.p.sex = (Pm__Sex)7;
    expect_field(&f.p, "sex");
    fixture_init(&f);
    f.p.notes = repeat(&f, "n", 4001);
    expect_field(&f.p, "notes");
    fixture_init(&f);
    f.p.notes = "ok\xff";
    expect_field(&f.p, "notes");
    fixture_init(&f);
    f.addr.city = repeat(&f, "c", 101);
    expect_field(&f.p, "address.city");
    fixture_init(&f);
    f.addr.postal_code = repeat(&f, "9", 21);
    expect_field(&f.p, "address.postal_code");
    fixture_init(&f);
    f.addr.line1 = "12\nSt James's";
    expect_field(&f.p, "address.line1");
    fixture_init(&f);
    f.ins.member_id = repeat(&f, "m", 51);
    expect_field(&f.p, "insurance.member_id");
    fixture_init(&f);
    f.ec.name = "Charles\x01";
    expect_field(&f.p, "emergency_contact.name");
}

/* Every problem is reported, in field order, and the first one heads the error. */
static void test_several_problems(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f);
    f.p.first_name = "";
    f.ph[1].number = "12";
    f.p.email = "nope";
    f.p.notes = repeat(&f, "x", 4001);
    req *r = new_req();
    assert_int_equal(patient_validate(r, &f.p), PM_E_INVALID_ARGUMENT);
    assert_int_equal(r->nfields, 4);
    assert_string_equal(r->fields[0]->field, "first_name");
    assert_string_equal(r->fields[1]->field, "phones[1].number");
    assert_string_equal(r->fields[2]->field, "email");
    assert_string_equal(r->fields[3]->field, "notes");
    assert_string_equal(r->err_field, "first_name");
    assert_string_equal(r->err_msg, "first_name: required");
    free_req(r);
}

/* ---- an MRN as typed finds the patient, and the read is audited under the MRN ---- */

static char store_dir[256];

static int store_setup(void **state)
{
    (void)state;
    tu_mkdtemp(store_dir, sizeof store_dir, "mrn");
    return store_open(&srv.st, store_dir, STORE_CREATE) == PM_OK ? 0 : -1;
}

static int store_teardown(void **state)
{
    (void)state;
    store_close(srv.st);
    srv.st = NULL;
    tu_rmrf(store_dir);
    return 0;
}

static void test_get_patient_audits_canonical_mrn(void **state)
{
    (void)state;
    /* patient 10001 (MRN 100016) stored as patients_create would store it */
    fixture f;
    fixture_init(&f);
    f.p.mrn = "100016";
    f.p.version = 1;
    MDB_txn *txn;
    assert_int_equal(store_txn_begin(srv.st, 1, &txn), PM_OK);
    uint8_t k[8];
    pm_put_u64(k, 10001);
    assert_int_equal(store_put_pb(txn, store_dbi(srv.st, DB_PATIENTS), k, 8, &f.p.base), PM_OK);
    assert_int_equal(store_txn_commit(txn), PM_OK);

    /* the forms mrn_parse accepts for it */
    static const char *const typed[] = {"100016", "100-016", " 100016", "10 00 16", "0100016"};
    size_t wrong = 0;
    for (size_t i = 0; i < TU_LEN(typed); i++) {
        req *r = new_req();
        Pm__Envelope env = PM__ENVELOPE__INIT;
        Pm__GetPatient gp = PM__GET_PATIENT__INIT;
        gp.mrn = (char *)typed[i];
        env.body_case = PM__ENVELOPE__BODY_GET_PATIENT;
        env.get_patient = &gp;
        r->env = &env;
        assert_int_equal(store_read_begin(srv.st, &txn), PM_OK);
        int rc = patients_get(r, txn);
        store_read_end(srv.st);
        assert_int_equal(rc, PM_OK);
        assert_non_null(r->resp);
        assert_string_equal(r->resp->patient_ok->patient->mrn, "100016");
        assert_string_equal(r->resp->patient_ok->patient->first_name, "Ada");
        /* QueryAudit(mrn=100016) finds entries by exact record: anything else hides
         * this read from the patient's access history */
        assert_non_null(r->audit_record);
        if (strcmp(r->audit_record, "100016") != 0) {
            print_error("GetPatient(\"%s\") audited under record \"%s\"\n", typed[i],
                        r->audit_record);
            wrong++;
        }
        free_req(r);
    }
    assert_int_equal(wrong, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mrn_known),
        cmocka_unit_test(test_mrn_round_trip),
        cmocka_unit_test(test_mrn_typos),
        cmocka_unit_test(test_mrn_separators_and_junk),
        cmocka_unit_test(test_valid_patient),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_date_of_birth),
        cmocka_unit_test(test_phones),
        cmocka_unit_test(test_email_language_and_more),
        cmocka_unit_test(test_several_problems),
        cmocka_unit_test_setup_teardown(test_get_patient_audits_canonical_mrn, store_setup,
                                        store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
