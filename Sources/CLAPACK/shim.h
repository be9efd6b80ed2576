// LAPACK (OpenBLAS's OpenMP build through Debian's alternatives) for the few factorisations no
// other library here offers: SVD for PiSSA initialisation.
#include <lapacke.h>
