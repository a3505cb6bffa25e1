/* A per-request arena: bump allocation from chunks, freed all at once, with a budget so
 * that a hostile message cannot make the decoder allocate without bound. It doubles as
 * protobuf-c's allocator for unpacking and for the messages a handler builds. */
#ifndef PM_ARENA_H
#define PM_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stdarg.h>
#include <stddef.h>

struct pm_arena_chunk;

typedef struct pm_arena {
    struct pm_arena_chunk *head;
    size_t used;   /* bytes handed out, counted against the budget */
    size_t budget; /* 0 = unlimited */
    int over;      /* set once an allocation was refused */
    ProtobufCAllocator pbc;
} pm_arena;

void pm_arena_init(pm_arena *a, size_t budget);
/* Frees every chunk; the arena can be used again afterwards. */
void pm_arena_free(pm_arena *a);
/* Zeroed memory, aligned for any type; NULL when over budget or out of memory. */
void *pm_arena_alloc(pm_arena *a, size_t n);
char *pm_arena_strdup(pm_arena *a, const char *s);
/* Appends item to the array *v of *n pointers, in a, doubling it (from 16) when *cap is
 * reached; start with *v NULL and *n, *cap 0. Returns 0, or -1 when a has no room. */
int pm_arena_push(pm_arena *a, void ***v, size_t *n, size_t *cap, void *item);
char *pm_arena_strndup(pm_arena *a, const char *s, size_t n);
void *pm_arena_memdup(pm_arena *a, const void *p, size_t n);
char *pm_arena_printf(pm_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ProtobufCAllocator *pm_arena_pbc(pm_arena *a);

/* Allocates and initialises a protobuf-c message of the descriptor's type:
 *   Pm__Patient *p = pm_msg_new(a, &pm__patient__descriptor); */
void *pm_msg_new(pm_arena *a, const ProtobufCMessageDescriptor *desc);

#endif
