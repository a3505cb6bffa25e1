/* The appointment indexes' layout: which entries an appointment has, their keys and
 * values. Shared by the writers (sched_book.c), practiced check and the migrations. */
#include "scheduling.h"

#include "pm_util.h"
#include "store.h"

#include <string.h>

size_t sched_idx_key(uint8_t *k, enum store_db db, const char *name, uint64_t start, uint64_t id)
{
    size_t n = store_name_prefix(k, name, SCHED_NAME_MAX, db == DB_RECORDS ? REC_APPT : 0);
    pm_put_u64(k + n, start);
    pm_put_u64(k + n + 8, id);
    return n + 16;
}

size_t sched_idx_value(uint8_t *v, enum store_db db, const Pm__Appointment *a)
{
    pm_put_u64(v, (uint64_t)a->end);
    v[8] = (uint8_t)a->status;
    if (db != DB_APPT_PROV)
        return SCHED_IDX_VALUE_MIN;
    size_t n = strnlen(a->location, SCHED_NAME_MAX);
    memcpy(v + SCHED_IDX_VALUE_MIN, a->location, n);
    return SCHED_IDX_VALUE_MIN + n;
}

size_t sched_idx_of(const Pm__Appointment *a, sched_idx out[SCHED_IDX_COUNT])
{
    size_t n = 0;
    out[n++] = (sched_idx){DB_APPT_PROV, a->provider};
    if (*a->patient_mrn)
        out[n++] = (sched_idx){DB_RECORDS, a->patient_mrn};
    if (*a->room)
        out[n++] = (sched_idx){DB_APPT_ROOM, a->room};
    return n;
}
