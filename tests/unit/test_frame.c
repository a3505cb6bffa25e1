/* The framer: a length-prefixed stream cut into frames however the bytes arrive, lengths
 * checked before anything is allocated, and the envelope codec behind it. */
#include "tu.h"

#include "pm_arena.h"
#include "pm_err.h"
#include "pm_frame.h"
#include "practiced.pb-c.h"

#define MAX_FRAMES 16

/* What feeding a stream produced: the frames, in order, and the first error. */
typedef struct fed {
    uint8_t *frame[MAX_FRAMES];
    uint32_t len[MAX_FRAMES];
    size_t n;
    int err;
    size_t err_consumed; /* bytes the failing call consumed */
} fed;

static void fed_free(fed *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->frame[i]);
    memset(r, 0, sizeof *r);
}

/* Feeds p[0..n) as one arrival, calling the framer until the arrival is used up, the way
 * a connection's read callback does. */
static void feed(pm_framer *f, const uint8_t *p, size_t n, fed *r)
{
    size_t off = 0;
    do {
        size_t used = 0;
        uint8_t *frame = (uint8_t *)"not set";
        uint32_t flen = 77;
        int rc = pm_framer_feed(f, p + off, n - off, &used, &frame, &flen);
        assert_true(used <= n - off);
        off += used;
        if (rc < 0) {
            r->err = rc;
            r->err_consumed = used;
            assert_null(frame);
            return;
        }
        if (rc == 1) {
            assert_non_null(frame);
            assert_true(r->n < MAX_FRAMES);
            r->frame[r->n] = frame;
            r->len[r->n] = flen;
            r->n++;
        } else {
            assert_int_equal(rc, 0);
            assert_null(frame);
            assert_int_equal(flen, 0);
            assert_int_equal(off, n); /* 0: every byte was taken */
        }
    } while (off < n);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A frame with a len-byte body whose bytes are a pattern of seed. */
static uint8_t *make_frame(uint32_t len, uint8_t seed, size_t *total)
{
    uint8_t *p = malloc(PM_FRAME_HDR + (size_t)len);
    assert_non_null(p);
    put_be32(p, len);
    for (uint32_t i = 0; i < len; i++)
        p[PM_FRAME_HDR + i] = (uint8_t)(seed + i * 7);
    *total = PM_FRAME_HDR + (size_t)len;
    return p;
}

/* An envelope carrying a CreatePatient, packed as a frame (header included). */
static uint8_t *patient_frame(size_t *len)
{
    Pm__Envelope env = PM__ENVELOPE__INIT;
    Pm__CreatePatient cp = PM__CREATE_PATIENT__INIT;
    Pm__Patient p = PM__PATIENT__INIT;
    Pm__Phone ph1 = PM__PHONE__INIT, ph2 = PM__PHONE__INIT;
    Pm__Phone *phones[2] = {&ph1, &ph2};
    Pm__Address addr = PM__ADDRESS__INIT;
    uint8_t key[16];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)(0xa0 + i);

    env.id = 0x1122334455667788ull;
    env.request_key.data = key;
    env.request_key.len = sizeof key;
    env.body_case = PM__ENVELOPE__BODY_CREATE_PATIENT;
    env.create_patient = &cp;
    cp.patient = &p;
    p.first_name = "José";
    p.last_name = "Núñez-García";
    p.date_of_birth = "1980-02-29";
    p.sex = PM__SEX__MALE;
    ph1.number = "+34 612 345 678";
    ph1.kind = PM__PHONE_KIND__MOBILE;
    ph2.number = "(212) 555-1234";
    ph2.kind = PM__PHONE_KIND__WORK;
    p.phones = phones;
    p.n_phones = 2;
    p.email = "jose@example.org";
    addr.line1 = "Calle Mayor 1";
    addr.city = "Madrid";
    addr.country = "ES";
    p.address = &addr;
    p.preferred_language = "es";
    p.notes = "Allergic to penicillin.\nPrefers mornings.";
    uint8_t *buf = pm_frame_pack(&env, len);
    assert_non_null(buf);
    return buf;
}

/* ---- splitting ---- */

static void test_every_split_point(void **state)
{
    (void)state;
    size_t total;
    uint8_t *buf = patient_frame(&total);
    uint32_t body = (uint32_t)(total - PM_FRAME_HDR);
    assert_true(total > 100);
    for (size_t k = 0; k <= total; k++) {
        pm_framer f;
        pm_framer_init(&f, PM_FRAME_MAX);
        fed r = {0};
        feed(&f, buf, k, &r);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.n, k == total ? 1 : 0);
        assert_int_equal(pm_framer_busy(&f), k > 0 && k < total);
        feed(&f, buf + k, total - k, &r);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.n, 1);
        assert_int_equal(r.len[0], body);
        assert_memory_equal(r.frame[0], buf + PM_FRAME_HDR, body);
        assert_false(pm_framer_busy(&f));
        fed_free(&r);
        pm_framer_free(&f);
    }
    free(buf);
}

static void test_one_byte_at_a_time(void **state)
{
    (void)state;
    size_t total;
    uint8_t *buf = patient_frame(&total);
    uint32_t body = (uint32_t)(total - PM_FRAME_HDR);
    pm_framer f;
    pm_framer_init(&f, PM_FRAME_MAX);
    fed r = {0};
    for (size_t i = 0; i < total; i++) {
        feed(&f, buf + i, 1, &r);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.n, i + 1 == total ? 1 : 0);
    }
    assert_int_equal(r.len[0], body);
    assert_memory_equal(r.frame[0], buf + PM_FRAME_HDR, body);
    fed_free(&r);
    pm_framer_free(&f);
    free(buf);
}

static void test_back_to_back(void **state)
{
    (void)state;
    const uint32_t lens[] = {1, 300, 5, 4, 17};
    size_t nf = sizeof lens / sizeof lens[0], total = 0, off = 0;
    uint8_t *parts[5];
    size_t sizes[5];
    for (size_t i = 0; i < nf; i++) {
        parts[i] = make_frame(lens[i], (uint8_t)(i * 31), &sizes[i]);
        total += sizes[i];
    }
    uint8_t *all = malloc(total);
    assert_non_null(all);
    for (size_t i = 0; i < nf; i++) {
        memcpy(all + off, parts[i], sizes[i]);
        off += sizes[i];
    }
    /* in one buffer, and split at every point into two arrivals */
    for (size_t k = 0; k <= total; k++) {
        pm_framer f;
        pm_framer_init(&f, PM_FRAME_MAX_PRELOGIN);
        fed r = {0};
        feed(&f, all, k, &r);
        feed(&f, all + k, total - k, &r);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.n, nf);
        for (size_t i = 0; i < nf; i++) {
            assert_int_equal(r.len[i], lens[i]);
            assert_memory_equal(r.frame[i], parts[i] + PM_FRAME_HDR, lens[i]);
        }
        assert_false(pm_framer_busy(&f));
        fed_free(&r);
        pm_framer_free(&f);
    }
    for (size_t i = 0; i < nf; i++)
        free(parts[i]);
    free(all);
}

/* ---- bad headers ---- */

static void test_zero_length(void **state)
{
    (void)state;
    uint8_t buf[8] = {0, 0, 0, 0, 1, 2, 3, 4};
    pm_framer f;
    pm_framer_init(&f, PM_FRAME_MAX);
    size_t used = 99;
    uint8_t *frame;
    uint32_t flen;
    assert_int_equal(pm_framer_feed(&f, buf, sizeof buf, &used, &frame, &flen), PM_E_PROTOCOL);
    assert_int_equal(used, 4);
    assert_null(frame);
    assert_null(f.body);
    pm_framer_free(&f);

    /* the same when the header trickles in */
    pm_framer_init(&f, PM_FRAME_MAX);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pm_framer_feed(&f, buf + i, 1, &used, &frame, &flen), 0);
        assert_int_equal(used, 1);
    }
    assert_int_equal(pm_framer_feed(&f, buf + 3, 5, &used, &frame, &flen), PM_E_PROTOCOL);
    assert_int_equal(used, 1);
    pm_framer_free(&f);
}

/* A length over the limit is refused on its header alone: the body is never allocated. */
static void check_too_large(uint32_t limit, uint32_t len)
{
    uint8_t buf[4 + 64];
    put_be32(buf, len);
    memset(buf + 4, 0x5a, 64);
    pm_framer f;
    pm_framer_init(&f, limit);
    size_t used = 0;
    uint8_t *frame = (uint8_t *)"x";
    uint32_t flen = 1;
    assert_int_equal(pm_framer_feed(&f, buf, sizeof buf, &used, &frame, &flen),
                     PM_E_FRAME_TOO_LARGE);
    assert_int_equal(used, 4);
    assert_null(frame);
    assert_int_equal(flen, 0);
    assert_null(f.body);
    assert_int_equal(f.body_len, 0);
    pm_framer_free(&f);
}

static void test_too_large(void **state)
{
    (void)state;
    check_too_large(PM_FRAME_MAX, PM_FRAME_MAX + 1);
    check_too_large(PM_FRAME_MAX, 0xffffffffu);
    check_too_large(PM_FRAME_MAX, 0x80000000u);
    check_too_large(PM_FRAME_MAX_PRELOGIN, PM_FRAME_MAX_PRELOGIN + 1);
    check_too_large(PM_FRAME_MAX_PRELOGIN, PM_FRAME_MAX);
    check_too_large(PM_FRAME_MAX_PRELOGIN, 0xffffffffu);
}

/* After a bad header the stream has lost its place: feeding on must keep failing, never
 * hand out a "complete frame" that is a NULL pointer of length 0 (a reader would unpack
 * it as an empty Envelope with id 0). Runs in a child: the failure mode is a memcpy from
 * NULL that UBSan stops the process for. */
struct sticky {
    uint8_t hdr[4];
    int want;
};

static int stays_failed(void *arg)
{
    const struct sticky *s = arg;
    uint8_t next[16];
    put_be32(next, 4);
    memcpy(next + 4, "ping", 4);
    memset(next + 8, 0, 8);
    pm_framer f;
    pm_framer_init(&f, PM_FRAME_MAX_PRELOGIN);
    size_t used;
    uint8_t *frame;
    uint32_t flen;
    int bad = 0;
    if (pm_framer_feed(&f, s->hdr, 4, &used, &frame, &flen) != s->want)
        bad = 1;
    for (int i = 0; i < 3 && !bad; i++) {
        int rc = pm_framer_feed(&f, next, sizeof next, &used, &frame, &flen);
        if (rc != s->want) {
            fprintf(stderr, "after %s, feed %d returned %d (frame %p, %u bytes)\n",
                    pm_err_name(s->want), i, rc, rc == 1 ? (void *)frame : NULL,
                    rc == 1 ? flen : 0);
            bad = 1;
        }
        if (rc == 1)
            free(frame);
    }
    pm_framer_free(&f);
    return bad;
}

static void test_error_is_sticky(void **state)
{
    (void)state;
    struct sticky zero = {{0, 0, 0, 0}, PM_E_PROTOCOL};
    struct sticky huge = {{0xff, 0xff, 0xff, 0xff}, PM_E_FRAME_TOO_LARGE};
    tu_in_child(stays_failed, &zero, "feeding after a zero length");
    tu_in_child(stays_failed, &huge, "feeding after a length over the limit");
}

/* Feeds one frame of exactly len bytes to a framer with the given limit. */
static void check_accepted(pm_framer *f, uint32_t len)
{
    size_t total;
    uint8_t *buf = make_frame(len, 3, &total);
    fed r = {0};
    feed(f, buf, total, &r);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.len[0], len);
    assert_memory_equal(r.frame[0], buf + PM_FRAME_HDR, len);
    fed_free(&r);
    free(buf);
}

static void test_limits(void **state)
{
    (void)state;
    /* the numbers the protocol promises */
    assert_int_equal(PM_FRAME_MAX_PRELOGIN, 16 * 1024);
    assert_int_equal(PM_FRAME_MAX, 1024 * 1024);

    /* before login: 16 KiB is the most */
    pm_framer f;
    pm_framer_init(&f, PM_FRAME_MAX_PRELOGIN);
    check_accepted(&f, PM_FRAME_MAX_PRELOGIN);
    check_accepted(&f, 1);

    /* after login the same framer takes up to 1 MiB (auth raises the limit in place) */
    f.limit = PM_FRAME_MAX;
    check_accepted(&f, PM_FRAME_MAX_PRELOGIN + 1);
    check_accepted(&f, PM_FRAME_MAX);
    pm_framer_free(&f);

    /* and after logout it is back to 16 KiB */
    pm_framer_init(&f, PM_FRAME_MAX);
    f.limit = PM_FRAME_MAX_PRELOGIN;
    uint8_t hdr[4];
    put_be32(hdr, PM_FRAME_MAX_PRELOGIN + 1);
    size_t used;
    uint8_t *frame;
    uint32_t flen;
    assert_int_equal(pm_framer_feed(&f, hdr, 4, &used, &frame, &flen), PM_E_FRAME_TOO_LARGE);
    assert_null(f.body);
    pm_framer_free(&f);
}

/* ---- the codec ---- */

static void test_pack_decode_round_trip(void **state)
{
    (void)state;
    size_t total;
    uint8_t *buf = patient_frame(&total);
    uint32_t body =
        (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    assert_int_equal(body, total - PM_FRAME_HDR);

    pm_framer f;
    pm_framer_init(&f, PM_FRAME_MAX_PRELOGIN);
    fed r = {0};
    feed(&f, buf, total, &r);
    assert_int_equal(r.n, 1);

    pm_arena a;
    pm_arena_init(&a, pm_frame_decode_budget(r.len[0]));
    Pm__Envelope *e = pm_frame_decode(&a, r.frame[0], r.len[0]);
    assert_non_null(e);
    assert_false(a.over);
    assert_true(a.used <= a.budget);
    assert_int_equal(e->id, 0x1122334455667788ull);
    assert_int_equal(e->request_key.len, 16);
    assert_int_equal(e->request_key.data[0], 0xa0);
    assert_int_equal(e->request_key.data[15], 0xaf);
    assert_int_equal(e->body_case, PM__ENVELOPE__BODY_CREATE_PATIENT);
    assert_non_null(e->create_patient);
    const Pm__Patient *p = e->create_patient->patient;
    assert_non_null(p);
    assert_string_equal(p->first_name, "José");
    assert_string_equal(p->last_name, "Núñez-García");
    assert_string_equal(p->date_of_birth, "1980-02-29");
    assert_int_equal(p->sex, PM__SEX__MALE);
    assert_int_equal(p->n_phones, 2);
    assert_string_equal(p->phones[0]->number, "+34 612 345 678");
    assert_int_equal(p->phones[0]->kind, PM__PHONE_KIND__MOBILE);
    assert_string_equal(p->phones[1]->number, "(212) 555-1234");
    assert_int_equal(p->phones[1]->kind, PM__PHONE_KIND__WORK);
    assert_string_equal(p->email, "jose@example.org");
    assert_non_null(p->address);
    assert_string_equal(p->address->line1, "Calle Mayor 1");
    assert_string_equal(p->address->line2, "");
    assert_string_equal(p->address->city, "Madrid");
    assert_null(p->insurance);
    assert_string_equal(p->notes, "Allergic to penicillin.\nPrefers mornings.");

    /* packing what was decoded gives the same bytes back */
    size_t again_len;
    uint8_t *again = pm_frame_pack(e, &again_len);
    assert_non_null(again);
    assert_int_equal(again_len, total);
    assert_memory_equal(again, buf, total);
    free(again);

    pm_arena_free(&a);
    fed_free(&r);
    pm_framer_free(&f);
    free(buf);
}

/* Every truncation of a real body either decodes or is refused: never a crash, never
 * past the budget. */
static void test_truncated_bodies(void **state)
{
    (void)state;
    size_t total;
    uint8_t *buf = patient_frame(&total);
    size_t body = total - PM_FRAME_HDR;
    size_t refused = 0;
    for (size_t n = 1; n < body; n++) {
        uint8_t *copy = malloc(n); /* exact size, so ASan sees any read past the end */
        assert_non_null(copy);
        memcpy(copy, buf + PM_FRAME_HDR, n);
        pm_arena a;
        pm_arena_init(&a, pm_frame_decode_budget(n));
        Pm__Envelope *e = pm_frame_decode(&a, copy, n);
        if (!e)
            refused++;
        assert_true(a.used <= a.budget);
        pm_arena_free(&a);
        free(copy);
    }
    /* cutting into the patient leaves a length that runs past the end */
    assert_true(refused > body / 2);
    free(buf);
}

/* Random bytes: either the framer refuses them, or the frame it yields decodes to an
 * envelope or is refused by the decoder. */
/* Fields the server does not know are dropped at decode: nothing unchecked reaches a stored
 * record, and what is packed again can be read again. Field number 0 with a two-byte tag
 * (0x82 0x00) is one protobuf-c keeps and would pack as 0x02, which it then refuses. */
static void test_unknown_fields_dropped(void **state)
{
    (void)state;
    static const uint8_t cases[][12] = {
        {0x08, 0x05, 0x82, 0x00, 0x00},             /* field 0, empty bytes */
        {0x08, 0x05, 0x80, 0x7d, 0x01},             /* field 2000, varint */
        {0x08, 0x05, 0x5a, 0x03, 0x82, 0x00, 0x00}, /* inside a Hello */
    };
    static const size_t lens[] = {5, 5, 7};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        pm_arena a;
        pm_arena_init(&a, 0);
        Pm__Envelope *e = pm_frame_decode(&a, cases[i], lens[i]);
        assert_non_null(e);
        assert_int_equal(e->id, 5);
        assert_int_equal(e->base.n_unknown_fields, 0);
        if (e->body_case == PM__ENVELOPE__BODY_HELLO)
            assert_int_equal(e->hello->base.n_unknown_fields, 0);
        size_t n = pm__envelope__get_packed_size(e);
        uint8_t out[32];
        assert_true(n <= sizeof out);
        pm__envelope__pack(e, out);
        Pm__Envelope *again = pm_frame_decode(&a, out, n);
        assert_non_null(again);
        assert_int_equal(again->id, 5);
        pm_arena_free(&a);
    }
}

static void test_garbage(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    size_t frames = 0, errors = 0, decoded = 0;
    for (int iter = 0; iter < 3000; iter++) {
        uint8_t buf[600];
        size_t n = 1 + tu_rand(&seed) % sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)tu_rand(&seed);
        if (iter % 2 == 0) {
            /* a plausible length, so that bodies get to the decoder */
            uint32_t len = (uint32_t)(1 + tu_rand(&seed) % 200);
            put_be32(buf, len);
        }
        pm_framer f;
        pm_framer_init(&f, PM_FRAME_MAX);
        fed r = {0};
        feed(&f, buf, n, &r);
        if (r.err) {
            assert_true(r.err == PM_E_FRAME_TOO_LARGE || r.err == PM_E_PROTOCOL);
            errors++;
        }
        for (size_t i = 0; i < r.n; i++) {
            frames++;
            pm_arena a;
            pm_arena_init(&a, pm_frame_decode_budget(r.len[i]));
            Pm__Envelope *e = pm_frame_decode(&a, r.frame[i], r.len[i]);
            assert_true(a.used <= a.budget);
            if (e) {
                decoded++;
                /* whatever decoded can be packed again */
                size_t plen;
                uint8_t *p = pm_frame_pack(e, &plen);
                assert_non_null(p);
                free(p);
            }
            pm_arena_free(&a);
        }
        fed_free(&r);
        pm_framer_free(&f);
    }
    assert_true(frames > 100);
    assert_true(errors > 100);
    assert_true(decoded > 0);

    /* a real body with a few bytes changed reaches deeper into the decoder */
    size_t total;
    uint8_t *good = patient_frame(&total);
    size_t body = total - PM_FRAME_HDR;
    size_t mutated_ok = 0;
    for (int iter = 0; iter < 3000; iter++) {
        uint8_t *copy = malloc(body);
        assert_non_null(copy);
        memcpy(copy, good + PM_FRAME_HDR, body);
        int flips = 1 + (int)(tu_rand(&seed) % 3);
        for (int i = 0; i < flips; i++)
            copy[tu_rand(&seed) % body] = (uint8_t)tu_rand(&seed);
        pm_arena a;
        pm_arena_init(&a, pm_frame_decode_budget(body));
        Pm__Envelope *e = pm_frame_decode(&a, copy, body);
        assert_true(a.used <= a.budget);
        if (e) {
            mutated_ok++;
            size_t plen;
            uint8_t *p = pm_frame_pack(e, &plen);
            assert_non_null(p);
            free(p);
        }
        pm_arena_free(&a);
        free(copy);
    }
    assert_true(mutated_ok > 100);
    free(good);
}

/* Fields picked out of a stored record's bytes without decoding it (pm_pb_fields, and
 * pm_pb_field on top of it): several in one pass, the last occurrence winning as protobuf
 * has it, absent ones empty, malformed bytes refused. */
static void test_pb_fields(void **state)
{
    (void)state;
    Pm__Patient p = PM__PATIENT__INIT;
    p.mrn = "100016";
    p.first_name = "Ada";
    p.last_name = "Lovelace";
    p.version = 7; /* a varint between the strings */
    uint8_t buf[256];
    size_t n = pm__patient__pack(&p, buf);
    static const unsigned fields[4] = {1, 4, 3, 5};
    const uint8_t *v[4];
    size_t l[4];
    assert_int_equal(pm_pb_fields(buf, n, fields, 4, v, l), 3);
    assert_int_equal(l[0], 6);
    assert_memory_equal(v[0], "100016", 6);
    assert_int_equal(l[1], 8);
    assert_memory_equal(v[1], "Lovelace", 8);
    assert_int_equal(l[2], 3);
    assert_memory_equal(v[2], "Ada", 3);
    assert_int_equal(l[3], 0); /* preferred name absent */
    assert_non_null(v[3]);

    /* a repeated field: the last one counts */
    uint8_t two[300];
    memcpy(two, buf, n);
    static const uint8_t again[] = {(3 << 3) | 2, 3, 'E', 'v', 'e'};
    memcpy(two + n, again, sizeof again);
    const uint8_t *one;
    size_t ol;
    assert_int_equal(pm_pb_field(two, n + sizeof again, 3, &one, &ol), 1);
    assert_int_equal(ol, 3);
    assert_memory_equal(one, "Eve", 3);
    assert_int_equal(pm_pb_field(buf, n, 5, &one, &ol), 0);

    /* a length running past the end */
    uint8_t bad[] = {(1 << 3) | 2, 50, 'x'};
    assert_int_equal(pm_pb_fields(bad, sizeof bad, fields, 4, v, l), -1);
    assert_int_equal(pm_pb_field(bad, sizeof bad, 1, &one, &ol), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_split_point),
        cmocka_unit_test(test_one_byte_at_a_time),
        cmocka_unit_test(test_back_to_back),
        cmocka_unit_test(test_zero_length),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_error_is_sticky),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_pack_decode_round_trip),
        cmocka_unit_test(test_truncated_bodies),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_unknown_fields_dropped),
        cmocka_unit_test(test_pb_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
