/*
 * cpu.h -- internal: the function table that the kernel paths fill.
 *
 * Each public kernel (nc_gemm_f32, ...) calls through nc_kernels, which
 * nc_select_kernels() points at the best path once (or at the one
 * NNCORE_ARCH / nc_set_kernel names). A path that lacks an entry keeps the
 * portable one, so "generic" always works.
 */
#ifndef NNCORE_CPU_H
#define NNCORE_CPU_H

#include "nncore.h"

void nc_cpu_init(void);

/* Fills the kernel table for the named path ("generic", "avx2", ...). */
void nc_select_kernels(const char *name);

#endif
