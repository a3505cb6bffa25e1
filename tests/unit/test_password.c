/* Passwords: Argon2id hashes with a fresh salt that verify the right password and only it,
 * the policy for new passwords, one-time passwords people can read, and usernames. */
#include "tu.h"

#include "auth.h"
#include "pm_err.h"
#include "server.h"

#include <argon2.h>

server srv;

#define ENC 256

static const argon2_params defaults = {ARGON2_DEFAULT_M_KIB, ARGON2_DEFAULT_T};
static const argon2_params small = {64, 1};

/* Unpadded standard base64, as Argon2's encoding uses; returns bytes or -1. */
static int b64_decode(const char *s, size_t n, uint8_t *out, size_t max)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = strchr(tbl, s[i]);
        if (!p || !s[i])
            return -1;
        acc = acc << 6 | (uint32_t)(p - tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= max)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (int)o;
}

/* The parts of "$argon2id$v=19$m=M,t=T,p=P$salt$hash". */
typedef struct parsed {
    unsigned v, m, t, p;
    uint8_t salt[64], hash[64];
    int salt_len, hash_len;
} parsed;

static void parse_encoded(const char *enc, parsed *out)
{
    int consumed = 0;
    assert_int_equal(sscanf(enc, "$argon2id$v=%u$m=%u,t=%u,p=%u$%n", &out->v, &out->m, &out->t,
                            &out->p, &consumed),
                     4);
    assert_true(consumed > 0);
    const char *salt = enc + consumed;
    const char *dollar = strchr(salt, '$');
    assert_non_null(dollar);
    out->salt_len = b64_decode(salt, (size_t)(dollar - salt), out->salt, sizeof out->salt);
    out->hash_len = b64_decode(dollar + 1, strlen(dollar + 1), out->hash, sizeof out->hash);
}

/* The hash in enc is Argon2id of password with the salt and parameters enc states,
 * recomputed here with libargon2 directly. */
static void check_hash_is_argon2id(const char *enc, const char *password, unsigned m, unsigned t)
{
    parsed p;
    parse_encoded(enc, &p);
    assert_int_equal(p.v, ARGON2_VERSION_13);
    assert_int_equal(p.m, m);
    assert_int_equal(p.t, t);
    assert_int_equal(p.p, 1);
    assert_int_equal(p.salt_len, 16);
    assert_int_equal(p.hash_len, 32);
    uint8_t raw[32];
    assert_int_equal(argon2id_hash_raw(t, m, 1, password, strlen(password), p.salt, 16, raw, 32),
                     ARGON2_OK);
    assert_memory_equal(raw, p.hash, 32);
}

static void test_hash_verify_defaults(void **state)
{
    (void)state;
    char enc[ENC];
    const char *pw = "correct horse battery staple";
    assert_int_equal(password_hash(&defaults, pw, enc, sizeof enc), PM_OK);
    assert_true(strncmp(enc, "$argon2id$", 10) == 0);
    check_hash_is_argon2id(enc, pw, ARGON2_DEFAULT_M_KIB, ARGON2_DEFAULT_T);
    assert_true(password_verify(enc, pw));
    assert_false(password_verify(enc, "correct horse battery stapler"));
    assert_false(password_verify(enc, "Correct horse battery staple"));
    assert_false(password_verify(enc, ""));
}

static void test_hash_verify_small(void **state)
{
    (void)state;
    static const char *const pws[] = {"p@ssw0rd-1234", "Núñez García 1980", "日本語のパスワード",
                                      "tab\there-and-more", "x"};
    for (size_t i = 0; i < TU_LEN(pws); i++) {
        char enc[ENC];
        assert_int_equal(password_hash(&small, pws[i], enc, sizeof enc), PM_OK);
        check_hash_is_argon2id(enc, pws[i], small.m_kib, small.t);
        assert_true(password_verify(enc, pws[i]));
        for (size_t k = 0; k < TU_LEN(pws); k++)
            if (k != i)
                assert_false(password_verify(enc, pws[k]));
    }
}

static void test_salt_is_random(void **state)
{
    (void)state;
    char a[ENC], b[ENC];
    assert_int_equal(password_hash(&small, "same password here", a, sizeof a), PM_OK);
    assert_int_equal(password_hash(&small, "same password here", b, sizeof b), PM_OK);
    assert_string_not_equal(a, b);
    parsed pa, pb;
    parse_encoded(a, &pa);
    parse_encoded(b, &pb);
    assert_memory_not_equal(pa.salt, pb.salt, 16);
    assert_memory_not_equal(pa.hash, pb.hash, 32);
    /* both verify */
    assert_true(password_verify(a, "same password here"));
    assert_true(password_verify(b, "same password here"));
}

static void test_bad_inputs(void **state)
{
    (void)state;
    char enc[ENC];
    /* an output buffer too small is an error, not an overflow */
    char tiny[20];
    assert_int_not_equal(password_hash(&small, "whatever12345", tiny, sizeof tiny), PM_OK);
    /* encodings that are not Argon2id never verify */
    assert_false(password_verify("", "x"));
    assert_false(password_verify("garbage", "garbage"));
    assert_false(password_verify("$argon2id$v=19$m=64,t=1,p=1$", ""));
    assert_int_equal(password_hash(&small, "some password", enc, sizeof enc), PM_OK);
    /* an Argon2i string with the same numbers is not accepted as Argon2id */
    char other[ENC];
    snprintf(other, sizeof other, "$argon2i$%s", enc + strlen("$argon2id$"));
    assert_false(password_verify(other, "some password"));
    /* a damaged hash does not verify */
    enc[strlen(enc) - 2] = enc[strlen(enc) - 2] == 'A' ? 'B' : 'A';
    assert_false(password_verify(enc, "some password"));
}

/* ---- policy ---- */

static void expect_policy(const char *pw, const char *want)
{
    const char *got = password_policy(pw);
    if (!want) {
        if (got)
            print_error("\"%s\" refused: %s\n", pw, got);
        assert_null(got);
    } else {
        if (!got)
            print_error("\"%s\" accepted\n", pw);
        assert_non_null(got);
        assert_string_equal(got, want);
    }
}

static void test_policy(void **state)
{
    (void)state;
    const char *too_short = "at least 10 characters";
    const char *repeated = "not one character repeated";
    const char *not_text = "not valid text";
    const char *too_long = "at most 128 bytes";

    expect_policy("", too_short);
    expect_policy("short", too_short);
    expect_policy("123456789", too_short);
    /* characters are counted, not bytes: 9 two-byte letters are 18 bytes */
    expect_policy("ñandúñañé", too_short);
    expect_policy("aaaaaaaaaaaa", repeated);
    expect_policy("          ", repeated);
    expect_policy("abcdefghij\xff", not_text);
    expect_policy("abcdefghij\xc3", not_text);
    expect_policy("abcdefghij\xed\xa0\x80", not_text); /* a surrogate */
    expect_policy("abcdefghij\n", not_text);
    expect_policy("abc\x01"
                  "defghijk",
                  not_text);

    char buf[200];
    memset(buf, 0, sizeof buf);
    for (int i = 0; i < 128; i++)
        buf[i] = (char)('a' + i % 26);
    expect_policy(buf, NULL); /* 128 bytes: the most */
    buf[128] = 'x';
    expect_policy(buf, too_long);

    expect_policy("1234567890", NULL);
    expect_policy("correct horse battery staple", NULL);
    expect_policy("Pässwörd-1234", NULL);
    expect_policy("éàüöçñßøåæ", NULL); /* ten different two-byte letters */
    expect_policy("tab\tinside-it", NULL);
    expect_policy("aaaaaaaaab", NULL);
}

/* "Not one character repeated" is about characters: ten é are one character repeated,
 * though their bytes (c3 a9 c3 a9 ...) are not all the same. */
static void test_policy_repeated_multibyte(void **state)
{
    (void)state;
    expect_policy("éééééééééé", "not one character repeated");
    expect_policy("€€€€€€€€€€€€", "not one character repeated");
}

/* ---- one-time passwords ---- */

static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";

static void check_generated(const char *s, size_t groups)
{
    assert_int_equal(strlen(s), groups * 5 - 1);
    for (size_t i = 0; s[i]; i++) {
        if (i % 5 == 4) {
            assert_int_equal(s[i], '-');
        } else {
            if (!strchr(alphabet, s[i]))
                print_error("'%c' in %s is not in the alphabet\n", s[i], s);
            assert_non_null(strchr(alphabet, s[i]));
        }
    }
}

static void test_generate(void **state)
{
    (void)state;
    /* the alphabet leaves out what people misread */
    assert_int_equal(strlen(alphabet), 32);
    assert_null(strpbrk(alphabet, "lo01"));

    enum { N = 500 };
    static char seen[N][32];
    unsigned counts[128] = {0};
    for (int i = 0; i < N; i++) {
        char buf[32];
        memset(buf, '#', sizeof buf);
        password_generate(buf, 3);
        check_generated(buf, 3);
        /* a one-time password meets the policy it is replaced under */
        assert_null(password_policy(buf));
        for (int k = 0; k < i; k++)
            assert_string_not_equal(buf, seen[k]);
        snprintf(seen[i], sizeof seen[i], "%s", buf);
        for (const char *p = buf; *p; p++)
            counts[(unsigned char)*p]++;
    }
    /* 6000 letters: every one of the 32 turns up (about 190 times each) */
    for (const char *p = alphabet; *p; p++)
        assert_true(counts[(unsigned char)*p] > 60);

    /* device secrets: eight groups */
    char dev[64];
    password_generate(dev, 8);
    check_generated(dev, 8);
    char dev2[64];
    password_generate(dev2, 8);
    assert_string_not_equal(dev, dev2);

    /* one group: no dash at all; the most (16 groups) still ends where it should */
    char one[8];
    password_generate(one, 1);
    check_generated(one, 1);
    char most[96];
    memset(most, '#', sizeof most);
    password_generate(most, 16);
    check_generated(most, 16);
    assert_int_equal(most[80], '#');
}

/* ---- usernames ---- */

static void test_username(void **state)
{
    (void)state;
    static const char *const good[] = {
        "a", "alice", "bob.smith", "j_doe-2", "x1", "abcdefghijklmnopqrstuvwxyz012345" /* 32 */};
    static const char *const bad[] = {
        "",       "Alice",   "1alice",  "_alice",
        ".alice", "-alice",  "ali ce",  "alice!",
        "alicé",  "ali\tce", "alice\n", "abcdefghijklmnopqrstuvwxyz0123456" /* 33 */,
        "a/b",    "a@b"};
    for (size_t i = 0; i < TU_LEN(good); i++) {
        if (!username_valid(good[i]))
            print_error("\"%s\" refused\n", good[i]);
        assert_true(username_valid(good[i]));
    }
    for (size_t i = 0; i < TU_LEN(bad); i++) {
        if (username_valid(bad[i]))
            print_error("\"%s\" accepted\n", bad[i]);
        assert_false(username_valid(bad[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_verify_defaults),
        cmocka_unit_test(test_hash_verify_small),
        cmocka_unit_test(test_salt_is_random),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_policy_repeated_multibyte),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_username),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
