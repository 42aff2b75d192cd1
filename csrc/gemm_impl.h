/*
 * gemm_impl.h -- template of the GEMM driver's executions, included by gemm.c
 * once for float and once for double. The decisions (small kernel or packed,
 * orientation, threads and their shares) are gemm.c's, in an nc_gemm_plan
 * (gemm_plan.h); this file carries a plan out. Before including, gemm.c
 * defines
 *   T            the element type
 *   FN(name)     name##_f32 or name##_f64 (internal names)
 *   PATH         nc_gemm_path_f32 or nc_gemm_path_f64
 *   A_BUFFER() / B_BUFFER()   this thread's packing buffers (see gemm.c)
 *
 * The packed driver follows Goto's scheme (K. Goto, R. van de Geijn,
 * "Anatomy of high-performance matrix multiplication", ACM TOMS 2008) as
 * BLIS lays it out: five loops around a register-tiled microkernel.
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
 * Threads split the OUTPUT into whole panels (MR rows or NR columns; the
 * small kernel's 6-row tiles), each packing what it uses into its own
 * buffers. No thread ever splits the k sum, and tile boundaries do not
 * depend on the thread count, so every element of C is computed by the same
 * operations in the same order for any number of threads: the results are
 * bit-identical.
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

/* The same product as C^T = op(B)^T op(A)^T: the same products in the same
 * order, with the roles of rows and columns exchanged. */
static FN(gemm_problem) FN(transposed)(const FN(gemm_problem) * g)
{
    const FN(gemm_problem) t = {g->n,    g->m,    g->k,    g->alpha, g->beta, g->b,    g->a, g->c,
                                g->b_cs, g->b_rs, g->a_cs, g->a_rs,  g->c_cs, g->c_rs, g->ep};
    return t;
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

/* The rows [*lo, *hi) of C, or its columns, that thread `thread` of
 * `threads` computes under `plan` along a dimension of `size`: all of them
 * unless the plan splits this dimension. */
static void FN(part_range)(const nc_gemm_plan *plan, int split, size_t size, int thread,
                           int threads, size_t *lo, size_t *hi)
{
    *lo = 0;
    *hi = size;
    if (plan->split != split)
        return;
    size_t first, end;
    share(plan->panels, thread, threads, &first, &end);
    *lo = first * plan->panel;
    *hi = end * plan->panel < size ? end * plan->panel : size;
    if (*lo > *hi)
        *lo = *hi;
}

/* The packed driver's part of the product for thread `thread` of
 * `threads`. It packs the B panels it uses into its own buffer, just before
 * their first use (so the memory-bound copy overlaps the arithmetic), and
 * its A blocks into another: threads never wait for one another. */
static void FN(packed_part)(const PATH *path, const FN(gemm_problem) * g, const nc_gemm_plan *plan,
                            int thread, int threads)
{
    const size_t mr = path->blocks.mr, nr = path->blocks.nr;
    const size_t kc = plan->kc, ncb = plan->nc;
    size_t m_lo, m_hi, n_lo, n_hi;
    FN(part_range)(plan, NC_GEMM_SPLIT_ROWS, g->m, thread, threads, &m_lo, &m_hi);
    FN(part_range)(plan, NC_GEMM_SPLIT_COLUMNS, g->n, thread, threads, &n_lo, &n_hi);
    T *a_buffer = (T *)A_BUFFER();
    T *b_buffer = (T *)B_BUFFER();

    /* This thread's rows in equal MC blocks of whole MR panels, as k. */
    size_t mc = plan->mc;
    if (m_hi > m_lo) {
        const size_t m_blocks = (m_hi - m_lo + mc - 1) / mc;
        mc = ((m_hi - m_lo + m_blocks - 1) / m_blocks + mr - 1) / mr * mr;
    }

    for (size_t jc = n_lo; jc < n_hi; jc += ncb) {
        const size_t nb = n_hi - jc < ncb ? n_hi - jc : ncb;
        const size_t n_panels = (nb + nr - 1) / nr;
        for (size_t pc = 0; pc < g->k; pc += kc) {
            const size_t kb = g->k - pc < kc ? g->k - pc : kc;
            /* Later k blocks add to what the first one wrote. */
            const T beta = pc == 0 ? g->beta : (T)1;
            for (size_t ic = m_lo; ic < m_hi; ic += mc) {
                const size_t mb = m_hi - ic < mc ? m_hi - ic : mc;
                path->pack_a(mb, kb, g->a + (ptrdiff_t)ic * g->a_rs + (ptrdiff_t)pc * g->a_cs,
                             g->a_rs, g->a_cs, a_buffer);
                for (size_t jp = 0; jp < n_panels; jp++) {
                    T *b_panel = b_buffer + jp * nr * kc;
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

/* Rows of C the small kernel finishes before the epilogue runs on them, so
 * that they are still in L1 (a multiple of its 6-row tile). */
#define NC_SMALL_EPILOGUE_ROWS 48
#define NC_SMALL_EPILOGUE_ELEMENTS 2048

/* The small kernel's part of the product (B with unit column stride) for
 * thread `thread` of `threads`: whole 6-row tiles. Each element of C goes
 * through the same operations whichever rows a call gets, so any split gives
 * the same bits. */
static void FN(small_part)(const PATH *path, const FN(gemm_problem) * s, const nc_gemm_plan *plan,
                           int thread, int threads)
{
    size_t lo, hi;
    FN(part_range)(plan, NC_GEMM_SPLIT_ROWS, s->m, thread, threads, &lo, &hi);
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
        if (plan->swap) /* these rows are columns r.. of the caller's C (rows: s->n) */
            FN(epilogue_apply)(s->ep, s->c, s->c_cs, 0, s->n, r, rows);
        else
            FN(epilogue_apply)(s->ep, s->c, s->c_rs, r, rows, 0, s->n);
    }
}

typedef void (*FN(part_function))(const PATH *path, const FN(gemm_problem) * g,
                                  const nc_gemm_plan *plan, int thread, int threads);

/* Runs `part` on the plan's threads, each in the caller's floating-point
 * mode (so the bits do not depend on which thread computes what). */
static void FN(run_parts)(FN(part_function) part, const PATH *path, const FN(gemm_problem) * g,
                          const nc_gemm_plan *plan)
{
#if defined(NNCORE_OPENMP)
    if (plan->threads > 1) {
        const uint64_t fp = nc_fp_state(); /* the caller's, for every thread */
#pragma omp parallel num_threads(plan->threads)
        {
            const uint64_t own = nc_fp_swap(fp);
            part(path, g, plan, omp_get_thread_num(), omp_get_num_threads());
            nc_fp_swap(own);
        }
        return;
    }
#endif
    part(path, g, plan, 0, 1);
}

/* The small kernel's product under `plan`: B copied into row-major order
 * (into this thread's B packing buffer, which the packed driver is not
 * using), or the product turned into C^T, as the plan says. */
static void FN(run_small)(const PATH *path, FN(gemm_problem) g, const nc_gemm_plan *plan)
{
    if (plan->copy_b) {
        T *b_copy = (T *)B_BUFFER();
        for (size_t p = 0; p < g.k; p++)
            for (size_t j = 0; j < g.n; j++)
                b_copy[p * g.n + j] = g.b[(ptrdiff_t)p * g.b_rs + (ptrdiff_t)j * g.b_cs];
        g.b = b_copy;
        g.b_rs = (ptrdiff_t)g.n;
        g.b_cs = 1;
    }
    if (plan->swap)
        g = FN(transposed)(&g);
    FN(run_parts)(FN(small_part), path, &g, plan);
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
    const nc_gemm_shape shape = {m, n, k, a_rs, a_cs, b_rs, b_cs, c_rs, c_cs};
    nc_gemm_plan plan;
    make_plan(&path->blocks, sizeof(T), nc_get_num_threads(), &shape, &plan);
    FN(gemm_problem) g = {m, n, k, alpha, beta, a, b, c, a_rs, a_cs, b_rs, b_cs, c_rs, c_cs, ep};
    if (plan.transpose)
        g = FN(transposed)(&g);
    if (plan.small)
        FN(run_small)(path, g, &plan);
    else
        FN(run_parts)(FN(packed_part), path, &g, &plan);
    return NC_OK;
}
