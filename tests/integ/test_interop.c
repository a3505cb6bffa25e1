/* A client generated from proto/ alone, in Python over OpenSSL, against a real server
 * (tests/interop/client.py says what it checks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static void test_python_client(void **state)
{
    (void)state;
    ts_server s;
    assert_int_equal(ts_init(&s, NULL), 0);
    assert_int_equal(ts_start(&s, NULL), 0);
    pc_client *m = ts_manager(&s);
    assert_non_null(m);
    pc_free(m);
    char out[8192];
    int rc =
        ts_sh(out, sizeof out,
              "mkdir -p %s/pb && protoc --python_out=%s/pb -I%s/proto %s/proto/practiced.proto "
              "2>&1 && /usr/bin/python3 %s/tests/interop/client.py --port %d --ca %s "
              "--user %s --password %s --pb-dir %s/pb 2>&1",
              s.dir, s.dir, PM_SOURCE_DIR, PM_SOURCE_DIR, PM_SOURCE_DIR, s.port, s.ca, s.manager,
              s.password, s.dir);
    print_message("%s", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "interop ok"));
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    ts_cleanup(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_python_client)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
