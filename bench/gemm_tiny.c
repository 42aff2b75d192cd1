/*
 * gemm_tiny.c -- the cost of one small GEMM call at the C level (no Python),
 * and the crossover between the unpacked small kernel and the packed driver
 * (which sets small_work in the path tables). bench/gemm.py builds and runs
 * it; by hand:
 *
 *   gcc -O2 -std=gnu11 -mavx2 -mfma -Icsrc -DNNCORE_HAVE_AVX2 bench/gemm_tiny.c \
 *       csrc/gemm.c csrc/gemm_generic.c csrc/gemm_avx2.c csrc/dispatch.c \
 *       csrc/cpu_features.c csrc/runtime.c csrc/activations.c csrc/ref.c csrc/status.c \
 *       -lm -o gemm_tiny
 *
 * Prints one line per shape "m k n small_ns packed_ns nc_gemm_ns" for float32
 * and float64 (the packed driver is reached by giving B column-major).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gemm_kernels.h"
#include "nncore.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Best-of-5 nanoseconds per call of `body`, repeated to ~2 ms per sample. */
#define TIME_NS(result, body)                                                                      \
    do {                                                                                           \
        long reps = 1;                                                                             \
        for (;;) {                                                                                 \
            double t0 = now();                                                                     \
            for (long r_ = 0; r_ < reps; r_++) {                                                   \
                body;                                                                              \
            }                                                                                      \
            if (now() - t0 > 2e-3)                                                                 \
                break;                                                                             \
            reps *= 2;                                                                             \
        }                                                                                          \
        double best_ = 1e30;                                                                       \
        for (int s_ = 0; s_ < 5; s_++) {                                                           \
            double t0 = now();                                                                     \
            for (long r_ = 0; r_ < reps; r_++) {                                                   \
                body;                                                                              \
            }                                                                                      \
            double t = (now() - t0) / (double)reps;                                                \
            best_ = t < best_ ? t : best_;                                                         \
        }                                                                                          \
        result = best_ * 1e9;                                                                      \
    } while (0)

static const size_t shapes[][3] = {
    {32, 4, 6},      {32, 4, 8},      {32, 4, 16},     {32, 4, 5},     {32, 2, 4},
    {32, 8, 8},      {64, 16, 16},    {32, 32, 32},    {64, 64, 64},   {128, 64, 64},
    {96, 96, 96},    {128, 128, 128}, {32, 784, 128},  {128, 128, 10}, {256, 64, 64},
    {128, 256, 128}, {160, 160, 160}, {192, 192, 192},
};

int main(void)
{
    nc_set_num_threads(1);
    nc_cpu_info info;
    nc_cpu_features(&info);
    printf("# path %s, 1 thread; times in ns per call\n", info.kernel);
    printf("# dtype m k n small packed nc_gemm\n");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
        float *a = calloc(m * k, sizeof(float)), *b = calloc(k * n, sizeof(float));
        float *c = calloc(m * n, sizeof(float));
        double *ad = calloc(m * k, sizeof(double)), *bd = calloc(k * n, sizeof(double));
        double *cd = calloc(m * n, sizeof(double));
        double t_small, t_packed, t_api;
        TIME_NS(t_small, nc_gemm_avx2_f32.small(m, n, k, 1.0f, a, (ptrdiff_t)k, 1, b, (ptrdiff_t)n,
                                                0.0f, c, (ptrdiff_t)n, 1));
        TIME_NS(t_packed, nc_gemm_f32(m, n, k, 1.0f, a, (ptrdiff_t)k, 1, b, 1, (ptrdiff_t)k, 0.0f,
                                      c, (ptrdiff_t)n, 1));
        TIME_NS(t_api, nc_gemm_f32(m, n, k, 1.0f, a, (ptrdiff_t)k, 1, b, (ptrdiff_t)n, 1, 0.0f, c,
                                   (ptrdiff_t)n, 1));
        printf("float32 %zu %zu %zu %.0f %.0f %.0f\n", m, k, n, t_small, t_packed, t_api);
        TIME_NS(t_small, nc_gemm_avx2_f64.small(m, n, k, 1.0, ad, (ptrdiff_t)k, 1, bd, (ptrdiff_t)n,
                                                0.0, cd, (ptrdiff_t)n, 1));
        TIME_NS(t_packed, nc_gemm_f64(m, n, k, 1.0, ad, (ptrdiff_t)k, 1, bd, 1, (ptrdiff_t)k, 0.0,
                                      cd, (ptrdiff_t)n, 1));
        TIME_NS(t_api, nc_gemm_f64(m, n, k, 1.0, ad, (ptrdiff_t)k, 1, bd, (ptrdiff_t)n, 1, 0.0, cd,
                                   (ptrdiff_t)n, 1));
        printf("float64 %zu %zu %zu %.0f %.0f %.0f\n", m, k, n, t_small, t_packed, t_api);
        free(a), free(b), free(c), free(ad), free(bd), free(cd);
    }
    return 0;
}
