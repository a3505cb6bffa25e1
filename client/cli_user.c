/* Staff and device accounts (managers only): practice user add | list | disable | enable |
 * passwd, practice device add. */
#include "cli.h"

#include "pm_err.h"

#include <string.h>

/* Prints an account with the one-time password or device secret the server made. */
static void print_credential(cli *c, const Pm__AccountCredential *ac, const char *what,
                             const char *advice)
{
    if (c->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "account", ac->account ? cj_account(ac->account) : NULL);
        json_object_object_add(o, "one_time_password", cj_string(ac->one_time_password));
        cj_print(o);
        return;
    }
    if (ac->account)
        cp_account(stdout, ac->account);
    printf("\n%s: %s\n%s\n", what, ac->one_time_password, advice);
}

/* Runs one account request whose answer carries a credential. */
static int credential_call(cli *c, Pm__Envelope *e, pm_arena *a, const char *what,
                           const char *advice)
{
    Pm__Envelope *resp = NULL;
    int rc = cli_call(c, e, a, PM__ENVELOPE__BODY_ACCOUNT_CREDENTIAL, &resp);
    if (rc == CLI_EXIT_OK)
        print_credential(c, resp->account_credential, what, advice);
    return rc;
}

/* ---- user add ---- */

static const char add_help[] =
    "usage: practice user add USER --role ROLE [--name \"Display Name\"]\n"
    "\n"
    "Creates a staff account and prints its one-time password, to hand to the person: they\n"
    "choose their own password when they first log in. USER is 1 to 32 of a-z, 0-9, '.',\n"
    "'_' and '-', starting with a letter.\n"
    "\n"
    "Options:\n"
    "  --role ROLE    manager, receptionist, biller or clinician\n"
    "  --name NAME    the name shown to others (default: USER)\n"
    "\n"
    "Example:\n"
    "  practice user add anna --role receptionist --name \"Anna Schmidt\"\n";

static int cmd_user_add(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"role", required_argument, 0, 'r'},
                                         {"name", required_argument, 0, 'n'},
                                         HELP_OPTION,
                                         END_OPTIONS};
    const char *role_s = NULL, *display = "";
    int o;
    while ((o = cli_opt(c, argc, argv, opts)) >= 0) {
        if (o == 'r')
            role_s = optarg;
        else
            display = optarg;
    }
    if (o != -1)
        return cli_opt_exit(o);
    if (argc - optind != 1)
        return cli_usage_error(c, "give one user name");
    if (!role_s)
        return cli_usage_error(c, "missing: --role");
    Pm__Role role;
    if (cp_role_parse(role_s, &role) || role == PM__ROLE__DISPLAY)
        return cli_fail(c, PM_E_INVALID_ARGUMENT, "--role",
                        "--role %s: give manager, receptionist, biller or clinician (displays: "
                        "practice device add)",
                        role_s);
    int rc = cli_open(c);
    if (rc)
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__CreateAccount *ca;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_CREATE_ACCOUNT,
                                  &pm__create_account__descriptor, (void **)&ca);
    if (e) {
        ca->username = argv[optind];
        ca->display_name = (char *)display;
        ca->role = role;
    }
    rc = credential_call(c, e, &a, "One-time password",
                         "Give it to them in person; they choose their own password at their "
                         "first 'practice login'.");
    pm_arena_free(&a);
    return rc;
}

/* ---- user list ---- */

static const char list_help[] = "usage: practice user list [--all]\n"
                                "\n"
                                "Lists the accounts: staff and display devices.\n"
                                "\n"
                                "Options:\n"
                                "  --all   include disabled accounts\n";

static int print_accounts(cli *c, const Pm__AccountList *al)
{
    if (c->json) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < al->n_accounts; i++)
            json_object_array_add(arr, cj_account(al->accounts[i]));
        cj_print(arr);
        return CLI_EXIT_OK;
    }
    cp_table t;
    int bad = cp_table_init(&t, 5, cp_account_header);
    for (size_t i = 0; !bad && i < al->n_accounts; i++)
        bad = cp_account_row(&t, al->accounts[i]);
    return cli_print_table(c, &t, bad);
}

static int cmd_user_list(cli *c, int argc, char **argv)
{
    int all, rc = cli_all_option(c, argc, argv, &all);
    if (rc || (rc = cli_open(c)))
        return cli_scan_exit(rc);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__ListAccounts *la;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_LIST_ACCOUNTS,
                                  &pm__list_accounts__descriptor, (void **)&la);
    if (e)
        la->include_disabled = all;
    rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_ACCOUNT_LIST, &resp);
    if (rc == CLI_EXIT_OK)
        rc = print_accounts(c, resp->account_list);
    pm_arena_free(&a);
    return rc;
}

/* ---- user disable | enable ---- */

static const char disable_help[] =
    "usage: practice user disable USER\n"
    "\n"
    "Disables an account: its sessions end at once and it cannot log in until enabled\n"
    "again. Its history stays in the audit log.\n";

static const char enable_help[] = "usage: practice user enable USER\n"
                                  "\n"
                                  "Lets a disabled account log in again.\n";

static int set_disabled(cli *c, int argc, char **argv, int disabled)
{
    int rc = cli_no_options(c, argc, argv, 1, "give one user name");
    if (rc || (rc = cli_open(c)))
        return cli_scan_exit(rc);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__SetAccountDisabled *sd;
    Pm__Envelope *resp = NULL;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_SET_ACCOUNT_DISABLED,
                                  &pm__set_account_disabled__descriptor, (void **)&sd);
    if (e) {
        sd->username = argv[optind];
        sd->disabled = disabled;
    }
    rc = cli_call(c, e, &a, PM__ENVELOPE__BODY_ACCOUNT_OK, &resp);
    if (rc == CLI_EXIT_OK && c->json)
        cj_print(cj_account(resp->account_ok->account));
    else if (rc == CLI_EXIT_OK)
        printf("Account %s is now %s.\n", resp->account_ok->account->username,
               disabled ? "disabled" : "enabled");
    pm_arena_free(&a);
    return rc;
}

static int cmd_user_disable(cli *c, int argc, char **argv)
{
    return set_disabled(c, argc, argv, 1);
}

static int cmd_user_enable(cli *c, int argc, char **argv)
{
    return set_disabled(c, argc, argv, 0);
}

/* ---- user passwd ---- */

static const char passwd_help[] =
    "usage: practice user passwd USER\n"
    "\n"
    "Resets someone's password (or a display device's secret): prints a new one-time\n"
    "password, ends their sessions and lifts a lockout. They choose their own password at\n"
    "their next login.\n"
    "\n"
    "Example:\n"
    "  practice user passwd anna\n";

static int cmd_user_passwd(cli *c, int argc, char **argv)
{
    int rc = cli_no_options(c, argc, argv, 1, "give one user name");
    if (rc || (rc = cli_open(c)))
        return cli_scan_exit(rc);
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__ResetPassword *rp;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_RESET_PASSWORD,
                                  &pm__reset_password__descriptor, (void **)&rp);
    if (e)
        rp->username = argv[optind];
    rc = credential_call(c, e, &a, "New one-time password",
                         "Give it to them in person; they choose their own password at their "
                         "next 'practice login'.");
    pm_arena_free(&a);
    return rc;
}

/* ---- device add ---- */

static const char device_help[] =
    "usage: practice device add NAME [--location LOCATION]\n"
    "\n"
    "Creates a waiting-room display account and prints its secret, to enter once on the\n"
    "display. A display sees ticket codes and waits only, never names. NAME follows the\n"
    "rules of user names.\n"
    "\n"
    "Options:\n"
    "  --location LOCATION   the location whose board it shows\n"
    "\n"
    "Example:\n"
    "  practice device add lobby-tv --location \"Main waiting room\"\n";

static int cmd_device_add(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"location", required_argument, 0, 'l'}, HELP_OPTION, END_OPTIONS};
    const char *location = "";
    int o;
    while ((o = cli_opt(c, argc, argv, opts)) >= 0)
        location = optarg;
    if (o != -1)
        return cli_opt_exit(o);
    if (argc - optind != 1)
        return cli_usage_error(c, "give one device name");
    int rc = cli_open(c);
    if (rc)
        return rc;
    pm_arena a;
    pm_arena_init(&a, 0);
    Pm__CreateDevice *cd;
    Pm__Envelope *e = cli_request(&a, PM__ENVELOPE__BODY_CREATE_DEVICE,
                                  &pm__create_device__descriptor, (void **)&cd);
    if (e) {
        cd->name = argv[optind];
        cd->location = (char *)location;
    }
    rc = credential_call(c, e, &a, "Device secret",
                         "Enter it on the display once; 'practice user passwd NAME' makes a "
                         "new one.");
    pm_arena_free(&a);
    return rc;
}

const cli_cmd cli_user_cmds[] = {
    {"add", "create a staff account", add_help, cmd_user_add, NULL, NULL},
    {"list", "list accounts", list_help, cmd_user_list, NULL, NULL},
    {"disable", "stop an account from logging in", disable_help, cmd_user_disable, NULL, NULL},
    {"enable", "let a disabled account log in again", enable_help, cmd_user_enable, NULL, NULL},
    {"passwd", "reset someone's password", passwd_help, cmd_user_passwd, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const cli_cmd cli_device_cmds[] = {
    {"add", "create a waiting-room display account", device_help, cmd_device_add, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
