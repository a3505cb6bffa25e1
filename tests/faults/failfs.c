/* failfs: an LD_PRELOAD shim that makes writes and syncs to one file fail on demand.
 *
 *   FAILFS_TARGET=data.mdb   file name (suffix) whose writes are affected
 *   FAILFS_SWITCH=/path      while this file exists, they fail
 *   FAILFS_ERRNO=28          the errno they fail with (default ENOSPC)
 *
 * It stands in for a disk that fills up or goes bad under a running server: the test
 * flips the switch, watches the server's answers, and flips it back. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static int failing(int fd)
{
    const char *sw = getenv("FAILFS_SWITCH");
    const char *target = getenv("FAILFS_TARGET");
    if (!sw || !target || access(sw, F_OK) != 0)
        return 0;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = 0;
    size_t tl = strlen(target);
    if ((size_t)n < tl || strcmp(path + n - tl, target) != 0)
        return 0;
    const char *e = getenv("FAILFS_ERRNO");
    errno = e ? atoi(e) : ENOSPC;
    return 1;
}

#define REAL(name, ret, args) static ret(*real_##name) args
REAL(pwrite, ssize_t, (int, const void *, size_t, off_t));
REAL(pwrite64, ssize_t, (int, const void *, size_t, off_t));
REAL(write, ssize_t, (int, const void *, size_t));
REAL(writev, ssize_t, (int, const struct iovec *, int));
REAL(pwritev, ssize_t, (int, const struct iovec *, int, off_t));
REAL(fsync, int, (int));
REAL(fdatasync, int, (int));

#define LOAD(name)                                                                                 \
    do {                                                                                           \
        if (!real_##name)                                                                          \
            real_##name = dlsym(RTLD_NEXT, #name);                                                 \
    } while (0)

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    LOAD(pwrite);
    return failing(fd) ? -1 : real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    LOAD(pwrite64);
    return failing(fd) ? -1 : real_pwrite64(fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    LOAD(write);
    return failing(fd) ? -1 : real_write(fd, buf, n);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    LOAD(writev);
    return failing(fd) ? -1 : real_writev(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    LOAD(pwritev);
    return failing(fd) ? -1 : real_pwritev(fd, iov, cnt, off);
}

int fsync(int fd)
{
    LOAD(fsync);
    return failing(fd) ? -1 : real_fsync(fd);
}

int fdatasync(int fd)
{
    LOAD(fdatasync);
    return failing(fd) ? -1 : real_fdatasync(fd);
}
