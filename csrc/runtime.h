/*
 * runtime.h -- internal: how the kernels run, as opposed to which kernels
 * run (dispatch.h). The thread count (public: nc_set_num_threads,
 * nc_get_num_threads in nncore.h), the NNCORE_NUM_THREADS setting, fork
 * safety of the OpenMP runtime, and the floating-point mode. Depends on
 * nothing of nncore; every file that starts threads or sets the
 * floating-point mode uses it.
 */
#ifndef NNCORE_RUNTIME_H
#define NNCORE_RUNTIME_H

#include <stdint.h>

/* What the runtime could not honour of its environment settings
 * (NNCORE_NUM_THREADS), one line each, for nc_settings_notes; "" when
 * nothing. Never NULL; the text does not change. */
const char *nc_runtime_notes(void);

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

#endif
