/* The error list: the wire codes in PM_ERRNO_MAP and pm.ErrorCode in the proto are one
 * list (same names, same numbers, both ways), and every code has a name and a message. */
#include "tu.h"

#include "pm_err.h"
#include "practiced.pb-c.h"

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <uv.h>

struct entry {
    const char *name;
    int num;
    int code;
    const char *msg;
};

static const struct entry map[] = {
#define TU_ENTRY(name, num, msg) {#name, num, PM_E_##name, msg},
    PM_ERRNO_MAP(TU_ENTRY)
#undef TU_ENTRY
};

static void test_map_agrees_with_proto(void **state)
{
    (void)state;
    const ProtobufCEnumDescriptor *d = &pm__error_code__descriptor;
    size_t wire = 0;
    for (size_t i = 0; i < TU_LEN(map); i++) {
        assert_int_equal(map[i].code, -map[i].num);
        if (map[i].num > PM_WIRE_ERR_MAX) {
            /* local codes have no wire number */
            assert_null(protobuf_c_enum_descriptor_get_value(d, map[i].num));
            continue;
        }
        wire++;
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, map[i].num);
        if (!v)
            print_error("PM_E_%s (%d) is not in pm.ErrorCode\n", map[i].name, map[i].num);
        assert_non_null(v);
        if (strcmp(v->name, map[i].name) != 0)
            print_error("number %d: PM_E_%s here, %s in the proto\n", map[i].num, map[i].name,
                        v->name);
        assert_string_equal(v->name, map[i].name);
        /* and by name it is the same number */
        const ProtobufCEnumValue *byname =
            protobuf_c_enum_descriptor_get_value_by_name(d, map[i].name);
        assert_non_null(byname);
        assert_int_equal(byname->value, map[i].num);
    }
    assert_int_equal(wire, PM_WIRE_ERR_MAX);
}

static void test_proto_agrees_with_map(void **state)
{
    (void)state;
    const ProtobufCEnumDescriptor *d = &pm__error_code__descriptor;
    int max = 0;
    for (unsigned i = 0; i < d->n_values; i++) {
        const ProtobufCEnumValue *v = &d->values[i];
        if (v->value > max)
            max = v->value;
        if (v->value == 0) {
            assert_string_equal(v->name, "OK");
            assert_int_equal(PM_OK, 0);
            continue;
        }
        const struct entry *found = NULL;
        for (size_t k = 0; k < TU_LEN(map); k++)
            if (map[k].num == v->value)
                found = &map[k];
        if (!found)
            print_error("pm.ErrorCode %s = %d has no PM_E_ code\n", v->name, v->value);
        assert_non_null(found);
        assert_string_equal(found->name, v->name);
        /* every proto code is one a server may send */
        assert_true(pm_err_is_wire(found->code));
        assert_string_equal(pm_err_name(found->code), v->name);
    }
    /* the wire range is exactly the proto's */
    assert_int_equal(max, PM_WIRE_ERR_MAX);
}

static void test_unique(void **state)
{
    (void)state;
    for (size_t i = 0; i < TU_LEN(map); i++)
        for (size_t k = i + 1; k < TU_LEN(map); k++) {
            assert_int_not_equal(map[i].num, map[k].num);
            assert_string_not_equal(map[i].name, map[k].name);
        }
}

static void test_names_and_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < TU_LEN(map); i++) {
        assert_string_equal(pm_strerror(map[i].code), map[i].msg);
        assert_true(strlen(map[i].msg) > 0);
        assert_string_equal(pm_err_name(map[i].code), map[i].name);
        assert_int_equal(pm_err_is_wire(map[i].code), map[i].num <= PM_WIRE_ERR_MAX);
    }
    assert_string_equal(pm_strerror(PM_OK), "ok");
    assert_string_equal(pm_err_name(PM_OK), "OK");
    assert_true(pm_err_is_wire(PM_OK));

    /* never NULL, whatever is passed */
    static const int odd[] = {INT_MIN, INT_MIN + 1, -1000000, -PM_WIRE_ERR_MAX - 1, 1, 2,
                              20,      100,         INT_MAX};
    for (size_t i = 0; i < TU_LEN(odd); i++) {
        assert_non_null(pm_strerror(odd[i]));
        assert_non_null(pm_err_name(odd[i]));
    }
    for (int e = -1000; e <= 1000; e++) {
        assert_non_null(pm_strerror(e));
        assert_non_null(pm_err_name(e));
    }
    assert_string_equal(pm_strerror(-99), "unknown error");
    assert_string_equal(pm_err_name(-99), "UNKNOWN");
    assert_string_equal(pm_strerror(5), "unknown error");
    assert_false(pm_err_is_wire(-PM_WIRE_ERR_MAX - 1));
    assert_false(pm_err_is_wire(1));
}

/* Foreign codes are translated once, at the boundary, to the codes the rest expects. */
static void test_translations(void **state)
{
    (void)state;
    assert_int_equal(pm_err_from_mdb(MDB_SUCCESS), PM_OK);
    assert_int_equal(pm_err_from_mdb(MDB_NOTFOUND), PM_E_NOT_FOUND);
    assert_int_equal(pm_err_from_mdb(MDB_KEYEXIST), PM_E_ALREADY_EXISTS);
    assert_int_equal(pm_err_from_mdb(MDB_MAP_FULL), PM_E_MAP_FULL);
    assert_int_equal(pm_err_from_mdb(ENOSPC), PM_E_STORAGE);
    assert_int_equal(pm_err_from_mdb(EIO), PM_E_STORAGE);
    assert_int_equal(pm_err_from_mdb(MDB_CORRUPTED), PM_E_STORAGE);
    assert_int_equal(pm_err_from_uv(0), PM_OK);
    assert_int_equal(pm_err_from_uv(UV_ECONNREFUSED), PM_E_CONNECT);
    assert_int_equal(pm_err_from_uv(UV_EOF), PM_E_CLOSED);
    assert_int_equal(pm_err_from_uv(UV_ETIMEDOUT), PM_E_TIMEOUT);
    assert_int_equal(pm_err_from_uv(UV_ENOBUFS), PM_E_NOMEM);
    assert_int_equal(pm_err_from_errno(0), PM_OK);
    assert_int_equal(pm_err_from_errno(ECONNREFUSED), PM_E_CONNECT);
    assert_int_equal(pm_err_from_errno(EACCES), PM_E_IO);
    assert_int_equal(pm_err_from_mbedtls(0), PM_OK);
    assert_int_equal(pm_err_from_mbedtls(-0x2700 /* X509_CERT_VERIFY_FAILED */), PM_E_CERT);
    /* a storage failure is a wire code; the map being full is not (the writer handles it) */
    assert_true(pm_err_is_wire(pm_err_from_mdb(EIO)));
    assert_false(pm_err_is_wire(PM_E_MAP_FULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_agrees_with_proto),
        cmocka_unit_test(test_proto_agrees_with_map),
        cmocka_unit_test(test_unique),
        cmocka_unit_test(test_names_and_messages),
        cmocka_unit_test(test_translations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
