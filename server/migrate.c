/* Migrations between schema versions, run by store_open in its opening transaction, before
 * the writer starts: a crash midway leaves the old schema, and the next start does it all
 * again. They know the layouts of both versions, so they live here and not in store.c. */
#include "store.h"

#include "pm_err.h"
#include "pm_log.h"
#include "pm_util.h"
#include "practiced.pb-c.h"
#include "scheduling.h"

#include <string.h>

/* Schema 1 kept a patient's appointments (appt_pat: mrn 0 start id) and the audit entries
 * naming a record (audit_rec: record 0 seq) apart; schema 2 keeps both in DB_RECORDS, the
 * kind after the name. The entries move over and the old databases go. */
static int move_records(MDB_txn *txn, store *st)
{
    static const struct {
        const char *name;
        int kind;
    } old[] = {{"appt_pat", REC_APPT}, {"audit_rec", REC_AUDIT}};
    uint64_t moved[PM_ARRAY_LEN(old)] = {0}, bad = 0;
    for (size_t i = 0; i < PM_ARRAY_LEN(old); i++) {
        MDB_dbi from;
        MDB_cursor *cur;
        int rc = mdb_dbi_open(txn, old[i].name, 0, &from);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc || (rc = mdb_cursor_open(txn, from, &cur)))
            return pm_err_from_mdb(rc);
        MDB_val k, v;
        int r = PM_OK;
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && r == PM_OK;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            const uint8_t *nul = memchr(k.mv_data, 0, k.mv_size);
            uint8_t key[512], val[64];
            if (!nul || k.mv_size >= sizeof key || v.mv_size > sizeof val) {
                bad++;
                continue;
            }
            size_t at = (size_t)(nul - (const uint8_t *)k.mv_data) + 1;
            memcpy(key, k.mv_data, at);
            key[at] = (uint8_t)old[i].kind;
            memcpy(key + at + 1, (const uint8_t *)k.mv_data + at, k.mv_size - at);
            memcpy(val, v.mv_data, v.mv_size);
            r = store_put(txn, store_dbi(st, DB_RECORDS), key, k.mv_size + 1, val, v.mv_size);
            moved[i] += r == PM_OK;
        }
        mdb_cursor_close(cur);
        if (r)
            return r;
        if ((rc != MDB_NOTFOUND) || (rc = mdb_drop(txn, from, 1)))
            return pm_err_from_mdb(rc);
    }
    pm_info("store: schema 2: %llu appointment and %llu audit index entries moved into records%s",
            (unsigned long long)moved[0], (unsigned long long)moved[1],
            bad ? " (malformed ones left out)" : "");
    return PM_OK;
}

/* Schema 3's provider index names each appointment's location in its value, and files a
 * walk-in for anyone under the empty name; appt_loc goes. The provider index is written
 * again from the appointments. */
static int provider_index_with_locations(MDB_txn *txn, store *st)
{
    MDB_dbi loc, prov = store_dbi(st, DB_APPT_PROV);
    int rc = mdb_dbi_open(txn, "appt_loc", 0, &loc);
    if (rc == 0)
        rc = mdb_drop(txn, loc, 1);
    if ((rc && rc != MDB_NOTFOUND) || (rc = mdb_drop(txn, prov, 0)))
        return pm_err_from_mdb(rc);
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, store_dbi(st, DB_APPTS), &cur)))
        return pm_err_from_mdb(rc);
    uint64_t n = 0, bad = 0;
    MDB_val k, v;
    int r = PM_OK;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && r == PM_OK;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Pm__Appointment *a = pm__appointment__unpack(NULL, v.mv_size, v.mv_data);
        if (!a) {
            bad++;
            continue;
        }
        uint8_t key[SCHED_IDX_KEY_MAX], val[SCHED_IDX_VALUE_MAX];
        size_t kl = sched_idx_key(key, DB_APPT_PROV, a->provider, (uint64_t)a->start, a->id);
        r = store_put(txn, prov, key, kl, val, sched_idx_value(val, DB_APPT_PROV, a));
        pm__appointment__free_unpacked(a, NULL);
        n++;
    }
    mdb_cursor_close(cur);
    if (r)
        return r;
    if (rc != MDB_NOTFOUND)
        return pm_err_from_mdb(rc);
    pm_info("store: schema 3: provider index written again for %llu appointments%s",
            (unsigned long long)n, bad ? " (some did not decode: practiced check tells)" : "");
    return PM_OK;
}

int store_migrate(MDB_txn *txn, store *st, uint64_t from)
{
    int rc = PM_OK;
    if (from < 2)
        rc = move_records(txn, st);
    if (!rc && from < 3)
        rc = provider_index_with_locations(txn, st);
    return rc;
}
