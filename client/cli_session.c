/* Setting a desk up and the session: connect, login, logout, passwd, whoami. */
#include "cli.h"

#include "pm_cert.h"
#include "pm_err.h"
#include "pm_util.h"

#include <errno.h>
#include <mbedtls/x509_crt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PASSWORD_BUF 256
#define CA_FILE_MAX  (64 * 1024)
#define PENDING_CA   "ca.crt.new"

/* ---- connect ---- */

static const char connect_help[] =
    "usage: practice connect HOST[:PORT] --fingerprint HEX\n"
    "       practice connect HOST[:PORT] --ca FILE\n"
    "\n"
    "Sets this computer up to use the practice's server, then connects once to prove it\n"
    "and shows the practice's name and time zone. The port defaults to 7440.\n"
    "\n"
    "Options:\n"
    "  --fingerprint HEX   fetch the practice's certificate authority from the server and\n"
    "                      keep it only if its SHA-256 fingerprint is HEX: the\n"
    "                      'ca-fingerprint' that 'practiced init' printed (colons allowed)\n"
    "  --ca FILE           use this CA certificate (PEM), e.g. a copy of the server's ca.crt\n"
    "\n"
    "A session saved for another server is forgotten; log in again afterwards.\n"
    "\n"
    "Examples:\n"
    "  practice connect 192.168.1.10 --fingerprint 3f2a9c...e9\n"
    "  practice connect server.riverside.lan:7440 --ca riverside-ca.crt\n";

/* "host", "host:port", "[v6]" or "[v6]:port". */
static int split_host_port(cli *c, const char *arg, char *host, size_t n, int *port)
{
    const char *port_s = NULL;
    size_t hlen;
    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');
        if (!close || (close[1] && close[1] != ':'))
            return cli_fail(c, PM_E_INVALID_ARGUMENT, "HOST", "'%s' is not HOST[:PORT]", arg);
        hlen = (size_t)(close - arg - 1);
        arg++;
        port_s = close[1] ? close + 2 : NULL;
    } else {
        const char *colon = strchr(arg, ':');
        int one_colon = colon && !strchr(colon + 1, ':');
        hlen = one_colon ? (size_t)(colon - arg) : strlen(arg);
        port_s = one_colon ? colon + 1 : NULL;
    }
    if (hlen == 0 || hlen >= n)
        return cli_fail(c, PM_E_INVALID_ARGUMENT, "HOST", "'%s' is not HOST[:PORT]", arg);
    memcpy(host, arg, hlen);
    host[hlen] = 0;
    *port = CLI_DEFAULT_PORT;
    if (port_s) {
        unsigned long p;
        int rc = cli_parse_uint(c, "PORT", port_s, 1, 65535, &p);
        if (rc)
            return rc;
        *port = (int)p;
    }
    return CLI_EXIT_OK;
}

/* Copies a CA certificate the user gave into path, after checking that it is one. */
static int copy_ca(cli *c, const char *file, const char *path)
{
    FILE *f = fopen(file, "re");
    if (!f)
        return cli_fail(c, PM_E_INVALID_ARGUMENT, "--ca", "cannot open %s: %s", file,
                        strerror(errno));
    char *buf = malloc(CA_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    }
    size_t len = fread(buf, 1, CA_FILE_MAX, f);
    int too_big = len == CA_FILE_MAX;
    fclose(f);
    buf[len] = 0;
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    int parsed = !too_big && strstr(buf, "-----BEGIN CERTIFICATE-----") &&
                 mbedtls_x509_crt_parse(&crt, (const unsigned char *)buf, len + 1) == 0;
    mbedtls_x509_crt_free(&crt);
    int rc = parsed ? pm_write_file(path, buf, len, 0600) : PM_E_INVALID_ARGUMENT;
    free(buf);
    if (rc == PM_E_INVALID_ARGUMENT)
        return cli_fail(c, rc, "--ca", "%s is not a PEM certificate", file);
    if (rc)
        return cli_fail(c, rc, NULL, "cannot write %s: %s", path, pm_strerror(rc));
    return CLI_EXIT_OK;
}

static int fetch_ca(cli *c, const char *fp, const char *path)
{
    uint8_t raw[32];
    if (pm_unhex(fp, raw, sizeof raw) != (int)sizeof raw)
        return cli_fail(c, PM_E_INVALID_ARGUMENT, "--fingerprint",
                        "a fingerprint is 64 hex digits (colons allowed)");
    char err[512];
    int rc = pc_fetch_ca(c->cfg.host, c->cfg.port, fp, path, err, sizeof err);
    if (rc)
        return cli_fail(c, rc, NULL, "%s", err);
    return CLI_EXIT_OK;
}

/* Whether the configuration already named this server with this CA (keep the session). */
static int same_server(const cli_config *old, const cli_config *now, const char *new_fp)
{
    char path[PATH_MAX + 16], old_fp[65];
    if (!old->have_server || strcmp(old->host, now->host) != 0 || old->port != now->port ||
        cfg_path(old, CFG_CA_FILE, path, sizeof path) ||
        pm_cert_fingerprint_file(path, old_fp) != PM_OK)
        return 0;
    return strcmp(old_fp, new_fp) == 0;
}

static int print_connected(cli *c, const char *fp)
{
    char pretty[96];
    pm_cert_fingerprint_pretty(fp, pretty);
    if (c->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "host", cj_string(c->cfg.host));
        json_object_object_add(o, "port", json_object_new_int(c->cfg.port));
        json_object_object_add(o, "practice", cj_string(pc_practice_name(c->pc)));
        json_object_object_add(o, "timezone", cj_string(pc_timezone(c->pc)));
        json_object_object_add(o, "ca_fingerprint", cj_string(fp));
        json_object_object_add(o, "config_dir", cj_string(c->cfg.dir));
        cj_print(o);
        return CLI_EXIT_OK;
    }
    printf("Connected to \"%s\" at %s:%d (time zone %s).\n"
           "CA fingerprint: %s\n"
           "Settings saved in %s.\n"
           "Next: practice login\n",
           pc_practice_name(c->pc), c->cfg.host, c->cfg.port, pc_timezone(c->pc), pretty,
           c->cfg.dir);
    return CLI_EXIT_OK;
}

/* Tries the pending CA, then makes it and the server the configuration. */
static int try_and_keep(cli *c, const cli_config *old, const char *pending)
{
    pc_opts o = {.host = c->cfg.host,
                 .port = c->cfg.port,
                 .ca_file = pending,
                 .client_name = "practice-cli/" PM_VERSION};
    c->pc = pc_new(&o);
    if (!c->pc)
        return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    int rc = cli_connect(c);
    if (rc)
        return rc;
    char fp[65], ca[PATH_MAX + 16];
    if (pm_cert_fingerprint_file(pending, fp) != PM_OK ||
        cfg_path(&c->cfg, CFG_CA_FILE, ca, sizeof ca))
        return cli_fail(c, PM_E_CONFIG, NULL, "cannot read back %s", pending);
    int keep_session = same_server(old, &c->cfg, fp);
    if (rename(pending, ca) != 0)
        return cli_fail(c, PM_E_IO, NULL, "cannot save %s: %s", ca, strerror(errno));
    if ((rc = cfg_save_server(&c->cfg)) || (!keep_session && (rc = cfg_drop_session(&c->cfg))))
        return cli_fail(c, rc, NULL, "cannot save the configuration in %s: %s", c->cfg.dir,
                        pm_strerror(rc));
    return print_connected(c, fp);
}

static int cmd_connect(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"fingerprint", required_argument, 0, 'f'},
                                         {"ca", required_argument, 0, 'c'},
                                         HELP_OPTION,
                                         END_OPTIONS};
    const char *fp = NULL, *ca_file = NULL;
    int o;
    while ((o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == 'f')
            fp = optarg;
        else
            ca_file = optarg;
    }
    if (o != -1)
        return cli_opt_exit(o);
    if (argc - optind != 1)
        return cli_usage_error(c, "give the server as HOST or HOST:PORT");
    if (!fp == !ca_file)
        return cli_usage_error(c, "give exactly one of --fingerprint and --ca");
    int rc = cfg_locate(&c->cfg);
    if (rc)
        return cli_fail(c, rc, NULL, "cannot find a configuration directory: set PRACTICE_CONFIG");
    cli_config old = c->cfg;
    if (cfg_load_server(&old) != PM_OK)
        old.have_server = 0;
    if ((rc = split_host_port(c, argv[optind], c->cfg.host, sizeof c->cfg.host, &c->cfg.port)))
        return rc;
    char pending[PATH_MAX + 16];
    if ((rc = cfg_make_dir(&c->cfg)) ||
        (rc = cfg_path(&c->cfg, PENDING_CA, pending, sizeof pending)))
        return cli_fail(c, rc, NULL, "cannot create %s: %s", c->cfg.dir, pm_strerror(rc));
    rc = fp ? fetch_ca(c, fp, pending) : copy_ca(c, ca_file, pending);
    if (rc == CLI_EXIT_OK)
        rc = try_and_keep(c, &old, pending);
    unlink(pending); /* gone already when kept */
    return rc;
}

/* ---- login ---- */

static const char login_help[] =
    "usage: practice login [USER] [--device NAME]\n"
    "\n"
    "Logs in and keeps the session for the commands that follow. Asks for the user name\n"
    "(unless given) and the password; on a terminal the password is not shown. When\n"
    "standard input is not a terminal, the password is read from it, one line.\n"
    "\n"
    "After a one-time password (a new account, or a manager's reset) you choose your own\n"
    "password at once: it is asked twice (two more lines on standard input). It needs at\n"
    "least 10 characters.\n"
    "\n"
    "Options:\n"
    "  --device NAME   this desk's name in the audit log (default: the host name)\n"
    "\n"
    "Examples:\n"
    "  practice login anna\n"
    "  printf '%s\\n' \"$PASSWORD\" | practice login anna --device 'front desk'\n";

static void default_device(char *buf, size_t n)
{
    if (gethostname(buf, n) != 0 || !*buf)
        snprintf(buf, n, "%s", "unnamed device");
    buf[n - 1] = 0;
}

static int change_password(cli *c, pm_arena *a, const char *old, const char *new_pw)
{
    Pm__ChangePassword *cp;
    Pm__Envelope *e = cli_request(a, PM__ENVELOPE__BODY_CHANGE_PASSWORD,
                                  &pm__change_password__descriptor, (void **)&cp);
    Pm__Envelope *resp = NULL;
    if (e) {
        cp->old_password = (char *)old;
        cp->new_password = (char *)new_pw;
    }
    return cli_call(c, e, a, PM__ENVELOPE__BODY_ACCOUNT_OK, &resp);
}

/* Replaces the one-time password just used; on a terminal, again after a refused one. */
static int replace_otp(cli *c, pm_arena *a, const char *otp)
{
    int tty = cli_stdin_is_tty();
    if (tty)
        fprintf(stderr, "That was a one-time password: choose your own now (at least 10 "
                        "characters).\n");
    char pw[PASSWORD_BUF];
    int rc = CLI_EXIT_INVALID;
    for (int attempt = 0; attempt < 3; attempt++) {
        rc = cli_read_new_password(c, pw, sizeof pw);
        if (rc == CLI_EXIT_OK)
            rc = change_password(c, a, otp, pw);
        cli_wipe(pw, sizeof pw);
        if (rc != CLI_EXIT_INVALID || !tty)
            break;
    }
    return rc;
}

/* Ends a session that must not be kept (its password change failed). */
static void quiet_logout(cli *c)
{
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Logout *l;
    Pm__Envelope *e =
        cli_request(&a, PM__ENVELOPE__BODY_LOGOUT, &pm__logout__descriptor, (void **)&l);
    Pm__Envelope *resp = NULL;
    if (e)
        pc_call(c->pc, e, &a, &resp);
    pm_arena_free(&a);
}

static int save_login(cli *c, const Pm__LoginOk *ok, const char *device, int replaced)
{
    const Pm__Account *acct = ok->account;
    memcpy(c->cfg.token, pc_token(c->pc), sizeof c->cfg.token);
    snprintf(c->cfg.user, sizeof c->cfg.user, "%s", acct ? acct->username : "");
    snprintf(c->cfg.device, sizeof c->cfg.device, "%s", device);
    int rc = cfg_save_session(&c->cfg);
    if (rc)
        return cli_fail(c, rc, NULL, "cannot save the session in %s: %s", c->cfg.dir,
                        pm_strerror(rc));
    if (c->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "account", acct ? cj_account(acct) : NULL);
        json_object_object_add(o, "practice", cj_string(pc_practice_name(c->pc)));
        json_object_object_add(o, "password_changed", json_object_new_boolean(replaced));
        json_object_object_add(o, "expires_at", cj_time(ok->expires_at));
        cj_print(o);
        return CLI_EXIT_OK;
    }
    char until[32];
    cp_time(ok->expires_at, until, sizeof until);
    if (replaced)
        printf("Your new password is set.\n");
    printf("Logged in to \"%s\" as %s (%s) until %s at the latest.\n", pc_practice_name(c->pc),
           c->cfg.user, acct ? cp_role_word(acct->role) : "?", until);
    return CLI_EXIT_OK;
}

static int login_as(cli *c, const char *user, const char *device)
{
    char pw[PASSWORD_BUF];
    if (cli_read_line("Password: ", 1, pw, sizeof pw) != 0)
        return cli_fail(c, PM_E_USAGE, NULL, "no password given");
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__LoginOk *ok;
    int rc = pc_login(c->pc, user, pw, device, &a, &ok);
    if (rc) {
        rc = cli_fail_call(c, rc);
    } else if (ok->must_change_password) {
        rc = replace_otp(c, &a, pw);
        if (rc)
            quiet_logout(c);
        else
            rc = save_login(c, ok, device, 1);
    } else {
        rc = save_login(c, ok, device, 0);
    }
    cli_wipe(pw, sizeof pw);
    pm_arena_free(&a);
    return rc;
}

static int cmd_login(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"device", required_argument, 0, 'd'}, HELP_OPTION, END_OPTIONS};
    char device[CLI_NAME_MAX], user[CLI_NAME_MAX];
    default_device(device, sizeof device);
    int o;
    while ((o = cli_opt(c, argc, argv, opts)) >= 0)
        snprintf(device, sizeof device, "%s", optarg);
    if (o != -1)
        return cli_opt_exit(o);
    if (argc - optind > 1)
        return cli_usage_error(c, "give at most one user name");
    int rc = cli_open_anonymous(c);
    if (rc)
        return rc;
    if (optind < argc)
        snprintf(user, sizeof user, "%s", argv[optind]);
    else if (cli_read_line("Username: ", 0, user, sizeof user) != 0 || !*user)
        return cli_fail(c, PM_E_USAGE, NULL, "no user name given");
    return login_as(c, user, device);
}

/* ---- logout ---- */

static const char logout_help[] = "usage: practice logout\n"
                                  "\n"
                                  "Ends the session on the server and forgets it here.\n";

static int print_logged_out(cli *c, const char *how)
{
    if (c->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "logged_out", json_object_new_boolean(1));
        json_object_object_add(o, "detail", cj_string(how));
        cj_print(o);
    } else {
        printf("%s\n", how);
    }
    return CLI_EXIT_OK;
}

static int cmd_logout(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {HELP_OPTION, END_OPTIONS};
    int o = cli_opt(c, argc, argv, opts);
    if (o != -1)
        return cli_opt_exit(o);
    if (optind < argc)
        return cli_usage_error(c, "logout takes no arguments");
    if (cfg_locate(&c->cfg) == PM_OK && cfg_load_session(&c->cfg) == PM_E_NOT_FOUND)
        return print_logged_out(c, "Not logged in.");
    int rc = cli_prepare(c, 1);
    if (rc)
        return rc;
    rc = pc_connect(c->pc);
    if (rc == PM_E_SESSION_EXPIRED || rc == PM_E_UNAUTHENTICATED || rc == PM_E_ACCOUNT_DISABLED ||
        rc == PM_E_NOT_FOUND) {
        cfg_drop_session(&c->cfg);
        return print_logged_out(c, "Logged out (the session had already ended).");
    }
    if (rc)
        return cli_fail_call(c, rc);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Logout *l;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e =
        cli_request(&a, PM__ENVELOPE__BODY_LOGOUT, &pm__logout__descriptor, (void **)&l);
    rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_OK, &resp);
    pm_arena_free(&a);
    if (rc)
        return rc;
    if ((rc = cfg_drop_session(&c->cfg)))
        return cli_fail(c, rc, NULL, "logged out, but cannot delete the saved session: %s",
                        pm_strerror(rc));
    return print_logged_out(c, "Logged out.");
}

/* ---- passwd ---- */

static const char passwd_help[] =
    "usage: practice passwd\n"
    "\n"
    "Changes your own password: asks for the current one, then the new one twice (when\n"
    "standard input is not a terminal: three lines). At least 10 characters. A manager\n"
    "resets someone else's with 'practice user passwd USER'.\n";

static int cmd_passwd(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {HELP_OPTION, END_OPTIONS};
    int o = cli_opt(c, argc, argv, opts);
    if (o != -1)
        return cli_opt_exit(o);
    if (optind < argc)
        return cli_usage_error(c, "passwd takes no arguments (for another user: practice "
                                  "user passwd USER)");
    int rc = cli_open(c);
    if (rc)
        return rc;
    char old[PASSWORD_BUF], pw[PASSWORD_BUF];
    if (cli_read_line("Current password: ", 1, old, sizeof old) != 0)
        return cli_fail(c, PM_E_USAGE, NULL, "no password given");
    rc = cli_read_new_password(c, pw, sizeof pw);
    pm_arena a;
    pm_arena_init(&a, 0);
    if (rc == CLI_EXIT_OK)
        rc = change_password(c, &a, old, pw);
    cli_wipe(old, sizeof old);
    cli_wipe(pw, sizeof pw);
    pm_arena_free(&a);
    if (rc)
        return rc;
    if (c->json) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "password_changed", json_object_new_boolean(1));
        cj_print(out);
    } else {
        printf("Password changed.\n");
    }
    return CLI_EXIT_OK;
}

/* ---- whoami ---- */

static const char whoami_help[] =
    "usage: practice whoami\n"
    "\n"
    "Shows who is logged in, on which practice server, from which device, and when the\n"
    "session ends at the latest.\n";

static void print_whoami(cli *c, const Pm__LoginOk *ok)
{
    const Pm__Account *a = ok->account;
    if (c->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "account", a ? cj_account(a) : NULL);
        json_object_object_add(o, "practice", cj_string(pc_practice_name(c->pc)));
        json_object_object_add(o, "timezone", cj_string(pc_timezone(c->pc)));
        json_object_object_add(o, "host", cj_string(c->cfg.host));
        json_object_object_add(o, "port", json_object_new_int(c->cfg.port));
        json_object_object_add(o, "device", cj_string(c->cfg.device));
        json_object_object_add(o, "expires_at", cj_time(ok->expires_at));
        json_object_object_add(o, "idle_timeout_s", json_object_new_int64(ok->idle_timeout_s));
        cj_print(o);
        return;
    }
    char until[32];
    cp_time(ok->expires_at, until, sizeof until);
    printf("%s (%s), %s\n", a ? a->username : "?", a ? a->display_name : "?",
           a ? cp_role_word(a->role) : "?");
    printf("Practice:  \"%s\" at %s:%d (time zone %s)\n", pc_practice_name(c->pc), c->cfg.host,
           c->cfg.port, pc_timezone(c->pc));
    printf("Device:    %s\n", c->cfg.device);
    printf("Session:   ends %s at the latest, or after %u minutes idle\n", until,
           ok->idle_timeout_s / 60);
}

static int cmd_whoami(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {HELP_OPTION, END_OPTIONS};
    int o = cli_opt(c, argc, argv, opts);
    if (o != -1)
        return cli_opt_exit(o);
    if (optind < argc)
        return cli_usage_error(c, "whoami takes no arguments");
    int rc = cli_open(c);
    if (rc)
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__Resume *r;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e =
        cli_request(&a, PM__ENVELOPE__BODY_RESUME, &pm__resume__descriptor, (void **)&r);
    if (e) {
        r->token.data = c->cfg.token;
        r->token.len = sizeof c->cfg.token;
        r->device = c->cfg.device;
    }
    rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_LOGIN_OK, &resp);
    if (rc == CLI_EXIT_OK)
        print_whoami(c, resp->login_ok);
    pm_arena_free(&a);
    return rc;
}

const cli_cmd cli_session_cmds[] = {
    {"connect", "set this computer up for the practice's server", connect_help, cmd_connect, NULL,
     NULL},
    {"login", "log in", login_help, cmd_login, NULL, NULL},
    {"logout", "end the session", logout_help, cmd_logout, NULL, NULL},
    {"passwd", "change your own password", passwd_help, cmd_passwd, NULL, NULL},
    {"whoami", "who is logged in", whoami_help, cmd_whoami, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
