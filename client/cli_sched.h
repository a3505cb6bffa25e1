/* What the scheduling commands share: times and dates typed in the practice's zone,
 * words for the contract's enums, set-up names for display, appointments shown to a
 * person, and the requests several commands make. */
#ifndef CLI_SCHED_H
#define CLI_SCHED_H

#include "cli.h"

/* What the help of every command that reads times says. */
#define SCHED_WHEN_HELP                                                                            \
    "Times are the practice's: \"today 14:30\", \"tomorrow 9:00\", \"mon 10:00\" (the\n"           \
    "coming Monday), \"2026-12-01 09:30\", or \"14:30\" (today). Dates: today, tomorrow,\n"        \
    "mon..sun, or YYYY-MM-DD.\n"

/* ---- what people type ---- */

/* A moment: "today 14:30", "tomorrow 9:00", "mon 10:00", "2026-12-01 09:30", "14:30". */
int sched_parse_when(cli *c, const char *opt, const char *s, int64_t *out);
/* A date: "today", "tomorrow", "mon".."sun", "YYYY-MM-DD". */
int sched_parse_date(cli *c, const char *opt, const char *s, char out[11]);
/* --from and --to as dates; one not given (NULL) is left "". After cli_open: "today" is
 * the practice's. */
int sched_parse_dates(cli *c, const char *from_s, const char *to_s, char from[11], char to[11]);
/* A time of day span "09:00-12:30" in minutes (the end may be 24:00). */
int sched_parse_span(cli *c, const char *opt, const char *s, unsigned *from, unsigned *to);
/* Weekdays: "mon", "mon-fri", "mon,wed,fri", "sat-sun", "daily": bit d for weekday d
 * (1 Monday .. 7 Sunday), 0 when s is not weekdays. */
unsigned sched_parse_weekdays(const char *s);
/* Appends the comma-separated items of s (spaces trimmed, empty ones dropped) to *v. */
int sched_list_add(pm_arena *a, const char *s, char ***v, size_t *n);
/* A record number such as an appointment's ("12" or "#12"). */
int sched_parse_id(cli *c, const char *what, const char *s, uint64_t *out);
/* The command line of a command with no options whose one operand is a record number
 * (what names it in an error; usage is the usage error). CLI_OPT_HELP after the help,
 * else an exit code. */
int sched_id_operand(cli *c, int argc, char **argv, const char *usage, const char *what,
                     uint64_t *id);
/* An MRN as typed ("10001-6"): spaces and dashes dropped. */
char *sched_mrn(pm_arena *a, const char *s);

/* ---- words ---- */

const char *sched_weekday_word(unsigned wd); /* "mon" */
const char *sched_status_word(Pm__AppointmentStatus s);
const char *sched_kind_word(Pm__ExceptionKind k);
int sched_kind_parse(const char *s, Pm__ExceptionKind *out);
const char *sched_offer_word(Pm__OfferStatus s);
const char *sched_waitlist_word(Pm__WaitlistStatus s);
/* "09:30" ("24:00" for the end of the day) */
void sched_hhmm(unsigned minutes, char *buf, size_t n);
/* "Tue 2026-12-01" */
void sched_day(const char *date, char *buf, size_t n);
/* "Tue 2026-12-01 09:30-09:50" in the practice's zone */
void sched_span(int64_t start, int64_t end, char *buf, size_t n);
/* "mon-fri", "mon,wed,fri" */
void sched_weekdays_text(unsigned mask, char *buf, size_t n);
/* "12 min", "1 h 05 min", "3 days" */
void sched_duration(int64_t seconds, char *buf, size_t n);

/* ---- set-up, for names ---- */

typedef struct sched_names {
    const Pm__Setup *s; /* NULL when it could not be read: ids are shown instead */
} sched_names;

/* GetSetup narrowed as given (NULL or "" for everything); holidays and exceptions from
 * `from` to `to`. */
int sched_get_setup(cli *c, pm_arena *a, const char *provider, const char *location,
                    const char *from, const char *to, Pm__Setup **out);
/* The set-up's names; a failure leaves ids to be shown and reports nothing. */
void sched_names_load(cli *c, pm_arena *a, sched_names *n);
const Pm__Provider *sched_find_provider(const sched_names *n, const char *id);
const Pm__VisitType *sched_find_visit_type(const sched_names *n, const char *id);
const Pm__Location *sched_find_location(const sched_names *n, const char *id);
const Pm__Room *sched_find_room(const sched_names *n, const char *id);
/* The record's name, or its id when unknown ("" for ""). */
const char *sched_provider_name(const sched_names *n, const char *id);
const char *sched_visit_type_name(const sched_names *n, const char *id);
const char *sched_location_name(const sched_names *n, const char *id);
const char *sched_room_name(const sched_names *n, const char *id);

/* ---- appointments ---- */

int sched_get_appointment(cli *c, pm_arena *a, uint64_t id, Pm__Appointment **out);
/* The appointment shown field by field. */
void cp_appointment(FILE *f, const sched_names *n, const Pm__Appointment *a);
/* "cancelled (late): reason", "held for offer #3", ... */
void sched_status_text(const Pm__Appointment *a, char *buf, size_t n);
/* One line: "#12 Tue 2026-12-01 09:30-09:50 Núñez, José (100016), Check-up, dr-okafor". */
void sched_appt_line(const sched_names *n, const Pm__Appointment *a, char *buf, size_t len);
/* A table of appointments: ID, WHEN, PATIENT, VISIT, PROVIDER, WHERE, STATUS. */
#define SCHED_APPT_COLS 7
extern const char *const sched_appt_header[SCHED_APPT_COLS];
int sched_appt_row(cp_table *t, const sched_names *n, const Pm__Appointment *a);
/* Prints an appointment a request wrote or read: JSON, or headline then the record. */
int sched_print_appointment(cli *c, const sched_names *n, const Pm__Appointment *a,
                            const char *headline);

/* ---- errors ---- */

/* The option of the scheduling commands for a field the server names. */
const char *sched_field_option(const char *field);

/* ---- the terminal ---- */

/* Columns to fill: --width, else the terminal's (TIOCGWINSZ, COLUMNS), else 80. */
int sched_term_width(int given);

/* "Name (MRN)", or the MRN alone when the name is not known. */
void sched_patient_text(const char *name, const char *mrn, char *buf, size_t n);

#endif
