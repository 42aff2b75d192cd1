/*
 * gemm_plan.h -- internal: what the GEMM driver decides for one call before
 * it computes anything. Which kernel (the small one, reading A and B in
 * place, or the packed one), in which orientation, how many threads, and
 * how they share the output. gemm.c makes the plan (nc_gemm_make_plan) and
 * executes it (gemm_impl.h).
 *
 * Depends on gemm_kernels.h only (a path's block sizes). nc_gemm_make_plan
 * is exported, but not part of the C API (nncore.h), so that the tests can
 * check the decisions at their boundaries (cython_kernels._gemm_plan).
 */
#ifndef NNCORE_GEMM_PLAN_H
#define NNCORE_GEMM_PLAN_H

#include <stddef.h>

#include "gemm_kernels.h"

/* A product's sizes and strides as nc_gemm_* takes them. */
typedef struct nc_gemm_shape {
    size_t m, n, k;
    ptrdiff_t a_rs, a_cs, b_rs, b_cs, c_rs, c_cs;
} nc_gemm_shape;

/* How the threads share the output (nc_gemm_plan.split). */
#define NC_GEMM_SPLIT_NONE 0    /* one thread computes all of it */
#define NC_GEMM_SPLIT_ROWS 1    /* each thread takes whole panels of rows */
#define NC_GEMM_SPLIT_COLUMNS 2 /* each thread takes whole panels of columns */

typedef struct nc_gemm_plan {
    /* The product is computed as C^T = op(B)^T op(A)^T (the same products
     * in the same order): the kernels store rows of C, and C is stored by
     * columns. Everything below is about the product so turned. */
    int transpose;
    int small; /* the small kernel; else the packed driver */
    /* Small kernel only: B is first copied into row-major order (it needs
     * a unit-stride right operand); or the kernel runs on C^T, swapping the
     * operands again, so that its right operand is the one with unit
     * stride, or so that its rows fill the vectors better. */
    int copy_b, swap;
    int threads; /* that share the output; 1: the caller alone */
    int split;   /* NC_GEMM_SPLIT_*; NONE when threads == 1 */
    /* The output is cut into `panels` panels of `panel` rows (or columns),
     * the last one possibly narrower; thread t of T takes panels
     * [panels * t / T, panels * (t + 1) / T): never part of a panel, so tile
     * boundaries, and with them the results' bits, do not depend on T.
     * The small kernel's panels are its 6-row tiles (of the product it
     * runs: after `swap`); the packed driver's are MR rows or NR columns. */
    size_t panel, panels;
    /* Packed driver only: the depth of a packed panel (k cut into equal
     * blocks) and the rows and columns packed at once, as the packing
     * buffers allow. */
    size_t kc, mc, nc;
} nc_gemm_plan;

/* The plan for `shape` on a path with block sizes `blocks`, for elements of
 * `element_size` bytes, on at most `threads` threads. Needs m, n, k > 0
 * (nc_gemm_* handles the empty products before). */
void nc_gemm_make_plan(const nc_gemm_blocking *blocks, size_t element_size, int threads,
                       const nc_gemm_shape *shape, nc_gemm_plan *plan);

#endif
