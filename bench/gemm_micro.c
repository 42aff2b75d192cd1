/*
 * gemm_micro.c -- the ceiling of the packed GEMM: its microkernel alone, in
 * the driver's inner loop (one packed KC x NR panel of B kept in L1, MR x KC
 * panels of A read in turn from an L2-sized block), with no packing and the
 * same C tile each call. The gap between this and the FMA loop of
 * fma_peak.c is the kernel's own cost (loads, broadcasts, the C update); the
 * gap between this and a whole GEMM is packing and memory traffic.
 * bench/gemm.py builds and runs it for the path nncore uses; by hand:
 *
 *   gcc -O2 -std=gnu11 -mavx512f -mavx2 -mfma -Icsrc -DNNCORE_HAVE_AVX512 \
 *       bench/gemm_micro.c csrc/gemm_avx512.c -lm -o gemm_micro
 *
 * (or -mavx2 -mfma -DNNCORE_HAVE_AVX2 with csrc/gemm_avx2.c). Prints
 * "float32 GFLOP/s" and "float64 GFLOP/s" lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gemm_kernels.h"

#if defined(NNCORE_HAVE_AVX512)
#define PATH_F32 nc_gemm_avx512_f32
#define PATH_F64 nc_gemm_avx512_f64
#elif defined(NNCORE_HAVE_AVX2)
#define PATH_F32 nc_gemm_avx2_f32
#define PATH_F64 nc_gemm_avx2_f64
#else
#error "define NNCORE_HAVE_AVX512 or NNCORE_HAVE_AVX2"
#endif

/* A panels cycled through: 8 x MR x KC elements, as an MC block in L2. */
#define A_PANELS 8

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Best of 5 runs of ~0.3 s each, in GFLOP/s. */
#define MEASURE(T, path, result)                                                                   \
    do {                                                                                           \
        const size_t mr = path.blocks.mr, nr = path.blocks.nr, kc = path.blocks.kc;                \
        T *a = aligned_alloc(64, A_PANELS * mr * kc * sizeof(T));                                  \
        T *b = aligned_alloc(64, kc * nr * sizeof(T));                                             \
        T *c = aligned_alloc(64, mr * nr * sizeof(T));                                             \
        for (size_t i = 0; i < A_PANELS * mr * kc; i++)                                            \
            a[i] = (T)1e-3 * (T)(i % 7);                                                           \
        for (size_t i = 0; i < kc * nr; i++)                                                       \
            b[i] = (T)1e-3 * (T)(i % 5);                                                           \
        for (size_t i = 0; i < mr * nr; i++)                                                       \
            c[i] = 0;                                                                              \
        const double flops = 2.0 * (double)(mr * nr * kc);                                         \
        const long calls = (long)(3e10 / flops) + 1;                                               \
        double best = 1e30;                                                                        \
        for (int run = 0; run < 5; run++) {                                                        \
            double start = now();                                                                  \
            for (long i = 0; i < calls; i++)                                                       \
                path.micro(kc, 1, a + (size_t)(i % A_PANELS) * mr * kc, b, 1, c, (ptrdiff_t)nr,    \
                           1);                                                                     \
            double seconds = now() - start;                                                        \
            best = seconds < best ? seconds : best;                                                \
        }                                                                                          \
        result = (double)calls * flops / best / 1e9;                                               \
        if (c[0] < 0) /* keeps the work observable */                                              \
            result = -result;                                                                      \
        free(a);                                                                                   \
        free(b);                                                                                   \
        free(c);                                                                                   \
    } while (0)

int main(void)
{
    double f32, f64;
    MEASURE(float, PATH_F32, f32);
    MEASURE(double, PATH_F64, f64);
    printf("float32 %.1f\nfloat64 %.1f\n", f32, f64);
    return 0;
}
