/*
 * gemm_impl.h -- template of the blocked GEMM driver, included by gemm.c once
 * for float and once for double. Before including, gemm.c defines
 *   T            the element type
 *   FN(name)     name##_f32 or name##_f64 (internal names)
 *   PATH         nc_gemm_path_f32 or nc_gemm_path_f64
 *   A_BUFFER() / B_BUFFER()   this thread's packing buffers (see gemm.c)
 *
 * The scheme is Goto's (K. Goto, R. van de Geijn, "Anatomy of
 * high-performance matrix multiplication", ACM TOMS 2008) as BLIS lays it
 * out: five loops around a register-tiled microkernel.
 *
 *   for jc over n in steps of NC          (B block: KC x NC, kept in L3)
 *     for pc over k in steps of KC        pack op(B)[pc.., jc..] into NR-column micro-panels
 *       for ic over m in steps of MC      pack op(A)[ic.., pc..] into MR-row micro-panels (L2)
 *         for jr over the NC columns in steps of NR   (one B micro-panel, L1)
 *           for ir over the MC rows in steps of MR    microkernel: C tile += A panel * B panel
 *
 * Packing reads op(A) and op(B) through their row and column strides, so a
 * transposed operand costs nothing extra; panels at the matrix edge are
 * padded with zeros, so the microkernel always runs a full tile and only the
 * valid part is written back.
 *
 * Threads share the packed B block and split the OUTPUT: whole MR-row panels
 * of C (or whole NR-column panels when C has too few rows). No thread ever
 * splits the k sum, and tile boundaries do not depend on the thread count, so
 * every element of C is computed by the same operations in the same order
 * for any number of threads: the results are bit-identical.
 */

typedef struct FN(gemm_problem) {
    size_t m, n, k;
    T alpha, beta;
    const T *a, *b;
    T *c;
    ptrdiff_t a_rs, a_cs, b_rs, b_cs, c_rs, c_cs;
    const FN(nc_epilogue) * ep; /* NULL, or applied to each tile when it is final */
} FN(gemm_problem);

/* The epilogue (see nncore.h) on rows r0..r0+h, columns c0..c0+w of C
 * (column stride 1): the same elementwise kernels as the separate passes, so
 * the same bits, run on a block that was just written and is still in L1. */
static void FN(epilogue_apply)(const FN(nc_epilogue) * ep, T *c, ptrdiff_t c_rs, size_t r0,
                               size_t h, size_t c0, size_t w)
{
    T *block = c + (ptrdiff_t)r0 * c_rs + (ptrdiff_t)c0;
    nc_activation act = (nc_activation)ep->activation;
    if (ep->kind == NC_EPILOGUE_ACTIVATION_GRAD) {
        FN(nc_activation_backward)(act, ep->alpha, h, w, ep->z + (ptrdiff_t)r0 * ep->z_rs + c0,
                                   ep->z_rs, ep->a + (ptrdiff_t)r0 * ep->a_rs + c0, ep->a_rs, block,
                                   c_rs, block, c_rs);
        return;
    }
    if (ep->bias)
        FN(nc_bias_add)(h, w, ep->bias + c0, block, c_rs);
    if (ep->out)
        FN(nc_activation_forward)(act, ep->alpha, h, w, block, c_rs,
                                  ep->out + (ptrdiff_t)r0 * ep->out_rs + c0, ep->out_rs);
    else if (act != NC_ACT_LINEAR)
        FN(nc_activation_forward)(act, ep->alpha, h, w, block, c_rs, block, c_rs);
}

/* Packs micro-panel jp (kb x nr) of the B block that starts at (pc, jc)
 * into dst. */
static void FN(pack_b_one)(const PATH *path, const FN(gemm_problem) * g, size_t nr, size_t nb,
                           size_t kb, size_t jc, size_t pc, size_t jp, T *dst)
{
    const size_t j0 = jp * nr;
    const size_t cols = nb - j0 < nr ? nb - j0 : nr;
    path->pack_b(cols, kb, g->b + (ptrdiff_t)pc * g->b_rs + (ptrdiff_t)(jc + j0) * g->b_cs, g->b_rs,
                 g->b_cs, dst);
}

/* The part of the product that thread `thread` of `threads` computes. Each
 * thread packs the B panels it uses into its own buffer, just before their
 * first use (so the memory-bound copy overlaps the arithmetic), and its A
 * blocks into another: threads never wait for one another. */
static void FN(gemm_worker)(const PATH *path, const FN(gemm_problem) * g, int thread, int threads)
{
    const nc_gemm_blocking *bs = &path->blocks;
    const size_t mr = bs->mr, nr = bs->nr;
    /* k is cut into equal blocks of at most KC (784 -> 3 x 262, not
     * 384 + 384 + 16: a thin last block would cost a whole C update for
     * little work). It depends on k only, never on the thread count. */
    const size_t k_blocks = (g->k + bs->kc - 1) / bs->kc;
    const size_t kc = (g->k + k_blocks - 1) / k_blocks;
    /* The buffers bound MC and NC whatever the table says. */
    size_t mc = bs->mc, ncb = bs->nc;
    if (mc * bs->kc * sizeof(T) > NC_GEMM_A_BUFFER_BYTES)
        mc = NC_GEMM_A_BUFFER_BYTES / (bs->kc * sizeof(T)) / mr * mr;
    if (ncb * bs->kc * sizeof(T) > NC_GEMM_B_BUFFER_BYTES)
        ncb = NC_GEMM_B_BUFFER_BYTES / (bs->kc * sizeof(T)) / nr * nr;
    T *a_buffer = (T *)A_BUFFER();
    T *b_buffer = (T *)B_BUFFER();

    /* Split C by rows (each thread then packs all of B) when A is the larger
     * operand, by column panels (each thread packs all of A) otherwise, so
     * the operand packed twice is the smaller one. Shared panels with
     * barriers in between measured slower on 2 cores: 128x256x128 float32
     * took 50 us on 2 threads against 47 on one (bench/gemm.py, 2026-11-24). */
    const size_t m_panels = (g->m + mr - 1) / mr;
    const size_t n_panels_all = (g->n + nr - 1) / nr;
    const int split_rows = threads > 1 && m_panels >= (size_t)threads &&
                           (g->m > g->n || n_panels_all < (size_t)threads);
    size_t m_lo = 0, m_hi = g->m;
    if (split_rows) {
        m_lo = m_panels * (size_t)thread / (size_t)threads * mr;
        m_hi = m_panels * (size_t)(thread + 1) / (size_t)threads * mr;
        if (m_hi > g->m)
            m_hi = g->m;
    }

    /* This thread's rows in equal MC blocks of whole MR panels, likewise. */
    if (m_hi > m_lo) {
        const size_t m_blocks = (m_hi - m_lo + mc - 1) / mc;
        mc = ((m_hi - m_lo + m_blocks - 1) / m_blocks + mr - 1) / mr * mr;
    }

    for (size_t jc = 0; jc < g->n; jc += ncb) {
        const size_t nb = g->n - jc < ncb ? g->n - jc : ncb;
        const size_t n_panels = (nb + nr - 1) / nr;
        size_t jp_lo = 0, jp_hi = n_panels;
        if (!split_rows) {
            jp_lo = n_panels * (size_t)thread / (size_t)threads;
            jp_hi = n_panels * (size_t)(thread + 1) / (size_t)threads;
        }
        for (size_t pc = 0; pc < g->k; pc += kc) {
            const size_t kb = g->k - pc < kc ? g->k - pc : kc;
            /* Later k blocks add to what the first one wrote. */
            const T beta = pc == 0 ? g->beta : (T)1;
            for (size_t ic = m_lo; ic < m_hi; ic += mc) {
                const size_t mb = m_hi - ic < mc ? m_hi - ic : mc;
                path->pack_a(mb, kb, g->a + (ptrdiff_t)ic * g->a_rs + (ptrdiff_t)pc * g->a_cs,
                             g->a_rs, g->a_cs, a_buffer);
                for (size_t jp = jp_lo; jp < jp_hi; jp++) {
                    T *b_panel = b_buffer + (jp - jp_lo) * nr * kc;
                    if (ic == m_lo)
                        FN(pack_b_one)(path, g, nr, nb, kb, jc, pc, jp, b_panel);
                    const size_t j0 = jp * nr;
                    const size_t w = nb - j0 < nr ? nb - j0 : nr;
                    for (size_t i0 = 0; i0 < mb; i0 += mr) {
                        const size_t h = mb - i0 < mr ? mb - i0 : mr;
                        const T *a_panel = a_buffer + i0 * kb;
                        T *c_tile =
                            g->c + (ptrdiff_t)(ic + i0) * g->c_rs + (ptrdiff_t)(jc + j0) * g->c_cs;
                        if (h == mr && w == nr) {
                            path->micro(kb, g->alpha, a_panel, b_panel, beta, c_tile, g->c_rs,
                                        g->c_cs);
                            if (g->ep && pc + kb == g->k)
                                FN(epilogue_apply)(g->ep, g->c, g->c_rs, ic + i0, h, jc + j0, w);
                            continue;
                        }
                        /* Edge tile: full tile into scratch, valid part to C. */
                        T tile[NC_GEMM_MAX_MR * NC_GEMM_MAX_NR];
                        path->micro(kb, g->alpha, a_panel, b_panel, 0, tile, (ptrdiff_t)nr, 1);
                        for (size_t r = 0; r < h; r++)
                            for (size_t j = 0; j < w; j++) {
                                T *cij = c_tile + (ptrdiff_t)r * g->c_rs + (ptrdiff_t)j * g->c_cs;
                                *cij =
                                    beta == 0 ? tile[r * nr + j] : tile[r * nr + j] + beta * *cij;
                            }
                        if (g->ep && pc + kb == g->k)
                            FN(epilogue_apply)(g->ep, g->c, g->c_rs, ic + i0, h, jc + j0, w);
                    }
                }
            }
        }
    }
}

/* C = beta * C for k == 0 (beta == 0 writes zeros without reading C). */
static void FN(scale_c)(size_t m, size_t n, T beta, T *c, ptrdiff_t c_rs, ptrdiff_t c_cs)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            T *cij = c + (ptrdiff_t)i * c_rs + (ptrdiff_t)j * c_cs;
            *cij = beta == 0 ? (T)0 : beta * *cij;
        }
}

/* A product for the small kernel: B has unit column stride. */
typedef struct FN(small_problem) {
    size_t m, n, k;
    T alpha;
    const T *a;
    ptrdiff_t a_rs, a_cs;
    const T *b;
    ptrdiff_t b_rs;
    T beta;
    T *c;
    ptrdiff_t c_rs, c_cs;
    const FN(nc_epilogue) * ep; /* NULL, or applied to each block of rows when done */
    int swapped;                /* rows here are columns of the caller's C */
} FN(small_problem);

/* Rows of C the small kernel finishes before the epilogue runs on them, so
 * that they are still in L1 (a multiple of its 6-row tile). */
#define NC_SMALL_EPILOGUE_ROWS 48
#define NC_SMALL_EPILOGUE_ELEMENTS 2048

/* Thread `thread` of `threads` runs the small kernel on its share of the
 * rows (whole groups of 6). Each element of C goes through the same
 * operations whichever rows a call gets, so any split gives the same bits. */
static void FN(small_rows)(const PATH *path, const FN(small_problem) * s, int thread, int threads)
{
    const size_t groups = (s->m + 5) / 6;
    size_t lo = groups * (size_t)thread / (size_t)threads * 6;
    size_t hi = groups * (size_t)(thread + 1) / (size_t)threads * 6;
    if (hi > s->m)
        hi = s->m;
    if (lo >= hi)
        return;
    if (!s->ep) {
        path->small(hi - lo, s->n, s->k, s->alpha, s->a + (ptrdiff_t)lo * s->a_rs, s->a_rs, s->a_cs,
                    s->b, s->b_rs, s->beta, s->c + (ptrdiff_t)lo * s->c_rs, s->c_rs, s->c_cs);
        return;
    }
    /* narrow C: more rows per block, so the epilogue's per-call cost is spread
     * over about NC_SMALL_EPILOGUE_ELEMENTS elements (still in L1) */
    size_t step = NC_SMALL_EPILOGUE_ELEMENTS / (s->n ? s->n : 1) / 6 * 6;
    if (step < NC_SMALL_EPILOGUE_ROWS)
        step = NC_SMALL_EPILOGUE_ROWS;
    for (size_t r = lo; r < hi; r += step) {
        const size_t rows = hi - r < step ? hi - r : step;
        path->small(rows, s->n, s->k, s->alpha, s->a + (ptrdiff_t)r * s->a_rs, s->a_rs, s->a_cs,
                    s->b, s->b_rs, s->beta, s->c + (ptrdiff_t)r * s->c_rs, s->c_rs, s->c_cs);
        if (s->swapped) /* these rows are columns r.. of the caller's C (rows: s->n) */
            FN(epilogue_apply)(s->ep, s->c, s->c_cs, 0, s->n, r, rows);
        else
            FN(epilogue_apply)(s->ep, s->c, s->c_rs, r, rows, 0, s->n);
    }
}

static nc_status FN(gemm)(const PATH *path, size_t m, size_t n, size_t k, T alpha, const T *a,
                          ptrdiff_t a_rs, ptrdiff_t a_cs, const T *b, ptrdiff_t b_rs,
                          ptrdiff_t b_cs, T beta, T *c, ptrdiff_t c_rs, ptrdiff_t c_cs,
                          const FN(nc_epilogue) * ep)
{
    if ((m && n && !c) || (m && n && k && (!a || !b)))
        return NC_ERR_INVALID_ARGUMENT;
    if (ep && ep->kind == NC_EPILOGUE_NONE)
        ep = NULL;
    if (ep && ((unsigned)ep->kind > NC_EPILOGUE_ACTIVATION_GRAD ||
               (unsigned)ep->activation >= NC_ACT_COUNT || (m && n && c_cs != 1) ||
               (ep->kind == NC_EPILOGUE_ACTIVATION_GRAD && m && n && (!ep->z || !ep->a))))
        return NC_ERR_INVALID_ARGUMENT;
    if (m == 0 || n == 0)
        return NC_OK;
    if (ep && ep->activation == NC_ACT_SOFTMAX) {
        /* Row-wise: the product (and the bias) first, softmax on whole rows. */
        FN(nc_epilogue) bias_only = *ep;
        bias_only.activation = NC_ACT_LINEAR;
        bias_only.out = NULL;
        int grad = ep->kind == NC_EPILOGUE_ACTIVATION_GRAD;
        FN(gemm)(path, m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c, c_rs, c_cs,
                 grad ? NULL : &bias_only);
        if (grad)
            return FN(nc_activation_backward)(NC_ACT_SOFTMAX, ep->alpha, m, n, ep->z, ep->z_rs,
                                              ep->a, ep->a_rs, c, c_rs, c, c_rs);
        return FN(nc_activation_forward)(NC_ACT_SOFTMAX, ep->alpha, m, n, c, c_rs,
                                         ep->out ? ep->out : c, ep->out ? ep->out_rs : c_rs);
    }
    if (k == 0) {
        FN(scale_c)(m, n, beta, c, c_rs, c_cs);
        if (ep)
            FN(epilogue_apply)(ep, c, c_rs, 0, m, 0, n);
        return NC_OK;
    }
    /* The kernels store rows of C as vectors: for a column-major C compute
     * C^T = op(B)^T op(A)^T instead, the same products in the same order. */
    if (c_cs != 1 && c_rs == 1) {
        const T *t = a;
        a = b;
        b = t;
        ptrdiff_t s = a_rs;
        a_rs = b_cs;
        b_cs = s;
        s = a_cs;
        a_cs = b_rs;
        b_rs = s;
        size_t d = m;
        m = n;
        n = d;
        c_rs = c_cs;
        c_cs = 1;
    }
    const double work = (double)m * (double)n * (double)k;
    int threads = nc_get_num_threads();
    if (work < (double)path->blocks.parallel_work)
        threads = 1;
    /* Neither operand suits the small kernel (dZ W^T of a backward pass: W^T
     * has unit row stride): a small B is copied into row-major order in this
     * thread's B packing buffer, far cheaper than packing both operands for
     * a tiny product. */
    int b_copied = 0; /* then B lives in B_BUFFER(): the packed driver must not run */
    if (work <= (double)path->blocks.small_work && b_cs != 1 && a_rs != 1 &&
        k * n <= NC_GEMM_SMALL_B_COPY_ELEMENTS) {
        T *b_copy = (T *)B_BUFFER(); /* the packed driver's, unused on this path */
        for (size_t p = 0; p < k; p++)
            for (size_t j = 0; j < n; j++)
                b_copy[p * n + j] = b[(ptrdiff_t)p * b_rs + (ptrdiff_t)j * b_cs];
        b = b_copy;
        b_rs = (ptrdiff_t)n;
        b_cs = 1;
        b_copied = 1;
    }
    /* A product with a few rows (one-row predict: a vector times a weight
     * matrix) reads each element of B once in the small kernel's streaming
     * mode, where packing would copy all of B for one use. */
    const int few_rows = (b_cs == 1 && m <= NC_GEMM_STREAM_ROWS) ||
                         (b_cs != 1 && a_rs == 1 && n <= NC_GEMM_STREAM_ROWS);
    /* Narrower than one NR panel (the 10 outputs of a classifier; as C^T
     * when op(A) has unit row stride): the packed driver would fill a third
     * of each tile; the small kernel keeps its k x 2W slice of B in L1 and
     * streams the rows of A past it once. */
    const int narrow = k <= NC_GEMM_NARROW_MAX_K &&
                       ((b_cs == 1 && n <= path->blocks.nr) || (a_rs == 1 && m <= path->blocks.nr));
    if ((work <= (double)path->blocks.small_work || few_rows || narrow) &&
        (b_cs == 1 || a_rs == 1)) {
        /* The small kernel wants a unit-stride right operand; when only A
         * has unit row stride, compute C^T = op(B)^T op(A)^T instead. When
         * both have, the orientation whose rows fill the vectors better:
         * X^T dZ with 10 outputs fills 10 of 16 lanes, its transpose all of
         * them (bench/gemm.py: 0.63x of OpenBLAS before, float32). */
        int swap = b_cs != 1;
        const size_t nr = path->blocks.nr;
        if (b_cs == 1 && a_rs == 1 && m > NC_GEMM_STREAM_ROWS && m <= nr && n > nr) {
            swap = 1; /* the narrow side becomes the columns, as above */
        } else if (b_cs == 1 && a_rs == 1 && m > NC_GEMM_STREAM_ROWS) {
            const size_t lanes = nr > 1 ? nr / 2 : 1;
            const double fill_n = (double)n / (double)((n + lanes - 1) / lanes * lanes);
            const double fill_m = (double)m / (double)((m + lanes - 1) / lanes * lanes);
            /* swapped, B is op(A)^T: it must stay small enough to be read
             * once per 6 rows (X^T dZ of a 1024-wide layer is not) */
            swap =
                fill_m > fill_n && (double)k * (double)m * sizeof(T) <= NC_GEMM_SMALL_SWAP_B_BYTES;
        }
        FN(small_problem)
        s = {swap ? n : m,
             swap ? m : n,
             k,
             alpha,
             swap ? b : a,
             swap ? b_cs : a_rs,
             swap ? b_rs : a_cs,
             swap ? a : b,
             swap ? a_cs : b_rs,
             beta,
             c,
             swap ? c_cs : c_rs,
             swap ? c_rs : c_cs,
             ep,
             swap};
        /* The small kernel reads A once per NR columns of C; A in columns
         * (a_cs != 1) is read a cache line per element and pays for it when
         * that traffic outgrows L2 (bench/gemm.py: X^T dZ products), unless
         * it is read once: C no wider than NR. */
        const double a_traffic = (double)s.m * (double)s.k * (double)sizeof(T) *
                                 (double)((s.n + path->blocks.nr - 1) / path->blocks.nr);
        if (b_copied || s.a_cs == 1 || s.n <= path->blocks.nr ||
            a_traffic <= NC_GEMM_SMALL_STRIDED_A_BYTES) {
            /* threads split the rows in groups of 6: two groups each at least
             * (X^T dZ with 10 outputs, as C^T: 10 rows, faster on one) */
            if (s.m < (size_t)threads * 12)
                threads = 1;
            if (threads > 1) {
#if defined(NNCORE_OPENMP)
                const uint64_t fp = nc_fp_state(); /* the caller's, for every thread */
#pragma omp parallel num_threads(threads)
                {
                    const uint64_t own = nc_fp_swap(fp);
                    FN(small_rows)(path, &s, omp_get_thread_num(), omp_get_num_threads());
                    nc_fp_swap(own);
                }
                return NC_OK;
#endif
            }
            FN(small_rows)(path, &s, 0, 1);
            return NC_OK;
        }
    }
    FN(gemm_problem) g = {m, n, k, alpha, beta, a, b, c, a_rs, a_cs, b_rs, b_cs, c_rs, c_cs, ep};
    /* Each thread of the packed driver packs a whole operand of its own:
     * worth it on more work than the small kernel needs (bench/gemm.py,
     * dZ W^T with 10 outputs: 2 threads slower below this). */
    if (work < 8.0 * (double)path->blocks.parallel_work)
        threads = 1;
    if (threads > 1) {
#if defined(NNCORE_OPENMP)
        const uint64_t fp = nc_fp_state(); /* the caller's, for every thread */
#pragma omp parallel num_threads(threads)
        {
            const uint64_t own = nc_fp_swap(fp);
            FN(gemm_worker)(path, &g, omp_get_thread_num(), omp_get_num_threads());
            nc_fp_swap(own);
        }
        return NC_OK;
#endif
    }
    FN(gemm_worker)(path, &g, 0, 1);
    return NC_OK;
}
