/* practiced: the practice server. Subcommands: init, serve, backup, check. */
#include "server.h"

#include "pm_log.h"

#include <stdio.h>
#include <string.h>

server srv;

static void usage(FILE *f)
{
    fprintf(f,
            "practiced %s: the practice server\n\n"
            "usage:\n"
            "  practiced init   --data DIR --name NAME --tz Area/City [--host NAME]...\n"
            "  practiced serve  --data DIR [--listen ADDR:PORT]\n"
            "  practiced backup --data DIR --out PATH\n"
            "  practiced check  --data DIR\n\n"
            "Run 'practiced COMMAND --help' for a command's options.\n",
            PM_VERSION);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("practiced %s\n", PM_VERSION);
        return 0;
    }
    if (strcmp(cmd, "init") == 0)
        return cmd_init(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "backup") == 0)
        return cmd_backup(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    fprintf(stderr, "practiced: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
