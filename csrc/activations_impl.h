/*
 * activations_impl.h -- the fast activation and dense-layer kernels, written
 * once for a generic element type and included by activations.c for float
 * and double (T, FAST(name) -> name_f32, REF(name) -> name_f32_ref).
 *
 * "Fast" here means: the choice of function is made once per call, not per
 * element, and each inner loop is a plain elementwise loop the compiler
 * vectorizes (`omp simd` states what `restrict` cannot, since y may be x).
 * Every loop computes exactly the expression of its reference twin in
 * ref_impl.h, so both give the same bits. Functions whose cost is a libm
 * call (exp, tanh, erf) gain nothing from this and use the twin directly.
 */

/* Rows that follow one another without gaps (every row stride == n) are
 * one row of m*n elements to an elementwise loop: a layer 4 or 6 units wide
 * then fills whole vectors instead of paying a loop's start and tail on each
 * row (the tiny network's epilogues, bench/train_phases.py). */
static void FAST(flatten_rows)(size_t *m, size_t *n, int contiguous)
{
    if (contiguous && *m > 1) {
        *n *= *m;
        *m = 1;
    }
}

nc_status FAST(nc_activation_forward)(nc_activation act, T alpha, size_t m, size_t n, const T *x,
                                      ptrdiff_t x_rs, T *y, ptrdiff_t y_rs)
{
    if (act != NC_ACT_LINEAR && act != NC_ACT_RELU && act != NC_ACT_LEAKY_RELU)
        return REF(nc_activation_forward)(act, alpha, m, n, x, x_rs, y, y_rs);
    if (m && n && (!x || !y))
        return NC_ERR_INVALID_ARGUMENT;
    FAST(flatten_rows)(&m, &n, x_rs == (ptrdiff_t)n && y_rs == (ptrdiff_t)n);
    for (size_t i = 0; i < m; i++) {
        const T *xr = x + (ptrdiff_t)i * x_rs;
        T *yr = y + (ptrdiff_t)i * y_rs;
        switch (act) {
        case NC_ACT_RELU:
#pragma omp simd
            for (size_t j = 0; j < n; j++)
                yr[j] = xr[j] < 0 ? 0 : xr[j];
            break;
        case NC_ACT_LEAKY_RELU:
#pragma omp simd
            for (size_t j = 0; j < n; j++)
                yr[j] = xr[j] > 0 ? xr[j] : alpha * xr[j];
            break;
        default: /* linear */
            if (yr != xr)
                memmove(yr, xr, n * sizeof(T));
            break;
        }
    }
    return NC_OK;
}

nc_status FAST(nc_activation_backward)(nc_activation act, T alpha, size_t m, size_t n, const T *x,
                                       ptrdiff_t x_rs, const T *y, ptrdiff_t y_rs, const T *dy,
                                       ptrdiff_t dy_rs, T *dx, ptrdiff_t dx_rs)
{
    if (act == NC_ACT_SOFTPLUS || act == NC_ACT_GELU || act == NC_ACT_SOFTMAX ||
        (unsigned)act >= NC_ACT_COUNT)
        return REF(nc_activation_backward)(act, alpha, m, n, x, x_rs, y, y_rs, dy, dy_rs, dx,
                                           dx_rs);
    if (m && n && (!x || !y || !dy || !dx))
        return NC_ERR_INVALID_ARGUMENT;
    FAST(flatten_rows)(&m, &n,
                       x_rs == (ptrdiff_t)n && y_rs == (ptrdiff_t)n && dy_rs == (ptrdiff_t)n &&
                           dx_rs == (ptrdiff_t)n);
    for (size_t i = 0; i < m; i++) {
        const T *xr = x + (ptrdiff_t)i * x_rs, *yr = y + (ptrdiff_t)i * y_rs;
        const T *dyr = dy + (ptrdiff_t)i * dy_rs;
        T *dxr = dx + (ptrdiff_t)i * dx_rs;
        switch (act) {
        case NC_ACT_RELU:
#pragma omp simd
            for (size_t j = 0; j < n; j++) {
                /* both sides computed, then selected: a blend, not a branch */
                T pass = dyr[j], stop = dyr[j] * (T)0;
                dxr[j] = xr[j] > 0 ? pass : stop;
            }
            break;
        case NC_ACT_LEAKY_RELU:
#pragma omp simd
            for (size_t j = 0; j < n; j++) {
                T pass = dyr[j], leak = dyr[j] * alpha;
                dxr[j] = xr[j] > 0 ? pass : leak;
            }
            break;
        case NC_ACT_ELU:
#pragma omp simd
            for (size_t j = 0; j < n; j++) {
                T pass = dyr[j], curve = dyr[j] * (yr[j] + alpha);
                dxr[j] = xr[j] > 0 ? pass : curve;
            }
            break;
        case NC_ACT_SIGMOID:
#pragma omp simd
            for (size_t j = 0; j < n; j++)
                dxr[j] = dyr[j] * (yr[j] * (1 - yr[j]));
            break;
        case NC_ACT_TANH:
#pragma omp simd
            for (size_t j = 0; j < n; j++)
                dxr[j] = dyr[j] * (1 - yr[j] * yr[j]);
            break;
        default: /* linear */
#pragma omp simd
            for (size_t j = 0; j < n; j++)
                dxr[j] = dyr[j] * (T)1;
            break;
        }
    }
    return NC_OK;
}

/* Elements in the repeated bias of a narrow layer's bias_add. */
#define NC_BIAS_RUN 64

/* Rows of at least NC_BIAS_RUN / 4 (16) elements: one loop per row, as the
 * twin. Narrower rows that follow one another without gaps (a tiny
 * network's layers) get the bias repeated over a run of at least 4 whole
 * rows, added to each such run of y in one loop: the same additions,
 * without a loop's start and tail per row. */
nc_status FAST(nc_bias_add)(size_t m, size_t n, const T *bias, T *y, ptrdiff_t y_rs)
{
    if (n == 0 || n >= NC_BIAS_RUN / 4 || m < 4 || y_rs != (ptrdiff_t)n || !bias || !y)
        return REF(nc_bias_add)(m, n, bias, y, y_rs);
    T run[NC_BIAS_RUN];
    const size_t len = NC_BIAS_RUN / n * n;
    memcpy(run, bias, n * sizeof(T));
    for (size_t filled = n; filled < len; filled *= 2) /* doubling copies */
        memcpy(run + filled, run, (len - filled < filled ? len - filled : filled) * sizeof(T));
    const size_t total = m * n;
    for (size_t start = 0; start < total; start += len) {
        const size_t count = total - start < len ? total - start : len;
        T *ys = y + start;
#pragma omp simd
        for (size_t j = 0; j < count; j++)
            ys[j] += run[j];
    }
    return NC_OK;
}

#undef NC_BIAS_RUN

/* With beta == 0, rows are added in increasing order into dbias itself
 * (row-major friendly), the same sums in the same order as the twin. */
nc_status FAST(nc_bias_grad)(size_t m, size_t n, const T *dy, ptrdiff_t dy_rs, T beta, T *dbias)
{
    if (beta != 0 || m == 0)
        return REF(nc_bias_grad)(m, n, dy, dy_rs, beta, dbias);
    if (n && (!dbias || !dy))
        return NC_ERR_INVALID_ARGUMENT;
    memcpy(dbias, dy, n * sizeof(T));
    for (size_t i = 1; i < m; i++) {
        const T *row = dy + (ptrdiff_t)i * dy_rs;
#pragma omp simd
        for (size_t j = 0; j < n; j++)
            dbias[j] += row[j];
    }
    return NC_OK;
}
