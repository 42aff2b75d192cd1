/*
 * gemm.c -- the public GEMM entry points and the driver behind them (template
 * gemm_impl.h): packing buffers, the choice between the small kernel and the
 * packed one, the split over threads. Uses dispatch.h for the path in use and
 * runtime.h for the thread count and the floating-point mode; the kernels
 * themselves live in gemm_generic.c and gemm_<isa>.c.
 */
#include <stdint.h>
#include <string.h>

#include "dispatch.h"
#include "gemm_kernels.h"
#include "nncore.h"
#include "runtime.h"

#if defined(NNCORE_OPENMP)
#include <omp.h>
#endif

/* The small kernel with A stored by columns stops paying off when it would
 * stream more than this many bytes of A (measured on Zen3, 512 KB L2). */
#define NC_GEMM_SMALL_STRIDED_A_BYTES (256.0 * 1024.0)
/* Largest B (elements) the dispatcher copies to row-major order (into the
 * B packing buffer) so that a small product with strided operands can use
 * the small kernel: 16 KB of floats, 32 KB of doubles. */
#define NC_GEMM_SMALL_B_COPY_ELEMENTS 4096
/* Up to this many rows the small kernel streams B row by row
 * (STREAM_ROWS in gemm_simd_impl.h): any size of B goes there. */
#define NC_GEMM_STREAM_ROWS 4
/* Products narrower than one NR panel go to the small kernel up to this
 * depth (its k x 2W slice of B: 128 KB of AVX-512 floats at most). */
#define NC_GEMM_NARROW_MAX_K 1024
/* Largest right operand (bytes) the small kernel gets by computing C^T:
 * read once per 6 rows of the result, it must not outgrow L2. */
#define NC_GEMM_SMALL_SWAP_B_BYTES (256.0 * 1024.0)

/* ------------------------------------------------------ packing buffers
 *
 * nc_gemm has no workspace argument, so the packed panels live in static
 * thread-local buffers: no allocation on any call (so no failure mode and
 * no allocator cost on the tiny GEMMs of a training loop), and Python
 * threads that call GEMM at the same time with the GIL released each use
 * their own, as does each member of an OpenMP team.
 * The memory is reserved (zero pages) per thread that ever runs a GEMM,
 * and only touched up to the sizes the block sizes ask for.
 *
 * Some toolchains do not honour an alignment beyond 16 for thread-local
 * storage of a dlopen'ed library, so the buffers are over-sized by 64 bytes
 * and aligned by hand.
 */
#if defined(_MSC_VER)
#define NC_THREAD_LOCAL __declspec(thread)
#else
#define NC_THREAD_LOCAL _Thread_local
#endif

static NC_THREAD_LOCAL unsigned char a_storage[NC_GEMM_A_BUFFER_BYTES + 64];
static NC_THREAD_LOCAL unsigned char b_storage[NC_GEMM_B_BUFFER_BYTES + 64];

static void *align64(unsigned char *p)
{
    return p + ((64 - (uintptr_t)p % 64) % 64);
}

#define A_BUFFER() align64(a_storage)
#define B_BUFFER() align64(b_storage)

/* ------------------------------------------------------------ the driver */

#define T float
#define FN(name) name##_f32
#define PATH nc_gemm_path_f32
#include "gemm_impl.h"
#undef T
#undef FN
#undef PATH

#define T double
#define FN(name) name##_f64
#define PATH nc_gemm_path_f64
#include "gemm_impl.h"
#undef T
#undef FN
#undef PATH

/* ------------------------------------------------------- entry points */

nc_status nc_gemm_f32(size_t m, size_t n, size_t k, float alpha, const float *a, ptrdiff_t a_rs,
                      ptrdiff_t a_cs, const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs, float beta,
                      float *c, ptrdiff_t c_rs, ptrdiff_t c_cs)
{
    return gemm_f32(nc_kernels()->gemm_f32, m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c,
                    c_rs, c_cs, NULL);
}

nc_status nc_gemm_f64(size_t m, size_t n, size_t k, double alpha, const double *a, ptrdiff_t a_rs,
                      ptrdiff_t a_cs, const double *b, ptrdiff_t b_rs, ptrdiff_t b_cs, double beta,
                      double *c, ptrdiff_t c_rs, ptrdiff_t c_cs)
{
    return gemm_f64(nc_kernels()->gemm_f64, m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c,
                    c_rs, c_cs, NULL);
}

nc_status nc_gemm_epilogue_f32(size_t m, size_t n, size_t k, float alpha, const float *a,
                               ptrdiff_t a_rs, ptrdiff_t a_cs, const float *b, ptrdiff_t b_rs,
                               ptrdiff_t b_cs, float beta, float *c, ptrdiff_t c_rs, ptrdiff_t c_cs,
                               const nc_epilogue_f32 *epilogue)
{
    if (!epilogue)
        return NC_ERR_INVALID_ARGUMENT;
    return gemm_f32(nc_kernels()->gemm_f32, m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c,
                    c_rs, c_cs, epilogue);
}

nc_status nc_gemm_epilogue_f64(size_t m, size_t n, size_t k, double alpha, const double *a,
                               ptrdiff_t a_rs, ptrdiff_t a_cs, const double *b, ptrdiff_t b_rs,
                               ptrdiff_t b_cs, double beta, double *c, ptrdiff_t c_rs,
                               ptrdiff_t c_cs, const nc_epilogue_f64 *epilogue)
{
    if (!epilogue)
        return NC_ERR_INVALID_ARGUMENT;
    return gemm_f64(nc_kernels()->gemm_f64, m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c,
                    c_rs, c_cs, epilogue);
}
