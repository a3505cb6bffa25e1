/* The request arena: aligned zeroed memory, a budget that refuses instead of growing, and
 * the decoder bounded by it when a message is built to make it allocate without end. */
#include "tu.h"

#include "pm_arena.h"
#include "pm_frame.h"

#include <stdalign.h>

/* Huge requests must come back as NULL, not as a sanitizer abort. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static void test_aligned_and_zeroed(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    /* sizes that straddle the alignment and the first chunk's size, and big ones that get
     * chunks of their own */
    static const size_t sizes[] = {1,    3,    15,    16, 17, 31, 100,  1000,    2047, 2048,
                                   2049, 5000, 70000, 1,  2,  3,  4096, 3 << 20, 7};
    uint8_t *prev[TU_LEN(sizes)];
    for (size_t i = 0; i < TU_LEN(sizes); i++) {
        uint8_t *p = pm_arena_alloc(&a, sizes[i]);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
        for (size_t k = 0; k < sizes[i]; k++)
            assert_int_equal(p[k], 0);
        /* dirty it, so that a later block that overlapped would show */
        memset(p, 0xee, sizes[i]);
        prev[i] = p;
    }
    /* no two blocks overlap: every block still holds only its own fill */
    for (size_t i = 0; i < TU_LEN(sizes); i++) {
        prev[i][0] = (uint8_t)i;
        prev[i][sizes[i] - 1] = (uint8_t)i;
    }
    for (size_t i = 0; i < TU_LEN(sizes); i++) {
        assert_int_equal(prev[i][0], (uint8_t)i);
        assert_int_equal(prev[i][sizes[i] - 1], (uint8_t)i);
    }
    /* zero-size requests still give distinct, usable pointers */
    void *z1 = pm_arena_alloc(&a, 0), *z2 = pm_arena_alloc(&a, 0);
    assert_non_null(z1);
    assert_non_null(z2);
    assert_ptr_not_equal(z1, z2);
    assert_false(a.over);
    pm_arena_free(&a);
    assert_null(a.head);
    assert_int_equal(a.used, 0);

    /* after being freed the arena serves again, zeroed (the allocator's recycled memory
     * is not) */
    for (int round = 0; round < 3; round++) {
        uint8_t *p = pm_arena_alloc(&a, 1500);
        assert_non_null(p);
        for (size_t k = 0; k < 1500; k++)
            assert_int_equal(p[k], 0);
        memset(p, 0xab, 1500);
        pm_arena_free(&a);
    }
}

static void test_helpers(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    char *s = pm_arena_strdup(&a, "Núñez");
    assert_string_equal(s, "Núñez");
    char *t = pm_arena_strndup(&a, "abcdef", 3);
    assert_string_equal(t, "abc");
    uint8_t raw[5] = {1, 0, 2, 0, 3};
    uint8_t *m = pm_arena_memdup(&a, raw, sizeof raw);
    assert_memory_equal(m, raw, sizeof raw);
    char *f = pm_arena_printf(&a, "%s-%05d-%c", "mrn", 42, 'x');
    assert_string_equal(f, "mrn-00042-x");
    /* longer than any small buffer */
    char *big = pm_arena_printf(&a, "%3000s|", "end");
    assert_int_equal(strlen(big), 3001);
    assert_string_equal(big + 2997, "end|");
    assert_ptr_equal(pm_arena_pbc(&a)->allocator_data, &a);
    pm_arena_free(&a);
}

/* An array grown in the arena keeps what it had, in order, and says when the budget ends. */
static void test_push(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    void **v = NULL;
    size_t n = 0, cap = 0;
    static int items[100];
    for (int i = 0; i < 100; i++)
        assert_int_equal(pm_arena_push(&a, &v, &n, &cap, &items[i]), 0);
    assert_int_equal(n, 100);
    assert_true(cap >= 100);
    for (int i = 0; i < 100; i++)
        assert_ptr_equal(v[i], &items[i]);
    pm_arena_free(&a);

    pm_arena_init(&a, 4096); /* room for a few hundred pointers, not for a thousand */
    v = NULL;
    n = cap = 0;
    int rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++)
        rc = pm_arena_push(&a, &v, &n, &cap, &items[i % 100]);
    assert_int_equal(rc, -1);
    assert_true(n > 0 && n < 1000);
    for (size_t i = 0; i < n; i++)
        assert_ptr_equal(v[i], &items[i % 100]);
    pm_arena_free(&a);
}

static void test_budget(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 1000);
    /* a single request bigger than the whole budget */
    assert_null(pm_arena_alloc(&a, 1001));
    assert_true(a.over);
    assert_int_equal(a.used, 0);
    pm_arena_free(&a);
    assert_false(a.over);

    pm_arena_init(&a, 1000);
    void *p1 = pm_arena_alloc(&a, 500);
    assert_non_null(p1);
    assert_false(a.over);
    size_t used = a.used;
    assert_true(used >= 500 && used <= 1000);
    /* the second 500 does not fit beside the first once rounded */
    assert_null(pm_arena_alloc(&a, 500));
    assert_true(a.over);
    assert_int_equal(a.used, used);
    /* smaller requests that do fit still succeed, up to the budget and not past it */
    size_t small = 0;
    while (pm_arena_alloc(&a, 1))
        small++;
    assert_true(small > 0);
    assert_true(a.used <= 1000);
    assert_true(a.used > 1000 - 64);
    assert_true(a.over);
    /* the strings and messages built on it are refused the same way */
    assert_null(pm_arena_strdup(&a, "x"));
    assert_null(pm_arena_printf(&a, "%d", 1));
    assert_null(pm_msg_new(&a, &pm__patient__descriptor));
    /* so is protobuf-c when it allocates through it */
    ProtobufCAllocator *pbc = pm_arena_pbc(&a);
    assert_null(pbc->alloc(pbc->allocator_data, 16));
    pm_arena_free(&a);

    /* over many small allocations the total never passes the budget */
    pm_arena_init(&a, 64 * 1024);
    size_t got = 0;
    while (pm_arena_alloc(&a, 24))
        got++;
    assert_true(a.over);
    assert_true(a.used <= a.budget);
    assert_true(got >= 64 * 1024 / 32 && got <= 64 * 1024 / 24);
    pm_arena_free(&a);
}

/* Sizes near SIZE_MAX must be refused, budget or not: n rounded up to the alignment must
 * not wrap, and neither may the chunk header added to it. Every n from SIZE_MAX - 200 up
 * is tried (whatever the alignment, some of them round to just below SIZE_MAX), in a
 * child process so that a crash is a failed test instead of the end of the program. */
static int huge_refused(void *arg)
{
    size_t budget = *(const size_t *)arg;
    int bad = 0;
    for (size_t k = 0; k <= 200; k++) {
        pm_arena a;
        pm_arena_init(&a, budget);
        void *p = pm_arena_alloc(&a, SIZE_MAX - k);
        if (p || !a.over) {
            fprintf(stderr, "pm_arena_alloc(SIZE_MAX - %zu) = %p, over %d\n", k, p, a.over);
            bad = 1;
        }
        pm_arena_free(&a);
    }
    pm_arena a;
    pm_arena_init(&a, budget);
    if (pm_arena_alloc(&a, (size_t)1 << 62) || !a.over) /* no wrap, simply too much */
        bad = 1;
    pm_arena_free(&a);
    return bad;
}

static void check_huge(size_t budget)
{
    tu_in_child(huge_refused, &budget, "pm_arena_alloc(SIZE_MAX - k)");
}

static void test_huge_with_budget(void **state)
{
    (void)state;
    check_huge(1 << 20);
}

static void test_huge_without_budget(void **state)
{
    (void)state;
    check_huge(0);
}

static void test_msg_new(void **state)
{
    (void)state;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Patient *p = pm_msg_new(&a, &pm__patient__descriptor);
    assert_non_null(p);
    assert_ptr_equal(p->base.descriptor, &pm__patient__descriptor);
    assert_string_equal(p->first_name, "");
    assert_string_equal(p->mrn, "");
    assert_int_equal(p->n_phones, 0);
    assert_null(p->address);
    assert_int_equal(p->sex, PM__SEX__SEX_UNSPECIFIED);
    Pm__Envelope *e = pm_msg_new(&a, &pm__envelope__descriptor);
    assert_non_null(e);
    assert_ptr_equal(e->base.descriptor, &pm__envelope__descriptor);
    assert_int_equal(e->body_case, PM__ENVELOPE__BODY__NOT_SET);
    /* a message built in the arena packs and unpacks */
    Pm__CreatePatient *cp = pm_msg_new(&a, &pm__create_patient__descriptor);
    assert_non_null(cp);
    p->first_name = pm_arena_strdup(&a, "Ada");
    cp->patient = p;
    e->body_case = PM__ENVELOPE__BODY_CREATE_PATIENT;
    e->create_patient = cp;
    size_t len;
    uint8_t *frame = pm_frame_pack(e, &len);
    assert_non_null(frame);
    Pm__Envelope *back = pm_frame_decode(&a, frame + PM_FRAME_HDR, len - PM_FRAME_HDR);
    assert_non_null(back);
    assert_string_equal(back->create_patient->patient->first_name, "Ada");
    free(frame);
    pm_arena_free(&a);
}

/* ---- hostile messages ---- */

/* Envelope { create_patient (50) { patient (1) { phones (8) x nphones, each empty } } },
 * written byte by byte: two bytes on the wire per phone. */
static uint8_t *hostile_envelope(size_t nphones, size_t *len)
{
    size_t patient_len = 2 * nphones;
    uint8_t hdr[32];
    size_t h = 0;
    /* field 50, wire type 2: key 402 as a varint */
    h += pm_pb_put_varint(hdr + h, (50u << 3) | 2);
    uint8_t tmp[10];
    size_t cp_len = 1 + pm_pb_put_varint(tmp, patient_len) + patient_len;
    h += pm_pb_put_varint(hdr + h, cp_len);
    hdr[h++] = (1u << 3) | 2; /* CreatePatient.patient */
    h += pm_pb_put_varint(hdr + h, patient_len);
    uint8_t *p = malloc(h + patient_len);
    assert_non_null(p);
    memcpy(p, hdr, h);
    for (size_t i = 0; i < nphones; i++) {
        p[h + 2 * i] = (8u << 3) | 2; /* Patient.phones, empty */
        p[h + 2 * i + 1] = 0;
    }
    *len = h + patient_len;
    return p;
}

static void test_hostile_repeated(void **state)
{
    (void)state;
    size_t len;
    uint8_t *body = hostile_envelope(200000, &len);
    assert_true(len < PM_FRAME_MAX); /* it fits in a frame after login */

    /* unbounded, it would decode: the message itself is well formed */
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Envelope *e = pm_frame_decode(&a, body, len);
    assert_non_null(e);
    assert_int_equal(e->body_case, PM__ENVELOPE__BODY_CREATE_PATIENT);
    assert_int_equal(e->create_patient->patient->n_phones, 200000);
    size_t unbounded = a.used;
    pm_arena_free(&a);

    /* within the budget the server gives it, it is refused */
    size_t budget = pm_frame_decode_budget(len);
    assert_true(unbounded > budget);
    pm_arena_init(&a, budget);
    e = pm_frame_decode(&a, body, len);
    assert_null(e);
    assert_true(a.over);
    assert_true(a.used <= budget);
    pm_arena_free(&a);
    free(body);

    /* the same shape at a sane size decodes within its budget */
    body = hostile_envelope(5, &len);
    pm_arena_init(&a, pm_frame_decode_budget(len));
    e = pm_frame_decode(&a, body, len);
    assert_non_null(e);
    assert_int_equal(e->create_patient->patient->n_phones, 5);
    assert_false(a.over);
    pm_arena_free(&a);
    free(body);
}

/* The budget is not so tight that real requests fail: the largest patient a client may
 * send (every field at its maximum, in multi-byte text, five phones) decodes within it. */
static char *fill(pm_arena *a, const char *unit, size_t times)
{
    size_t ul = strlen(unit);
    char *s = pm_arena_alloc(a, ul * times + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * ul, unit, ul);
    return s;
}

static void test_budget_fits_real_requests(void **state)
{
    (void)state;
    pm_arena build;
    pm_arena_init(&build, 0);
    Pm__Envelope *e = pm_msg_new(&build, &pm__envelope__descriptor);
    Pm__UpdatePatient *up = pm_msg_new(&build, &pm__update_patient__descriptor);
    Pm__Patient *p = pm_msg_new(&build, &pm__patient__descriptor);
    e->id = 12345;
    e->request_key.data = (uint8_t *)fill(&build, "k", 16);
    e->request_key.len = 16;
    e->body_case = PM__ENVELOPE__BODY_UPDATE_PATIENT;
    e->update_patient = up;
    up->patient = p;
    p->mrn = "100016";
    p->version = 7;
    p->first_name = fill(&build, "é", 100);
    p->last_name = fill(&build, "ü", 100);
    p->preferred_name = fill(&build, "ß", 100);
    p->date_of_birth = "1950-01-01";
    p->sex = PM__SEX__FEMALE;
    p->n_phones = 5;
    p->phones = pm_arena_alloc(&build, sizeof *p->phones * 5);
    for (int k = 0; k < 5; k++) {
        p->phones[k] = pm_msg_new(&build, &pm__phone__descriptor);
        p->phones[k]->number = "+33 (1) 23-45-67-89 123";
        p->phones[k]->kind = PM__PHONE_KIND__HOME;
    }
    p->email = fill(&build, "a", 254);
    p->address = pm_msg_new(&build, &pm__address__descriptor);
    p->address->line1 = fill(&build, "€", 200);
    p->address->line2 = fill(&build, "€", 200);
    p->address->city = fill(&build, "ç", 100);
    p->address->region = fill(&build, "ç", 100);
    p->address->postal_code = fill(&build, "9", 20);
    p->address->country = fill(&build, "ñ", 60);
    p->preferred_language = "zh-Hant";
    p->insurance = pm_msg_new(&build, &pm__insurance__descriptor);
    p->insurance->payer = fill(&build, "ö", 100);
    p->insurance->member_id = fill(&build, "x", 50);
    p->insurance->group_number = fill(&build, "y", 50);
    p->emergency_contact = pm_msg_new(&build, &pm__emergency_contact__descriptor);
    p->emergency_contact->name = fill(&build, "å", 100);
    p->emergency_contact->relationship = fill(&build, "r", 50);
    p->emergency_contact->phone = "+1 212 555 1234";
    p->privacy = pm_msg_new(&build, &pm__privacy_flags__descriptor);
    p->privacy->confidential = 1;
    p->notes = fill(&build, "€", 4000);
    size_t len;
    uint8_t *frame = pm_frame_pack(e, &len);
    assert_non_null(frame);
    assert_true(len - PM_FRAME_HDR > 15000);
    assert_true(len - PM_FRAME_HDR < PM_FRAME_MAX);
    pm_arena a;
    pm_arena_init(&a, pm_frame_decode_budget(len - PM_FRAME_HDR));
    Pm__Envelope *back = pm_frame_decode(&a, frame + PM_FRAME_HDR, len - PM_FRAME_HDR);
    assert_non_null(back);
    assert_false(a.over);
    assert_int_equal(back->update_patient->patient->n_phones, 5);
    assert_int_equal(strlen(back->update_patient->patient->notes), 12000);
    pm_arena_free(&a);
    free(frame);
    pm_arena_free(&build);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aligned_and_zeroed),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_push),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_huge_with_budget),
        cmocka_unit_test(test_huge_without_budget),
        cmocka_unit_test(test_msg_new),
        cmocka_unit_test(test_hostile_repeated),
        cmocka_unit_test(test_budget_fits_real_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
