/*
 * gemm_avx512.c -- GEMM microkernels for AVX-512F (Skylake-X and later, Zen4),
 * compiled with -mavx512f only; dispatch.c selects them when cpuid and xgetbv say
 * the CPU and OS support the 512-bit state.
 *
 * Register tile: 12 rows x 2 vectors = 24 accumulators + 2 B vectors + a
 * broadcast of the 32 zmm registers (the shape of BLIS' skx sgemm 32x12,
 * transposed to our row-major C: sgemm 12x32, dgemm 12x16). The loop itself
 * is the template shared with the AVX2 and portable paths (gemm_simd_impl.h),
 * which the tests run on every machine.
 */
#include <immintrin.h>

#include "gemm_kernels.h"
#include "gemm_x86_transpose.h"

/* The first n (< lanes) elements; masked-off lanes are never touched. */
#define MASK16(n) ((__mmask16)((1u << (n)) - 1u))
#define MASK8(n) ((__mmask8)((1u << (n)) - 1u))

/* Packing of operands stored the other way round, 8x8 (float) or 4x4
 * (double) blocks at a time through the AVX transposes: B stored by columns
 * (the dZ W^T of every backward pass) and A stored by rows (X W). */

/* One 32-column sgemm B micro-panel, element (p, j) at b[p + j*b_cs]. */
static void pack_b_columns_f32(size_t depth, const float *b, ptrdiff_t b_cs, float *dst)
{
    size_t p = 0;
    for (; p + 8 <= depth; p += 8)
        for (int group = 0; group < 4; group++) {
            __m256 r[8];
            for (int i = 0; i < 8; i++)
                r[i] = _mm256_loadu_ps(b + (ptrdiff_t)(group * 8 + i) * b_cs + (ptrdiff_t)p);
            transpose_8x8_ps(r);
            for (int q = 0; q < 8; q++)
                _mm256_storeu_ps(dst + (p + (size_t)q) * 32 + (size_t)group * 8, r[q]);
        }
    for (; p < depth; p++)
        for (int j = 0; j < 32; j++)
            dst[p * 32 + (size_t)j] = b[(ptrdiff_t)j * b_cs + (ptrdiff_t)p];
}

/* One 12-row sgemm A micro-panel, element (i, p) at a[i*a_rs + p]: rows 0-7
 * and rows 8-11 (with 4 zero rows) as two 8x8 blocks. */
static void pack_a_rows_f32(size_t depth, const float *a, ptrdiff_t a_rs, float *dst)
{
    size_t p = 0;
    for (; p + 8 <= depth; p += 8) {
        __m256 top[8], bottom[8];
        for (int i = 0; i < 8; i++)
            top[i] = _mm256_loadu_ps(a + (ptrdiff_t)i * a_rs + (ptrdiff_t)p);
        for (int i = 0; i < 4; i++)
            bottom[i] = _mm256_loadu_ps(a + (ptrdiff_t)(8 + i) * a_rs + (ptrdiff_t)p);
        for (int i = 4; i < 8; i++)
            bottom[i] = _mm256_setzero_ps();
        transpose_8x8_ps(top);
        transpose_8x8_ps(bottom);
        for (int q = 0; q < 8; q++) {
            _mm256_storeu_ps(dst + (p + (size_t)q) * 12, top[q]);
            _mm_storeu_ps(dst + (p + (size_t)q) * 12 + 8, _mm256_castps256_ps128(bottom[q]));
        }
    }
    for (; p < depth; p++)
        for (int i = 0; i < 12; i++)
            dst[p * 12 + (size_t)i] = a[(ptrdiff_t)i * a_rs + (ptrdiff_t)p];
}

/* The dgemm twins: 16 columns of B, 12 rows of A, in 4x4 blocks. */
static void pack_b_columns_f64(size_t depth, const double *b, ptrdiff_t b_cs, double *dst)
{
    size_t p = 0;
    for (; p + 4 <= depth; p += 4)
        for (int group = 0; group < 4; group++) {
            __m256d r[4];
            for (int i = 0; i < 4; i++)
                r[i] = _mm256_loadu_pd(b + (ptrdiff_t)(group * 4 + i) * b_cs + (ptrdiff_t)p);
            transpose_4x4_pd(r);
            for (int q = 0; q < 4; q++)
                _mm256_storeu_pd(dst + (p + (size_t)q) * 16 + (size_t)group * 4, r[q]);
        }
    for (; p < depth; p++)
        for (int j = 0; j < 16; j++)
            dst[p * 16 + (size_t)j] = b[(ptrdiff_t)j * b_cs + (ptrdiff_t)p];
}

static void pack_a_rows_f64(size_t depth, const double *a, ptrdiff_t a_rs, double *dst)
{
    size_t p = 0;
    for (; p + 4 <= depth; p += 4)
        for (int group = 0; group < 3; group++) {
            __m256d r[4];
            for (int i = 0; i < 4; i++)
                r[i] = _mm256_loadu_pd(a + (ptrdiff_t)(group * 4 + i) * a_rs + (ptrdiff_t)p);
            transpose_4x4_pd(r);
            for (int q = 0; q < 4; q++)
                _mm256_storeu_pd(dst + (p + (size_t)q) * 12 + (size_t)group * 4, r[q]);
        }
    for (; p < depth; p++)
        for (int i = 0; i < 12; i++)
            dst[p * 12 + (size_t)i] = a[(ptrdiff_t)i * a_rs + (ptrdiff_t)p];
}

#define MR 12
#define NV 2
/* Prefetches a row of the C tile (two vectors: 128 bytes, three cache lines
 * when unaligned) into L1, and a line of the A panel ahead. */
#define VPREFETCH(p)                                                                               \
    do {                                                                                           \
        _mm_prefetch((const char *)(p), _MM_HINT_T0);                                              \
        _mm_prefetch((const char *)(p) + 64, _MM_HINT_T0);                                         \
        _mm_prefetch((const char *)(p) + 127, _MM_HINT_T0);                                        \
    } while (0)
#define VPREFETCH_AHEAD(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)

#define T float
#define V __m512
#define W 16
#define VZERO() _mm512_setzero_ps()
#define VSET1(x) _mm512_set1_ps(x)
#define VLOADU(p) _mm512_loadu_ps(p)
#define VSTOREU(p, v) _mm512_storeu_ps(p, v)
#define VBCAST(p) _mm512_set1_ps(*(p))
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VMUL(a, b) _mm512_mul_ps(a, b)
#define VLOAD_PART(p, n) _mm512_maskz_loadu_ps(MASK16(n), p)
#define VSTORE_PART(p, v, n) _mm512_mask_storeu_ps(p, MASK16(n), v)
#define PACK_B_UNIT_ROW_STRIDE pack_b_columns_f32
#define PACK_A_UNIT_COL_STRIDE pack_a_rows_f32
#define MICRO avx512_micro_f32_12x32
#define SMALL avx512_small_f32
#define PACK_A avx512_pack_a_f32
#define PACK_B avx512_pack_b_f32
#include "gemm_simd_impl.h"
#undef T
#undef V
#undef W
#undef VZERO
#undef VSET1
#undef VLOADU
#undef VSTOREU
#undef VBCAST
#undef VFMA
#undef VMUL
#undef VLOAD_PART
#undef VSTORE_PART
#undef MICRO
#undef SMALL
#undef PACK_A
#undef PACK_B
#undef PACK_B_UNIT_ROW_STRIDE
#undef PACK_A_UNIT_COL_STRIDE

#define T double
#define V __m512d
#define W 8
#define VZERO() _mm512_setzero_pd()
#define VSET1(x) _mm512_set1_pd(x)
#define VLOADU(p) _mm512_loadu_pd(p)
#define VSTOREU(p, v) _mm512_storeu_pd(p, v)
#define VBCAST(p) _mm512_set1_pd(*(p))
#define VFMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define VMUL(a, b) _mm512_mul_pd(a, b)
#define VLOAD_PART(p, n) _mm512_maskz_loadu_pd(MASK8(n), p)
#define VSTORE_PART(p, v, n) _mm512_mask_storeu_pd(p, MASK8(n), v)
#define PACK_B_UNIT_ROW_STRIDE pack_b_columns_f64
#define PACK_A_UNIT_COL_STRIDE pack_a_rows_f64
#define MICRO avx512_micro_f64_12x16
#define SMALL avx512_small_f64
#define PACK_A avx512_pack_a_f64
#define PACK_B avx512_pack_b_f64
#include "gemm_simd_impl.h"

/* Skylake-SP and later, per core: L1d 32-48 KB, L2 1-2 MB. KC 256 puts a
 * KC x NR micro-panel of B at 32 KB for both types (it streams through L1
 * with the prefetches above) and MC x KC of A at about half of a 1 MB L2.
 * Measured on a 2-core Sapphire Rapids guest (2026-11-24, bench/gemm.py, one
 * thread): KC 256 instead of 128 took 1024^3 sgemm from 0.93x to 0.98-1.05x
 * of OpenBLAS and the dZ W^T shape (B stored by columns, packed through the
 * transposes) from 0.82x to 1.12x. */
const nc_gemm_path_f32 nc_gemm_avx512_f32 = {{.mr = 12,
                                              .nr = 32,
                                              .kc = 256,
                                              .mc = 480,
                                              .nc = 4096,
                                              .small_work = 64 * 64 * 64,
                                              .parallel_work = 64 * 64 * 64},
                                             avx512_pack_a_f32,
                                             avx512_pack_b_f32,
                                             avx512_micro_f32_12x32,
                                             avx512_small_f32};
const nc_gemm_path_f64 nc_gemm_avx512_f64 = {{.mr = 12,
                                              .nr = 16,
                                              .kc = 256,
                                              .mc = 240,
                                              .nc = 4096,
                                              .small_work = 64 * 64 * 64,
                                              .parallel_work = 64 * 64 * 32},
                                             avx512_pack_a_f64,
                                             avx512_pack_b_f64,
                                             avx512_micro_f64_12x16,
                                             avx512_small_f64};
