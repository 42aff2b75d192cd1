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

nc_status FAST(nc_optimizer_step)(nc_optimizer *opt, size_t n, T *restrict w, const T *restrict g,
                                  T *restrict state)
{
    if (!opt || (unsigned)opt->kind > NC_OPT_RMSPROP || (n && (!w || !g || !state)))
        return NC_ERR_INVALID_ARGUMENT;
    uint64_t t = opt->iterations + 1;
    int threads = n >= NC_OPTIMIZER_PARALLEL_MIN ? nc_get_num_threads() : 1;
    if (threads <= 1) { /* no parallel region: it costs more than a small update */
        FAST(optimizer_update_range)(opt, t, n, 0, n, w, g, state);
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
        /* chunks on 64-element boundaries, so no vector straddles two threads */
        size_t chunk = (n / parts + 63) / 64 * 64;
        size_t begin = chunk * part < n ? chunk * part : n;
        size_t end = chunk < n - begin ? begin + chunk : n;
        FAST(optimizer_update_range)(opt, t, n, begin, end, w, g, state);
        nc_fp_swap(own);
    }
    (void)threads;
    opt->iterations = t;
    return NC_OK;
}
