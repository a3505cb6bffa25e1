/* The patient register: records keyed by id, found by MRN (the id with a check digit),
 * by name words, date of birth and phone. Every read and change is audited; every change
 * is an event on the "patients" topic. */
#ifndef PATIENTS_H
#define PATIENTS_H

#include <lmdb.h>
#include <stdint.h>

#include "practiced.pb-c.h"
#include "store.h"

struct req;

int patients_create(struct req *r, wctx *ctx);
int patients_update(struct req *r, wctx *ctx);
int patients_get(struct req *r, MDB_txn *txn);
int patients_search(struct req *r, MDB_txn *txn);
int patients_list(struct req *r, MDB_txn *txn);

/* A patient record by id (the MRN without its check digit). */
int patient_load(MDB_txn *txn, uint64_t id, pm_arena *a, Pm__Patient **out);
/* A stored patient's MRN and display name ("Last, First (Preferred)") read from the
 * record's fields without decoding all of it: a booking, and each appointment a schedule
 * shows, want only these. */
int patient_brief(MDB_txn *txn, uint64_t id, pm_arena *a, const char **mrn, const char **name);

/* MRN: the decimal id followed by a Luhn check digit, e.g. id 10001 -> "100016". */
void mrn_format(uint64_t id, char out[24]);
/* Parses an MRN (spaces and dashes ignored); 0 on success. */
int mrn_parse(const char *s, uint64_t *id);

/* practiced check: every record decodes and is in its indexes, every index entry points
 * at a record that has it. Calls problem() for each finding. */
int patients_check(MDB_txn *txn, store *st, void (*problem)(void *ud, const char *msg), void *ud,
                   uint64_t *count);

/* Checks a patient's fields; each problem is added to r as a field error. */
int patient_validate(struct req *r, const Pm__Patient *p);

#endif
