/* Small helpers shared by server and clients. */
#ifndef PM_UTIL_H
#define PM_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define PM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static inline void pm_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static inline uint64_t pm_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static inline void pm_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t pm_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void pm_hex(const uint8_t *p, size_t n, char *out);
/* Parses hex (colons and spaces ignored) into out; returns bytes written or -1. */
int pm_unhex(const char *s, uint8_t *out, size_t max);
/* Fills p with n bytes from the kernel's CSPRNG; PM_E_IO on failure. */
int pm_random(void *p, size_t n);
/* SHA-256 of p[0..n) into out[32]. */
void pm_sha256(const void *p, size_t n, uint8_t out[32]);
/* Whether s[0..n) is valid UTF-8 without NUL or other C0 control characters (tab is
 * allowed, and newline when multiline). */
int pm_utf8_valid(const char *s, size_t n, int multiline);
/* Number of code points in valid UTF-8. */
size_t pm_utf8_len(const char *s);
/* Drops a character cut short at the end of s (text truncated by snprintf, say), so
 * that what is left is whole; returns the new length. */
size_t pm_utf8_cut(char *s);
/* Case-folded copy for name indexes: ASCII and Latin-1 letters lower-cased, accents on
 * Latin-1 letters removed, anything else copied. Writes at most max-1 bytes + NUL. */
size_t pm_fold(const char *s, char *out, size_t max);
/* Keeps only digits; returns their count. */
size_t pm_digits(const char *s, char *out, size_t max);
/* Constant-time comparison. */
int pm_ct_equal(const void *a, const void *b, size_t n);

#endif
