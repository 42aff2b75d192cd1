/*
 * gemm_avx512.c -- GEMM microkernels for AVX-512F (Skylake-X and later, Zen4),
 * compiled with -mavx512f only; cpu.c selects them when cpuid and xgetbv say
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

/* The first n (< lanes) elements; masked-off lanes are never touched. */
#define MASK16(n) ((__mmask16)((1u << (n)) - 1u))
#define MASK8(n) ((__mmask8)((1u << (n)) - 1u))

#define MR 12
#define NV 2

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
#define MICRO avx512_micro_f64_12x16
#define SMALL avx512_small_f64
#define PACK_A avx512_pack_a_f64
#define PACK_B avx512_pack_b_f64
#include "gemm_simd_impl.h"

/* Skylake-SP per core: L1d 32 KB, L2 1 MB. KC 128 keeps a KC x NR micro-panel
 * of B at 16 KB (half of L1) for both types; MC x KC of A takes about a
 * quarter of L2. Not measured (this machine has no AVX-512): starting values
 * derived from the cache sizes, to be tuned on such a CPU with bench/gemm.py. */
const nc_gemm_path_f32 nc_gemm_avx512_f32 = {{.mr = 12,
                                              .nr = 32,
                                              .kc = 128,
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
                                              .kc = 128,
                                              .mc = 240,
                                              .nc = 4096,
                                              .small_work = 64 * 64 * 64,
                                              .parallel_work = 64 * 64 * 32},
                                             avx512_pack_a_f64,
                                             avx512_pack_b_f64,
                                             avx512_micro_f64_12x16,
                                             avx512_small_f64};
