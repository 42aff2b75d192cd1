/*
 * fma_peak.c -- measures the floating-point peak of one core: a loop of
 * independent FMAs (12 accumulators, more than latency x pipes = 4 x 2 on
 * Zen3 and Intel cores, so the FMA units never wait), with AVX2 and, when the
 * CPU has it, AVX-512. Prints GFLOP/s lines "avx2 float32 X" etc.;
 * bench/gemm.py compiles and runs it and takes the line of the path in use.
 *
 *   gcc -O2 -mavx2 -mfma bench/fma_peak.c -o fma_peak && ./fma_peak
 */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define ACCUMULATORS 12

/* Returns seconds for `iterations` rounds of ACCUMULATORS FMAs; the sum is
 * written to *sink so the compiler keeps the work. */
static double time_ps(long iterations, float *sink)
{
    __m256 acc[ACCUMULATORS];
    for (int i = 0; i < ACCUMULATORS; i++)
        acc[i] = _mm256_set1_ps((float)i);
    const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    double start = now();
    for (long it = 0; it < iterations; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < ACCUMULATORS; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    }
    double seconds = now() - start;
    __m256 s = acc[0];
    for (int i = 1; i < ACCUMULATORS; i++)
        s = _mm256_add_ps(s, acc[i]);
    *sink = _mm256_cvtss_f32(s);
    return seconds;
}

static double time_pd(long iterations, double *sink)
{
    __m256d acc[ACCUMULATORS];
    for (int i = 0; i < ACCUMULATORS; i++)
        acc[i] = _mm256_set1_pd((double)i);
    const __m256d x = _mm256_set1_pd(0.999999), y = _mm256_set1_pd(1e-7);
    double start = now();
    for (long it = 0; it < iterations; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < ACCUMULATORS; i++)
            acc[i] = _mm256_fmadd_pd(acc[i], x, y);
    }
    double seconds = now() - start;
    __m256d s = acc[0];
    for (int i = 1; i < ACCUMULATORS; i++)
        s = _mm256_add_pd(s, acc[i]);
    *sink = _mm256_cvtsd_f64(s);
    return seconds;
}

/* The same with 512-bit vectors, compiled for AVX-512 by attribute only, so
 * the program still runs on CPUs without it. */
#define AVX512 __attribute__((target("avx512f")))

AVX512 static double time_ps512(long iterations, float *sink)
{
    __m512 acc[ACCUMULATORS];
    for (int i = 0; i < ACCUMULATORS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    double start = now();
    for (long it = 0; it < iterations; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < ACCUMULATORS; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    }
    double seconds = now() - start;
    __m512 s = acc[0];
    for (int i = 1; i < ACCUMULATORS; i++) /* every accumulator, or the unused ones go */
        s = _mm512_add_ps(s, acc[i]);
    *sink = _mm512_reduce_add_ps(s);
    return seconds;
}

AVX512 static double time_pd512(long iterations, double *sink)
{
    __m512d acc[ACCUMULATORS];
    for (int i = 0; i < ACCUMULATORS; i++)
        acc[i] = _mm512_set1_pd((double)i);
    const __m512d x = _mm512_set1_pd(0.999999), y = _mm512_set1_pd(1e-7);
    double start = now();
    for (long it = 0; it < iterations; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < ACCUMULATORS; i++)
            acc[i] = _mm512_fmadd_pd(acc[i], x, y);
    }
    double seconds = now() - start;
    __m512d s = acc[0];
    for (int i = 1; i < ACCUMULATORS; i++)
        s = _mm512_add_pd(s, acc[i]);
    *sink = _mm512_reduce_add_pd(s);
    return seconds;
}

int main(void)
{
    const long iterations = 50 * 1000 * 1000;
    float sink_f = 0;
    double sink_d = 0, best_f = 1e30, best_d = 1e30;
    for (int rep = 0; rep < 5; rep++) { /* best of 5: other processes share the core */
        double t = time_ps(iterations, &sink_f);
        best_f = t < best_f ? t : best_f;
        t = time_pd(iterations, &sink_d);
        best_d = t < best_d ? t : best_d;
    }
    /* flops per iteration: ACCUMULATORS FMAs x lanes x 2 */
    printf("avx2 float32 %.2f\n", (double)iterations * ACCUMULATORS * 8 * 2 / best_f / 1e9);
    printf("avx2 float64 %.2f\n", (double)iterations * ACCUMULATORS * 4 * 2 / best_d / 1e9);
    if (__builtin_cpu_supports("avx512f")) {
        best_f = best_d = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            double t = time_ps512(iterations, &sink_f);
            best_f = t < best_f ? t : best_f;
            t = time_pd512(iterations, &sink_d);
            best_d = t < best_d ? t : best_d;
        }
        printf("avx512 float32 %.2f\n", (double)iterations * ACCUMULATORS * 16 * 2 / best_f / 1e9);
        printf("avx512 float64 %.2f\n", (double)iterations * ACCUMULATORS * 8 * 2 / best_d / 1e9);
    }
    fprintf(stderr, "(sinks %g %g)\n", (double)sink_f, sink_d);
    return 0;
}
