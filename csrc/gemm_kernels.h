/*
 * gemm_kernels.h -- internal: what one instruction-set path gives the GEMM
 * driver in gemm.c.
 *
 * A path is DATA plus two functions per element type:
 *   - its block sizes (register tile MR x NR, cache blocks KC, MC, NC), in a
 *     struct, so tuning a machine means editing numbers, not code;
 *   - a microkernel: C(MR x NR) = alpha * Apanel * Bpanel + beta * C, where
 *     Apanel is k steps of MR values (one column of the MR-row micro-panel of
 *     op(A) at a time) and Bpanel k steps of NR values, both packed by the
 *     driver and aligned to 64 bytes;
 *   - a small-shape kernel that reads A and B in place (no packing): the
 *     driver uses it below a size threshold, where packing costs more than it
 *     saves.
 *
 * The driver (gemm.c) handles every stride, edge tile and thread.
 */
#ifndef NNCORE_GEMM_KERNELS_H
#define NNCORE_GEMM_KERNELS_H

#include "nncore.h"

/* Largest register tile any path uses; the driver keeps an edge tile of this
 * size on the stack. */
#define NC_GEMM_MAX_MR 16
#define NC_GEMM_MAX_NR 32

/* Packing buffers hold at most these many BYTES (see gemm.c); a path's
 * MC*KC and KC*NC must fit, checked when the path is selected. */
#define NC_GEMM_A_BUFFER_BYTES (512u * 1024u)
#define NC_GEMM_B_BUFFER_BYTES (4u * 1024u * 1024u)

typedef struct nc_gemm_blocking {
    size_t mr, nr; /* register tile of the microkernel */
    size_t kc;     /* depth of a packed panel: an MR x KC and a KC x NR slice stay in L1 */
    size_t mc;     /* rows of op(A) packed at once: MC x KC stays in L2 */
    size_t nc;     /* columns of op(B) packed at once: KC x NC stays in L3 */
    /* Below this many multiply-adds (m*n*k), the small kernel runs instead
     * of packing. Measured per machine with bench/gemm.py. */
    size_t small_work;
    /* Below this many multiply-adds one thread is faster than waking a team
     * (about 1.5 us to start 2 OpenMP threads on Zen3). */
    size_t parallel_work;
} nc_gemm_blocking;

/* c (MR x NR, element (i, j) at c[i*c_rs + j*c_cs]) = alpha * sum_p
 * a[p*MR + i] * b[p*NR + j] + beta * c; beta == 0 never reads c. */
typedef void (*nc_gemm_micro_f32)(size_t k, float alpha, const float *a, const float *b, float beta,
                                  float *c, ptrdiff_t c_rs, ptrdiff_t c_cs);
typedef void (*nc_gemm_micro_f64)(size_t k, double alpha, const double *a, const double *b,
                                  double beta, double *c, ptrdiff_t c_rs, ptrdiff_t c_cs);

/* The whole product without packing, for B with unit column stride
 * (b_cs == 1); any other strides. Same contract as nc_gemm_*. */
typedef void (*nc_gemm_small_f32)(size_t m, size_t n, size_t k, float alpha, const float *a,
                                  ptrdiff_t a_rs, ptrdiff_t a_cs, const float *b, ptrdiff_t b_rs,
                                  float beta, float *c, ptrdiff_t c_rs, ptrdiff_t c_cs);
typedef void (*nc_gemm_small_f64)(size_t m, size_t n, size_t k, double alpha, const double *a,
                                  ptrdiff_t a_rs, ptrdiff_t a_cs, const double *b, ptrdiff_t b_rs,
                                  double beta, double *c, ptrdiff_t c_rs, ptrdiff_t c_cs);

/* Packing into this path's micro-panels (layout: see gemm_impl.h):
 * pack_a(rows, depth, a, a_rs, a_cs, dst)  ceil(rows/MR) A micro-panels;
 * pack_b(cols, depth, b, b_rs, b_cs, dst)  one B micro-panel, cols <= NR. */
typedef void (*nc_gemm_pack_f32)(size_t, size_t, const float *, ptrdiff_t, ptrdiff_t, float *);
typedef void (*nc_gemm_pack_f64)(size_t, size_t, const double *, ptrdiff_t, ptrdiff_t, double *);

typedef struct nc_gemm_path_f32 {
    nc_gemm_blocking blocks;
    nc_gemm_pack_f32 pack_a, pack_b;
    nc_gemm_micro_f32 micro;
    nc_gemm_small_f32 small;
} nc_gemm_path_f32;

typedef struct nc_gemm_path_f64 {
    nc_gemm_blocking blocks;
    nc_gemm_pack_f64 pack_a, pack_b;
    nc_gemm_micro_f64 micro;
    nc_gemm_small_f64 small;
} nc_gemm_path_f64;

/* Defined in gemm_generic.c (portable C, always present). */
extern const nc_gemm_path_f32 nc_gemm_generic_f32;
extern const nc_gemm_path_f64 nc_gemm_generic_f64;

#if defined(NNCORE_HAVE_AVX2)
extern const nc_gemm_path_f32 nc_gemm_avx2_f32;
extern const nc_gemm_path_f64 nc_gemm_avx2_f64;
#endif
#if defined(NNCORE_HAVE_AVX512)
extern const nc_gemm_path_f32 nc_gemm_avx512_f32;
extern const nc_gemm_path_f64 nc_gemm_avx512_f64;
#endif
#if defined(NNCORE_HAVE_NEON)
extern const nc_gemm_path_f32 nc_gemm_neon_f32;
extern const nc_gemm_path_f64 nc_gemm_neon_f64;
#endif

#endif
