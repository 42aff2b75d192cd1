/*
 * gemm_avx2.c -- GEMM microkernels for AVX2 + FMA (x86-64 since Haswell and
 * Zen), compiled with -mavx2 -mfma only; dispatch.c selects them when cpuid and
 * xgetbv say the CPU and OS support them.
 *
 * Register tile: 6 rows x 2 vectors = 12 accumulators + 2 B vectors + 1
 * broadcast A value of the 16 ymm registers, as BLIS' haswell kernels
 * (sgemm 6x16, dgemm 6x8). Two FMA pipes with 4-5 cycles latency need at
 * least 8-10 independent accumulators to stay busy; 12 give slack.
 */
#include <immintrin.h>
#include <stdint.h>

#include "gemm_kernels.h"
#include "gemm_x86_transpose.h"

/* Lane masks for partial vectors: mask for n lanes starts at index W - n. */
static const int32_t mask32[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static const int64_t mask64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

/* Masked STORES are microcoded and slow on AMD Zen (masked loads are not):
 * a partial vector is stored in 128-, 64- and 32-bit pieces instead. */
static inline void store_part_ps(float *p, __m256 v, size_t n)
{
    __m128 part = _mm256_castps256_ps128(v);
    if (n >= 4) {
        _mm_storeu_ps(p, part);
        part = _mm256_extractf128_ps(v, 1);
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        _mm_storel_pi((__m64 *)p, part);
        part = _mm_movehl_ps(part, part);
        p += 2;
        n -= 2;
    }
    if (n)
        _mm_store_ss(p, part);
}
static inline void store_part_pd(double *p, __m256d v, size_t n)
{
    __m128d part = _mm256_castpd256_pd128(v);
    if (n >= 2) {
        _mm_storeu_pd(p, part);
        part = _mm256_extractf128_pd(v, 1);
        p += 2;
        n -= 2;
    }
    if (n)
        _mm_store_sd(p, part);
}

#define MASK_PS(n) _mm256_loadu_si256((const __m256i *)(mask32 + 8 - (n)))
#define MASK_PD(n) _mm256_loadu_si256((const __m256i *)(mask64 + 4 - (n)))

/* One 16-column sgemm B micro-panel from a B whose rows are contiguous
 * (element (p, j) at b[p + j*b_cs]): 8x8 blocks through registers. */
static void pack_b_columns_f32(size_t depth, const float *b, ptrdiff_t b_cs, float *dst)
{
    size_t p = 0;
    for (; p + 8 <= depth; p += 8) {
        for (int half = 0; half < 2; half++) {
            __m256 r[8];
            for (int i = 0; i < 8; i++)
                r[i] = _mm256_loadu_ps(b + (ptrdiff_t)(half * 8 + i) * b_cs + (ptrdiff_t)p);
            transpose_8x8_ps(r);
            for (int q = 0; q < 8; q++)
                _mm256_storeu_ps(dst + (p + (size_t)q) * 16 + (size_t)half * 8, r[q]);
        }
    }
    for (; p < depth; p++)
        for (int j = 0; j < 16; j++)
            dst[p * 16 + (size_t)j] = b[(ptrdiff_t)j * b_cs + (ptrdiff_t)p];
}

/* One 6-row sgemm A micro-panel from an A whose rows are contiguous
 * (element (i, p) at a[i*a_rs + p]): 8 steps at a time, 6 rows and 2 zero
 * rows transposed in registers. Each 8-float store spills 2 floats into the
 * next step, which the next store overwrites; the block loop stops short of
 * the last step so nothing is written past the panel. */
static void pack_a_rows_f32(size_t depth, const float *a, ptrdiff_t a_rs, float *dst)
{
    size_t p = 0;
    for (; p + 8 < depth; p += 8) {
        __m256 r[8];
        for (int i = 0; i < 6; i++)
            r[i] = _mm256_loadu_ps(a + (ptrdiff_t)i * a_rs + (ptrdiff_t)p);
        r[6] = r[7] = _mm256_setzero_ps();
        transpose_8x8_ps(r);
        for (int q = 0; q < 8; q++)
            _mm256_storeu_ps(dst + (p + (size_t)q) * 6, r[q]);
    }
    for (; p < depth; p++)
        for (int i = 0; i < 6; i++)
            dst[p * 6 + (size_t)i] = a[(ptrdiff_t)i * a_rs + (ptrdiff_t)p];
}

/* The dgemm twins of the two packers above, with 4x4 blocks. */
static void pack_b_columns_f64(size_t depth, const double *b, ptrdiff_t b_cs, double *dst)
{
    size_t p = 0;
    for (; p + 4 <= depth; p += 4) {
        for (int half = 0; half < 2; half++) {
            __m256d r[4];
            for (int i = 0; i < 4; i++)
                r[i] = _mm256_loadu_pd(b + (ptrdiff_t)(half * 4 + i) * b_cs + (ptrdiff_t)p);
            transpose_4x4_pd(r);
            for (int q = 0; q < 4; q++)
                _mm256_storeu_pd(dst + (p + (size_t)q) * 8 + (size_t)half * 4, r[q]);
        }
    }
    for (; p < depth; p++)
        for (int j = 0; j < 8; j++)
            dst[p * 8 + (size_t)j] = b[(ptrdiff_t)j * b_cs + (ptrdiff_t)p];
}

static void pack_a_rows_f64(size_t depth, const double *a, ptrdiff_t a_rs, double *dst)
{
    size_t p = 0;
    for (; p + 4 < depth; p += 4) {
        __m256d top[4], bottom[4];
        for (int i = 0; i < 4; i++)
            top[i] = _mm256_loadu_pd(a + (ptrdiff_t)i * a_rs + (ptrdiff_t)p);
        bottom[0] = _mm256_loadu_pd(a + 4 * a_rs + (ptrdiff_t)p);
        bottom[1] = _mm256_loadu_pd(a + 5 * a_rs + (ptrdiff_t)p);
        bottom[2] = bottom[3] = _mm256_setzero_pd();
        transpose_4x4_pd(top);
        transpose_4x4_pd(bottom);
        for (int q = 0; q < 4; q++) { /* rows 4-5 spill 2 zeros into the next step */
            _mm256_storeu_pd(dst + (p + (size_t)q) * 6, top[q]);
            _mm256_storeu_pd(dst + (p + (size_t)q) * 6 + 4, bottom[q]);
        }
    }
    for (; p < depth; p++)
        for (int i = 0; i < 6; i++)
            dst[p * 6 + (size_t)i] = a[(ptrdiff_t)i * a_rs + (ptrdiff_t)p];
}

#define MR 6
#define NV 2
/* Prefetches the cache line holding *p (and, for a 2-vector row, the next
 * one the row may straddle) into L1. */
#define VPREFETCH(p)                                                                               \
    do {                                                                                           \
        _mm_prefetch((const char *)(p), _MM_HINT_T0);                                              \
        _mm_prefetch((const char *)(p) + 63, _MM_HINT_T0);                                         \
    } while (0)
#define VPREFETCH_AHEAD(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)

#define T float
#define V __m256
#define W 8
#define VZERO() _mm256_setzero_ps()
#define VSET1(x) _mm256_set1_ps(x)
#define VLOADU(p) _mm256_loadu_ps(p)
#define VSTOREU(p, v) _mm256_storeu_ps(p, v)
#define VBCAST(p) _mm256_broadcast_ss(p)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VMUL(a, b) _mm256_mul_ps(a, b)
#define VLOAD_PART(p, n) _mm256_maskload_ps(p, MASK_PS(n))
#define VSTORE_PART(p, v, n) store_part_ps(p, v, n)
#define PACK_B_UNIT_ROW_STRIDE pack_b_columns_f32
#define PACK_A_UNIT_COL_STRIDE pack_a_rows_f32
#define MICRO avx2_micro_f32_6x16
#define SMALL avx2_small_f32
#define PACK_A avx2_pack_a_f32
#define PACK_B avx2_pack_b_f32
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
#undef PACK_B_UNIT_ROW_STRIDE
#undef PACK_A_UNIT_COL_STRIDE
#undef PACK_A
#undef PACK_B

#define T double
#define V __m256d
#define W 4
#define VZERO() _mm256_setzero_pd()
#define VSET1(x) _mm256_set1_pd(x)
#define VLOADU(p) _mm256_loadu_pd(p)
#define VSTOREU(p, v) _mm256_storeu_pd(p, v)
#define VBCAST(p) _mm256_broadcast_sd(p)
#define VFMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define VMUL(a, b) _mm256_mul_pd(a, b)
#define VLOAD_PART(p, n) _mm256_maskload_pd(p, MASK_PD(n))
#define VSTORE_PART(p, v, n) store_part_pd(p, v, n)
#define PACK_B_UNIT_ROW_STRIDE pack_b_columns_f64
#define PACK_A_UNIT_COL_STRIDE pack_a_rows_f64
#define MICRO avx2_micro_f64_6x8
#define SMALL avx2_small_f64
#define PACK_A avx2_pack_a_f64
#define PACK_B avx2_pack_b_f64
#include "gemm_simd_impl.h"

/* Zen3 (per core): L1d 32 KB, L2 512 KB, L3 32 MB shared. KC 256 keeps a
 * 6 x KC A micro-panel and a KC x NR B micro-panel within L1 with room for
 * C; MC x KC of A fills about half of L2; KC x NC of B a few MB of L3. */
const nc_gemm_path_f32 nc_gemm_avx2_f32 = {{.mr = 6,
                                            .nr = 16,
                                            .kc = 384,
                                            .mc = 120,
                                            .nc = 4080,
                                            .small_work = 192 * 192 * 160,
                                            .parallel_work = 64 * 64 * 32},
                                           avx2_pack_a_f32,
                                           avx2_pack_b_f32,
                                           avx2_micro_f32_6x16,
                                           avx2_small_f32};
const nc_gemm_path_f64 nc_gemm_avx2_f64 = {{.mr = 6,
                                            .nr = 8,
                                            .kc = 256,
                                            .mc = 72,
                                            .nc = 2040,
                                            .small_work = 96 * 96 * 128,
                                            .parallel_work = 64 * 32 * 32},
                                           avx2_pack_a_f64,
                                           avx2_pack_b_f64,
                                           avx2_micro_f64_6x8,
                                           avx2_small_f64};
