#include "pm_util.h"

#include "pm_err.h"

#include <errno.h>
#include <mbedtls/sha256.h>
#include <string.h>
#include <sys/random.h>

void pm_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int pm_unhex(const char *s, uint8_t *out, size_t max)
{
    size_t n = 0;
    int hi = -1;
    for (; *s; s++) {
        if (*s == ':' || *s == ' ')
            continue;
        int v = hexval((unsigned char)*s);
        if (v < 0)
            return -1;
        if (hi < 0) {
            hi = v;
        } else {
            if (n >= max)
                return -1;
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return hi < 0 ? (int)n : -1;
}

int pm_random(void *p, size_t n)
{
    uint8_t *q = p;
    while (n > 0) {
        ssize_t r = getrandom(q, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return PM_E_IO;
        }
        q += r;
        n -= (size_t)r;
    }
    return PM_OK;
}

void pm_sha256(const void *p, size_t n, uint8_t out[32])
{
    mbedtls_sha256_ret(p, n, out, 0);
}

int pm_utf8_valid(const char *str, size_t n, int multiline)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && !(multiline && (c == '\n' || c == '\r')))
                return 0;
            if (c == 0x7f)
                return 0;
            i++;
            continue;
        }
        size_t len;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
            return 0;
        i += len;
    }
    return 1;
}

size_t pm_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

size_t pm_utf8_cut(char *s)
{
    size_t n = strlen(s), i = n, back = 0;
    while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
        i--, back++;
    if (i == 0)
        return n;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t want = lead < 0x80 ? 0 : lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
    if (lead >= 0x80 && back < want) {
        s[i - 1] = 0;
        return i - 1;
    }
    return n;
}

/* Base letters for U+00C0..U+00FF; "" keeps the character as it is. */
static const char *const latin1_fold[64] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "y",
};

size_t pm_fold(const char *str, char *out, size_t max)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t o = 0;
    if (max == 0)
        return 0;
    while (*s) {
        const char *rep = NULL;
        char one[2] = {0, 0};
        size_t adv = 1;
        if (*s < 0x80) {
            one[0] = (char)((*s >= 'A' && *s <= 'Z') ? *s + 32 : *s);
            rep = one;
        } else if (s[0] == 0xc3 && s[1] >= 0x80 && s[1] <= 0xbf) {
            rep = latin1_fold[s[1] - 0x80];
            adv = 2;
            if (!*rep) {
                rep = NULL;
            }
        }
        if (rep) {
            size_t l = strlen(rep);
            if (o + l >= max)
                break;
            memcpy(out + o, rep, l);
            o += l;
        } else {
            /* a character outside Latin-1 goes whole or not at all */
            if (adv == 1)
                while (s[adv] && (s[adv] & 0xc0) == 0x80 && adv < 4)
                    adv++;
            if (o + adv >= max)
                break;
            memcpy(out + o, s, adv);
            o += adv;
        }
        s += adv;
    }
    out[o] = 0;
    return o;
}

size_t pm_digits(const char *s, char *out, size_t max)
{
    size_t o = 0;
    for (; *s && o + 1 < max; s++)
        if (*s >= '0' && *s <= '9')
            out[o++] = *s;
    out[o] = 0;
    return o;
}

int pm_ct_equal(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}
