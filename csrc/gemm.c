/*
 * gemm.c -- the public GEMM entry points: the blocked, packed, threaded
 * driver (template gemm_impl.h), the portable microkernels (template
 * gemm_simd_impl.h with one-element "vectors"), and the table that points
 * at the instruction-set path in use (nc_select_kernels).
 */
#include <stdint.h>
#include <string.h>

#include "cpu.h"
#include "gemm_kernels.h"
#include "nncore.h"

#if defined(NNCORE_OPENMP)
#include <omp.h>
#define NC_PRAGMA_OMP(text) _Pragma(text)
#else
#define NC_PRAGMA_OMP(text)
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

/* ------------------------------------------- portable microkernels (any CPU) */

/* One-element "vectors": plain C that the compiler may vectorize itself. */
#define VZERO() 0
#define VSET1(x) (x)
#define VLOADU(p) (*(p))
#define VSTOREU(p, v) (*(p) = (v))
#define VBCAST(p) (*(p))
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VMUL(a, b) ((a) * (b))
#define VLOAD_PART(p, n) (*(p))
#define VSTORE_PART(p, v, n) (*(p) = (v))
#define W 1
#define MR 4
#define NV 4

#define T float
#define V float
#define MICRO generic_micro_f32_4x4
#define SMALL generic_small_f32
#define PACK_A generic_pack_a_f32
#define PACK_B generic_pack_b_f32
#include "gemm_simd_impl.h"
#undef T
#undef V
#undef MICRO
#undef SMALL
#undef PACK_A
#undef PACK_B

#define T double
#define V double
#define MICRO generic_micro_f64_4x4
#define SMALL generic_small_f64
#define PACK_A generic_pack_a_f64
#define PACK_B generic_pack_b_f64
#include "gemm_simd_impl.h"
#undef T
#undef V
#undef MICRO
#undef SMALL
#undef PACK_A
#undef PACK_B

#undef VZERO
#undef VSET1
#undef VLOADU
#undef VSTOREU
#undef VBCAST
#undef VFMA
#undef VMUL
#undef VLOAD_PART
#undef VSTORE_PART
#undef W
#undef MR
#undef NV

/* Block sizes of the portable path: a 4x4 tile of scalars fits the 16
 * registers of x86-64 and most others; cache blocks as for a small core. */
const nc_gemm_path_f32 nc_gemm_generic_f32 = {{.mr = 4,
                                               .nr = 4,
                                               .kc = 256,
                                               .mc = 128,
                                               .nc = 2048,
                                               .small_work = 32 * 32 * 32,
                                               .parallel_work = 32 * 32 * 32},
                                              generic_pack_a_f32,
                                              generic_pack_b_f32,
                                              generic_micro_f32_4x4,
                                              generic_small_f32};
const nc_gemm_path_f64 nc_gemm_generic_f64 = {{.mr = 4,
                                               .nr = 4,
                                               .kc = 256,
                                               .mc = 64,
                                               .nc = 1024,
                                               .small_work = 32 * 32 * 32,
                                               .parallel_work = 32 * 32 * 32},
                                              generic_pack_a_f64,
                                              generic_pack_b_f64,
                                              generic_micro_f64_4x4,
                                              generic_small_f64};

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

/* ------------------------------------------------------- the kernel table */

static const nc_gemm_path_f32 *path_f32 = &nc_gemm_generic_f32;
static const nc_gemm_path_f64 *path_f64 = &nc_gemm_generic_f64;

void nc_select_kernels(const char *name)
{
    path_f32 = &nc_gemm_generic_f32;
    path_f64 = &nc_gemm_generic_f64;
    if (!name)
        return;
#if defined(NNCORE_HAVE_AVX2)
    if (strcmp(name, "avx2") == 0) {
        path_f32 = &nc_gemm_avx2_f32;
        path_f64 = &nc_gemm_avx2_f64;
    }
#endif
#if defined(NNCORE_HAVE_AVX512)
    if (strcmp(name, "avx512") == 0) {
        path_f32 = &nc_gemm_avx512_f32;
        path_f64 = &nc_gemm_avx512_f64;
    }
#endif
#if defined(NNCORE_HAVE_NEON)
    if (strcmp(name, "neon") == 0) {
        path_f32 = &nc_gemm_neon_f32;
        path_f64 = &nc_gemm_neon_f64;
    }
#endif
}

const nc_gemm_blocking *nc_gemm_blocking_f32(void)
{
    nc_cpu_init();
    return &path_f32->blocks;
}

const nc_gemm_blocking *nc_gemm_blocking_f64(void)
{
    nc_cpu_init();
    return &path_f64->blocks;
}

nc_status nc_gemm_f32(size_t m, size_t n, size_t k, float alpha, const float *a, ptrdiff_t a_rs,
                      ptrdiff_t a_cs, const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs, float beta,
                      float *c, ptrdiff_t c_rs, ptrdiff_t c_cs)
{
    nc_cpu_init();
    return gemm_f32(path_f32, m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c, c_rs, c_cs,
                    NULL);
}

nc_status nc_gemm_f64(size_t m, size_t n, size_t k, double alpha, const double *a, ptrdiff_t a_rs,
                      ptrdiff_t a_cs, const double *b, ptrdiff_t b_rs, ptrdiff_t b_cs, double beta,
                      double *c, ptrdiff_t c_rs, ptrdiff_t c_cs)
{
    nc_cpu_init();
    return gemm_f64(path_f64, m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c, c_rs, c_cs,
                    NULL);
}

nc_status nc_gemm_epilogue_f32(size_t m, size_t n, size_t k, float alpha, const float *a,
                               ptrdiff_t a_rs, ptrdiff_t a_cs, const float *b, ptrdiff_t b_rs,
                               ptrdiff_t b_cs, float beta, float *c, ptrdiff_t c_rs, ptrdiff_t c_cs,
                               const nc_epilogue_f32 *epilogue)
{
    if (!epilogue)
        return NC_ERR_INVALID_ARGUMENT;
    nc_cpu_init();
    return gemm_f32(path_f32, m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c, c_rs, c_cs,
                    epilogue);
}

nc_status nc_gemm_epilogue_f64(size_t m, size_t n, size_t k, double alpha, const double *a,
                               ptrdiff_t a_rs, ptrdiff_t a_cs, const double *b, ptrdiff_t b_rs,
                               ptrdiff_t b_cs, double beta, double *c, ptrdiff_t c_rs,
                               ptrdiff_t c_cs, const nc_epilogue_f64 *epilogue)
{
    if (!epilogue)
        return NC_ERR_INVALID_ARGUMENT;
    nc_cpu_init();
    return gemm_f64(path_f64, m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c, c_rs, c_cs,
                    epilogue);
}
