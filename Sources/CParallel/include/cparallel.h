#ifndef LORAKIT_CPARALLEL_H
#define LORAKIT_CPARALLEL_H
#include <stdint.h>
typedef void (*lk_chunk_fn)(void *ctx, int64_t begin, int64_t end);
/// Splits [0, n) into at most `threads` contiguous chunks of at least `grain` items and runs them
/// on the OpenMP pool that oneDNN also uses.
void lk_parallel_for(int64_t n, int64_t grain, void *ctx, lk_chunk_fn fn);
int lk_threads(void);
void lk_set_threads(int n);
#endif
