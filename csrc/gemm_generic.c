/*
 * gemm_generic.c -- the portable GEMM path: microkernels and the small-shape
 * kernel in plain C (template gemm_simd_impl.h with one-element "vectors"),
 * compiled for any CPU. Every build has it; dispatch.c selects it where no
 * SIMD path runs, or when NNCORE_ARCH=generic asks. Uses gemm_kernels.h
 * only, like every gemm_<isa>.c.
 */
#include "gemm_kernels.h"

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
