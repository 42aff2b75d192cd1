/*
 * dispatch.h -- internal: which kernel path runs. The table of the paths this
 * build holds (gemm_kernels.h, one per instruction set), the choice of the
 * best one this CPU runs (or the one NNCORE_ARCH or nc_set_kernel names), and
 * the public functions that report it (nc_cpu_features, nc_settings_notes).
 * Uses cpu_features.h to know the CPU, and runtime.h only for the runtime's
 * lines of nc_settings_notes.
 *
 * A kernel calls nc_kernels() once per call and uses that table throughout,
 * so a path switched by nc_set_kernel meanwhile never mixes two paths in one
 * call.
 */
#ifndef NNCORE_DISPATCH_H
#define NNCORE_DISPATCH_H

#include "gemm_kernels.h"

typedef struct nc_kernel_table {
    const char *name; /* "generic", "avx2", "avx512", "neon" */
    const nc_gemm_path_f32 *gemm_f32;
    const nc_gemm_path_f64 *gemm_f64;
} nc_kernel_table;

/* The table in use, never NULL. The first call detects the CPU and reads
 * NNCORE_ARCH; later calls cost one load. */
const nc_kernel_table *nc_kernels(void);

/* The block sizes of the path in use, for tests that probe its edges. */
const nc_gemm_blocking *nc_gemm_blocking_f32(void);
const nc_gemm_blocking *nc_gemm_blocking_f64(void);

#endif
