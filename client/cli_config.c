/* The configuration directory: which server ('config'), the practice's CA ('ca.crt') and
 * the session token of the last login ('session'). The directory is 0700, every file
 * 0600, and every file is replaced atomically. Files are "key value" lines. */
#include "cli.h"

#include "pm_cert.h"
#include "pm_err.h"
#include "pm_util.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SERVER_FILE  "config"
#define SESSION_FILE "session"
#define FILE_MAX     8192

int cfg_locate(cli_config *cfg)
{
    const char *env = getenv("PRACTICE_CONFIG");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;
    if (env && *env) {
        n = snprintf(cfg->dir, sizeof cfg->dir, "%s", env);
    } else if (xdg && *xdg == '/') {
        n = snprintf(cfg->dir, sizeof cfg->dir, "%s/practice", xdg);
    } else {
        if (!home || !*home) {
            struct passwd *pw = getpwuid(getuid());
            home = pw ? pw->pw_dir : NULL;
        }
        if (!home)
            return PM_E_CONFIG;
        n = snprintf(cfg->dir, sizeof cfg->dir, "%s/.config/practice", home);
    }
    return n > 0 && (size_t)n < sizeof cfg->dir ? PM_OK : PM_E_CONFIG;
}

int cfg_path(const cli_config *cfg, const char *name, char *out, size_t n)
{
    int w = snprintf(out, n, "%s/%s", cfg->dir, name);
    return w > 0 && (size_t)w < n ? PM_OK : PM_E_CONFIG;
}

int cfg_make_dir(const cli_config *cfg)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", cfg->dir);
    /* parents as needed, then the directory itself */
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return pm_err_from_errno(errno);
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return pm_err_from_errno(errno);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return PM_E_CONFIG;
    if ((st.st_mode & 0777) != 0700 && chmod(path, 0700) != 0)
        return pm_err_from_errno(errno);
    return PM_OK;
}

/* Reads a small file whole, NUL-terminated. PM_E_NOT_FOUND when it does not exist. */
static int read_small(const cli_config *cfg, const char *name, char *buf, size_t n)
{
    char path[PATH_MAX + 16];
    if (cfg_path(cfg, name, path, sizeof path))
        return PM_E_CONFIG;
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? PM_E_NOT_FOUND : pm_err_from_errno(errno);
    size_t len = fread(buf, 1, n - 1, f);
    int err = ferror(f) || !feof(f);
    fclose(f);
    if (err)
        return PM_E_CONFIG;
    buf[len] = 0;
    return PM_OK;
}

/* The value of "key value" in text, copied to out; 0 if found. */
static int kv_get(const char *text, const char *key, char *out, size_t n)
{
    size_t klen = strlen(key);
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > klen && memcmp(line, key, klen) == 0 && line[klen] == ' ') {
            size_t vlen = len - klen - 1;
            if (vlen >= n)
                return -1;
            memcpy(out, line + klen + 1, vlen);
            out[vlen] = 0;
            return 0;
        }
        line += len + (end ? 1 : 0);
    }
    return -1;
}

static int write_small(const cli_config *cfg, const char *name, const char *text)
{
    char path[PATH_MAX + 16];
    int rc = cfg_make_dir(cfg);
    if (rc)
        return rc;
    if (cfg_path(cfg, name, path, sizeof path))
        return PM_E_CONFIG;
    return pm_write_file(path, text, strlen(text), 0600);
}

int cfg_load_server(cli_config *cfg)
{
    char text[FILE_MAX], port[16];
    cfg->have_server = 0;
    int rc = read_small(cfg, SERVER_FILE, text, sizeof text);
    if (rc)
        return rc;
    if (kv_get(text, "host", cfg->host, sizeof cfg->host) || !*cfg->host ||
        kv_get(text, "port", port, sizeof port))
        return PM_E_CONFIG;
    char *end;
    long p = strtol(port, &end, 10);
    if (*end || p < 1 || p > 65535)
        return PM_E_CONFIG;
    cfg->port = (int)p;
    cfg->have_server = 1;
    return PM_OK;
}

int cfg_save_server(const cli_config *cfg)
{
    char text[FILE_MAX];
    snprintf(text, sizeof text,
             "# The practice server, written by 'practice connect'.\nhost %s\nport %d\n", cfg->host,
             cfg->port);
    return write_small(cfg, SERVER_FILE, text);
}

int cfg_load_session(cli_config *cfg)
{
    char text[FILE_MAX], hex[80];
    cfg->have_token = 0;
    int rc = read_small(cfg, SESSION_FILE, text, sizeof text);
    if (rc)
        return rc;
    int bad = kv_get(text, "token", hex, sizeof hex) ||
              pm_unhex(hex, cfg->token, sizeof cfg->token) != (int)sizeof cfg->token;
    if (kv_get(text, "user", cfg->user, sizeof cfg->user))
        cfg->user[0] = 0;
    if (kv_get(text, "device", cfg->device, sizeof cfg->device))
        cfg->device[0] = 0;
    cli_wipe(text, sizeof text);
    cli_wipe(hex, sizeof hex);
    if (bad)
        return PM_E_CONFIG;
    cfg->have_token = 1;
    return PM_OK;
}

int cfg_save_session(const cli_config *cfg)
{
    char hex[65], text[FILE_MAX];
    pm_hex(cfg->token, sizeof cfg->token, hex);
    snprintf(text, sizeof text,
             "# The session of 'practice login'; keep it private.\ntoken %s\nuser %s\n"
             "device %s\n",
             hex, cfg->user, cfg->device);
    int rc = write_small(cfg, SESSION_FILE, text);
    cli_wipe(hex, sizeof hex);
    cli_wipe(text, sizeof text);
    return rc;
}

int cfg_drop_session(const cli_config *cfg)
{
    char path[PATH_MAX + 16];
    if (!*cfg->dir || cfg_path(cfg, SESSION_FILE, path, sizeof path))
        return PM_OK;
    if (unlink(path) != 0 && errno != ENOENT)
        return pm_err_from_errno(errno);
    return PM_OK;
}

int cfg_load_file(const cli_config *cfg, const char *name, char *buf, size_t n)
{
    return read_small(cfg, name, buf, n);
}

int cfg_save_file(const cli_config *cfg, const char *name, const char *text)
{
    return write_small(cfg, name, text);
}
