/* fuzz_frame: the framer, and what reads a frame's bytes before any handler does.
 *
 * The input is what a peer sends on a connection. It goes to a pm_framer in one piece and
 * again in pieces of pseudo-random sizes (a hash of the input picks them), under the limit
 * before login and under the one after. Every way of feeding must give exactly the frames
 * a plain reading of the stream gives, and fail on the same header the same way. Each
 * frame is then decoded as a pm.Envelope on an arena with the server's budget, its text
 * checked, and pm_pb_field asked for fields of its bytes, with the decoded envelope as the
 * reference where there is one. */
#include "fuzz.h"
#include "pm_arena.h"
#include "pm_err.h"
#include "pm_frame.h"
#include "pm_util.h"

#include <stdint.h>
#include <string.h>

/* The frames a plain reading of the stream finds, and how it ends. */
typedef struct expect {
    size_t n, cap;
    size_t *off;
    uint32_t *len;
    int err;     /* PM_E_PROTOCOL (zero length), PM_E_FRAME_TOO_LARGE, or 0 */
    int partial; /* the stream ends inside a header or a body */
} expect;

static void expect_push(expect *e, size_t off, uint32_t len)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->off = realloc(e->off, e->cap * sizeof *e->off);
        e->len = realloc(e->len, e->cap * sizeof *e->len);
        FUZZ_CHECK(e->off && e->len);
    }
    e->off[e->n] = off;
    e->len[e->n] = len;
    e->n++;
}

static void reference(const uint8_t *p, size_t n, uint32_t limit, expect *e)
{
    memset(e, 0, sizeof *e);
    size_t i = 0;
    for (;;) {
        if (n - i < PM_FRAME_HDR) {
            e->partial = n > i;
            return;
        }
        uint32_t len = pm_get_u32(p + i);
        i += PM_FRAME_HDR;
        if (len == 0 || len > limit) {
            e->err = len == 0 ? PM_E_PROTOCOL : PM_E_FRAME_TOO_LARGE;
            return;
        }
        if (n - i < len) {
            e->partial = 1;
            return;
        }
        expect_push(e, i, len);
        i += len;
    }
}

static uint32_t rng_state;

static uint32_t rng_next(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

/* Mostly small pieces (a header split across reads), some large ones. */
static size_t piece_size(size_t left)
{
    uint32_t r = rng_next();
    size_t n;
    switch (r & 3) {
    case 0:
        n = 1;
        break;
    case 1:
        n = 1 + (r >> 2) % 8;
        break;
    case 2:
        n = 1 + (r >> 2) % 512;
        break;
    default:
        n = 1 + (r >> 2) % 65536;
        break;
    }
    return n < left ? n : left;
}

/* Feeds the stream as net.c does, each piece until it is used up, and compares what
 * comes out with the reference. */
static void feed(const uint8_t *p, size_t n, uint32_t limit, int in_pieces, const expect *e)
{
    pm_framer f;
    pm_framer_init(&f, limit);
    size_t off = 0, got = 0;
    int err = 0;
    while (off < n && !err) {
        size_t piece = in_pieces ? piece_size(n - off) : n - off;
        size_t used_all = 0;
        while (used_all < piece) {
            uint8_t *body;
            uint32_t blen;
            size_t used = (size_t)-1;
            int r = pm_framer_feed(&f, p + off + used_all, piece - used_all, &used, &body, &blen);
            FUZZ_CHECK(used <= piece - used_all);
            used_all += used;
            if (r == 1) {
                FUZZ_CHECK(used > 0 && body != NULL);
                FUZZ_CHECK(got < e->n);
                FUZZ_CHECK(blen == e->len[got]);
                FUZZ_CHECK(memcmp(body, p + e->off[got], blen) == 0);
                /* the frame is the caller's: free() must accept it */
                free(body);
                got++;
            } else if (r == 0) {
                FUZZ_CHECK(body == NULL && blen == 0);
                FUZZ_CHECK(used_all == piece); /* 0 means all of it was taken */
            } else {
                FUZZ_CHECK(r == PM_E_PROTOCOL || r == PM_E_FRAME_TOO_LARGE);
                FUZZ_CHECK(body == NULL);
                err = r;
                break;
            }
        }
        off += used_all;
    }
    FUZZ_CHECK(got == e->n);
    FUZZ_CHECK(err == e->err);
    if (err) {
        /* a bad header poisons the framer for good */
        uint8_t *body;
        uint32_t blen;
        size_t used;
        static const uint8_t more[8] = {0, 0, 0, 1, 0x08};
        FUZZ_CHECK(pm_framer_feed(&f, more, sizeof more, &used, &body, &blen) == err);
        FUZZ_CHECK(used == 0 && body == NULL);
    } else {
        FUZZ_CHECK(pm_framer_busy(&f) == e->partial);
    }
    pm_framer_free(&f);
}

static void check_field(const uint8_t *p, size_t n, unsigned field, const uint8_t **v, size_t *vl,
                        int *r)
{
    *v = NULL;
    *vl = 0;
    *r = pm_pb_field(p, n, field, v, vl);
    FUZZ_CHECK(*r == -1 || *r == 0 || *r == 1);
    if (*r == 1) {
        FUZZ_CHECK(*v >= p && *vl <= n && (size_t)(*v - p) <= n - *vl);
    }
}

static void check_frame(const uint8_t *body, uint32_t len)
{
    pm_arena a;
    pm_arena_init(&a, pm_frame_decode_budget(len));
    Pm__Envelope *env = pm_frame_decode(&a, body, len);
    FUZZ_CHECK(a.used <= a.budget);
    if (env) {
        const char *bad;
        int ok = pm_msg_text_valid(&env->base, &bad);
        FUZZ_CHECK(ok ? bad == NULL : bad != NULL);
    }

    /* request_key (2) is a bytes field: protobuf keeps its last occurrence, as
     * pm_pb_field does. */
    const uint8_t *v;
    size_t vl;
    int r;
    check_field(body, len, 2, &v, &vl, &r);
    if (env && r == 1) {
        FUZZ_CHECK(vl == env->request_key.len);
        FUZZ_CHECK(vl == 0 || memcmp(v, env->request_key.data, vl) == 0);
    } else if (env && r == 0) {
        FUZZ_CHECK(env->request_key.len == 0);
    }
    if (env)
        check_field(body, len, (unsigned)env->body_case, &v, &vl, &r);
    check_field(body, len, body[0] >> 3, &v, &vl, &r);
    pm_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t limits[2] = {PM_FRAME_MAX_PRELOGIN, PM_FRAME_MAX};
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    for (int l = 0; l < 2; l++) {
        expect e;
        reference(data, size, limits[l], &e);
        feed(data, size, limits[l], 0, &e);
        rng_state = (h ^ limits[l]) | 1;
        feed(data, size, limits[l], 1, &e);
        /* The frames under the larger limit include those under the smaller one. */
        if (limits[l] == PM_FRAME_MAX)
            for (size_t k = 0; k < e.n; k++)
                check_frame(data + e.off[k], e.len[k]);
        free(e.off);
        free(e.len);
    }
    const uint8_t *v;
    size_t vl;
    int r;
    if (size)
        check_field(data, size, data[0] >> 3, &v, &vl, &r);
    return 0;
}
