#ifndef LORAKIT_CDNNL_SHIM_H
#define LORAKIT_CDNNL_SHIM_H
#include <dnnl.h>

// omp.h lives in GCC's private include directory, which Swift's clang does not search.
int omp_get_max_threads(void);
void omp_set_num_threads(int n);

// DNNL_MEMORY_ALLOCATE is a macro cast that does not import into Swift.
static inline void *lorakit_dnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }
static inline void *lorakit_dnnl_memory_none(void) { return DNNL_MEMORY_NONE; }
#endif
