/*
 * optim_impl.h -- the optimizer step as one vectorizable pass per kind over
 * the flat buffer (T, FAST, REF as in activations_impl.h). Each loop computes
 * exactly the expressions of nc_optimizer_step's twin in ref_impl.h, in the
 * same order, so both give the same bits; the twin tests the kind inside the
 * loop, these loops are split by kind and promise the compiler that the
 * buffers do not overlap. Large buffers are split over the threads: the
 * update is elementwise, so any split gives the same bits.
 */

/* The update of elements [begin, end) of a buffer of n, at step t. */
static void FAST(optimizer_update_range)(const nc_optimizer *opt, uint64_t t, size_t n,
                                         size_t begin, size_t end, T *restrict w,
                                         const T *restrict g, T *restrict state)
{
    const T lr = (T)opt->learning_rate;
    T *restrict slot0 = state;
    T *restrict slot1 = state + n;
    switch (opt->kind) {
    case NC_OPT_SGD: {
        const T mu = (T)opt->momentum;
        if (opt->momentum == 0) {
            for (size_t i = begin; i < end; i++)
                w[i] -= lr * g[i];
        } else if (opt->nesterov) {
            for (size_t i = begin; i < end; i++) {
                slot0[i] = mu * slot0[i] - lr * g[i];
                w[i] += mu * slot0[i] - lr * g[i];
            }
        } else {
            for (size_t i = begin; i < end; i++) {
                slot0[i] = mu * slot0[i] - lr * g[i];
                w[i] += slot0[i];
            }
        }
        break;
    }
    case NC_OPT_ADAM:
    case NC_OPT_ADAMW: {
        const T b1 = (T)opt->beta_1, b2 = (T)opt->beta_2, eps = (T)opt->epsilon;
        const T step = (T)(opt->learning_rate * sqrt(1 - pow(opt->beta_2, (double)t)) /
                           (1 - pow(opt->beta_1, (double)t)));
        const T decay = (T)(opt->learning_rate * opt->weight_decay);
        if (opt->kind == NC_OPT_ADAMW)
            for (size_t i = begin; i < end; i++)
                w[i] -= decay * w[i];
        for (size_t i = begin; i < end; i++) {
            slot0[i] = b1 * slot0[i] + (1 - b1) * g[i];
            slot1[i] = b2 * slot1[i] + (1 - b2) * g[i] * g[i];
            w[i] -= step * slot0[i] / (SQRT(slot1[i]) + eps);
        }
        break;
    }
    case NC_OPT_RMSPROP: {
        const T rho = (T)opt->rho, eps = (T)opt->epsilon, mu = (T)opt->momentum;
        if (opt->momentum > 0) {
            for (size_t i = begin; i < end; i++) {
                slot0[i] = rho * slot0[i] + (1 - rho) * g[i] * g[i];
                slot1[i] = mu * slot1[i] + lr * g[i] / SQRT(slot0[i] + eps);
                w[i] -= slot1[i];
            }
        } else {
            for (size_t i = begin; i < end; i++) {
                slot0[i] = rho * slot0[i] + (1 - rho) * g[i] * g[i];
                w[i] -= lr * g[i] / SQRT(slot0[i] + eps);
            }
        }
        break;
    }
    }
}

/* Checks the range list: ascending, non-overlapping pairs inside [0, n). */
static int FAST(ranges_valid)(size_t n, size_t n_ranges, const size_t *ranges)
{
    if (n_ranges && !ranges)
        return 0;
    size_t floor = 0;
    for (size_t r = 0; r < n_ranges; r++) {
        if (ranges[2 * r] < floor || ranges[2 * r] > ranges[2 * r + 1] || ranges[2 * r + 1] > n)
            return 0;
        floor = ranges[2 * r + 1];
    }
    return 1;
}

/* Positions [first, last) of the concatenated ranges: the part of one thread. */
static void FAST(update_positions)(const nc_optimizer *opt, uint64_t t, size_t n, size_t n_ranges,
                                   const size_t *ranges, size_t first, size_t last, T *restrict w,
                                   const T *restrict g, T *restrict state)
{
    size_t position = 0; /* where range r starts in the concatenation */
    for (size_t r = 0; r < n_ranges && position < last; r++) {
        const size_t begin = ranges[2 * r], length = ranges[2 * r + 1] - begin;
        const size_t from = first > position ? first - position : 0;
        const size_t to = last - position < length ? last - position : length;
        if (from < to)
            FAST(optimizer_update_range)(opt, t, n, begin + from, begin + to, w, g, state);
        position += length;
    }
}

nc_status FAST(nc_optimizer_step_ranges)(nc_optimizer *opt, size_t n, T *restrict w,
                                         const T *restrict g, T *restrict state, size_t n_ranges,
                                         const size_t *ranges)
{
    if (!opt || (unsigned)opt->kind > NC_OPT_RMSPROP || (n && (!w || !g || !state)) ||
        !FAST(ranges_valid)(n, n_ranges, ranges))
        return NC_ERR_INVALID_ARGUMENT;
    uint64_t t = opt->iterations + 1;
    size_t total = 0;
    for (size_t r = 0; r < n_ranges; r++)
        total += ranges[2 * r + 1] - ranges[2 * r];
    int threads = total >= NC_OPTIMIZER_PARALLEL_MIN ? nc_get_num_threads() : 1;
    if (threads <= 1) { /* no parallel region: it costs more than a small update */
        FAST(update_positions)(opt, t, n, n_ranges, ranges, 0, total, w, g, state);
        opt->iterations = t;
        return NC_OK;
    }
    const uint64_t fp = nc_fp_state(); /* the caller's, for every thread */
#if defined(NNCORE_OPENMP)
#pragma omp parallel num_threads(threads)
#endif
    {
        const uint64_t own = nc_fp_swap(fp);
        size_t part = 0, parts = 1;
#if defined(NNCORE_OPENMP)
        part = (size_t)omp_get_thread_num();
        parts = (size_t)omp_get_num_threads();
#endif
        /* parts chunks of at least total / parts, rounded up to 64 elements so
         * that no vector straddles two threads; the chunks cover the total */
        size_t chunk = ((total + parts - 1) / parts + 63) / 64 * 64;
        size_t first = chunk * part < total ? chunk * part : total;
        size_t last = chunk < total - first ? first + chunk : total;
        FAST(update_positions)(opt, t, n, n_ranges, ranges, first, last, w, g, state);
        nc_fp_swap(own);
    }
    (void)threads;
    opt->iterations = t;
    return NC_OK;
}

nc_status FAST(nc_optimizer_step)(nc_optimizer *opt, size_t n, T *restrict w, const T *restrict g,
                                  T *restrict state)
{
    const size_t whole[2] = {0, n};
    return FAST(nc_optimizer_step_ranges)(opt, n, w, g, state, 1, whole);
}
