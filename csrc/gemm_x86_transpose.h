/*
 * gemm_x86_transpose.h -- in-register transposes of 8x8 floats and 4x4
 * doubles with AVX (256-bit) instructions, for the packing routines of the
 * AVX2 and AVX-512 paths: a matrix stored the "wrong" way round (B^T, or A
 * by rows) is packed a block at a time through registers instead of one
 * strided element at a time. Include only from files compiled with -mavx2.
 */
#ifndef NNCORE_GEMM_X86_TRANSPOSE_H
#define NNCORE_GEMM_X86_TRANSPOSE_H

#include <immintrin.h>

/* Transposes 8 rows of 8 floats in registers: afterwards r[j] holds what
 * was column j. Three rounds: pairs of rows interleaved, then pairs of
 * pairs, then the 128-bit halves exchanged. */
static inline void transpose_8x8_ps(__m256 r[8])
{
    __m256 t[8], s[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        /* t[4i..4i+3] come from rows 4i..4i+3 */
        s[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        s[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        s[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        s[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int j = 0; j < 4; j++) {
        r[j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x20);
        r[4 + j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x31);
    }
}

/* Transposes 4 rows of 4 doubles in registers: afterwards r[j] holds what
 * was column j. */
static inline void transpose_4x4_pd(__m256d r[4])
{
    __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

#endif
