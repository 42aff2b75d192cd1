/*
 * gemm_simd_impl.h -- template for the microkernel and the small-shape kernel
 * of one (instruction set, element type) pair. Included by gemm_generic.c (portable
 * C, "vectors" of one element), gemm_avx2.c, gemm_avx512.c and gemm_neon.c,
 * once per element type, so the register-tiling logic is written once and the
 * AVX-512 and NEON paths, which this machine cannot run, share the code that
 * the AVX2 and generic tests exercise.
 *
 * Before including, define:
 *   T                element type;  V  its vector type;  W  lanes per vector
 *   MR, NV           register tile: MR rows x (NV*W) columns of C
 *   MICRO, SMALL, PACK_A, PACK_B   names of the functions to generate
 *   VZERO()  VSET1(x)  VLOADU(p)  VSTOREU(p, v)  VBCAST(p)  (splat *p)
 *   VFMA(a, b, c)  (a*b + c)   VMUL(a, b)
 *   VLOAD_PART(p, n) / VSTORE_PART(p, v, n)   the first n < W lanes only
 *                    (never touching memory past them)
 * and optionally PACK_B_UNIT_ROW_STRIDE(depth, b, b_cs, dst), packing one
 * full B micro-panel whose rows are contiguous (b_rs == 1), and
 * PACK_A_UNIT_COL_STRIDE(depth, a, a_rs, dst), one full A micro-panel whose
 * rows are contiguous (a_cs == 1).
 * Everything is #undef'd at the end.
 */

#define NR (NV * W)
#define NC_CAT_(x, y) x##y
#define NC_CAT(x, y) NC_CAT_(x, y)
#define SMALL_STORE NC_CAT(SMALL, _store)
#define SMALL_TILE NC_CAT(SMALL, _tile)
#define SMALL_ROWS_OF NC_CAT(SMALL, _rows)
#define SMALL_ROWS 6 /* register tile of the small kernel: 6 rows x 2 vectors */
#define SMALL_STREAM NC_CAT(SMALL, _stream)
#define STREAM_ROWS 4 /* NC_GEMM_STREAM_ROWS in gemm.c */
/* vectors of a B row per pass: 4 KB, a page, of every type */
#define STREAM_VECS (4096 / (W * sizeof(T)))

#if defined(__GNUC__) && !defined(__clang__)
#define NC_UNROLL _Pragma("GCC unroll 16")
#elif defined(__clang__)
#define NC_UNROLL _Pragma("unroll")
#else
#define NC_UNROLL
#endif

#if defined(__GNUC__) || defined(__clang__)
#define NC_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define NC_INLINE static __forceinline
#else
#define NC_INLINE static inline
#endif

/* Writes alpha*acc (+ beta*C) for one vector of a tile row: n valid lanes,
 * C at c with column stride c_cs. beta == 0 never reads C. */
NC_INLINE void SMALL_STORE(V acc, size_t n, T alpha, T beta, T *c, ptrdiff_t c_cs);

/* Packs rows x depth of op(A) (element (i, p) at a[i*a_rs + p*a_cs]) into
 * ceil(rows/MR) micro-panels, each depth steps of MR values, zero padded.
 * MR is a constant here, so each step is MR plain moves. */
static void PACK_A(size_t rows, size_t depth, const T *a, ptrdiff_t a_rs, ptrdiff_t a_cs, T *dst)
{
    for (size_t i0 = 0; i0 < rows; i0 += MR, a += (ptrdiff_t)MR * a_rs) {
        const size_t h = rows - i0 < MR ? rows - i0 : MR;
        if (h == MR) {
#if defined(PACK_A_UNIT_COL_STRIDE)
            /* op(A) stored by rows: an in-register transpose, when the
             * instruction set has one. */
            if (a_cs == 1) {
                PACK_A_UNIT_COL_STRIDE(depth, a, a_rs, dst);
                dst += MR * depth;
                continue;
            }
#endif
            for (size_t p = 0; p < depth; p++, dst += MR) {
                const T *src = a + (ptrdiff_t)p * a_cs;
                NC_UNROLL
                for (int r = 0; r < MR; r++)
                    dst[r] = src[r * a_rs];
            }
            continue;
        }
        for (size_t p = 0; p < depth; p++, dst += MR) {
            for (size_t r = 0; r < h; r++)
                dst[r] = a[(ptrdiff_t)r * a_rs + (ptrdiff_t)p * a_cs];
            for (size_t r = h; r < MR; r++)
                dst[r] = 0;
        }
    }
}

/* Packs depth x cols (cols <= NR) of op(B) (element (p, j) at
 * b[p*b_rs + j*b_cs]) as one NR-column micro-panel, zero padded. */
static void PACK_B(size_t cols, size_t depth, const T *b, ptrdiff_t b_rs, ptrdiff_t b_cs, T *dst)
{
    if (cols == NR && b_cs == 1) {
        for (size_t p = 0; p < depth; p++, dst += NR) {
#if defined(VPREFETCH_AHEAD)
            /* rows of B are far apart: fetch a few ahead */
            if (p + 8 < depth)
                VPREFETCH_AHEAD(b + (ptrdiff_t)(p + 8) * b_rs);
#endif
            NC_UNROLL
            for (int v = 0; v < NV; v++)
                VSTOREU(dst + v * W, VLOADU(b + (ptrdiff_t)p * b_rs + v * W));
        }
        return;
    }
#if defined(PACK_B_UNIT_ROW_STRIDE)
    /* op(B) stored by columns (B^T of a row-major matrix): an in-register
     * transpose of the instruction set, when it has one. */
    if (cols == NR && b_rs == 1) {
        PACK_B_UNIT_ROW_STRIDE(depth, b, b_cs, dst);
        return;
    }
#endif
    if (cols == NR) {
        for (size_t p = 0; p < depth; p++, dst += NR) {
            NC_UNROLL
            for (int j = 0; j < NR; j++)
                dst[j] = b[(ptrdiff_t)p * b_rs + j * b_cs];
        }
        return;
    }
    for (size_t p = 0; p < depth; p++, dst += NR) {
        for (size_t j = 0; j < cols; j++)
            dst[j] = b[(ptrdiff_t)p * b_rs + (ptrdiff_t)j * b_cs];
        for (size_t j = cols; j < NR; j++)
            dst[j] = 0;
    }
}

static void MICRO(size_t k, T alpha, const T *a, const T *b, T beta, T *c, ptrdiff_t c_rs,
                  ptrdiff_t c_cs)
{
    V acc[MR][NV];
    NC_UNROLL
    for (int r = 0; r < MR; r++) {
        NC_UNROLL
        for (int v = 0; v < NV; v++)
            acc[r][v] = VZERO();
    }
#if defined(VPREFETCH)
    /* C is read (beta != 0) or written after the loop: start fetching it. */
    NC_UNROLL
    for (int r = 0; r < MR; r++)
        VPREFETCH(c + r * c_rs);
#endif
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
    for (size_t p = 0; p < k; p++) {
#if defined(VPREFETCH_AHEAD)
        /* The A micro-panel streams from L2: ask for it a few steps early. */
        VPREFETCH_AHEAD(a + 8 * MR);
#endif
        V bv[NV];
        NC_UNROLL
        for (int v = 0; v < NV; v++)
            bv[v] = VLOADU(b + v * W);
        NC_UNROLL
        for (int r = 0; r < MR; r++) {
            V ar = VBCAST(a + r);
            NC_UNROLL
            for (int v = 0; v < NV; v++)
                acc[r][v] = VFMA(ar, bv[v], acc[r][v]);
        }
        a += MR;
        b += NR;
    }
    V valpha = VSET1(alpha);
    if (c_cs == 1) {
        if (beta == 0) {
            NC_UNROLL
            for (int r = 0; r < MR; r++) {
                NC_UNROLL
                for (int v = 0; v < NV; v++)
                    VSTOREU(c + r * c_rs + v * W, VMUL(valpha, acc[r][v]));
            }
        } else {
            V vbeta = VSET1(beta);
            NC_UNROLL
            for (int r = 0; r < MR; r++) {
                NC_UNROLL
                for (int v = 0; v < NV; v++) {
                    T *cp = c + r * c_rs + v * W;
                    VSTOREU(cp, VFMA(vbeta, VLOADU(cp), VMUL(valpha, acc[r][v])));
                }
            }
        }
        return;
    }
    /* C with a column stride: through a scratch tile, one element at a time. */
    T tile[MR * NR];
    NC_UNROLL /* constant indexes only, or acc would live in memory */
        for (int r = 0; r < MR; r++)
    {
        NC_UNROLL
        for (int v = 0; v < NV; v++)
            VSTOREU(tile + r * NR + v * W, VMUL(valpha, acc[r][v]));
    }
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++) {
            T *cij = c + r * c_rs + j * c_cs;
            *cij = (beta == 0) ? tile[r * NR + j] : tile[r * NR + j] + beta * *cij;
        }
}

/* One ROWS x (NVS*W) tile of the small kernel, the last vector holding
 * `last` (1..W) valid columns. ROWS and NVS are constants at every call, so
 * the compiler keeps acc in registers. */
NC_INLINE void SMALL_TILE(int rows, int nvs, size_t last, size_t k, T alpha, const T *a,
                          ptrdiff_t a_rs, ptrdiff_t a_cs, const T *b, ptrdiff_t b_rs, T beta, T *c,
                          ptrdiff_t c_rs, ptrdiff_t c_cs)
{
    V acc[SMALL_ROWS][2];
    NC_UNROLL
    for (int r = 0; r < SMALL_ROWS; r++) {
        acc[r][0] = VZERO();
        acc[r][1] = VZERO();
    }
    const int partial = last < W;
    for (size_t p = 0; p < k; p++) {
        const T *bp = b + (ptrdiff_t)p * b_rs;
        V bv[2];
        NC_UNROLL
        for (int v = 0; v < nvs; v++)
            bv[v] = (v == nvs - 1 && partial) ? VLOAD_PART(bp + v * W, last) : VLOADU(bp + v * W);
        const T *ap = a + (ptrdiff_t)p * a_cs;
        NC_UNROLL
        for (int r = 0; r < rows; r++) {
            V ar = VSET1(ap[r * a_rs]);
            NC_UNROLL
            for (int v = 0; v < nvs; v++)
                acc[r][v] = VFMA(ar, bv[v], acc[r][v]);
        }
    }
    NC_UNROLL
    for (int r = 0; r < rows; r++) {
        NC_UNROLL
        for (int v = 0; v < nvs; v++)
            SMALL_STORE(acc[r][v], v == nvs - 1 ? last : (size_t)W, alpha, beta,
                        c + r * c_rs + v * W * c_cs, c_cs);
    }
}

NC_INLINE void SMALL_STORE(V acc, size_t n, T alpha, T beta, T *c, ptrdiff_t c_cs)
{
    V x = VMUL(VSET1(alpha), acc);
    if (c_cs == 1 && n == W) {
        if (beta != 0)
            x = VFMA(VSET1(beta), VLOADU(c), x);
        VSTOREU(c, x);
    } else if (c_cs == 1) {
        if (beta != 0)
            x = VFMA(VSET1(beta), VLOAD_PART(c, n), x);
        VSTORE_PART(c, x, n);
    } else {
        T lanes[W];
        VSTOREU(lanes, x);
        for (size_t j = 0; j < n; j++) {
            T *cj = c + (ptrdiff_t)j * c_cs;
            *cj = (beta == 0) ? lanes[j] : lanes[j] + beta * *cj;
        }
    }
}

/* Rows in steps of SMALL_ROWS, each with constant sizes for the compiler. */
NC_INLINE void SMALL_ROWS_OF(int nvs, size_t last, size_t m, size_t k, T alpha, const T *a,
                             ptrdiff_t a_rs, ptrdiff_t a_cs, const T *b, ptrdiff_t b_rs, T beta,
                             T *c, ptrdiff_t c_rs, ptrdiff_t c_cs)
{
    size_t i = 0;
    for (; i + SMALL_ROWS <= m; i += SMALL_ROWS)
        SMALL_TILE(SMALL_ROWS, nvs, last, k, alpha, a + (ptrdiff_t)i * a_rs, a_rs, a_cs, b, b_rs,
                   beta, c + (ptrdiff_t)i * c_rs, c_rs, c_cs);
    const T *ai = a + (ptrdiff_t)i * a_rs;
    T *ci = c + (ptrdiff_t)i * c_rs;
    switch (m - i) {
    case 5:
        SMALL_TILE(5, nvs, last, k, alpha, ai, a_rs, a_cs, b, b_rs, beta, ci, c_rs, c_cs);
        break;
    case 4:
        SMALL_TILE(4, nvs, last, k, alpha, ai, a_rs, a_cs, b, b_rs, beta, ci, c_rs, c_cs);
        break;
    case 3:
        SMALL_TILE(3, nvs, last, k, alpha, ai, a_rs, a_cs, b, b_rs, beta, ci, c_rs, c_cs);
        break;
    case 2:
        SMALL_TILE(2, nvs, last, k, alpha, ai, a_rs, a_cs, b, b_rs, beta, ci, c_rs, c_cs);
        break;
    case 1:
        SMALL_TILE(1, nvs, last, k, alpha, ai, a_rs, a_cs, b, b_rs, beta, ci, c_rs, c_cs);
        break;
    default: break;
    }
}

/* At most STREAM_ROWS rows of C (one-row predict: a vector times a weight
 * matrix): B is read row by row, STREAM_VECS vectors of a row at a time, as
 * one sequential stream; the sums are kept on the stack. Each element of C
 * goes through the same operations as in SMALL_TILE (zero, then one FMA per
 * p in order, then SMALL_STORE), so the result has the same bits. */
static void SMALL_STREAM(size_t m, size_t n, size_t k, T alpha, const T *a, ptrdiff_t a_rs,
                         ptrdiff_t a_cs, const T *b, ptrdiff_t b_rs, T beta, T *c, ptrdiff_t c_rs,
                         ptrdiff_t c_cs)
{
    V acc[STREAM_ROWS][STREAM_VECS];
    for (size_t j0 = 0; j0 < n; j0 += STREAM_VECS * W) {
        const size_t cols = n - j0 < STREAM_VECS * W ? n - j0 : STREAM_VECS * W;
        const size_t full = cols / W, last = cols % W, vecs = full + (last != 0);
        for (size_t r = 0; r < m; r++)
            for (size_t v = 0; v < vecs; v++)
                acc[r][v] = VZERO();
        size_t p = 0;
        if (m == 1) /* four rows of B per pass over the sums: a quarter of their traffic */
            for (; p + 4 <= k; p += 4) {
                const T *b0 = b + (ptrdiff_t)p * b_rs + j0;
                const V a0 = VSET1(a[(ptrdiff_t)p * a_cs]),
                        a1 = VSET1(a[(ptrdiff_t)(p + 1) * a_cs]);
                const V a2 = VSET1(a[(ptrdiff_t)(p + 2) * a_cs]);
                const V a3 = VSET1(a[(ptrdiff_t)(p + 3) * a_cs]);
                for (size_t v = 0; v < vecs; v++) {
                    const size_t lanes = v < full ? (size_t)W : last;
                    const T *bv = b0 + v * W;
#define NC_STREAM_LOAD(q)                                                                          \
    (lanes == W ? VLOADU(bv + (q) * b_rs) : VLOAD_PART(bv + (q) * b_rs, lanes))
                    V x = VFMA(a0, NC_STREAM_LOAD(0), acc[0][v]);
                    x = VFMA(a1, NC_STREAM_LOAD(1), x);
                    x = VFMA(a2, NC_STREAM_LOAD(2), x);
                    acc[0][v] = VFMA(a3, NC_STREAM_LOAD(3), x);
#undef NC_STREAM_LOAD
                }
            }
        for (; p < k; p++) {
            const T *bp = b + (ptrdiff_t)p * b_rs + j0;
            V ar[STREAM_ROWS];
            for (size_t r = 0; r < m; r++)
                ar[r] = VSET1(a[(ptrdiff_t)r * a_rs + (ptrdiff_t)p * a_cs]);
            for (size_t v = 0; v < full; v++) {
                V bv = VLOADU(bp + v * W);
                for (size_t r = 0; r < m; r++)
                    acc[r][v] = VFMA(ar[r], bv, acc[r][v]);
            }
            if (last) {
                V bv = VLOAD_PART(bp + full * W, last);
                for (size_t r = 0; r < m; r++)
                    acc[r][full] = VFMA(ar[r], bv, acc[r][full]);
            }
        }
        for (size_t r = 0; r < m; r++)
            for (size_t v = 0; v < vecs; v++)
                SMALL_STORE(acc[r][v], v < full ? (size_t)W : last, alpha, beta,
                            c + (ptrdiff_t)r * c_rs + (ptrdiff_t)(j0 + v * W) * c_cs, c_cs);
    }
}

static void SMALL(size_t m, size_t n, size_t k, T alpha, const T *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                  const T *b, ptrdiff_t b_rs, T beta, T *c, ptrdiff_t c_rs, ptrdiff_t c_cs)
{
    if (m <= STREAM_ROWS && n > 2 * W) {
        SMALL_STREAM(m, n, k, alpha, a, a_rs, a_cs, b, b_rs, beta, c, c_rs, c_cs);
        return;
    }
    for (size_t j = 0; j < n; j += 2 * W) {
        size_t cols = n - j < 2 * W ? n - j : 2 * W;
        const T *bj = b + j;
        T *cj = c + (ptrdiff_t)j * c_cs;
        if (cols > W)
            SMALL_ROWS_OF(2, cols - W, m, k, alpha, a, a_rs, a_cs, bj, b_rs, beta, cj, c_rs, c_cs);
        else
            SMALL_ROWS_OF(1, cols, m, k, alpha, a, a_rs, a_cs, bj, b_rs, beta, cj, c_rs, c_cs);
    }
}

#undef NR
#undef NC_CAT_
#undef NC_CAT
#undef SMALL_STORE
#undef SMALL_TILE
#undef SMALL_ROWS_OF
#undef SMALL_ROWS
#undef SMALL_STREAM
#undef STREAM_ROWS
#undef STREAM_VECS
#undef NC_UNROLL
#undef NC_INLINE
