// The one thread pool: Swift's elementwise and reduction loops run on the same OpenMP (libgomp)
// threads as oneDNN, so the two never fight for the cores (KERNELS.md: alternating two pools
// costs ~10 ms each time). Written in C only because Swift cannot call libgomp's entry points
// with a C function pointer and context as they expect.
//
// The team is started with libgomp's GOMP_parallel, the call GCC emits for `#pragma omp
// parallel`, rather than with the pragma itself: clang (which builds this target) generates
// OpenMP code only for LLVM's libomp and silently ignores the pragmas under -fopenmp=libgomp,
// which left every "parallel" loop running on one thread.
#include "cparallel.h"

int omp_get_max_threads(void);
void omp_set_num_threads(int n);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
int omp_in_parallel(void);
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);

struct lk_job {
  int64_t n;
  int64_t chunks;
  void *ctx;
  lk_chunk_fn fn;
};

// Each thread of the team runs chunks t, t + nt, … (one each when the team has `chunks` threads,
// as `schedule(static, 1)` would).
static void lk_run(void *data) {
  const struct lk_job *job = data;
  int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
  for (int64_t c = t; c < job->chunks; c += nt) {
    int64_t b = job->n * c / job->chunks, e = job->n * (c + 1) / job->chunks;
    job->fn(job->ctx, b, e);
  }
}

void lk_parallel_for(int64_t n, int64_t grain, void *ctx, lk_chunk_fn fn) {
  if (n <= 0) return;
  int nt = omp_get_max_threads();
  if (grain < 1) grain = 1;
  int64_t chunks = (n + grain - 1) / grain;
  if (chunks > nt) chunks = nt;
  // One chunk, or inside a team already (a caller's parallel loop): run here.
  if (chunks <= 1 || omp_in_parallel()) { fn(ctx, 0, n); return; }
  struct lk_job job = { n, chunks, ctx, fn };
  GOMP_parallel(lk_run, &job, (unsigned)chunks, 0);
}

int lk_threads(void) { return omp_get_max_threads(); }
void lk_set_threads(int n) { omp_set_num_threads(n); }
