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

#endif
