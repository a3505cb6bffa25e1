/* Shared helpers: UTF-8 validation, name folding, digits, hex, and the dates and times
 * people type, read in the practice's zone (Europe/Paris here, across its DST changes). */
#include "tu.h"

#include <pthread.h>

#include "pm_buf.h"
#include "pm_err.h"
#include "pm_time.h"
#include "pm_util.h"

/* ---- UTF-8 ---- */

struct u8case {
    const char *s;
    size_t n; /* 0: strlen */
    int oneline, multiline;
    const char *why;
};

static void test_utf8_valid(void **state)
{
    (void)state;
    static const struct u8case cases[] = {
        {"", 0, 1, 1, "empty"},
        {"Hello, world", 0, 1, 1, "ASCII"},
        {"Núñez", 0, 1, 1, "Latin-1 letters"},
        {"日本語", 0, 1, 1, "three-byte"},
        {"\xf0\x9f\x98\x80", 0, 1, 1, "four-byte emoji"},
        {"\xc2\xa0", 0, 1, 1, "U+00A0, first after the C1 block"},
        {"\xe0\xa0\x80", 0, 1, 1, "U+0800, smallest three-byte"},
        {"\xef\xbf\xbf", 0, 1, 1, "U+FFFF"},
        {"\xf0\x90\x80\x80", 0, 1, 1, "U+10000, smallest four-byte"},
        {"\xf4\x8f\xbf\xbf", 0, 1, 1, "U+10FFFF, the last code point"},
        {"a\tb", 0, 1, 1, "tab"},
        {"line one\nline two", 0, 0, 1, "newline only when multiline"},
        {"line one\r\nline two", 0, 0, 1, "CR LF only when multiline"},
        /* overlong forms */
        {"\xc0\x80", 0, 0, 0, "overlong NUL"},
        {"\xc1\xbf", 0, 0, 0, "overlong two-byte"},
        {"\xe0\x80\x80", 0, 0, 0, "overlong three-byte NUL"},
        {"\xe0\x9f\xbf", 0, 0, 0, "overlong U+07FF"},
        {"\xf0\x80\x80\x80", 0, 0, 0, "overlong four-byte NUL"},
        {"\xf0\x8f\xbf\xbf", 0, 0, 0, "overlong U+FFFF"},
        /* surrogates and beyond Unicode */
        {"\xed\xa0\x80", 0, 0, 0, "U+D800 surrogate"},
        {"\xed\xbf\xbf", 0, 0, 0, "U+DFFF surrogate"},
        {"\xed\xa0\xbd\xed\xb8\x80", 0, 0, 0, "CESU-8 surrogate pair"},
        {"\xf4\x90\x80\x80", 0, 0, 0, "U+110000"},
        {"\xf5\x80\x80\x80", 0, 0, 0, "lead byte F5"},
        {"\xff", 0, 0, 0, "byte FF"},
        {"\xfe", 0, 0, 0, "byte FE"},
        /* truncated and broken sequences */
        {"\xc3", 0, 0, 0, "truncated two-byte"},
        {"\xe2\x82", 0, 0, 0, "truncated three-byte"},
        {"abc\xf0\x9f\x98", 0, 0, 0, "truncated four-byte at the end"},
        {"\xc3(", 0, 0, 0, "bad continuation"},
        {"\x80", 0, 0, 0, "lone continuation byte"},
        {"a\xbf"
         "b",
         0, 0, 0, "continuation byte in ASCII"},
        {"\xe2\x28\xa1", 0, 0, 0, "bad second byte of three"},
        /* controls */
        {"a\x01"
         "b",
         0, 0, 0, "C0 control"},
        {"a\x1b[31m", 0, 0, 0, "escape sequence"},
        {"a\x7f", 0, 0, 0, "DEL"},
        {"\xc2\x80", 0, 0, 0, "U+0080, C1 control"},
        {"\xc2\x9f", 0, 0, 0, "U+009F, C1 control"},
        {"a\0b", 3, 0, 0, "NUL inside"},
        {"a\x0b"
         "b",
         0, 0, 0, "vertical tab, even multiline"},
        {"a\x0c"
         "b",
         0, 0, 0, "form feed, even multiline"},
        /* the length given is what counts */
        {"ab\x01", 2, 1, 1, "control past n not looked at"},
        {"\xc3\xa9", 1, 0, 0, "n cuts a character in half"},
    };
    for (size_t i = 0; i < TU_LEN(cases); i++) {
        const struct u8case *c = &cases[i];
        size_t n = c->n ? c->n : strlen(c->s);
        int one = pm_utf8_valid(c->s, n, 0), multi = pm_utf8_valid(c->s, n, 1);
        if (one != c->oneline || multi != c->multiline)
            print_error("%s: one line %d (want %d), multiline %d (want %d)\n", c->why, one,
                        c->oneline, multi, c->multiline);
        assert_int_equal(one, c->oneline);
        assert_int_equal(multi, c->multiline);
    }
    assert_int_equal(pm_utf8_len("Núñez"), 5);
    assert_int_equal(pm_utf8_len("日本語"), 3);
    assert_int_equal(pm_utf8_len(""), 0);
    assert_int_equal(pm_utf8_len("a\xf0\x9f\x98\x80z"), 3);

    /* text cut by snprintf: a character cut short goes, a whole one stays */
    static const struct {
        const char *in, *want;
    } cuts[] = {
        {"", ""},
        {"abc", "abc"},
        {"ab\xc3\xa9", "ab\xc3\xa9"},
        {"ab\xc3", "ab"},
        {"\xe6\x97\xa5\xe6\x97", "\xe6\x97\xa5"},
        {"\xe6", ""},
        {"x\xf0\x9f\x98", "x"},
        {"x\xf0\x9f\x98\x80", "x\xf0\x9f\x98\x80"},
    };
    for (size_t i = 0; i < PM_ARRAY_LEN(cuts); i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%s", cuts[i].in);
        assert_int_equal(pm_utf8_cut(buf), strlen(cuts[i].want));
        assert_string_equal(buf, cuts[i].want);
    }
    char cut[8];
    const char *five = "ééééé";
    memcpy(cut, five, 7); /* as snprintf keeps 7 bytes: three é and half of one */
    cut[7] = 0;
    pm_utf8_cut(cut);
    assert_string_equal(cut, "ééé");
}

/* ---- folding and digits ---- */

static void expect_fold(const char *in, const char *want)
{
    char out[256];
    size_t n = pm_fold(in, out, sizeof out);
    if (strcmp(out, want) != 0)
        print_error("fold(\"%s\") = \"%s\", want \"%s\"\n", in, out, want);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_fold(void **state)
{
    (void)state;
    expect_fold("Núñez", "nunez");
    expect_fold("NÚÑEZ", "nunez");
    expect_fold("García-Márquez", "garcia-marquez");
    expect_fold("ÀÁÂÃÄÅàáâãäå", "aaaaaaaaaaaa");
    expect_fold("ÇçÈÉÊËèéêë", "cceeeeeeee");
    expect_fold("ÌÍÎÏìíîï", "iiiiiiii");
    expect_fold("ÒÓÔÕÖØòóôõöø", "oooooooooooo");
    expect_fold("ÙÚÛÜùúûü", "uuuuuuuu");
    expect_fold("Ýýÿ", "yyy");
    expect_fold("Ææ", "aeae");
    expect_fold("Straße", "strasse");
    expect_fold("Þór", "thor");
    expect_fold("Ðð", "dd");
    expect_fold("O'Brien Jr.", "o'brien jr.");
    /* × and ÷ are not letters: kept as they are */
    expect_fold("2×3÷1", "2×3÷1");
    /* outside Latin-1: copied */
    expect_fold("Łódź", "Łodź");
    expect_fold("日本", "日本");
    expect_fold("", "");

    /* a small output is cut short, always NUL-terminated */
    char out[8];
    assert_int_equal(pm_fold("Núñez", out, 3), 2);
    assert_string_equal(out, "nu");
    assert_int_equal(pm_fold("aß", out, 3), 1); /* "ss" does not fit after "a" */
    assert_string_equal(out, "a");
    assert_int_equal(pm_fold("abc", out, 1), 0);
    assert_string_equal(out, "");
    out[0] = 'x';
    assert_int_equal(pm_fold("abc", out, 0), 0);
    assert_int_equal(out[0], 'x');
}

/* Cut short, the output is still valid UTF-8: a character outside Latin-1 goes in whole
 * or not at all, as Latin-1 letters already do. */
static void test_fold_cuts_between_characters(void **state)
{
    (void)state;
    char out[8];
    for (size_t max = 1; max <= sizeof out; max++) {
        size_t n = pm_fold("ab日本", out, max);
        assert_int_equal(n, strlen(out));
        if (!pm_utf8_valid(out, n, 0))
            print_error("pm_fold(\"ab日本\", max %zu) cut a character: %zu bytes\n", max, n);
        assert_true(pm_utf8_valid(out, n, 0));
    }
    assert_int_equal(pm_fold("ab日本", out, 5), 2);
    assert_string_equal(out, "ab");
}

static void test_digits(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(pm_digits("+1 (212) 555-1234", out, sizeof out), 11);
    assert_string_equal(out, "12125551234");
    assert_int_equal(pm_digits("no digits", out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(pm_digits("", out, sizeof out), 0);
    assert_int_equal(pm_digits("٣٤٥ 9", out, sizeof out), 1); /* ASCII digits only */
    assert_string_equal(out, "9");
    assert_int_equal(pm_digits("1234567", out, 4), 3);
    assert_string_equal(out, "123");
}

/* ---- hex ---- */

static void test_hex(void **state)
{
    (void)state;
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    char hex[513];
    pm_hex(all, 256, hex);
    assert_int_equal(strlen(hex), 512);
    assert_memory_equal(hex, "000102", 6);
    assert_string_equal(hex + 500, "fafbfcfdfeff");
    uint8_t back[256];
    assert_int_equal(pm_unhex(hex, back, sizeof back), 256);
    assert_memory_equal(back, all, 256);

    const uint8_t want[4] = {0xde, 0xad, 0xbe, 0xef};
    uint8_t out[8];
    assert_int_equal(pm_unhex("deadbeef", out, sizeof out), 4);
    assert_memory_equal(out, want, 4);
    assert_int_equal(pm_unhex("DE:AD:BE:EF", out, sizeof out), 4);
    assert_memory_equal(out, want, 4);
    assert_int_equal(pm_unhex("de ad be ef", out, sizeof out), 4);
    assert_memory_equal(out, want, 4);
    assert_int_equal(pm_unhex("", out, sizeof out), 0);

    assert_int_equal(pm_unhex("abc", out, sizeof out), -1);   /* odd */
    assert_int_equal(pm_unhex("ab:c", out, sizeof out), -1);  /* odd */
    assert_int_equal(pm_unhex("zz", out, sizeof out), -1);    /* not hex */
    assert_int_equal(pm_unhex("0x12", out, sizeof out), -1);  /* no prefixes */
    assert_int_equal(pm_unhex("ab-cd", out, sizeof out), -1); /* only ':' and ' ' */
    assert_int_equal(pm_unhex("001122", out, 2), -1);         /* longer than max */
    assert_int_equal(pm_unhex("0011", out, 2), 2);            /* exactly max */

    char h[3];
    pm_hex((const uint8_t *)"", 0, h);
    assert_string_equal(h, "");
}

static void test_misc(void **state)
{
    (void)state;
    /* SHA-256("abc"), FIPS 180-2 */
    uint8_t md[32];
    char hex[65];
    pm_sha256("abc", 3, md);
    pm_hex(md, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    assert_true(pm_ct_equal("abcd", "abcd", 4));
    assert_false(pm_ct_equal("abcd", "abce", 4));
    assert_false(pm_ct_equal("xbcd", "abcd", 4));
    assert_true(pm_ct_equal("a", "b", 0));

    /* keys are big-endian so that they sort as numbers */
    uint8_t b[8];
    pm_put_u64(b, 0x0102030405060708ull);
    const uint8_t be[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(b, be, 8);
    assert_int_equal(pm_get_u64(b), 0x0102030405060708ull);
    uint8_t lo[8], hi[8];
    pm_put_u64(lo, 255);
    pm_put_u64(hi, 256);
    assert_true(memcmp(lo, hi, 8) < 0);
    pm_put_u32(b, 0xa1b2c3d4u);
    assert_int_equal(b[0], 0xa1);
    assert_int_equal(pm_get_u32(b), 0xa1b2c3d4u);

    uint8_t r1[32] = {0}, r2[32] = {0}, zero[32] = {0};
    assert_int_equal(pm_random(r1, sizeof r1), PM_OK);
    assert_int_equal(pm_random(r2, sizeof r2), PM_OK);
    assert_memory_not_equal(r1, zero, 32);
    assert_memory_not_equal(r1, r2, 32);
}

/* ---- bounded buffers ---- */

static void test_buf(void **state)
{
    (void)state;
    pm_buf b;
    pm_buf_init(&b, 1000);
    assert_int_equal(b.len, 0);
    assert_int_equal(pm_buf_append(&b, "hello", 5), PM_OK);
    assert_int_equal(pm_buf_printf(&b, " %s #%d", "world", 42), PM_OK);
    assert_int_equal(b.len, 15);
    assert_memory_equal(b.data, "hello world #42", 15);
    assert_true(b.cap >= b.len && b.cap <= b.max);
    pm_buf_consume(&b, 6);
    assert_int_equal(b.len, 9);
    assert_memory_equal(b.data, "world #42", 9);

    /* up to the maximum and not a byte past it; a refused append changes nothing */
    char big[1000];
    memset(big, 'x', sizeof big);
    assert_int_equal(pm_buf_append(&b, big, 1000 - 9), PM_OK);
    assert_int_equal(b.len, 1000);
    assert_int_equal(b.cap, 1000);
    assert_int_equal(pm_buf_append(&b, "y", 1), PM_E_NOMEM);
    assert_int_equal(pm_buf_printf(&b, "%d", 1), PM_E_NOMEM);
    assert_int_equal(pm_buf_reserve(&b, SIZE_MAX), PM_E_NOMEM);
    assert_int_equal(b.len, 1000);
    assert_memory_equal(b.data, "world #42xxx", 12);
    assert_int_equal(pm_buf_append(&b, NULL, 0), PM_OK);

    pm_buf_consume(&b, 5000); /* more than there is: empties it */
    assert_int_equal(b.len, 0);
    assert_int_equal(pm_buf_append(&b, "abc", 3), PM_OK);
    size_t len = 0;
    uint8_t *p = pm_buf_steal(&b, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(p, "abc", 3);
    free(p);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    /* still usable, with the same maximum */
    assert_int_equal(pm_buf_append(&b, big, 1000), PM_OK);
    assert_int_equal(pm_buf_append(&b, big, 1), PM_E_NOMEM);
    pm_buf_free(&b);
    assert_null(b.data);

    /* a printf that would pass the maximum is refused whole */
    pm_buf_init(&b, 8);
    assert_int_equal(pm_buf_printf(&b, "%s", "12345678"), PM_E_NOMEM); /* + its NUL */
    assert_int_equal(b.len, 0);
    assert_int_equal(pm_buf_printf(&b, "%s", "1234567"), PM_OK);
    assert_int_equal(b.len, 7);
    pm_buf_free(&b);
}

/* ---- dates ---- */

static void expect_date(const char *s, int ok, int y, int m, int d)
{
    int yy = -1, mm = -1, dd = -1;
    int rc = pm_parse_date(s, &yy, &mm, &dd);
    if ((rc == 0) != ok)
        print_error("pm_parse_date(\"%s\") = %d\n", s, rc);
    assert_int_equal(rc == 0, ok);
    if (ok) {
        assert_int_equal(yy, y);
        assert_int_equal(mm, m);
        assert_int_equal(dd, d);
    }
}

static void test_parse_date(void **state)
{
    (void)state;
    expect_date("2024-02-29", 1, 2024, 2, 29);
    expect_date("2000-02-29", 1, 2000, 2, 29); /* divisible by 400 */
    expect_date("1980-01-01", 1, 1980, 1, 1);
    expect_date("2023-12-31", 1, 2023, 12, 31);
    expect_date("2024-04-30", 1, 2024, 4, 30);
    expect_date("0001-01-01", 1, 1, 1, 1);
    expect_date("2023-02-29", 0, 0, 0, 0);
    expect_date("1900-02-29", 0, 0, 0, 0); /* divisible by 100, not 400 */
    expect_date("2100-02-29", 0, 0, 0, 0);
    expect_date("2024-02-30", 0, 0, 0, 0);
    expect_date("2024-04-31", 0, 0, 0, 0);
    expect_date("2024-13-01", 0, 0, 0, 0);
    expect_date("2024-00-10", 0, 0, 0, 0);
    expect_date("2024-01-00", 0, 0, 0, 0);
    expect_date("2024-01-32", 0, 0, 0, 0);
    expect_date("0000-01-01", 0, 0, 0, 0);
    expect_date("2024-1-01", 0, 0, 0, 0);
    expect_date("24-01-01", 0, 0, 0, 0);
    expect_date("2024/01/01", 0, 0, 0, 0);
    expect_date("2024-01-01 ", 0, 0, 0, 0);
    expect_date(" 2024-01-01", 0, 0, 0, 0);
    expect_date("2024-01-0a", 0, 0, 0, 0);
    expect_date("2024-+1-01", 0, 0, 0, 0);
    expect_date("", 0, 0, 0, 0);
    expect_date("01/02/2024", 0, 0, 0, 0);
}

/* ---- time zones and "when" ---- */

static int use_paris(void **state)
{
    (void)state;
    return pm_tz_use("Europe/Paris") == PM_OK ? 0 : -1;
}

static void test_tz(void **state)
{
    (void)state;
    assert_true(pm_tz_valid("Europe/Paris"));
    assert_true(pm_tz_valid("America/New_York"));
    assert_true(pm_tz_valid("UTC"));
    assert_true(pm_tz_valid("Etc/GMT+5"));
    static const char *const bad[] = {
        "../etc/passwd",
        "Europe/../../etc/passwd",
        "/etc/passwd",
        "/usr/share/zoneinfo/Europe/Paris",
        "Mars/Olympus_Mons",
        "Europe/Pariss",
        "Europe",
        "Europe/",
        "",
        "Europe/Paris ",
        "Europe/Paris\n",
        "Europe\\Paris",
        "Europe/Paris;rm",
        "Europe/Paris/x",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < TU_LEN(bad); i++) {
        if (pm_tz_valid(bad[i]))
            print_error("zone \"%s\" accepted\n", bad[i]);
        assert_false(pm_tz_valid(bad[i]));
    }
    assert_int_equal(pm_tz_use("../etc/passwd"), PM_E_CONFIG);
    assert_int_equal(pm_tz_use("Nowhere/City"), PM_E_CONFIG);
    /* a refused zone leaves the one in use as it was */
    assert_string_equal(getenv("TZ"), "Europe/Paris");

    /* the zone is in effect: winter is UTC+1, summer UTC+2 */
    char buf[32];
    pm_format_local(1704067200, buf, sizeof buf); /* 2024-01-01T00:00:00Z */
    assert_string_equal(buf, "2024-01-01 01:00:00");
    pm_format_local(1719792000, buf, sizeof buf); /* 2024-07-01T00:00:00Z */
    assert_string_equal(buf, "2024-07-01 02:00:00");
    pm_format_utc(1719792000, buf, sizeof buf);
    assert_string_equal(buf, "2024-07-01T00:00:00Z");
}

/* Paris, 2024: summer time began on 31 March (02:00 -> 03:00) and ended on 27 October
 * (03:00 -> 02:00). Expected values computed independently from the tz database. */
#define MAR31_0000 1711839600 /* 2024-03-31 00:00 CET  */
#define MAR30_0000 1711753200 /* 2024-03-30 00:00 CET  */
#define MAR31_0130 1711845000 /* 2024-03-31 01:30 CET  */
#define MAR31_0330 1711848600 /* 2024-03-31 03:30 CEST */
#define MAR31_1200 1711879200 /* 2024-03-31 12:00 CEST */
#define APR01_0000 1711922400 /* 2024-04-01 00:00 CEST */
#define APR01_1200 1711965600 /* 2024-04-01 12:00 CEST */
#define OCT27_0000 1729980000 /* 2024-10-27 00:00 CEST */
#define OCT28_0000 1730070000 /* 2024-10-28 00:00 CET  */
#define OCT28_1200 1730113200 /* 2024-10-28 12:00 CET  */

static void expect_when(const char *s, time_t now, int ok, time_t want)
{
    time_t got = -12345;
    int rc = pm_parse_when(s, now, &got);
    if ((rc == 0) != ok || (ok && got != want))
        print_error("pm_parse_when(\"%s\") = %d, %lld (want %lld)\n", s, rc, (long long)got,
                    (long long)want);
    assert_int_equal(rc == 0, ok);
    if (ok)
        assert_int_equal(got, want);
}

static void test_parse_when(void **state)
{
    (void)state;
    time_t now = MAR31_1200;
    expect_when("now", now, 1, now);
    expect_when("today", now, 1, MAR31_0000);
    expect_when("yesterday", now, 1, MAR30_0000);
    expect_when("2024-03-31", now, 1, MAR31_0000);
    expect_when("2024-03-31 01:30", now, 1, MAR31_0130);
    expect_when("2024-03-31 03:30", now, 1, MAR31_0330);
    expect_when("2024-03-31T03:30", now, 1, MAR31_0330);
    expect_when("2024-03-31 12:00", now, 1, MAR31_1200);
    expect_when("2h", now, 1, now - 2 * 3600);
    expect_when("90m", now, 1, now - 90 * 60);
    expect_when("7d", now, 1, now - 7 * 86400);
    expect_when("0m", now, 1, now);
    expect_when("99999d", now, 1, now - 99999L * 86400);
    expect_when("2024-02-29", now, 1, 1709161200); /* 2024-02-29 00:00 CET */

    /* a date across the change: the day of the change is 23 hours long */
    expect_when("2024-04-01", now, 1, APR01_0000);
    assert_int_equal(APR01_0000 - MAR31_0000, 23 * 3600);
    /* the day after: "today" and "yesterday" are midnights 23 hours apart */
    expect_when("today", APR01_1200, 1, APR01_0000);
    expect_when("yesterday", APR01_1200, 1, MAR31_0000);
    /* in autumn the day is 25 hours long */
    expect_when("today", OCT28_1200, 1, OCT28_0000);
    expect_when("yesterday", OCT28_1200, 1, OCT27_0000);
    assert_int_equal(OCT28_0000 - OCT27_0000, 25 * 3600);
    expect_when("2024-10-27", OCT28_1200, 1, OCT27_0000);

    /* refused */
    static const char *const bad[] = {"",
                                      "tomorrow",
                                      "Today",
                                      "2x",
                                      "h",
                                      "d",
                                      "-2h",
                                      "2hh",
                                      "2h ago",
                                      "100000d",
                                      "2023-02-29",
                                      "2024-02-30",
                                      "2024-03-31 24:00",
                                      "2024-03-31 12:60",
                                      "2024-03-31 12:00:00",
                                      "2024-03-31 12:00x",
                                      "2024-03-31 ",
                                      "2024-03-31x",
                                      "2024-03-31_12:00",
                                      "2024-03-31 noon",
                                      "20240331",
                                      "31/03/2024"};
    for (size_t i = 0; i < TU_LEN(bad); i++)
        expect_when(bad[i], now, 0, 0);
}

/* The local-time functions remember recent days; every answer must still be the C
 * library's, in zones with whole-hour, half-hour, at-midnight and no clock changes, for instants
 * every 61 minutes and 7 seconds over two years (both changes each year, days visited out of order
 * so that kept days are found, evicted and kept again), and after a zone change. */
static void test_local_days_as_libc(void **state)
{
    (void)state;
    static const char *const zones[] = {"Europe/Paris", "America/New_York", "Australia/Lord_Howe",
                                        "Asia/Kolkata", "Europe/Paris"};
    for (size_t z = 0; z < TU_LEN(zones); z++) {
        assert_int_equal(pm_tz_use(zones[z]), PM_OK);
        long checked = 0;
        for (time_t base = 1735689600; base < 1798761600; base += 3667 * 13) {
            for (int k = 0; k < 13; k++) {
                time_t t = base + (time_t)((k * 7) % 13) * 3667; /* out of order */
                struct tm tm;
                localtime_r(&t, &tm);
                char want[32], got[11];
                snprintf(want, sizeof want, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday);
                pm_local_date(t, got);
                if (strcmp(want, got) != 0)
                    fail_msg("%s: %lld is on %s, not %s", zones[z], (long long)t, want, got);
                if (pm_local_minutes(t) != (unsigned)(tm.tm_hour * 60 + tm.tm_min))
                    fail_msg("%s: minutes of %lld", zones[z], (long long)t);
                unsigned m = (unsigned)(tm.tm_hour * 60 + tm.tm_min);
                struct tm at = {0};
                at.tm_year = tm.tm_year;
                at.tm_mon = tm.tm_mon;
                at.tm_mday = tm.tm_mday;
                at.tm_hour = (int)(m / 60);
                at.tm_min = (int)(m % 60);
                at.tm_isdst = -1;
                time_t wt = mktime(&at), gt = 0;
                assert_int_equal(pm_local_instant(got, m, &gt), 0);
                if (wt != gt)
                    fail_msg("%s: %s %02u:%02u is %lld, not %lld", zones[z], got, m / 60, m % 60,
                             (long long)wt, (long long)gt);
                checked++;
            }
        }
        assert_true(checked > 1000);
    }
    assert_int_equal(pm_tz_use("Europe/Paris"), PM_OK);
    /* a day with a clock change: 23 hours from midnight to midnight */
    time_t t0, t1;
    assert_int_equal(pm_local_instant("2026-03-29", 0, &t0), 0);
    assert_int_equal(pm_local_instant("2026-03-29", 24 * 60, &t1), 0);
    assert_int_equal(t1 - t0, 23 * 3600);
    assert_int_equal(pm_local_minutes(t0 + 3 * 3600), 4 * 60);
}

/* A zone change reaches the days every thread remembers: this thread's and another's. */
static pthread_barrier_t zone_bar;
static char other_dates[2][11];

static void *other_thread(void *arg)
{
    time_t t = *(time_t *)arg;
    pm_local_date(t, other_dates[0]); /* remembered under the first zone */
    pthread_barrier_wait(&zone_bar);
    pthread_barrier_wait(&zone_bar); /* the zone changes in between */
    pm_local_date(t, other_dates[1]);
    return NULL;
}

static void test_local_days_follow_the_zone(void **state)
{
    (void)state;
    time_t t = 1781492400; /* 2026-06-15 03:00 UTC: 05:00 in Paris, 23:00 the day before in
                              New York */
    char d[11];
    assert_int_equal(pm_tz_use("Europe/Paris"), PM_OK);
    pthread_t th;
    assert_int_equal(pthread_barrier_init(&zone_bar, NULL, 2), 0);
    assert_int_equal(pthread_create(&th, NULL, other_thread, &t), 0);
    pm_local_date(t, d);
    assert_string_equal(d, "2026-06-15");
    assert_int_equal(pm_local_minutes(t), 5 * 60);
    pthread_barrier_wait(&zone_bar);
    assert_int_equal(pm_tz_use("America/New_York"), PM_OK);
    pthread_barrier_wait(&zone_bar);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&zone_bar);
    pm_local_date(t, d);
    assert_string_equal(d, "2026-06-14");
    assert_int_equal(pm_local_minutes(t), 23 * 60);
    time_t mid;
    assert_int_equal(pm_local_instant("2026-06-15", 0, &mid), 0);
    assert_int_equal(mid, 1781496000); /* 04:00 UTC */
    assert_string_equal(other_dates[0], "2026-06-15");
    assert_string_equal(other_dates[1], "2026-06-14");
    assert_int_equal(pm_tz_use("Europe/Paris"), PM_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_fold_cuts_between_characters),
        cmocka_unit_test(test_digits),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_misc),
        cmocka_unit_test(test_buf),
        cmocka_unit_test(test_parse_date),
        cmocka_unit_test(test_tz),
        cmocka_unit_test(test_local_days_as_libc),
        cmocka_unit_test(test_local_days_follow_the_zone),
        cmocka_unit_test(test_parse_when),
    };
    return cmocka_run_group_tests(tests, use_paris, NULL);
}
