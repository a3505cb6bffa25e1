/* A write batch that fills the LMDB map is redone in a grown map, and a request redone that
 * way is answered as if it had run once. The server starts with a small map
 * (PRACTICED_TEST_MAP_KIB) and a manager creates locations one after the other, then edits
 * each: a set-up write fills in the record's version (and a template its id) as it runs, so
 * a redo that started from the request as the first run left it would answer "no location"
 * to a create or CONFLICT to an edit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"
#include "pm_err.h"
#include "sched_help.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCATIONS 300

static uint64_t map_size(pc_client *c)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_GET_STATS), *resp = NULL;
    e->get_stats = pm_msg_new(&a, &pm__get_stats__descriptor);
    assert_int_equal(pc_call(c, e, &a, &resp), PM_OK);
    uint64_t m = resp->stats->map_size;
    pm_arena_free(&a);
    return m;
}

static void test_redone_writes_answer_once(void **state)
{
    (void)state;
    ts_server s;
    assert_int_equal(ts_init(&s, NULL), 0);
    setenv("PRACTICED_TEST_MAP_KIB", "256", 1);
    int started = ts_start(&s, NULL);
    unsetenv("PRACTICED_TEST_MAP_KIB");
    assert_int_equal(started, 0);
    pc_client *m = ts_manager(&s);
    assert_non_null(m);
    uint64_t map0 = map_size(m);
    char notes[600];
    memset(notes, 'n', sizeof notes - 1);
    notes[sizeof notes - 1] = 0;
    for (int i = 0; i < LOCATIONS; i++) {
        pm_arena a;
        pm_arena_init(&a, 0);
        char id[16], name[64];
        snprintf(id, sizeof id, "site%d", i);
        snprintf(name, sizeof name, "Site %d %.40s", i, notes);
        int rc = sh_location(m, &a, id, name);
        if (rc != PM_OK)
            fail_msg("creating %s: %s (map %llu KiB)", id, pc_last_error(m),
                     (unsigned long long)(map_size(m) >> 10));
        pm_arena_free(&a);
    }
    /* the edits carry the version read (1): a redo must compare against that, not 2 */
    for (int i = 0; i < LOCATIONS; i++) {
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Envelope *e = pc_env(&a, PM__ENVELOPE__BODY_PUT_LOCATION), *resp = NULL;
        e->put_location = pm_msg_new(&a, &pm__put_location__descriptor);
        Pm__Location *l = pm_msg_new(&a, &pm__location__descriptor);
        l->id = pm_arena_printf(&a, "site%d", i);
        l->name = pm_arena_printf(&a, "Renamed site %d %.40s", i, notes);
        l->version = 1;
        e->put_location->location = l;
        if (pc_call(m, e, &a, &resp) != PM_OK)
            fail_msg("editing site%d: %s", i, pc_last_error(m));
        pm_arena_free(&a);
    }
    uint64_t map1 = map_size(m);
    print_message("      %d locations created and edited; the map grew from %llu KiB to %llu KiB\n",
                  LOCATIONS, (unsigned long long)(map0 >> 10), (unsigned long long)(map1 >> 10));
    assert_true(map1 > map0); /* the batches did fill it */
    pc_free(m);
    assert_int_equal(ts_stop(&s, SIGTERM), 0);
    ts_cleanup(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_redone_writes_answer_once)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
