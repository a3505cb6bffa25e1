/* fuzz_envelope: decoding a frame body as the server does, and encoding it back.
 *
 * The input is one frame body. It is decoded with pm_frame_decode on an arena with the
 * budget pm_frame_decode_budget gives it; the arena must never hand out more than that.
 * What decodes is packed again and the packed bytes decoded again: the second packing
 * must equal the first (a message the server can read, it can also write and read back,
 * unchanged), and its text must check the same way. */
#include "fuzz.h"
#include "pm_arena.h"
#include "pm_frame.h"

#include <stdint.h>
#include <string.h>

static uint8_t *pack(const Pm__Envelope *env, size_t *len)
{
    *len = pm__envelope__get_packed_size(env);
    uint8_t *p = malloc(*len ? *len : 1);
    FUZZ_CHECK(p != NULL);
    FUZZ_CHECK(pm__envelope__pack(env, p) == *len);
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t budget = pm_frame_decode_budget(size);
    pm_arena a;
    pm_arena_init(&a, budget);
    Pm__Envelope *env = pm_frame_decode(&a, data, size);
    FUZZ_CHECK(a.used <= budget);
    FUZZ_CHECK(env != NULL || size > 0); /* an empty body is an empty envelope */
    if (!env) {
        pm_arena_free(&a);
        return 0;
    }
    const char *bad1, *bad2;
    int text1 = pm_msg_text_valid(&env->base, &bad1);
    FUZZ_CHECK(text1 ? bad1 == NULL : bad1 != NULL);

    size_t len1, len2;
    uint8_t *p1 = pack(env, &len1);
    /* The same budget: packing drops nothing that decoding allocated for. */
    pm_arena b;
    pm_arena_init(&b, budget);
    Pm__Envelope *env2 = pm_frame_decode(&b, p1, len1);
    FUZZ_CHECK(b.used <= budget);
    FUZZ_CHECK(env2 != NULL);
    FUZZ_CHECK(env2->body_case == env->body_case);
    FUZZ_CHECK(env2->id == env->id);
    uint8_t *p2 = pack(env2, &len2);
    FUZZ_CHECK(len2 == len1);
    FUZZ_CHECK(memcmp(p1, p2, len1) == 0);
    int text2 = pm_msg_text_valid(&env2->base, &bad2);
    FUZZ_CHECK(text2 == text1);
    FUZZ_CHECK(!bad1 || strcmp(bad1, bad2) == 0);

    free(p1);
    free(p2);
    pm_arena_free(&b);
    pm_arena_free(&a);
    return 0;
}
