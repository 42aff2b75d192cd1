/*
 * losses_impl.h -- the loss kernels, written once for a generic element type
 * and included by losses.c for float and double (T, FAST(name) -> name_f32,
 * REF(name) -> name_f32_ref).
 *
 * The value and the gradient alone are the reference loops (their cost is a
 * libm call per element). What is fast here is doing both at once:
 * nc_loss_value_grad reads the logits of a softmax or sigmoid output once and
 * writes the loss, the gradient p - t and the probabilities in the same pass,
 * with one exp per logit (the separate kernels and the forward softmax take
 * four).
 */

nc_status FAST(nc_loss_value)(nc_loss loss, int from_logits, size_t m, size_t n, const T *p,
                              ptrdiff_t p_rs, const T *t, ptrdiff_t t_rs, const T *sample_weight,
                              double *value)
{
    return REF(nc_loss_value)(loss, from_logits, m, n, p, p_rs, t, t_rs, sample_weight, value);
}

nc_status FAST(nc_loss_grad)(nc_loss loss, int from_logits, size_t m, size_t n, const T *p,
                             ptrdiff_t p_rs, const T *t, ptrdiff_t t_rs, const T *sample_weight,
                             T *grad, ptrdiff_t g_rs)
{
    return REF(nc_loss_grad)(loss, from_logits, m, n, p, p_rs, t, t_rs, sample_weight, grad, g_rs);
}

/* Logits of a row up to this many classes keep their exp() on the stack, so
 * each is computed once; wider rows compute it twice. */
#define NC_LOSS_ROW_BUFFER 512

/* One row of softmax cross-entropy from logits z: returns the row's loss,
 * writes grad = scale * (S softmax(z) - t) (S = sum of t, 1 for one-hot) and
 * softmax(z) into prob when not NULL. label >= 0: sparse target. */
static double FAST(softmax_cross_entropy_row)(size_t n, const T *z, const T *t, long long label,
                                              double scale, T *grad, T *prob)
{
    double e[NC_LOSS_ROW_BUFFER];
    const int buffered = n <= NC_LOSS_ROW_BUFFER;
    double max = z[0], sum = 0, total_t = label >= 0 ? 1 : 0;
    for (size_t j = 1; j < n; j++)
        max = z[j] > max ? z[j] : max;
    for (size_t j = 0; j < n; j++) {
        double ej = exp((double)z[j] - max);
        if (buffered)
            e[j] = ej;
        sum += ej;
    }
    const double lse = max + log(sum), inv_sum = 1 / sum;
    double row_loss = 0;
    if (label >= 0) {
        row_loss = lse - (double)z[label];
    } else {
        for (size_t j = 0; j < n; j++) {
            total_t += (double)t[j];
            row_loss += (double)t[j] * (lse - (double)z[j]);
        }
    }
    for (size_t j = 0; j < n; j++) {
        double pj = (buffered ? e[j] : exp((double)z[j] - max)) * inv_sum;
        double tj = label >= 0 ? (double)((long long)j == label) : (double)t[j];
        grad[j] = (T)(scale * (total_t == 1 ? pj - tj : total_t * pj - tj));
        if (prob)
            prob[j] = (T)pj;
    }
    return row_loss;
}

/* One row of binary cross-entropy from the logits of a sigmoid: the row's
 * mean loss; grad = scale/n * (sigmoid(z) - t); sigmoid(z) into prob. */
static double FAST(sigmoid_cross_entropy_row)(size_t n, const T *z, const T *t, double scale,
                                              T *grad, T *prob)
{
    double total = 0, g_scale = scale / (double)n;
    for (size_t j = 0; j < n; j++) {
        double zj = z[j], tj = t[j];
        double e = exp(-fabs(zj)); /* never overflows */
        double s = zj >= 0 ? 1 / (1 + e) : e / (1 + e);
        /* -(t log s + (1-t) log(1-s)) = max(z,0) - z t + log(1 + e^-|z|) */
        total += (zj > 0 ? zj : 0) - zj * tj + log1p(e);
        grad[j] = (T)(g_scale * (s - tj));
        if (prob)
            prob[j] = (T)s;
    }
    return total / (double)n;
}

nc_status FAST(nc_loss_value_grad)(nc_loss loss, int from_logits, size_t m, size_t n, const T *p,
                                   ptrdiff_t p_rs, const T *t, ptrdiff_t t_rs,
                                   const T *sample_weight, double *value, T *grad, ptrdiff_t g_rs,
                                   T *prob, ptrdiff_t prob_rs)
{
    if (!value || (m && n && !grad) || (prob && !from_logits))
        return NC_ERR_INVALID_ARGUMENT;
    const int sparse = loss == NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    const int categorical = sparse || loss == NC_LOSS_CATEGORICAL_CROSSENTROPY;
    if (!from_logits || !(categorical || loss == NC_LOSS_BINARY_CROSSENTROPY) || m == 0 || n == 0) {
        nc_status status =
            FAST(nc_loss_value)(loss, from_logits, m, n, p, p_rs, t, t_rs, sample_weight, value);
        if (status == NC_OK)
            status = FAST(nc_loss_grad)(loss, from_logits, m, n, p, p_rs, t, t_rs, sample_weight,
                                        grad, g_rs);
        return status;
    }
    if (!p || !t)
        return NC_ERR_INVALID_ARGUMENT;
    if (sparse) /* every label first, so a bad one leaves grad and prob untouched */
        for (size_t i = 0; i < m; i++) {
            T label = t[(ptrdiff_t)i * t_rs];
            if (!(label >= 0 && label < (T)n && label == (T)(size_t)label)) /* NaN fails */
                return NC_ERR_INVALID_ARGUMENT;
        }
    double total = 0;
    for (size_t i = 0; i < m; i++) {
        const T *zr = p + (ptrdiff_t)i * p_rs, *tr = t + (ptrdiff_t)i * t_rs;
        T *gr = grad + (ptrdiff_t)i * g_rs;
        T *pr = prob ? prob + (ptrdiff_t)i * prob_rs : NULL;
        double w = sample_weight ? (double)sample_weight[i] : 1.0;
        double scale = w / (double)m, row_loss;
        if (categorical)
            row_loss = FAST(softmax_cross_entropy_row)(n, zr, tr, sparse ? (long long)tr[0] : -1,
                                                       scale, gr, pr);
        else
            row_loss = FAST(sigmoid_cross_entropy_row)(n, zr, tr, scale, gr, pr);
        total += w * row_loss;
    }
    *value = total / (double)m;
    return NC_OK;
}

#undef NC_LOSS_ROW_BUFFER
