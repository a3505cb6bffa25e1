/* The desk's model of the day (client/desk_model.c), without a screen or a server: which
 * copy of an appointment wins, what leaves the day, the panes' order, the board's
 * estimates, and that clearing it leaves no patient data in memory. */
#include "tu.h"

#include "desk.h"
#include "pm_time.h"

#define DAY "2030-03-12"

static int64_t at(const char *date, unsigned minutes)
{
    time_t t;
    assert_int_equal(pm_local_instant(date, minutes, &t), 0);
    return (int64_t)t;
}

static Pm__Appointment appt(uint64_t id, uint32_t version, const char *provider, unsigned minutes,
                            int status, const char *name)
{
    Pm__Appointment a = PM__APPOINTMENT__INIT;
    a.id = id;
    a.version = version;
    a.provider = (char *)provider;
    a.location = "main";
    a.patient_name = (char *)name;
    a.patient_mrn = "100016";
    a.visit_type = "checkup";
    a.start = at(DAY, minutes);
    a.end = a.start + 1200;
    a.status = (Pm__AppointmentStatus)status;
    return a;
}

/* A day of three: Okafor 09:00 and 09:20, Lee 09:40. */
static void load_day(desk_model *m, Pm__Appointment *v)
{
    v[0] = appt(1, 1, "dr-okafor", 9 * 60 + 20, PM__APPOINTMENT_STATUS__BOOKED, "Martin, Paul");
    v[1] = appt(2, 1, "dr-lee", 9 * 60 + 40, PM__APPOINTMENT_STATUS__BOOKED, "Bernard, Lucie");
    v[2] = appt(3, 1, "dr-okafor", 9 * 60, PM__APPOINTMENT_STATUS__BOOKED, "Dupont, Marie");
    Pm__Appointment *p[3] = {&v[0], &v[1], &v[2]};
    Pm__Flow f = PM__FLOW__INIT;
    f.location = "main";
    f.date = DAY;
    f.appointments = p;
    f.n_appointments = 3;
    dm_init(m);
    snprintf(m->location, sizeof m->location, "main");
    snprintf(m->date, sizeof m->date, DAY);
    assert_int_equal(dm_load_flow(m, &f), 0);
}

static void test_schedule_order(void **state)
{
    (void)state;
    desk_model m;
    Pm__Appointment v[4];
    load_day(&m, v);
    Pm__Appointment walk = appt(4, 1, "", 9 * 60 + 5, PM__APPOINTMENT_STATUS__ARRIVED, "Moreau");
    walk.walk_in = 1;
    assert_int_equal(dm_apply(&m, &walk), 1);
    const desk_appt *rows[4];
    assert_int_equal(dm_schedule_rows(&m, rows), 4);
    /* by provider, each in time order; the walk-ins for anyone last */
    assert_int_equal(rows[0]->id, 2);
    assert_int_equal(rows[1]->id, 3);
    assert_int_equal(rows[2]->id, 1);
    assert_int_equal(rows[3]->id, 4);
    dm_free(&m);
}

static void test_versions(void **state)
{
    (void)state;
    desk_model m;
    Pm__Appointment v[3];
    load_day(&m, v);
    Pm__Appointment newer = appt(3, 2, "dr-okafor", 9 * 60, PM__APPOINTMENT_STATUS__ARRIVED, "X");
    newer.ticket = "M-001";
    newer.estimated_start = (uint64_t)at(DAY, 9 * 60 + 5);
    assert_int_equal(dm_apply(&m, &newer), 1);
    assert_string_equal(dm_find(&m, 3)->ticket, "M-001");
    /* an event that crossed our own answer is older: ignored */
    Pm__Appointment older = appt(3, 1, "dr-okafor", 9 * 60, PM__APPOINTMENT_STATUS__BOOKED, "X");
    assert_int_equal(dm_apply(&m, &older), 0);
    assert_int_equal(dm_find(&m, 3)->status, PM__APPOINTMENT_STATUS__ARRIVED);
    /* the same version again, without the answer's estimate, keeps the estimate */
    newer.estimated_start = 0;
    dm_apply(&m, &newer);
    assert_int_equal(dm_find(&m, 3)->estimated_start, (uint64_t)at(DAY, 9 * 60 + 5));
    dm_free(&m);
}

static void test_leaving_and_joining_the_day(void **state)
{
    (void)state;
    desk_model m;
    Pm__Appointment v[3];
    load_day(&m, v);
    Pm__Appointment moved = appt(1, 2, "dr-okafor", 9 * 60, PM__APPOINTMENT_STATUS__BOOKED, "M");
    moved.start = at("2030-03-13", 9 * 60);
    assert_int_equal(dm_apply(&m, &moved), 1);
    assert_null(dm_find(&m, 1));
    assert_int_equal(m.n, 2);
    Pm__Appointment elsewhere = appt(9, 1, "dr-lee", 10 * 60, PM__APPOINTMENT_STATUS__BOOKED, "E");
    elsewhere.location = "north";
    assert_int_equal(dm_apply(&m, &elsewhere), 0);
    Pm__Appointment booked = appt(10, 1, "dr-lee", 11 * 60, PM__APPOINTMENT_STATUS__BOOKED, "B");
    assert_int_equal(dm_apply(&m, &booked), 1);
    assert_non_null(dm_find(&m, 10));
    /* a cancelled one stays known but leaves the schedule pane */
    booked.version = 2;
    booked.status = PM__APPOINTMENT_STATUS__CANCELLED;
    dm_apply(&m, &booked);
    const desk_appt *rows[4];
    assert_int_equal(dm_schedule_rows(&m, rows), 2);
    dm_free(&m);
}

static void test_waiting_room_and_board(void **state)
{
    (void)state;
    desk_model m;
    Pm__Appointment v[3];
    load_day(&m, v);
    Pm__Appointment a = appt(1, 2, "dr-okafor", 9 * 60 + 20, PM__APPOINTMENT_STATUS__ROOMED, "M");
    a.ticket = "M-001";
    a.arrived_at = (uint64_t)at(DAY, 9 * 60 + 1);
    Pm__Appointment b = appt(2, 2, "dr-lee", 9 * 60 + 40, PM__APPOINTMENT_STATUS__ARRIVED, "B");
    b.ticket = "M-002";
    b.arrived_at = (uint64_t)at(DAY, 9 * 60 + 2);
    dm_apply(&m, &b);
    dm_apply(&m, &a);
    const desk_appt *rows[3];
    assert_int_equal(dm_waiting_rows(&m, rows), 2);
    assert_int_equal(rows[0]->id, 1); /* in order of arrival */
    assert_int_equal(rows[1]->id, 2);
    Pm__BoardTicket t = PM__BOARD_TICKET__INIT;
    t.ticket = "M-002";
    t.estimated_start = (uint64_t)at(DAY, 9 * 60 + 50);
    Pm__BoardTicket *tp = &t;
    Pm__BoardState bs = PM__BOARD_STATE__INIT;
    bs.location = "main";
    bs.waiting = &tp;
    bs.n_waiting = 1;
    assert_int_equal(dm_apply_board(&m, &bs), 1);
    assert_int_equal(dm_find(&m, 2)->estimated_start, t.estimated_start);
    assert_int_equal(dm_apply_board(&m, &bs), 0);
    bs.location = "north";
    t.estimated_start++;
    assert_int_equal(dm_apply_board(&m, &bs), 0);
    dm_free(&m);
}

static void test_clear_wipes(void **state)
{
    (void)state;
    desk_model m;
    Pm__Appointment v[3];
    load_day(&m, v);
    desk_appt *mem = m.appts;
    size_t cap = m.cap;
    dm_clear(&m);
    assert_int_equal(m.n, 0);
    const unsigned char *p = (const unsigned char *)mem;
    for (size_t i = 0; i < cap * sizeof *mem; i++)
        assert_int_equal(p[i], 0);
    dm_free(&m);
}

static void test_copy_cuts_at_a_character(void **state)
{
    (void)state;
    char buf[6];
    desk_copy(buf, sizeof buf, "Núñez"); /* N, ú (2), ñ (2) = 5 bytes: "Núñ" */
    assert_string_equal(buf, "N\xc3\xba\xc3\xb1");
    char small[4];
    desk_copy(small, sizeof small, "Núñez"); /* 3 bytes: "Nú", not half of ñ */
    assert_string_equal(small, "N\xc3\xba");
    desk_copy(small, sizeof small, NULL);
    assert_string_equal(small, "");
}

int main(void)
{
    pm_tz_use("Europe/Paris");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_order),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_leaving_and_joining_the_day),
        cmocka_unit_test(test_waiting_room_and_board),
        cmocka_unit_test(test_clear_wipes),
        cmocka_unit_test(test_copy_cuts_at_a_character),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
