// The one thread pool: Swift's elementwise and reduction loops run on the same OpenMP (libgomp)
// threads as oneDNN, so the two never fight for the cores (KERNELS.md: alternating two pools
// costs ~10 ms each time). Written in C only because OpenMP is reachable from C pragmas alone.
#include "cparallel.h"

int omp_get_max_threads(void);
void omp_set_num_threads(int n);

void lk_parallel_for(int64_t n, int64_t grain, void *ctx, lk_chunk_fn fn) {
  if (n <= 0) return;
  int nt = omp_get_max_threads();
  if (grain < 1) grain = 1;
  int64_t chunks = (n + grain - 1) / grain;
  if (chunks > nt) chunks = nt;
  if (chunks <= 1) { fn(ctx, 0, n); return; }
  #pragma omp parallel for num_threads(chunks) schedule(static, 1)
  for (int64_t c = 0; c < chunks; c++) {
    int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
    fn(ctx, b, e);
  }
}

int lk_threads(void) { return omp_get_max_threads(); }
void lk_set_threads(int n) { omp_set_num_threads(n); }
