#ifndef RDLM_CSYSTEMMEMORY_H
#define RDLM_CSYSTEMMEMORY_H

/* glibc's malloc tuning, which Swift's Glibc module does not export (malloc.h).
 * Elsewhere both functions do nothing. */

#include <stdlib.h> /* defines __GLIBC__ on glibc */

#if defined(__GLIBC__)
#include <malloc.h>

/* Fixes the thresholds glibc otherwise raises as large blocks are freed (up to 32 MB):
 * blocks of 128 KiB and more are mmapped and go back to the system when freed, and the
 * top of the heap is given back above 256 KiB free. Setting them disables the dynamic
 * adjustment (mallopt(3)). */
static inline void rdlm_memory_configure(void) {
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024);
}

/* Gives free pages back to the system from every arena, not only the top of the heap
 * (malloc_trim(3)). Returns 1 if some memory was released. */
static inline int rdlm_memory_trim(void) {
    return malloc_trim(64 * 1024);
}
#else
static inline void rdlm_memory_configure(void) {}
static inline int rdlm_memory_trim(void) { return 0; }
#endif

#endif
