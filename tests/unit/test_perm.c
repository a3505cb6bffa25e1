/* The permission table: for every body an Envelope can carry, who may send it, written
 * out here by hand and compared with what perm_allowed() answers. */
#include "tu.h"

#include "dispatch.h"
#include "server.h"

server srv;

enum {
    M = 1 << PM__ROLE__MANAGER,
    R = 1 << PM__ROLE__RECEPTIONIST,
    B = 1 << PM__ROLE__BILLER,
    C = 1 << PM__ROLE__CLINICIAN,
    D = 1 << PM__ROLE__DISPLAY
};
#define ALL   (M | R | B | C | D)
#define STAFF (M | R | B | C)
#define NONE  0

struct expect {
    Pm__Envelope__BodyCase body;
    const char *what;
    unsigned roles;    /* who may send it */
    int in_table;      /* has a row (responses and Hello have none) */
    const char *audit; /* the audit action the row must carry, or NULL for none */
};

static const struct expect expected[] = {
    /* before login; the gate lets them through for anyone, logged in or not */
    {PM__ENVELOPE__BODY_LOGIN, "login", ALL, 1, "login"},
    {PM__ENVELOPE__BODY_RESUME, "resume", ALL, 1, NULL},
    {PM__ENVELOPE__BODY_PING, "ping", ALL, 1, NULL},
    /* Hello is handled before the table */
    {PM__ENVELOPE__BODY_HELLO, "hello", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_LOGOUT, "logout", ALL, 1, "logout"},
    /* people change their own password; a display's secret is reset by a manager */
    {PM__ENVELOPE__BODY_CHANGE_PASSWORD, "change_password", STAFF, 1, "account.change_password"},

    /* account administration: managers only */
    {PM__ENVELOPE__BODY_CREATE_ACCOUNT, "create_account", M, 1, "account.create"},
    {PM__ENVELOPE__BODY_CREATE_DEVICE, "create_device", M, 1, "device.create"},
    {PM__ENVELOPE__BODY_LIST_ACCOUNTS, "list_accounts", M, 1, NULL},
    {PM__ENVELOPE__BODY_SET_ACCOUNT_DISABLED, "set_account_disabled", M, 1, "account.set_disabled"},
    {PM__ENVELOPE__BODY_RESET_PASSWORD, "reset_password", M, 1, "account.reset_password"},

    /* patients: the front desk registers; everyone on staff reads and corrects */
    {PM__ENVELOPE__BODY_CREATE_PATIENT, "create_patient", M | R, 1, "patient.create"},
    {PM__ENVELOPE__BODY_GET_PATIENT, "get_patient", STAFF, 1, "patient.read"},
    {PM__ENVELOPE__BODY_UPDATE_PATIENT, "update_patient", STAFF, 1, "patient.update"},
    {PM__ENVELOPE__BODY_SEARCH_PATIENTS, "search_patients", STAFF, 1, "patient.search"},
    {PM__ENVELOPE__BODY_LIST_PATIENTS, "list_patients", STAFF, 1, "patient.list"},

    {PM__ENVELOPE__BODY_QUERY_AUDIT, "query_audit", M, 1, "audit.query"},
    {PM__ENVELOPE__BODY_SUBSCRIBE, "subscribe", ALL, 1, NULL},
    {PM__ENVELOPE__BODY_UNSUBSCRIBE, "unsubscribe", ALL, 1, NULL},
    {PM__ENVELOPE__BODY_GET_STATS, "get_stats", M, 1, NULL},

    /* scheduling */
    {PM__ENVELOPE__BODY_PUT_LOCATION, "put_location", M, 1, "setup.location"},
    {PM__ENVELOPE__BODY_PUT_ROOM, "put_room", M, 1, "setup.room"},
    {PM__ENVELOPE__BODY_PUT_PROVIDER, "put_provider", M, 1, "setup.provider"},
    {PM__ENVELOPE__BODY_PUT_VISIT_TYPE, "put_visit_type", M, 1, "setup.visit_type"},
    {PM__ENVELOPE__BODY_PUT_TEMPLATE, "put_template", M, 1, "setup.template"},
    {PM__ENVELOPE__BODY_DELETE_TEMPLATE, "delete_template", M, 1, "setup.template_delete"},
    {PM__ENVELOPE__BODY_PUT_HOLIDAY, "put_holiday", M, 1, "setup.holiday"},
    {PM__ENVELOPE__BODY_DELETE_HOLIDAY, "delete_holiday", M, 1, "setup.holiday_delete"},
    {PM__ENVELOPE__BODY_ADD_EXCEPTION, "add_exception", M | R, 1, "setup.exception"},
    {PM__ENVELOPE__BODY_DELETE_EXCEPTION, "delete_exception", M | R, 1, "setup.exception_delete"},
    {PM__ENVELOPE__BODY_GET_SETUP, "get_setup", STAFF, 1, NULL},
    {PM__ENVELOPE__BODY_BOOK, "book", M | R, 1, "appointment.book"},
    {PM__ENVELOPE__BODY_MOVE, "move", M | R, 1, "appointment.move"},
    {PM__ENVELOPE__BODY_CANCEL, "cancel", M | R, 1, "appointment.cancel"},
    {PM__ENVELOPE__BODY_MARK_NO_SHOW, "mark_no_show", M | R, 1, "appointment.no_show"},
    {PM__ENVELOPE__BODY_SET_NOTES, "set_notes", M | R | C, 1, "appointment.notes"},
    {PM__ENVELOPE__BODY_GET_APPOINTMENT, "get_appointment", STAFF, 1, "appointment.read"},
    {PM__ENVELOPE__BODY_FIND_SLOTS, "find_slots", STAFF, 1, NULL},
    {PM__ENVELOPE__BODY_GET_SCHEDULE, "get_schedule", STAFF, 1, "schedule.read"},
    {PM__ENVELOPE__BODY_PATIENT_APPOINTMENTS, "patient_appointments", STAFF, 1, "appointment.list"},
    {PM__ENVELOPE__BODY_ADD_TO_WAITLIST, "add_to_waitlist", M | R, 1, "waitlist.add"},
    {PM__ENVELOPE__BODY_REMOVE_FROM_WAITLIST, "remove_from_waitlist", M | R, 1, "waitlist.remove"},
    {PM__ENVELOPE__BODY_LIST_WAITLIST, "list_waitlist", M | R | C, 1, "waitlist.read"},
    {PM__ENVELOPE__BODY_ANSWER_OFFER, "answer_offer", M | R, 1, "waitlist.answer"},
    {PM__ENVELOPE__BODY_FLOW_STEP, "flow_step", M | R | C, 1, "flow.step"},
    {PM__ENVELOPE__BODY_WALK_IN, "walk_in", M | R, 1, "flow.walk_in"},
    {PM__ENVELOPE__BODY_CLOSE_DAY, "close_day", M, 1, "flow.close_day"},
    {PM__ENVELOPE__BODY_GET_FLOW, "get_flow", STAFF, 1, "flow.read"},
    {PM__ENVELOPE__BODY_GET_BOARD, "get_board", ALL, 1, NULL},

    /* what only a server sends: never accepted from a client */
    {PM__ENVELOPE__BODY_ERROR, "error", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_HELLO_OK, "hello_ok", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_LOGIN_OK, "login_ok", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_PONG, "pong", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_OK, "ok", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_ACCOUNT_CREDENTIAL, "account_credential", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_ACCOUNT_OK, "account_ok", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_ACCOUNT_LIST, "account_list", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_PATIENT_OK, "patient_ok", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_PATIENT_LIST, "patient_list", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_AUDIT_LIST, "audit_list", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_SUBSCRIBED, "subscribed", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_EVENT, "event", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_SESSION_LOCKED, "session_locked", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_STATS, "stats", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_SETUP, "setup", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_APPOINTMENT_OK, "appointment_ok", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_SERIES_RESULT, "series_result", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_SLOT_LIST, "slot_list", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_SCHEDULE, "schedule", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_APPOINTMENT_LIST, "appointment_list", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_WAITLIST_OK, "waitlist_ok", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_WAITLIST, "waitlist", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_FLOW, "flow", NONE, 0, NULL},
    {PM__ENVELOPE__BODY_BOARD_STATE, "board_state", NONE, 0, NULL},
    {PM__ENVELOPE__BODY__NOT_SET, "(no body)", NONE, 0, NULL},
};

static const int roles[] = {PM__ROLE__MANAGER, PM__ROLE__RECEPTIONIST, PM__ROLE__BILLER,
                            PM__ROLE__CLINICIAN, PM__ROLE__DISPLAY};

static const char *role_name(int role)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&pm__role__descriptor, role);
    return v ? v->name : "?";
}

static const struct expect *find_expected(int body)
{
    for (size_t i = 0; i < TU_LEN(expected); i++)
        if ((int)expected[i].body == body)
            return &expected[i];
    return NULL;
}

/* Every body the proto defines has a row above, so a new message cannot slip past this
 * test unconsidered. */
static void test_every_body_case_listed(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &pm__envelope__descriptor;
    size_t bodies = 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            continue;
        bodies++;
        if (!find_expected((int)f->id))
            print_error("Envelope body %s (%u) has no expected row in this test\n", f->name, f->id);
        assert_non_null(find_expected((int)f->id));
    }
    assert_int_equal(bodies + 1, TU_LEN(expected)); /* + NOT_SET */
}

static void test_table(void **state)
{
    (void)state;
    int wrong = 0;
    for (size_t i = 0; i < TU_LEN(expected); i++) {
        const struct expect *e = &expected[i];
        for (size_t k = 0; k < TU_LEN(roles); k++) {
            /* a display's password change is checked on its own below */
            if (e->body == PM__ENVELOPE__BODY_CHANGE_PASSWORD && roles[k] == PM__ROLE__DISPLAY)
                continue;
            int want = (e->roles & (1u << roles[k])) != 0;
            int got = perm_allowed(e->body, roles[k]);
            if (got != want) {
                print_error("%s by %s: allowed=%d, expected %d\n", e->what, role_name(roles[k]),
                            got, want);
                wrong++;
            }
        }
    }
    assert_int_equal(wrong, 0);
}

/* The rows themselves: responses have none, every request's row names a handler of its
 * kind, and the requests that touch patients or accounts leave an audit entry. */
static void test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < TU_LEN(expected); i++) {
        const struct expect *e = &expected[i];
        const op *o = op_find(e->body);
        if (!e->in_table) {
            if (o)
                print_error("%s has a row but is not a request\n", e->what);
            assert_null(o);
            continue;
        }
        assert_non_null(o);
        assert_int_equal(o->body, e->body);
        assert_string_equal(o->name, e->what);
        switch (o->kind) {
        case OP_READ:
            assert_non_null(o->read);
            break;
        case OP_WRITE:
            assert_non_null(o->write);
            break;
        case OP_CUSTOM:
            assert_non_null(o->custom);
            break;
        default:
            fail_msg("%s: unknown kind %d", e->what, (int)o->kind);
        }
        if (e->audit) {
            if (!o->audit)
                print_error("%s is not audited\n", e->what);
            assert_non_null(o->audit);
            assert_string_equal(o->audit, e->audit);
        } else {
            assert_null(o->audit);
        }
    }
}

static void test_unknown_roles_and_bodies(void **state)
{
    (void)state;
    static const int bad_roles[] = {PM__ROLE__ROLE_NONE, 6, 99, -1, 1 << 20};
    for (size_t i = 0; i < TU_LEN(expected); i++)
        for (size_t k = 0; k < TU_LEN(bad_roles); k++) {
            if (perm_allowed(expected[i].body, bad_roles[k]))
                print_error("%s allowed for role %d\n", expected[i].what, bad_roles[k]);
            assert_false(perm_allowed(expected[i].body, bad_roles[k]));
        }
    /* body numbers the proto does not have */
    static const int bad_bodies[] = {1, 9, 21, 29, 38, 49, 57, 69, 72, 79, 85, 89, 92, 1000, -1};
    for (size_t i = 0; i < TU_LEN(bad_bodies); i++) {
        assert_null(op_find((Pm__Envelope__BodyCase)bad_bodies[i]));
        for (size_t k = 0; k < TU_LEN(roles); k++)
            assert_false(perm_allowed((Pm__Envelope__BodyCase)bad_bodies[i], roles[k]));
    }
}

/* The cases people ask about, spelled out. */
static void test_spot_checks(void **state)
{
    (void)state;
    assert_true(perm_allowed(PM__ENVELOPE__BODY_CREATE_ACCOUNT, PM__ROLE__MANAGER));
    assert_false(perm_allowed(PM__ENVELOPE__BODY_CREATE_ACCOUNT, PM__ROLE__RECEPTIONIST));
    assert_false(perm_allowed(PM__ENVELOPE__BODY_RESET_PASSWORD, PM__ROLE__CLINICIAN));
    assert_true(perm_allowed(PM__ENVELOPE__BODY_GET_PATIENT, PM__ROLE__BILLER));
    assert_true(perm_allowed(PM__ENVELOPE__BODY_UPDATE_PATIENT, PM__ROLE__BILLER));
    assert_false(perm_allowed(PM__ENVELOPE__BODY_CREATE_PATIENT, PM__ROLE__BILLER));
    assert_true(perm_allowed(PM__ENVELOPE__BODY_SEARCH_PATIENTS, PM__ROLE__CLINICIAN));
    assert_false(perm_allowed(PM__ENVELOPE__BODY_CREATE_PATIENT, PM__ROLE__CLINICIAN));
    assert_true(perm_allowed(PM__ENVELOPE__BODY_CREATE_PATIENT, PM__ROLE__RECEPTIONIST));
    assert_false(perm_allowed(PM__ENVELOPE__BODY_QUERY_AUDIT, PM__ROLE__RECEPTIONIST));
    assert_true(perm_allowed(PM__ENVELOPE__BODY_SUBSCRIBE, PM__ROLE__DISPLAY));
    assert_true(perm_allowed(PM__ENVELOPE__BODY_PING, PM__ROLE__DISPLAY));
    assert_true(perm_allowed(PM__ENVELOPE__BODY_LOGOUT, PM__ROLE__DISPLAY));
    assert_false(perm_allowed(PM__ENVELOPE__BODY_GET_PATIENT, PM__ROLE__DISPLAY));
    assert_false(perm_allowed(PM__ENVELOPE__BODY_LIST_PATIENTS, PM__ROLE__DISPLAY));
    assert_false(perm_allowed(PM__ENVELOPE__BODY_PATIENT_OK, PM__ROLE__MANAGER));
    assert_null(op_find(PM__ENVELOPE__BODY_PATIENT_OK));
}

/* A display can do nothing but subscribe, ping and log out: its secret is set by a
 * manager (auth_change_password refuses a display itself), so the table should refuse
 * it at the gate, where a denial is audited like every other. */
static void test_display_cannot_change_password(void **state)
{
    (void)state;
    assert_false(perm_allowed(PM__ENVELOPE__BODY_CHANGE_PASSWORD, PM__ROLE__DISPLAY));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_body_case_listed),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_unknown_roles_and_bodies),
        cmocka_unit_test(test_spot_checks),
        cmocka_unit_test(test_display_cannot_change_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
