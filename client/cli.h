/* practice: the back-office command line. Pieces shared by its commands: the command
 * table, option parsing, exit codes, error reports, the saved configuration and session,
 * and the connection to the practice's server. */
#ifndef CLI_H
#define CLI_H

#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pc.h"

/* Exit codes, as 'practice --help' documents them. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_USAGE = 2,     /* bad command line */
    CLI_EXIT_CONNECT = 3,   /* cannot connect, TLS, certificate, not set up */
    CLI_EXIT_AUTH = 4,      /* not logged in, session expired, bad credentials, locked */
    CLI_EXIT_DENIED = 5,    /* the account's role may not do this */
    CLI_EXIT_NOT_FOUND = 6, /* no such patient or account */
    CLI_EXIT_CONFLICT = 7,  /* stale version, or already exists */
    CLI_EXIT_INVALID = 8,   /* invalid input */
    CLI_EXIT_SERVER = 9,    /* server, storage, busy, internal or local I/O error */
};

#define CLI_HOST_MAX     256
#define CLI_NAME_MAX     64
#define CLI_DEFAULT_PORT 7440

/* What 'practice connect' and 'practice login' remember, in the configuration directory. */
typedef struct cli_config {
    char dir[PATH_MAX];
    char host[CLI_HOST_MAX];
    int port;
    int have_server;
    uint8_t token[32];
    int have_token;
    char user[CLI_NAME_MAX];
    char device[CLI_NAME_MAX];
} cli_config;

typedef struct cli {
    int json;                    /* --json: machine-readable output */
    char name[96];               /* "practice patient add", for messages */
    const char *help;            /* the running command's help text */
    void (*help_extra)(FILE *f); /* prints generated parts of the help, or NULL */
    int opt_active;              /* an option scan is under way */
    /* the running command's option for a field the server names in an error, or NULL */
    const char *(*field_option)(const char *field);
    cli_config cfg;
    pc_client *pc;
} cli;

/* ---- commands ---- */

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    const char *help;                          /* usage, options, examples */
    int (*run)(cli *c, int argc, char **argv); /* argv[0] is the command's name */
    const struct cli_cmd *sub;                 /* a group: its commands, NULL-ended */
    void (*help_extra)(FILE *f);
} cli_cmd;

extern const cli_cmd cli_session_cmds[]; /* connect, login, logout, passwd, whoami */
extern const cli_cmd cli_patient_cmds[];
extern const cli_cmd cli_user_cmds[];
extern const cli_cmd cli_device_cmds[];
extern const cli_cmd cli_audit_cmds[]; /* audit, stats */
/* scheduling set-up (cli_setup.c, cli_template.c) */
extern const cli_cmd cli_location_cmds[];
extern const cli_cmd cli_room_cmds[];
extern const cli_cmd cli_provider_cmds[];
extern const cli_cmd cli_visit_type_cmds[];
extern const cli_cmd cli_template_cmds[];
extern const cli_cmd cli_exception_cmds[];
extern const cli_cmd cli_holiday_cmds[];
/* appointments (cli_appt.c, cli_schedule.c, cli_waitlist.c) */
extern const cli_cmd cli_appt_cmds[];     /* appt show|move|cancel|no-show|notes */
extern const cli_cmd cli_book_cmds[];     /* book, slots, appts */
extern const cli_cmd cli_schedule_cmds[]; /* schedule */
extern const cli_cmd cli_waitlist_cmds[];
extern const cli_cmd cli_watch_cmds[]; /* watch */
extern const cli_cmd cli_desk_cmds[];  /* desk (desk*.c) */

/* ---- options ---- */

#define CLI_OPT_HELP (-2) /* --help was given and printed: exit 0 */
#define CLI_OPT_BAD  (-3) /* a usage error was printed: exit 2 */

/* The last two entries of every command's option table. */
#define HELP_OPTION                                                                                \
    {                                                                                              \
        "help", no_argument, 0, 'h'                                                                \
    }
#define END_OPTIONS                                                                                \
    {                                                                                              \
        0, 0, 0, 0                                                                                 \
    }

/* The next option of argv (getopt_long with these long options, plus -h/--help), or -1 at
 * the end; then argv[optind...] are the operands. Prints the help or the usage error
 * itself, returning CLI_OPT_HELP or CLI_OPT_BAD. */
int cli_opt(cli *c, int argc, char **argv, const struct option *opts);
/* The exit code for a cli_opt result other than an option. */
int cli_opt_exit(int o);
/* The exit code of a command's scan that returned CLI_OPT_HELP (the help was printed: 0)
 * or an exit code. */
int cli_scan_exit(int rc);
/* Scans the command line of a command that has no options but --help and takes exactly
 * `operands` operands; usage is the usage error when the count is wrong. CLI_OPT_HELP
 * after the help, else an exit code. */
int cli_no_options(cli *c, int argc, char **argv, int operands, const char *usage);
/* The same for a list that takes no operands and whose one option is --all. */
int cli_all_option(cli *c, int argc, char **argv, int *all);
/* Reports a usage error (the command line is wrong) and returns CLI_EXIT_USAGE. */
int cli_usage_error(cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the running command's help to f. */
void cli_print_help(const cli *c, FILE *f);
/* Parses a whole number in [min, max] for option opt; reports invalid input. */
int cli_parse_uint(cli *c, const char *opt, const char *s, unsigned long min, unsigned long max,
                   unsigned long *out);

/* ---- errors ---- */

/* The exit code for a PM_E_* code. */
int cli_exit_code(int err);
/* Reports a local failure (err a PM_E_* code, field the option at fault or NULL) and
 * returns its exit code. */
int cli_fail(cli *c, int err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Reports what the last library call on c->pc failed with and returns its exit code. A
 * booking conflict names the appointments it conflicts with. */
int cli_fail_call(cli *c, int err);
#define CLI_CONFLICTS_MAX 8
/* Looks up appointments a request conflicted with (ids, n of total) and describes them in
 * out, one a line ("#12 Tue 2026-12-01 09:30-09:50 Núñez, José (100016), checkup,
 * dr-okafor"), adding one object per appointment to arr when it is not NULL. */
void cli_describe_conflicts(cli *c, const uint64_t *ids, size_t n, size_t total, char *out,
                            size_t outn, json_object *arr);
/* The command-line option for a field the server names in an error, or NULL. */
const char *cli_field_option(const cli *c, const char *field, char *buf, size_t n);
const char *patient_field_option(const char *field);

/* ---- configuration (cli_config.c) ---- */

/* Finds the configuration directory: $PRACTICE_CONFIG, $XDG_CONFIG_HOME/practice or
 * ~/.config/practice. */
int cfg_locate(cli_config *cfg);
/* Creates it (mode 0700) if need be. */
int cfg_make_dir(const cli_config *cfg);
/* Path of a file in it. */
int cfg_path(const cli_config *cfg, const char *name, char *out, size_t n);
int cfg_load_server(cli_config *cfg);
int cfg_save_server(const cli_config *cfg);
int cfg_load_session(cli_config *cfg);
int cfg_save_session(const cli_config *cfg);
/* Forgets the saved session; no error if there is none. */
int cfg_drop_session(const cli_config *cfg);
/* A small file of the directory, read whole and NUL-terminated (PM_E_NOT_FOUND when it
 * does not exist), or replaced atomically with mode 0600. */
int cfg_load_file(const cli_config *cfg, const char *name, char *buf, size_t n);
int cfg_save_file(const cli_config *cfg, const char *name, const char *text);

#define CFG_CA_FILE "ca.crt"

/* ---- connection (cli_common.c) ---- */

/* Loads the configuration (and with_session, the saved session) and makes the client,
 * not yet connected; reports what is missing. */
int cli_prepare(cli *c, int with_session);
/* Connects (resuming the session the client holds) and selects the practice's zone. */
int cli_connect(cli *c);
void cli_use_practice_zone(cli *c);
/* Loads the configuration and connects, without a session (login). */
int cli_open_anonymous(cli *c);
/* Loads the configuration and the saved session and connects, resuming it; reports a
 * missing or expired session ("run 'practice login'"). */
int cli_open(cli *c);
void cli_close(cli *c);
/* Sends req and expects an answer of kind want; reports any failure and returns its exit
 * code (0 on success, with *resp set). */
int cli_call(cli *c, Pm__Envelope *req, pm_arena *a, Pm__Envelope__BodyCase want,
             Pm__Envelope **resp);
/* A request envelope of the given kind with its body message allocated in a. NULL when
 * out of memory. */
Pm__Envelope *cli_request(pm_arena *a, Pm__Envelope__BodyCase body,
                          const ProtobufCMessageDescriptor *desc, void **msg);

/* ---- input (cli_common.c) ---- */

/* Reads one line: from the terminal with prompt (echo off when secret), or from stdin
 * without prompt when it is not a terminal. Returns 0, or -1 at end of input. */
int cli_read_line(const char *prompt, int secret, char *buf, size_t n);
/* Calls handler on SIGINT and SIGTERM (and SIGHUP when hup), without SA_RESTART, so that
 * a wait in poll() ends at once and the caller sees its stop flag. */
void cli_catch_stop(void (*handler)(int), int hup);
int cli_stdin_is_tty(void);
/* Reads a new password twice (again on a terminal when the two differ). */
int cli_read_new_password(cli *c, char *buf, size_t n);
/* Wipes a secret. */
void cli_wipe(void *p, size_t n);

/* ---- output (cli_json.c, cli_print.c) ---- */

/* Prints o to stdout as JSON and releases it. */
void cj_print(json_object *o);
json_object *cj_string(const char *s);
json_object *cj_time(uint64_t utc_seconds);
json_object *cj_patient(const Pm__Patient *p);
json_object *cj_account(const Pm__Account *a);
json_object *cj_audit_entry(const Pm__AuditEntry *e);
json_object *cj_stats(const Pm__Stats *s);
/* Any message, field by field with the names of the wire contract: enums as lower-case
 * words (error codes as their upper-case names), instants (start, end, time, *_at) as UTC
 * text with a "<name>_local" twin in the practice's zone, absent messages with their
 * defaults, and of a oneof only the member that is set. */
json_object *cj_message(const ProtobufCMessage *m);
/* Prints n messages (v: a repeated message field) as one JSON array of cj_message's. */
void cj_print_messages(void *const *v, size_t n);

const char *cp_sex_word(Pm__Sex s);
const char *cp_phone_kind_word(Pm__PhoneKind k);
const char *cp_role_word(Pm__Role r);
int cp_role_parse(const char *s, Pm__Role *out);
/* "YYYY-MM-DD HH:MM" in the practice's time zone; "" for 0. */
void cp_time(uint64_t utc_seconds, char *buf, size_t n);

/* One option of a help text: its name and value on the left, the text wrapped beside. */
void cp_help_line(FILE *f, const char *left, const char *text);

/* A table printed in aligned columns. Cells are copied. */
typedef struct cp_table {
    size_t ncols, nrows, cap;
    char **cells; /* nrows * ncols, row 0 the header */
} cp_table;

int cp_table_init(cp_table *t, size_t ncols, const char *const *header);
/* Adds a row of ncols cells (NULL is empty). */
int cp_table_row(cp_table *t, const char *const *cells);
void cp_table_print(const cp_table *t, FILE *f);
void cp_table_free(cp_table *t);
/* The end of a table built for stdout: printed unless bad (a row or the table could not
 * be made), then freed. The exit code: out of memory (reported) when bad. */
int cli_print_table(cli *c, cp_table *t, int bad);

/* "  Label           value": one field of a record shown to a person; further lines of
 * the same field go under the value. */
void cp_label(FILE *f, const char *name, const char *value);
void cp_label_more(FILE *f, const char *value);
/* An address's lines, labelled "Address". */
void cp_address(FILE *f, const Pm__Address *a);
void cp_patient(FILE *f, const Pm__Patient *p);
/* One line of a patient table: MRN, name, date of birth, sex, phone. */
int cp_patient_row(cp_table *t, const Pm__Patient *p);
extern const char *const cp_patient_header[5];
void cp_account(FILE *f, const Pm__Account *a);
int cp_account_row(cp_table *t, const Pm__Account *a);
extern const char *const cp_account_header[5];

#endif
