/* Small helpers shared by the unit tests: cmocka's prerequisites, a temporary directory
 * that is removed with everything in it, and a deterministic PRNG for generated inputs. */
#ifndef TU_H
#define TU_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TU_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Creates a fresh directory under $TMPDIR (or /tmp); path receives its name. */
static inline void tu_mkdtemp(char *path, size_t n, const char *what)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    int len = snprintf(path, n, "%s/pm-%s-XXXXXX", base, what);
    assert_true(len > 0 && (size_t)len < n);
    assert_non_null(mkdtemp(path));
}

static inline int tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes dir and everything below it. */
static inline void tu_rmrf(const char *dir)
{
    if (dir && *dir)
        assert_int_equal(nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Runs fn(arg) in a child process and asserts that it returned 0: for code that may
 * crash or trip a sanitizer, so that the crash fails this test and not the whole program.
 * fn must not use cmocka's assertions (they would go on running tests in the child); it
 * says what went wrong on stderr and returns non-zero. */
static inline void tu_in_child(int (*fn)(void *), void *arg, const char *what)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn(arg) ? 3 : 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        print_error("%s: %s %d\n", what, WIFSIGNALED(status) ? "killed by signal" : "exit status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* xorshift64*: the same sequence on every run, so a failure can be replayed. */
static inline uint64_t tu_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#endif
