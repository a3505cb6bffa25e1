/* A growable byte buffer with a maximum size fixed at init. */
#ifndef PM_BUF_H
#define PM_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct pm_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max;
} pm_buf;

void pm_buf_init(pm_buf *b, size_t max);
void pm_buf_free(pm_buf *b);
/* Makes room for extra more bytes; PM_E_NOMEM when that would pass the maximum. */
int pm_buf_reserve(pm_buf *b, size_t extra);
int pm_buf_append(pm_buf *b, const void *p, size_t n);
int pm_buf_printf(pm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes. */
void pm_buf_consume(pm_buf *b, size_t n);
/* Hands the storage to the caller and leaves the buffer empty. */
uint8_t *pm_buf_steal(pm_buf *b, size_t *len);

#endif
