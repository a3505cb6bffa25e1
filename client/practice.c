/* practice: the back-office command line of a Practiced practice. main() finds the
 * command in the tables each cli_*.c file exports and runs it. */
#include "board.h"
#include "cli.h"
#include "simulate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char top_help[] =
    "usage: practice [--json] COMMAND [ARGS...]\n"
    "\n"
    "The back-office client of a Practiced practice: patients, appointments, the set-up\n"
    "of the schedule, staff accounts and the audit log. Run 'practice COMMAND --help' for\n"
    "a command's options and examples.\n"
    "\n"
    "Setting up:\n"
    "  connect HOST[:PORT]       trust the practice's server and remember it\n"
    "  login [USER]              log in (a one-time password is replaced at once)\n"
    "  logout                    end the session\n"
    "  passwd                    change your own password\n"
    "  whoami                    who is logged in, where, until when\n"
    "\n"
    "Patients:\n"
    "  patient add|show|edit|search|list\n"
    "\n"
    "Appointments (times are the practice's: \"tomorrow 9:00\", \"mon 10:00\"):\n"
    "  slots VISIT-TYPE          the next free times, numbered\n"
    "  book MRN VISIT-TYPE       book one (--at, or --slot N of the last listing) or a series\n"
    "  appt show|move|cancel|no-show|notes ID\n"
    "  appts MRN                 a patient's coming (--past: earlier) appointments\n"
    "  schedule                  a day (or --week) of a provider, location or room as a grid\n"
    "  waitlist add|list|remove|accept|decline|watch\n"
    "  watch [TOPIC...]          changes and waitlist offers as they happen\n"
    "\n"
    "Setting up the schedule:\n"
    "  location|room|provider|visit-type add|edit|show|list\n"
    "  template set|show|list|remove   providers' weekly hours\n"
    "  exception add|list|remove       time off, meetings, blocked time\n"
    "  holiday add|list|remove         days closed\n"
    "\n"
    "Waiting room and demos:\n"
    "  board                     the waiting room's screen (as a display device)\n"
    "  simulate                  play a clinic day against a server with a fast clock\n"
    "\n"
    "Managers:\n"
    "  user add|list|disable|enable|passwd   staff accounts\n"
    "  device add                waiting-room display accounts\n"
    "  audit                     who read or changed what, and when\n"
    "  stats                     the server's request counts and latencies\n"
    "\n"
    "Global options (before or after the command):\n"
    "  --json                    machine-readable output on stdout; errors as JSON on\n"
    "                            stderr: {\"error\": {\"code\", \"message\", \"field\", "
    "\"fields\"}},\n"
    "                            with \"conflicts\" (the appointments in the way) for a\n"
    "                            booking conflict\n"
    "  -h, --help                help (for a command: 'practice patient add --help')\n"
    "  --version                 the client's version\n"
    "\n"
    "Exit codes:\n"
    "  0  ok\n"
    "  2  usage: unknown option, missing or extra arguments\n"
    "  3  cannot connect: server unreachable, TLS or certificate failure, not set up\n"
    "  4  not logged in, session expired, wrong password, account locked or disabled\n"
    "  5  permission denied for your role\n"
    "  6  not found\n"
    "  7  conflict: changed by someone else since you read it, or already exists; a time\n"
    "     outside the provider's hours, fully booked, the patient or the room already\n"
    "     booked (the message names the appointments in the way)\n"
    "  8  invalid input (the message names the field at fault)\n"
    "  9  server, storage, busy or internal error; local file error; audit chain broken\n"
    "\n"
    "Files: $PRACTICE_CONFIG, else $XDG_CONFIG_HOME/practice, else ~/.config/practice\n"
    "(mode 0700) holds the server address, the practice's CA certificate and the session.\n"
    "\n"
    "Examples:\n"
    "  practice connect desk.example.org --fingerprint 3f2a...e9\n"
    "  practice login anna\n"
    "  practice patient search garcia --dob 1984-03-02\n"
    "  practice slots checkup --provider dr-okafor && practice book 100016 checkup --slot 1\n"
    "  practice schedule --location main --day tomorrow\n"
    "  practice --json patient show 100016\n";

static const cli_cmd top_cmds[] = {
    {"patient", "patients", NULL, NULL, cli_patient_cmds, NULL},
    {"user", "staff accounts", NULL, NULL, cli_user_cmds, NULL},
    {"device", "waiting-room display accounts", NULL, NULL, cli_device_cmds, NULL},
    {"location", "the practice's locations", NULL, NULL, cli_location_cmds, NULL},
    {"room", "rooms of the locations", NULL, NULL, cli_room_cmds, NULL},
    {"provider", "providers patients book", NULL, NULL, cli_provider_cmds, NULL},
    {"visit-type", "kinds of appointment", NULL, NULL, cli_visit_type_cmds, NULL},
    {"template", "providers' weekly hours", NULL, NULL, cli_template_cmds, NULL},
    {"exception", "providers' time off, meetings, blocked time", NULL, NULL, cli_exception_cmds,
     NULL},
    {"holiday", "days the practice or a location is closed", NULL, NULL, cli_holiday_cmds, NULL},
    {"appt", "one appointment: show, move, cancel, no-show, notes", NULL, NULL, cli_appt_cmds,
     NULL},
    {"waitlist", "patients waiting for an earlier time, and offers", NULL, NULL, cli_waitlist_cmds,
     NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

/* Removes every --json before a "--" and notes it: the flag may come anywhere. */
static int strip_json(int argc, char **argv, int *json)
{
    int out = 1;
    int done = 0;
    for (int i = 1; i < argc; i++) {
        if (!done && strcmp(argv[i], "--") == 0)
            done = 1;
        if (!done && strcmp(argv[i], "--json") == 0) {
            *json = 1;
            continue;
        }
        argv[out++] = argv[i];
    }
    argv[out] = NULL;
    return out;
}

static int is_help(const char *s)
{
    return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0 || strcmp(s, "help") == 0;
}

static const cli_cmd *find(const cli_cmd *list, const char *name)
{
    for (const cli_cmd *k = list; k && k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

static void group_help(const char *group, const cli_cmd *list, FILE *f)
{
    fprintf(f, "usage: practice %s COMMAND [ARGS...]\n\ncommands:\n", group);
    for (const cli_cmd *k = list; k->name; k++)
        fprintf(f, "  %-10s %s\n", k->name, k->summary);
    fprintf(f, "\nRun 'practice %s COMMAND --help' for a command's options.\n", group);
}

static int run(cli *c, const cli_cmd *k, const char *prefix, int argc, char **argv)
{
    snprintf(c->name, sizeof c->name, "%s%s", prefix, k->name);
    c->help = k->help;
    c->help_extra = k->help_extra;
    return k->run(c, argc, argv);
}

static int run_group(cli *c, const cli_cmd *g, int argc, char **argv)
{
    if (argc < 2) {
        snprintf(c->name, sizeof c->name, "practice");
        cli_usage_error(c, "'practice %s' needs a command", g->name);
        group_help(g->name, g->sub, stderr);
        return CLI_EXIT_USAGE;
    }
    if (is_help(argv[1])) {
        group_help(g->name, g->sub, stdout);
        return CLI_EXIT_OK;
    }
    const cli_cmd *k = find(g->sub, argv[1]);
    if (!k) {
        snprintf(c->name, sizeof c->name, "practice");
        cli_usage_error(c, "unknown command 'practice %s %s'", g->name, argv[1]);
        group_help(g->name, g->sub, stderr);
        return CLI_EXIT_USAGE;
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "practice %s ", g->name);
    return run(c, k, prefix, argc - 1, argv + 1);
}

static int dispatch(cli *c, int argc, char **argv)
{
    snprintf(c->name, sizeof c->name, "practice");
    if (argc < 2) {
        cli_usage_error(c, "no command given; see 'practice --help'");
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (is_help(cmd)) {
        fputs(top_help, stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("practice %s\n", PM_VERSION);
        return CLI_EXIT_OK;
    }
    const cli_cmd *k = find(top_cmds, cmd);
    if (k)
        return run_group(c, k, argc - 1, argv + 1);
    const cli_cmd *lists[] = {cli_session_cmds, cli_audit_cmds, cli_book_cmds,  cli_schedule_cmds,
                              cli_watch_cmds,   cli_desk_cmds,  cli_board_cmds, cli_simulate_cmds};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        if ((k = find(lists[i], cmd)))
            return run(c, k, "practice ", argc - 1, argv + 1);
    cli_usage_error(c, "unknown command '%s'; see 'practice --help'", cmd);
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    cli c = {0};
    argc = strip_json(argc, argv, &c.json);
    int rc = dispatch(&c, argc, argv);
    cli_close(&c);
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK)
        rc = CLI_EXIT_SERVER;
    return rc;
}
