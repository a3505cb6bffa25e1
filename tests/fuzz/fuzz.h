/* What the fuzz targets share: a check that stays on in every build type (assert() is
 * compiled out under NDEBUG) and names what failed, and the known findings the targets
 * step around until they are fixed. A failed check is a finding. */
#ifndef FUZZ_H
#define FUZZ_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Known findings not fixed yet, each with its reproducer in tests/fuzz/crashes/<target>/.
 * While one is open the targets step around it, so that a run finds something new rather
 * than the same thing again; PM_FUZZ_STRICT=1 turns that off (tests/fuzz/run does, for
 * the reproducers, to tell whether they are fixed). Remove the step-around with the fix. */
static inline int fuzz_strict(void)
{
    static int strict = -1;
    if (strict < 0) {
        const char *e = getenv("PM_FUZZ_STRICT");
        strict = e && e[0] == '1';
    }
    return strict;
}

/* Known finding "field0": protobuf-c reads a field number 0 whose tag takes more bytes than
 * it needs (0x82 0x00) and keeps it as an unknown field, packs it back in one byte (0x02),
 * and then refuses to read what it packed. A client's CreatePatient carrying one is stored
 * as it came, so the stored patient no longer decodes, and the answer and the event carry
 * bytes no client can read (crashes/fuzz_envelope/field0-*, crashes/fuzz_dispatch/field0-*).
 * Whether m or a message inside it holds such a field. */
static inline int fuzz_has_field0(const ProtobufCMessage *m, int depth)
{
    if (!m || depth > 64)
        return 0;
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(const void *)(base + f->quantifier_offset) != f->id)
            continue;
        size_t n = 1;
        const ProtobufCMessage *const *items =
            (const ProtobufCMessage *const *)(const void *)(base + f->offset);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)(const void *)(base + f->quantifier_offset);
            items = *(const ProtobufCMessage *const *const *)(const void *)(base + f->offset);
        }
        for (size_t k = 0; k < n; k++)
            if (fuzz_has_field0(items[k], depth + 1))
                return 1;
    }
    return 0;
}

#endif
