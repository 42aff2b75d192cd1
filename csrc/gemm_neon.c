/*
 * gemm_neon.c -- GEMM microkernels for AArch64 Advanced SIMD (NEON is part of
 * every AArch64 CPU). Only compiled for arm64 targets (see setup.py).
 *
 * Register tile: 8 rows x 3 vectors = 24 accumulators + 3 B vectors + a
 * broadcast of the 32 q registers: sgemm 8x12, dgemm 8x6. The loop is the
 * template shared with the other paths (gemm_simd_impl.h).
 */
#include <arm_neon.h>
#include <string.h>

#include "gemm_kernels.h"

/* NEON has no masked load/store: partial vectors go through a small buffer,
 * touching only the n valid elements of memory. */
static inline float32x4_t load_part_f32(const float *p, size_t n)
{
    float lanes[4] = {0, 0, 0, 0};
    memcpy(lanes, p, n * sizeof(float));
    return vld1q_f32(lanes);
}
static inline void store_part_f32(float *p, float32x4_t v, size_t n)
{
    float lanes[4];
    vst1q_f32(lanes, v);
    memcpy(p, lanes, n * sizeof(float));
}
static inline float64x2_t load_part_f64(const double *p, size_t n)
{
    double lanes[2] = {0, 0};
    memcpy(lanes, p, n * sizeof(double));
    return vld1q_f64(lanes);
}
static inline void store_part_f64(double *p, float64x2_t v, size_t n)
{
    double lanes[2];
    vst1q_f64(lanes, v);
    memcpy(p, lanes, n * sizeof(double));
}

#define MR 8
#define NV 3

#define T float
#define V float32x4_t
#define W 4
#define VZERO() vdupq_n_f32(0.0f)
#define VSET1(x) vdupq_n_f32(x)
#define VLOADU(p) vld1q_f32(p)
#define VSTOREU(p, v) vst1q_f32(p, v)
#define VBCAST(p) vld1q_dup_f32(p)
#define VFMA(a, b, c) vfmaq_f32(c, a, b)
#define VMUL(a, b) vmulq_f32(a, b)
#define VLOAD_PART(p, n) load_part_f32(p, n)
#define VSTORE_PART(p, v, n) store_part_f32(p, v, n)
#define MICRO neon_micro_f32_8x12
#define SMALL neon_small_f32
#define PACK_A neon_pack_a_f32
#define PACK_B neon_pack_b_f32
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
#define V float64x2_t
#define W 2
#define VZERO() vdupq_n_f64(0.0)
#define VSET1(x) vdupq_n_f64(x)
#define VLOADU(p) vld1q_f64(p)
#define VSTOREU(p, v) vst1q_f64(p, v)
#define VBCAST(p) vld1q_dup_f64(p)
#define VFMA(a, b, c) vfmaq_f64(c, a, b)
#define VMUL(a, b) vmulq_f64(a, b)
#define VLOAD_PART(p, n) load_part_f64(p, n)
#define VSTORE_PART(p, v, n) store_part_f64(p, v, n)
#define MICRO neon_micro_f64_8x6
#define SMALL neon_small_f64
#define PACK_A neon_pack_a_f64
#define PACK_B neon_pack_b_f64
#include "gemm_simd_impl.h"

/* Typical arm64 cores (Neoverse N1, Apple M1 performance cores): L1d 64 KB
 * or more, L2 1 MB or more. Not measured here (x86 machine). */
const nc_gemm_path_f32 nc_gemm_neon_f32 = {{.mr = 8,
                                            .nr = 12,
                                            .kc = 256,
                                            .mc = 128,
                                            .nc = 4092,
                                            .small_work = 64 * 64 * 64,
                                            .parallel_work = 64 * 32 * 32},
                                           neon_pack_a_f32,
                                           neon_pack_b_f32,
                                           neon_micro_f32_8x12,
                                           neon_small_f32};
const nc_gemm_path_f64 nc_gemm_neon_f64 = {{.mr = 8,
                                            .nr = 6,
                                            .kc = 256,
                                            .mc = 96,
                                            .nc = 2046,
                                            .small_work = 64 * 64 * 64,
                                            .parallel_work = 32 * 32 * 32},
                                           neon_pack_a_f64,
                                           neon_pack_b_f64,
                                           neon_micro_f64_8x6,
                                           neon_small_f64};
