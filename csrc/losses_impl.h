/*
 * losses_impl.h -- the loss kernels, written once for a generic element type
 * and included by losses.c for float and double (T, FAST(name) -> name_f32,
 * REF(name) -> name_f32_ref).
 *
 * The choice of loss is made once per row, not per element as in the twin
 * (ref_impl.h), and each row is a plain loop the compiler vectorizes where
 * the arithmetic allows (no libm call: mse, mae, huber and every gradient
 * on probabilities). The categorical cross-entropies on probabilities take
 * the log of the targets' classes only (one per row for one-hot targets,
 * against one per class in the twin). Sums run in double as in the twin;
 * the values match it to rounding, not bit for bit (the vectorized sums
 * add in another order). Each function is single-threaded, so its result
 * does not depend on the thread count.
 *
 * nc_loss_value_grad reads a row for the value and again for the gradient
 * while it is in L1; from the logits of a softmax or sigmoid output it
 * writes the loss, the gradient p - t and the probabilities in one pass,
 * with one exp per logit (the separate kernels and the forward softmax take
 * four).
 */

#define NC_PROB_EPS ((T)1e-7) /* Keras' epsilon: clip for probabilities, poisson offset */

static int FAST(is_categorical)(nc_loss loss)
{
    return loss == NC_LOSS_CATEGORICAL_CROSSENTROPY ||
           loss == NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
}

/* A known loss, a logits form for the cross-entropies only, data wherever
 * there are elements, and sparse labels that are integers in [0, n) (NaN
 * fails); checked before anything is written. */
static nc_status FAST(check_loss_args)(nc_loss loss, int from_logits, size_t m, size_t n,
                                       const T *p, const T *t, ptrdiff_t t_rs)
{
    if ((unsigned)loss >= NC_LOSS_COUNT ||
        (from_logits && !FAST(is_categorical)(loss) && loss != NC_LOSS_BINARY_CROSSENTROPY))
        return NC_ERR_INVALID_ARGUMENT;
    if (m && n && (!p || !t))
        return NC_ERR_INVALID_ARGUMENT;
    if (loss == NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
        for (size_t i = 0; i < m; i++) {
            T label = t[(ptrdiff_t)i * t_rs];
            if (!(label >= 0 && label < (T)n && label == (T)(size_t)label))
                return NC_ERR_INVALID_ARGUMENT;
        }
    return NC_OK;
}

static T FAST(clip_probability)(T p)
{
    return p < NC_PROB_EPS ? NC_PROB_EPS : (p > 1 - NC_PROB_EPS ? 1 - NC_PROB_EPS : p);
}

/* log(sum_j exp(z_j)) of one row, stable for any finite z. */
static double FAST(log_sum_exp)(size_t n, const T *z)
{
    double max = z[0], sum = 0;
    for (size_t j = 1; j < n; j++)
        max = z[j] > max ? z[j] : max;
    for (size_t j = 0; j < n; j++)
        sum += exp((double)z[j] - max);
    return max + log(sum);
}

/* Sum over one row of the elementwise loss of the losses that are means over
 * the outputs (all but the categorical cross-entropies). */
static double FAST(mean_loss_row_sum)(nc_loss loss, int from_logits, size_t n, const T *p,
                                      const T *t)
{
    double total = 0;
    switch (loss) {
    case NC_LOSS_MSE:
#pragma omp simd reduction(+ : total)
        for (size_t j = 0; j < n; j++) {
            double d = (double)p[j] - (double)t[j];
            total += d * d;
        }
        break;
    case NC_LOSS_MAE:
#pragma omp simd reduction(+ : total)
        for (size_t j = 0; j < n; j++)
            total += fabs((double)p[j] - (double)t[j]);
        break;
    case NC_LOSS_HUBER:
#pragma omp simd reduction(+ : total)
        for (size_t j = 0; j < n; j++) {
            double d = (double)p[j] - (double)t[j], ad = fabs(d);
            total += ad <= 1 ? 0.5 * d * d : ad - 0.5;
        }
        break;
    case NC_LOSS_POISSON:
        for (size_t j = 0; j < n; j++)
            total += (double)p[j] - (double)t[j] * log((double)p[j] + (double)NC_PROB_EPS);
        break;
    default: /* binary cross-entropy */
        if (from_logits) {
            /* -(t log s(z) + (1-t) log(1-s(z))) = max(z,0) - z t + log(1+e^-|z|) */
            for (size_t j = 0; j < n; j++) {
                double z = p[j];
                total += (z > 0 ? z : 0) - z * (double)t[j] + log1p(exp(-fabs(z)));
            }
        } else {
            for (size_t j = 0; j < n; j++) {
                double q = FAST(clip_probability)(p[j]), tj = t[j];
                total -= tj * log(q) + (1 - tj) * log(1 - q);
            }
        }
        break;
    }
    return total;
}

/* grad = scale * d(elementwise loss)/dp over one row of a loss that is a
 * mean over the outputs (scale already holds the 1/n); grad may be p. */
static void FAST(mean_loss_row_grad)(nc_loss loss, size_t n, const T *p, const T *t, double scale,
                                     T *grad)
{
    switch (loss) {
    case NC_LOSS_MSE:
#pragma omp simd
        for (size_t j = 0; j < n; j++)
            grad[j] = (T)(scale * (2 * ((double)p[j] - (double)t[j])));
        break;
    case NC_LOSS_MAE:
#pragma omp simd
        for (size_t j = 0; j < n; j++) {
            double d = (double)p[j] - (double)t[j];
            grad[j] = (T)(scale * (d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0)));
        }
        break;
    case NC_LOSS_HUBER:
#pragma omp simd
        for (size_t j = 0; j < n; j++) {
            double d = (double)p[j] - (double)t[j];
            double g = d > 1 ? 1.0 : (d < -1 ? -1.0 : d);
            grad[j] = (T)(scale * g);
        }
        break;
    case NC_LOSS_POISSON:
#pragma omp simd
        for (size_t j = 0; j < n; j++)
            grad[j] = (T)(scale * (1 - (double)t[j] / ((double)p[j] + (double)NC_PROB_EPS)));
        break;
    default: /* binary cross-entropy on probabilities; 0 where the clip holds */
#pragma omp simd
        for (size_t j = 0; j < n; j++) {
            double pj = p[j], tj = t[j];
            double g = -tj / pj + (1 - tj) / (1 - pj);
            int clipped = pj < (double)NC_PROB_EPS || pj > 1 - (double)NC_PROB_EPS;
            grad[j] = clipped ? (T)0 : (T)(scale * g);
        }
        break;
    }
}

/* One row of a categorical cross-entropy on probabilities: with want_value
 * the row's loss -sum_j t_j log p_j (label >= 0: the sparse form, t =
 * one-hot(label)), and when grad is not NULL grad_j = scale * -t_j / p_j (0
 * where the clip holds). Classes with t_j = 0 add nothing, so their log is
 * not taken. grad may be p. */
static double FAST(categorical_row)(int want_value, size_t n, const T *p, const T *t,
                                    long long label, double scale, T *grad)
{
    double row_loss = 0;
    if (label >= 0) {
        const T pl = p[label];
        if (want_value)
            row_loss = -log((double)FAST(clip_probability)(pl));
        if (grad) {
            const int clipped = pl < NC_PROB_EPS || pl > 1 - NC_PROB_EPS;
            for (size_t j = 0; j < n; j++)
                grad[j] = 0;
            grad[label] = clipped ? (T)0 : (T)(scale * (-1 / (double)pl));
        }
        return row_loss;
    }
    for (size_t j = 0; want_value && j < n; j++)
        if (t[j] != 0)
            row_loss -= (double)t[j] * log((double)FAST(clip_probability)(p[j]));
    if (grad) {
#pragma omp simd
        for (size_t j = 0; j < n; j++) {
            double pj = p[j], g = scale * (-(double)t[j] / pj);
            /* | rather than ||: no branch, so the loop vectorizes */
            int clipped = (pj < (double)NC_PROB_EPS) | (pj > 1 - (double)NC_PROB_EPS);
            grad[j] = clipped ? (T)0 : (T)g;
        }
    }
    return row_loss;
}

static double FAST(softmax_cross_entropy_row)(size_t n, const T *z, const T *t, long long label,
                                              double scale, T *grad, T *prob);
static double FAST(sigmoid_cross_entropy_row)(size_t n, const T *z, const T *t, double scale,
                                              T *grad, T *prob);

/* The loss of one row (mean over outputs, or sum over classes) when
 * want_value (else 0, or the value where it costs nothing more) and, when
 * grad is not NULL, its gradient scaled by `scale` (w_i / m). */
static double FAST(row_value_grad)(int want_value, nc_loss loss, int from_logits, size_t n,
                                   const T *p, const T *t, double scale, T *grad)
{
    const long long label = loss == NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ? (long long)t[0] : -1;
    if (FAST(is_categorical)(loss)) {
        if (!from_logits)
            return FAST(categorical_row)(want_value, n, p, t, label, scale, grad);
        if (grad)
            return FAST(softmax_cross_entropy_row)(n, p, t, label, scale, grad, NULL);
        if (label >= 0)
            return FAST(log_sum_exp)(n, p) - (double)p[label];
        const double lse = FAST(log_sum_exp)(n, p);
        double row_loss = 0;
        for (size_t j = 0; j < n; j++)
            row_loss += (double)t[j] * (lse - (double)p[j]);
        return row_loss;
    }
    if (from_logits && grad) /* binary cross-entropy from its logits */
        return FAST(sigmoid_cross_entropy_row)(n, p, t, scale, grad, NULL);
    const double row_loss =
        want_value ? FAST(mean_loss_row_sum)(loss, from_logits, n, p, t) / (double)n : 0;
    if (grad)
        FAST(mean_loss_row_grad)(loss, n, p, t, scale / (double)n, grad);
    return row_loss;
}

/* The rows of nc_loss_value and nc_loss_grad, and of nc_loss_value_grad
 * apart from its fused logits form: value (when not NULL) and grad (when
 * not NULL), each row's value taken before its gradient is written. */
static nc_status FAST(loss_rows)(nc_loss loss, int from_logits, size_t m, size_t n, const T *p,
                                 ptrdiff_t p_rs, const T *t, ptrdiff_t t_rs, const T *sample_weight,
                                 double *value, T *grad, ptrdiff_t g_rs)
{
    nc_status status = FAST(check_loss_args)(loss, from_logits, m, n, p, t, t_rs);
    if (status != NC_OK)
        return status;
    /* Unweighted rows of a mean loss that follow one another without gaps
     * are one row of m*n elements: a network with one or a few outputs then
     * runs one loop instead of a loop's start and tail per sample. */
    if (!sample_weight && !from_logits && !FAST(is_categorical)(loss) && m > 1 &&
        p_rs == (ptrdiff_t)n && t_rs == (ptrdiff_t)n && (!grad || g_rs == (ptrdiff_t)n)) {
        if (value)
            *value = FAST(mean_loss_row_sum)(loss, 0, m * n, p, t) / ((double)m * (double)n);
        if (grad)
            FAST(mean_loss_row_grad)(loss, m * n, p, t, 1.0 / (double)m / (double)n, grad);
        return NC_OK;
    }
    double total = 0;
    for (size_t i = 0; n && i < m; i++) {
        double w = sample_weight ? (double)sample_weight[i] : 1.0;
        T *gr = grad ? grad + (ptrdiff_t)i * g_rs : NULL;
        double row_loss =
            FAST(row_value_grad)(value != NULL, loss, from_logits, n, p + (ptrdiff_t)i * p_rs,
                                 t + (ptrdiff_t)i * t_rs, w / (double)m, gr);
        total += w * row_loss;
    }
    if (value)
        *value = m ? total / (double)m : 0.0;
    return NC_OK;
}

nc_status FAST(nc_loss_value)(nc_loss loss, int from_logits, size_t m, size_t n, const T *p,
                              ptrdiff_t p_rs, const T *t, ptrdiff_t t_rs, const T *sample_weight,
                              double *value)
{
    if (!value)
        return NC_ERR_INVALID_ARGUMENT;
    return FAST(loss_rows)(loss, from_logits, m, n, p, p_rs, t, t_rs, sample_weight, value, NULL,
                           0);
}

nc_status FAST(nc_loss_grad)(nc_loss loss, int from_logits, size_t m, size_t n, const T *p,
                             ptrdiff_t p_rs, const T *t, ptrdiff_t t_rs, const T *sample_weight,
                             T *grad, ptrdiff_t g_rs)
{
    if (m && n && !grad)
        return NC_ERR_INVALID_ARGUMENT;
    return FAST(loss_rows)(loss, from_logits, m, n, p, p_rs, t, t_rs, sample_weight, NULL, grad,
                           g_rs);
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
    if (!from_logits || !(categorical || loss == NC_LOSS_BINARY_CROSSENTROPY) || m == 0 || n == 0)
        return FAST(loss_rows)(loss, from_logits, m, n, p, p_rs, t, t_rs, sample_weight, value,
                               grad, g_rs);
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
#undef NC_PROB_EPS
