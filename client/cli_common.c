/* What every practice command shares: option scanning, error reports and exit codes,
 * the connection to the server, and reading lines and passwords. */
#include "cli.h"

#include "pm_err.h"
#include "pm_time.h"

#include <errno.h>
#include <mbedtls/platform_util.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* ---- options ---- */

void cli_print_help(const cli *c, FILE *f)
{
    if (c->help)
        fputs(c->help, f);
    if (c->help_extra)
        c->help_extra(f);
}

/* The help's first paragraph: the usage lines. */
static void print_usage_lines(const cli *c, FILE *f)
{
    if (!c->help)
        return;
    const char *end = strstr(c->help, "\n\n");
    size_t n = end ? (size_t)(end - c->help) + 1 : strlen(c->help);
    fwrite(c->help, 1, n, f);
}

/* conflicts: the appointments a booking conflicts with, or NULL */
static void json_error(const char *code, const char *msg, const char *field, json_object *fields,
                       json_object *conflicts)
{
    json_object *e = json_object_new_object();
    json_object_object_add(e, "code", json_object_new_string(code));
    json_object_object_add(e, "message", json_object_new_string(msg));
    json_object_object_add(e, "field", json_object_new_string(field ? field : ""));
    json_object_object_add(e, "fields", fields ? fields : json_object_new_array());
    if (conflicts)
        json_object_object_add(e, "conflicts", conflicts);
    json_object *top = json_object_new_object();
    json_object_object_add(top, "error", e);
    fprintf(stderr, "%s\n",
            json_object_to_json_string_ext(top, JSON_C_TO_STRING_PLAIN |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(top);
}

int cli_usage_error(cli *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->json) {
        json_error("USAGE", msg, NULL, NULL, NULL);
        return CLI_EXIT_USAGE;
    }
    fprintf(stderr, "%s: %s\n", c->name, msg);
    if (c->help) {
        print_usage_lines(c, stderr);
        fprintf(stderr, "Run '%s --help' for the options and examples.\n", c->name);
    }
    return CLI_EXIT_USAGE;
}

int cli_opt(cli *c, int argc, char **argv, const struct option *opts)
{
    if (!c->opt_active) {
        optind = 0; /* GNU getopt: start a fresh scan */
        opterr = 0;
        c->opt_active = 1;
    }
    int o = getopt_long(argc, argv, ":h", opts, NULL);
    if (o == -1 || o == 'h' || o == '?' || o == ':')
        c->opt_active = 0;
    if (o == 'h') {
        cli_print_help(c, stdout);
        return CLI_OPT_HELP;
    }
    if (o == '?') {
        const char *arg = argv[optind - 1];
        if (arg[0] == '-' && arg[1] != '-')
            cli_usage_error(c, "unknown option -%c", optopt);
        else if (strchr(arg, '='))
            cli_usage_error(c, "unknown option, or one that takes no value: %s", arg);
        else
            cli_usage_error(c, "unknown or ambiguous option %s", arg);
        return CLI_OPT_BAD;
    }
    if (o == ':') {
        cli_usage_error(c, "option %s needs a value", argv[optind - 1]);
        return CLI_OPT_BAD;
    }
    return o;
}

int cli_opt_exit(int o)
{
    return o == CLI_OPT_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

int cli_scan_exit(int rc)
{
    return rc == CLI_OPT_HELP ? CLI_EXIT_OK : rc;
}

int cli_no_options(cli *c, int argc, char **argv, int operands, const char *usage)
{
    static const struct option opts[] = {HELP_OPTION, END_OPTIONS};
    int o = cli_opt(c, argc, argv, opts);
    if (o == CLI_OPT_HELP)
        return o;
    if (o != -1)
        return cli_opt_exit(o);
    if (argc - optind != operands)
        return cli_usage_error(c, "%s", usage);
    return CLI_EXIT_OK;
}

int cli_all_option(cli *c, int argc, char **argv, int *all)
{
    static const struct option opts[] = {{"all", no_argument, 0, 'a'}, HELP_OPTION, END_OPTIONS};
    int o;
    *all = 0;
    while ((o = cli_opt(c, argc, argv, opts)) >= 0)
        *all = 1;
    if (o == CLI_OPT_HELP)
        return o;
    if (o != -1)
        return cli_opt_exit(o);
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
    return CLI_EXIT_OK;
}

int cli_parse_uint(cli *c, const char *opt, const char *s, unsigned long min, unsigned long max,
                   unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *s == '-' || *end || errno || v < min || v > max)
        return cli_fail(c, PM_E_INVALID_ARGUMENT, opt, "%s: a whole number from %lu to %lu", opt,
                        min, max);
    *out = v;
    return CLI_EXIT_OK;
}

/* ---- errors ---- */

int cli_exit_code(int err)
{
    switch (err) {
    case PM_OK:
        return CLI_EXIT_OK;
    case PM_E_USAGE:
        return CLI_EXIT_USAGE;
    case PM_E_CONNECT:
    case PM_E_TLS:
    case PM_E_CERT:
    case PM_E_TIMEOUT:
    case PM_E_CLOSED:
    case PM_E_CONFIG:
    case PM_E_UNSUPPORTED_VERSION:
        return CLI_EXIT_CONNECT;
    case PM_E_UNAUTHENTICATED:
    case PM_E_BAD_CREDENTIALS:
    case PM_E_LOCKED:
    case PM_E_SESSION_EXPIRED:
    case PM_E_PASSWORD_CHANGE_REQUIRED:
    case PM_E_ACCOUNT_DISABLED:
        return CLI_EXIT_AUTH;
    case PM_E_PERMISSION_DENIED:
        return CLI_EXIT_DENIED;
    case PM_E_NOT_FOUND:
        return CLI_EXIT_NOT_FOUND;
    case PM_E_CONFLICT:
    case PM_E_ALREADY_EXISTS:
    case PM_E_OUTSIDE_AVAILABILITY:
    case PM_E_SLOT_FULL:
    case PM_E_PATIENT_BUSY:
    case PM_E_ROOM_BUSY:
        return CLI_EXIT_CONFLICT;
    case PM_E_INVALID_ARGUMENT:
        return CLI_EXIT_INVALID;
    default:
        return CLI_EXIT_SERVER;
    }
}

int cli_fail(cli *c, int err, const char *field, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->json) {
        json_object *fields = json_object_new_array();
        if (field) {
            json_object *f = json_object_new_object();
            json_object_object_add(f, "field", json_object_new_string(field));
            json_object_object_add(f, "message", json_object_new_string(msg));
            json_object_array_add(fields, f);
        }
        json_error(pm_err_name(err), msg, field, fields, NULL);
    } else {
        fprintf(stderr, "%s: %s\n", c->name, msg);
    }
    return cli_exit_code(err);
}

static const struct {
    const char *field, *option;
} field_options[] = {
    {"username", "USER"},
    {"role", "--role"},
    {"display_name", "--name"},
    {"location", "--location"},
    {"new_password", "new password"},
    {"old_password", "current password"},
    {"mrn", "MRN"},
    {"phone", "--phone"},
    {"limit", "--limit"},
};

const char *cli_field_option(const cli *c, const char *field, char *buf, size_t n)
{
    unsigned idx;
    const char *p = c && c->field_option ? c->field_option(field) : NULL;
    if (p)
        return p;
    if (sscanf(field, "phones[%u]", &idx) == 1) {
        snprintf(buf, n, "--phone #%u", idx + 1);
        return buf;
    }
    p = patient_field_option(field);
    if (p)
        return p;
    for (size_t i = 0; i < sizeof field_options / sizeof field_options[0]; i++)
        if (strcmp(field_options[i].field, field) == 0)
            return field_options[i].option;
    return NULL;
}

/* "date_of_birth (--dob): not a date; first_name (--first): required" */
static void describe_fields(const cli *c, const Pm__Error *e, char *out, size_t n)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < e->n_fields && used < n; i++) {
        char buf[32];
        const char *opt = cli_field_option(c, e->fields[i]->field, buf, sizeof buf);
        int w = snprintf(out + used, n - used, "%s%s%s%s%s: %s", i ? "; " : "", e->fields[i]->field,
                         opt ? " (" : "", opt ? opt : "", opt ? ")" : "", e->fields[i]->message);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

static json_object *json_fields(const Pm__Error *e)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; e && i < e->n_fields; i++) {
        json_object *f = json_object_new_object();
        json_object_object_add(f, "field", json_object_new_string(e->fields[i]->field));
        json_object_object_add(f, "message", json_object_new_string(e->fields[i]->message));
        json_object_array_add(arr, f);
    }
    return arr;
}

/* The message for a failure the user must act on in a particular way. */
static const char *advice(cli *c, int err)
{
    switch (err) {
    case PM_E_SESSION_EXPIRED:
    case PM_E_UNAUTHENTICATED:
        cfg_drop_session(&c->cfg);
        return "session expired; run 'practice login'";
    case PM_E_ACCOUNT_DISABLED:
        cfg_drop_session(&c->cfg);
        return "this account is disabled; ask a manager";
    case PM_E_PASSWORD_CHANGE_REQUIRED:
        return "you are logged in with a one-time password: set your own with 'practice "
               "passwd'";
    default:
        return NULL;
    }
}

/* What a booking conflicted with, looked up (which replaces the client's last error). */
static json_object *conflicts_of(cli *c, const Pm__Error *e, char *out, size_t n)
{
    out[0] = 0;
    if (!e || !e->n_conflicts)
        return NULL;
    uint64_t ids[CLI_CONFLICTS_MAX];
    size_t nids = e->n_conflicts < CLI_CONFLICTS_MAX ? e->n_conflicts : CLI_CONFLICTS_MAX;
    memcpy(ids, e->conflicts, sizeof ids[0] * nids);
    json_object *arr = c->json ? json_object_new_array() : NULL;
    cli_describe_conflicts(c, ids, nids, e->n_conflicts, out, n, arr);
    return arr;
}

int cli_fail_call(cli *c, int err)
{
    const Pm__Error *e = c->pc ? pc_last_error_detail(c->pc) : NULL;
    const char *server_msg =
        c->pc && *pc_last_error(c->pc) ? pc_last_error(c->pc) : pm_strerror(err);
    const char *field = e && *e->field ? e->field : NULL;
    char msg[2600];
    const char *special = advice(c, err);
    if (special) {
        snprintf(msg, sizeof msg, "%s", special);
    } else if (err == PM_E_INVALID_ARGUMENT && e && e->n_fields) {
        char detail[1400];
        describe_fields(c, e, detail, sizeof detail);
        snprintf(msg, sizeof msg, "invalid input: %s", detail);
    } else if (err == PM_E_INVALID_ARGUMENT && field) {
        char buf[32];
        const char *opt = cli_field_option(c, field, buf, sizeof buf);
        snprintf(msg, sizeof msg, "invalid input: %s%s%s%s: %s", field, opt ? " (" : "",
                 opt ? opt : "", opt ? ")" : "", server_msg);
    } else if (err == PM_E_CONFLICT) {
        snprintf(msg, sizeof msg, "not saved: %s", server_msg);
    } else {
        snprintf(msg, sizeof msg, "%s", server_msg);
    }
    char field_copy[64] = "";
    if (field)
        snprintf(field_copy, sizeof field_copy, "%s", field);
    json_object *jfields = c->json ? json_fields(e) : NULL;
    /* the last: looking the conflicts up replaces the client's last error */
    char conflicts[1400];
    json_object *jconflicts = conflicts_of(c, e, conflicts, sizeof conflicts);
    /* in words, one line each under the message; in JSON, as the list "conflicts" */
    for (char *line = conflicts; *line && !c->json;) {
        size_t len = strcspn(line, "\n"), used = strlen(msg);
        snprintf(msg + used, sizeof msg - used, "\n  conflicts with %.*s", (int)len, line);
        line += len + (line[len] == '\n');
    }
    if (c->json)
        json_error(pm_err_name(err), msg, *field_copy ? field_copy : NULL, jfields, jconflicts);
    else
        fprintf(stderr, "%s: %s\n", c->name, msg);
    return cli_exit_code(err);
}

/* ---- connection ---- */

int cli_prepare(cli *c, int with_session)
{
    int rc = cfg_locate(&c->cfg);
    if (rc)
        return cli_fail(c, rc, NULL, "cannot find a configuration directory: set PRACTICE_CONFIG");
    rc = cfg_load_server(&c->cfg);
    if (rc == PM_E_NOT_FOUND)
        return cli_fail(c, PM_E_CONFIG, NULL,
                        "no practice server set up; run 'practice connect HOST --fingerprint "
                        "HEX' first");
    if (rc)
        return cli_fail(c, rc, NULL, "cannot read the configuration in %s", c->cfg.dir);
    if (with_session) {
        rc = cfg_load_session(&c->cfg);
        if (rc == PM_E_NOT_FOUND)
            return cli_fail(c, PM_E_UNAUTHENTICATED, NULL, "not logged in; run 'practice login'");
        if (rc)
            return cli_fail(c, rc, NULL, "cannot read the saved session in %s", c->cfg.dir);
    }
    char ca[PATH_MAX + 16];
    if (cfg_path(&c->cfg, CFG_CA_FILE, ca, sizeof ca))
        return cli_fail(c, PM_E_CONFIG, NULL, "configuration path too long");
    pc_opts o = {.host = c->cfg.host,
                 .port = c->cfg.port,
                 .ca_file = ca,
                 .client_name = "practice-cli/" PM_VERSION};
    c->pc = pc_new(&o);
    if (!c->pc)
        return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    if (with_session) {
        pc_set_device(c->pc, c->cfg.device);
        pc_set_token(c->pc, c->cfg.token, sizeof c->cfg.token);
    }
    return CLI_EXIT_OK;
}

void cli_use_practice_zone(cli *c)
{
    /* Times people read and type are the practice's, wherever this desk is. */
    if (pm_tz_use(pc_timezone(c->pc)) != PM_OK)
        pm_tz_set("UTC0");
}

int cli_connect(cli *c)
{
    int rc = pc_connect(c->pc);
    if (rc)
        return cli_fail_call(c, rc);
    cli_use_practice_zone(c);
    return CLI_EXIT_OK;
}

int cli_open_anonymous(cli *c)
{
    int rc = cli_prepare(c, 0);
    return rc ? rc : cli_connect(c);
}

int cli_open(cli *c)
{
    int rc = cli_prepare(c, 1);
    return rc ? rc : cli_connect(c);
}

void cli_close(cli *c)
{
    pc_free(c->pc);
    c->pc = NULL;
    cli_wipe(c->cfg.token, sizeof c->cfg.token);
}

int cli_call(cli *c, Pm__Envelope *req, pm_arena *a, Pm__Envelope__BodyCase want,
             Pm__Envelope **resp)
{
    if (!req)
        return cli_fail(c, PM_E_NOMEM, NULL, "out of memory");
    Pm__Envelope *r = NULL;
    int rc = pc_call(c->pc, req, a, &r);
    if (rc)
        return cli_fail_call(c, rc);
    if (!r || r->body_case != want)
        return cli_fail(c, PM_E_PROTOCOL, NULL, "the server gave an unexpected answer");
    *resp = r;
    return CLI_EXIT_OK;
}

Pm__Envelope *cli_request(pm_arena *a, Pm__Envelope__BodyCase body,
                          const ProtobufCMessageDescriptor *desc, void **msg)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&pm__envelope__descriptor, (unsigned)body);
    Pm__Envelope *e = pc_env(a, body);
    void *m = pm_msg_new(a, desc);
    if (!f || !e || !m)
        return NULL;
    /* the oneof member for this body, found by the descriptor rather than by name */
    *(void **)((char *)e + f->offset) = m;
    *msg = m;
    return e;
}

/* ---- input ---- */

static struct termios saved_tty;
static volatile sig_atomic_t echo_off;

static void restore_echo(void)
{
    if (echo_off) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
        echo_off = 0;
    }
}

static void on_signal(int sig)
{
    restore_echo();
    signal(sig, SIG_DFL);
    raise(sig);
}

void cli_catch_stop(void (*handler)(int), int hup)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (hup)
        sigaction(SIGHUP, &sa, NULL);
}

int cli_stdin_is_tty(void)
{
    return isatty(STDIN_FILENO);
}

static void set_echo(int on)
{
    if (!on) {
        if (tcgetattr(STDIN_FILENO, &saved_tty) != 0)
            return;
        struct termios t = saved_tty;
        t.c_lflag &= ~(tcflag_t)ECHO;
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGHUP, on_signal);
        if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
            echo_off = 1;
    } else {
        restore_echo();
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
    }
}

int cli_read_line(const char *prompt, int secret, char *buf, size_t n)
{
    int tty = cli_stdin_is_tty();
    if (tty) {
        /* echo off before the prompt, so that nothing typed after it shows */
        if (secret)
            set_echo(0);
        fputs(prompt, stderr);
        fflush(stderr);
    }
    char *got = fgets(buf, (int)n, stdin);
    if (tty && secret) {
        set_echo(1);
        fputc('\n', stderr);
    }
    if (!got)
        return -1;
    size_t len = strlen(buf);
    if (len && buf[len - 1] != '\n' && !feof(stdin)) {
        int ch;
        while ((ch = getchar()) != EOF && ch != '\n')
            ;
        cli_wipe(buf, n);
        return -1; /* longer than any name or password */
    }
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        buf[--len] = 0;
    return 0;
}

int cli_read_new_password(cli *c, char *buf, size_t n)
{
    char again[256];
    int tty = cli_stdin_is_tty();
    for (int attempt = 0; attempt < 3; attempt++) {
        if (cli_read_line("New password: ", 1, buf, n) ||
            cli_read_line("New password again: ", 1, again, sizeof again))
            return cli_fail(c, PM_E_USAGE, NULL, "no new password given");
        int same = strcmp(buf, again) == 0;
        cli_wipe(again, sizeof again);
        if (same)
            return CLI_EXIT_OK;
        if (!tty)
            break;
        fprintf(stderr, "The two passwords differ; try again.\n");
    }
    cli_wipe(buf, n);
    return cli_fail(c, PM_E_INVALID_ARGUMENT, "new password", "the two new passwords differ");
}

void cli_wipe(void *p, size_t n)
{
    mbedtls_platform_zeroize(p, n);
}
