/*
 * gemm.c -- the public GEMM entry points and the driver behind them, in two
 * parts: the decisions for one call (nc_gemm_make_plan: small kernel or
 * packed, orientation, threads and their shares; see gemm_plan.h), then
 * their execution (template gemm_impl.h, with the packing buffers below).
 * Uses dispatch.h for the path in use and runtime.h for the thread count and
 * the floating-point mode; the kernels themselves live in gemm_generic.c and
 * gemm_<isa>.c.
 */
#include <stdint.h>
#include <string.h>

#include "dispatch.h"
#include "gemm_kernels.h"
#include "gemm_plan.h"
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
/* Rows of the small kernel's register tile (SMALL_ROWS in gemm_simd_impl.h):
 * its threads take whole tiles. */
#define NC_GEMM_SMALL_TILE_ROWS 6

/* ------------------------------------------------------------ the plan */

/* The same product as C^T = op(B)^T op(A)^T. */
static nc_gemm_shape transposed_shape(nc_gemm_shape s)
{
    const nc_gemm_shape t = {s.n, s.m, s.k, s.b_cs, s.b_rs, s.a_cs, s.a_rs, s.c_cs, s.c_rs};
    return t;
}

/* The small kernel's part of the plan; 0 when it does not take the product. */
static int plan_small(const nc_gemm_blocking *bs, size_t element_size, double work, int threads,
                      const nc_gemm_shape *s, nc_gemm_plan *plan)
{
    const size_t nr = bs->nr;
    /* Neither operand suits the small kernel (dZ W^T of a backward pass: W^T
     * has unit row stride): a small B is copied into row-major order in this
     * thread's B packing buffer, far cheaper than packing both operands for
     * a tiny product. */
    const int copy_b = work <= (double)bs->small_work && s->b_cs != 1 && s->a_rs != 1 &&
                       s->k * s->n <= NC_GEMM_SMALL_B_COPY_ELEMENTS;
    const ptrdiff_t b_rs = copy_b ? (ptrdiff_t)s->n : s->b_rs;
    const ptrdiff_t b_cs = copy_b ? 1 : s->b_cs;
    const ptrdiff_t a_rs = s->a_rs;
    const size_t m = s->m, n = s->n, k = s->k;
    /* A product with a few rows (one-row predict: a vector times a weight
     * matrix) reads each element of B once in the small kernel's streaming
     * mode, where packing would copy all of B for one use. */
    const int few_rows = (b_cs == 1 && m <= NC_GEMM_STREAM_ROWS) ||
                         (b_cs != 1 && a_rs == 1 && n <= NC_GEMM_STREAM_ROWS);
    /* Narrower than one NR panel (the 10 outputs of a classifier; as C^T
     * when op(A) has unit row stride): the packed driver would fill a third
     * of each tile; the small kernel keeps its k x 2W slice of B in L1 and
     * streams the rows of A past it once. */
    const int narrow =
        k <= NC_GEMM_NARROW_MAX_K && ((b_cs == 1 && n <= nr) || (a_rs == 1 && m <= nr));
    if (!(work <= (double)bs->small_work || few_rows || narrow) || (b_cs != 1 && a_rs != 1))
        return 0;
    /* The small kernel wants a unit-stride right operand; when only A has
     * unit row stride, compute C^T = op(B)^T op(A)^T instead. When both
     * have, the orientation whose rows fill the vectors better: X^T dZ with
     * 10 outputs fills 10 of 16 lanes, its transpose all of them. */
    int swap = b_cs != 1;
    if (b_cs == 1 && a_rs == 1 && m > NC_GEMM_STREAM_ROWS && m <= nr && n > nr) {
        swap = 1; /* the narrow side becomes the columns, as above */
    } else if (b_cs == 1 && a_rs == 1 && m > NC_GEMM_STREAM_ROWS) {
        const size_t lanes = nr > 1 ? nr / 2 : 1;
        const double fill_n = (double)n / (double)((n + lanes - 1) / lanes * lanes);
        const double fill_m = (double)m / (double)((m + lanes - 1) / lanes * lanes);
        /* swapped, B is op(A)^T: it must stay small enough to be read once
         * per 6 rows (X^T dZ of a 1024-wide layer is not) */
        swap = fill_m > fill_n &&
               (double)k * (double)m * (double)element_size <= NC_GEMM_SMALL_SWAP_B_BYTES;
    }
    const size_t rows = swap ? n : m, cols = swap ? m : n;
    const ptrdiff_t kernel_a_cs = swap ? b_rs : s->a_cs;
    /* The small kernel reads A once per NR columns of C; A in columns
     * (a_cs != 1) is read a cache line per element and pays for it when
     * that traffic outgrows L2 (X^T dZ products), unless it is read once:
     * C no wider than NR. */
    const double a_traffic =
        (double)rows * (double)k * (double)element_size * (double)((cols + nr - 1) / nr);
    if (!(copy_b || kernel_a_cs == 1 || cols <= nr || a_traffic <= NC_GEMM_SMALL_STRIDED_A_BYTES))
        return 0;
    /* threads split the rows in groups of 6: two groups each at least (X^T
     * dZ with 10 outputs, as C^T: 10 rows, faster on one) */
    if (rows < (size_t)threads * 12)
        threads = 1;
    plan->small = 1;
    plan->copy_b = copy_b;
    plan->swap = swap;
    plan->threads = threads;
    plan->split = threads > 1 ? NC_GEMM_SPLIT_ROWS : NC_GEMM_SPLIT_NONE;
    plan->panel = NC_GEMM_SMALL_TILE_ROWS;
    plan->panels = (rows + NC_GEMM_SMALL_TILE_ROWS - 1) / NC_GEMM_SMALL_TILE_ROWS;
    return 1;
}

/* The packed driver's part of the plan. */
static void plan_packed(const nc_gemm_blocking *bs, size_t element_size, double work, int threads,
                        const nc_gemm_shape *s, nc_gemm_plan *plan)
{
    const size_t mr = bs->mr, nr = bs->nr;
    /* Each thread of the packed driver packs a whole operand of its own:
     * worth it on more work than the small kernel needs (dZ W^T with 10
     * outputs: 2 threads slower below this). */
    if (work < 8.0 * (double)bs->parallel_work)
        threads = 1;
    /* k is cut into equal blocks of at most KC (784 -> 3 x 262, not
     * 384 + 384 + 16: a thin last block would cost a whole C update for
     * little work). It depends on k only, never on the thread count. */
    const size_t k_blocks = (s->k + bs->kc - 1) / bs->kc;
    plan->kc = (s->k + k_blocks - 1) / k_blocks;
    /* The buffers bound MC and NC whatever the table says. */
    plan->mc = bs->mc;
    plan->nc = bs->nc;
    if (bs->mc * bs->kc * element_size > NC_GEMM_A_BUFFER_BYTES)
        plan->mc = NC_GEMM_A_BUFFER_BYTES / (bs->kc * element_size) / mr * mr;
    if (bs->nc * bs->kc * element_size > NC_GEMM_B_BUFFER_BYTES)
        plan->nc = NC_GEMM_B_BUFFER_BYTES / (bs->kc * element_size) / nr * nr;
    /* Split C by rows (each thread then packs all of B) when A is the larger
     * operand, by column panels (each thread packs all of A) otherwise, so
     * the operand packed twice is the smaller one. Shared panels with
     * barriers in between measured slower on 2 cores: 128x256x128 float32
     * took 50 us on 2 threads against 47 on one. */
    const size_t m_panels = (s->m + mr - 1) / mr;
    const size_t n_panels = (s->n + nr - 1) / nr;
    const int by_rows = threads == 1 || (m_panels >= (size_t)threads &&
                                         (s->m > s->n || n_panels < (size_t)threads));
    plan->small = 0;
    plan->threads = threads;
    plan->split =
        threads == 1 ? NC_GEMM_SPLIT_NONE : (by_rows ? NC_GEMM_SPLIT_ROWS : NC_GEMM_SPLIT_COLUMNS);
    plan->panel = by_rows ? mr : nr;
    plan->panels = by_rows ? m_panels : n_panels;
}

/* Inlined into the driver; nc_gemm_make_plan is the same for the tests. */
static inline void make_plan(const nc_gemm_blocking *bs, size_t element_size, int threads,
                             const nc_gemm_shape *shape, nc_gemm_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    /* The kernels store rows of C as vectors: for a column-major C compute
     * C^T = op(B)^T op(A)^T instead, the same products in the same order. */
    plan->transpose = shape->c_cs != 1 && shape->c_rs == 1;
    const nc_gemm_shape s = plan->transpose ? transposed_shape(*shape) : *shape;
    const double work = (double)s.m * (double)s.n * (double)s.k;
    if (threads < 1 || work < (double)bs->parallel_work)
        threads = 1;
    if (!plan_small(bs, element_size, work, threads, &s, plan))
        plan_packed(bs, element_size, work, threads, &s, plan);
}

void nc_gemm_make_plan(const nc_gemm_blocking *blocks, size_t element_size, int threads,
                       const nc_gemm_shape *shape, nc_gemm_plan *plan)
{
    make_plan(blocks, element_size, threads, shape, plan);
}

/* Panels [lo, hi) of `panels` that thread `thread` of `threads` takes. */
static void share(size_t panels, int thread, int threads, size_t *lo, size_t *hi)
{
    *lo = panels * (size_t)thread / (size_t)threads;
    *hi = panels * (size_t)(thread + 1) / (size_t)threads;
}

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
