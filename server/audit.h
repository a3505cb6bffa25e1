/* The audit log: who did what to which record, when, from which device, and how it
 * ended. Entries are numbered and hash-chained, written in the same transaction as the
 * change they describe (or, for reads and refusals, before the answer is released). */
#ifndef AUDIT_H
#define AUDIT_H

#include <lmdb.h>
#include <stdint.h>

#include "practiced.pb-c.h"
#include "store.h"

typedef struct audit_info {
    const char *username;
    const char *device;
    const char *action;
    const char *record;
    const char *detail;
    Pm__Outcome outcome;
    int error; /* PM_E_* for failures */
    /* Further records the action disclosed (a search's results): the entry is found
     * under each of them too. */
    const char *const *also;
    size_t nalso;
} audit_info;

/* The per-user index records which blocks of this many entries hold a user's entries, not
 * each entry: a handful of staff accounts would otherwise dirty a page each per batch. */
#define AUDIT_USER_BLOCK 1024

int audit_append(MDB_txn *txn, store *st, const audit_info *ai);

/* Checks every entry's hash and link; *bad is the first bad seq (0 if none). */
int audit_verify_chain(MDB_txn *txn, store *st, uint64_t *count, uint64_t *bad);

struct req;
int audit_query(struct req *r, MDB_txn *txn);

#endif
