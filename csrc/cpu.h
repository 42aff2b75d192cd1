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

#include <stdint.h>

#include "nncore.h"

void nc_cpu_init(void);

/* The calling thread's floating-point control state (x86: MXCSR; aarch64:
 * FPCR; 0 elsewhere, where setting it does nothing), and a swap that sets
 * it and returns the state it replaces. */
uint64_t nc_fp_state(void);
uint64_t nc_fp_swap(uint64_t state);

/* Sets the calling thread to flush denormals to zero (results and, on x86,
 * inputs: MXCSR FTZ and DAZ; aarch64 FPCR.FZ) and returns the state it had,
 * for nc_fp_swap to put back. The network entry points (nc_network_*) run
 * so, as TensorFlow runs its kernels: a float below 1.2e-38 carries nothing
 * a network can use, and arithmetic on it costs some 100 cycles on x86 (a
 * nearly fitted tiny network lost 30% of its speed over 60 epochs). The
 * parallel regions of the kernels (gemm_impl.h, optim_impl.h) give each
 * thread the caller's state, so results stay the same bits for any thread
 * count. */
uint64_t nc_fp_flush_denormals(void);

/* Fills the kernel table for the named path ("generic", "avx2", ...). */
void nc_select_kernels(const char *name);

#endif
