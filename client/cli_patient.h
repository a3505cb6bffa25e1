/* The patient options shared by 'practice patient add' and 'practice patient edit'. */
#ifndef CLI_PATIENT_H
#define CLI_PATIENT_H

#include "cli.h"

typedef struct pat_op {
    size_t field;    /* which option (an index into the option table) */
    const char *arg; /* its value as given, NULL for flags */
    char number[64]; /* --phone, --add-phone: the number without its kind */
    Pm__PhoneKind phone_kind;
    Pm__Sex sex;
} pat_op;

typedef struct patient_opts {
    pat_op ops[96]; /* in command-line order */
    size_t n;
    uint32_t expect_version; /* edit --expect-version; 0 when not given */
} patient_opts;

/* Scans argv for patient options (for_edit: also the options that only make sense on an
 * existing record). Returns CLI_EXIT_OK, CLI_OPT_HELP when the help was printed, or the
 * exit code of an error already reported. Operands are left in argv[optind...]. */
int patient_opts_parse(cli *c, int argc, char **argv, patient_opts *po, int for_edit);
/* Whether the option (e.g. "--first") was given. */
int patient_opts_has(const patient_opts *po, const char *opt);
/* Applies the options, in order, onto p (new or fetched); values point into argv. */
int patient_opts_apply(cli *c, const patient_opts *po, Pm__Patient *p, pm_arena *a);
/* The options part of the help. */
void patient_opts_help(FILE *f, int for_edit);

#endif
