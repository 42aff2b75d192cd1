/*
 * gemm_avx2.c -- GEMM microkernels for AVX2 + FMA (x86-64 since Haswell and
 * Zen), compiled with -mavx2 -mfma only; cpu.c selects them when cpuid and
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
