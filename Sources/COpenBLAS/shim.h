#ifndef CKPT_COPENBLAS_SHIM_H
#define CKPT_COPENBLAS_SHIM_H
#include <cblas.h>
/* Thread control of OpenBLAS (not part of CBLAS proper). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif
