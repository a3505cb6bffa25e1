/* Storage faults under a running server: the disk "fills up" (every write and sync of
 * data.mdb fails, through the failfs preload shim) and then recovers. */
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

static int list_accounts(pc_client *c, pm_arena *a)
{
    Pm__Envelope *e = pc_env(a, PM__ENVELOPE__BODY_LIST_ACCOUNTS), *resp = NULL;
    e->list_accounts = pm_msg_new(a, &pm__list_accounts__descriptor);
    return pc_call(c, e, a, &resp);
}

static void test_disk_full_then_back(void **state)
{
    (void)state;
    ts_server s;
    assert_int_equal(ts_init(&s, NULL), 0);
    char env[1024], sw[320];
    snprintf(sw, sizeof sw, "%s/DISK_FULL", s.dir);
    snprintf(env, sizeof env,
             "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1 LD_PRELOAD=%s "
             "FAILFS_TARGET=data.mdb FAILFS_SWITCH=%s",
             FAILFS_SO, sw);
    s.env = env;
    assert_int_equal(ts_start(&s, NULL), 0);
    pc_client *m = ts_manager(&s);
    assert_non_null(m);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Patient *p;
    assert_int_equal(ts_create_patient(m, &a, "Before", "Fault", "1980-08-08", NULL, &p), PM_OK);
    char before[24];
    snprintf(before, sizeof before, "%s", p->mrn);

    assert_int_equal(ts_sh(NULL, 0, "touch %s", sw), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ts_create_patient(m, &a, "During", "Fault", "1980-08-08", NULL, NULL),
                         PM_E_STORAGE);
        assert_non_null(strstr(pc_last_error(m), "not saved"));
    }
    /* what needs no write is still served; patient data is not disclosed unaudited */
    assert_int_equal(list_accounts(m, &a), PM_OK);
    assert_int_equal(ts_get_patient(m, &a, before, NULL), PM_E_STORAGE);
    assert_true(ts_log_has(&s, "commit failed"));

    /* space comes back: writes resume by themselves */
    assert_int_equal(ts_sh(NULL, 0, "rm -f %s", sw), 0);
    assert_int_equal(ts_create_patient(m, &a, "After", "Fault", "1980-08-08", NULL, &p), PM_OK);
    char after[24];
    snprintf(after, sizeof after, "%s", p->mrn);
    assert_int_equal(ts_get_patient(m, &a, before, NULL), PM_OK);
    pc_free(m);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);

    /* nothing acknowledged lost, nothing refused saved, the data consistent */
    char out[4096];
    assert_int_equal(ts_sh(out, sizeof out, "%s check --data %s", ts_practiced(), s.dir), 0);
    assert_non_null(strstr(out, "patients: 2"));
    s.env = NULL;
    assert_int_equal(ts_start(&s, NULL), 0);
    m = ts_manager(&s);
    assert_non_null(m);
    assert_int_equal(ts_get_patient(m, &a, before, NULL), PM_OK);
    assert_int_equal(ts_get_patient(m, &a, after, NULL), PM_OK);
    pc_free(m);
    pm_arena_free(&a);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    ts_cleanup(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_disk_full_then_back)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
