/*
 * ref_impl.h -- the naive reference twin of every kernel, written once for a
 * generic element type and included by ref.c for float and for double.
 *
 * Before including, ref.c defines:
 *   T          the element type (float or double)
 *   REF(name)  the public name of the twin, e.g. REF(nc_gemm) -> nc_gemm_f32_ref
 *   EXP LOG LOG1P EXPM1 TANH ERF SQRT FABS   the libm functions for T
 *
 * These are the oracle for the fast kernels: plain loops in the order the
 * math is written, no blocking, no SIMD. Reading one of them is the quickest
 * way to learn what the fast version must compute.
 */

/* ------------------------------------------------------------------ GEMM */

nc_status REF(nc_gemm)(size_t m, size_t n, size_t k, T alpha, const T *a, ptrdiff_t a_rs,
                       ptrdiff_t a_cs, const T *b, ptrdiff_t b_rs, ptrdiff_t b_cs, T beta, T *c,
                       ptrdiff_t c_rs, ptrdiff_t c_cs)
{
    if ((m && n && !c) || (m && n && k && (!a || !b)))
        return NC_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            T acc = 0;
            for (size_t p = 0; p < k; p++)
                acc += a[(ptrdiff_t)i * a_rs + (ptrdiff_t)p * a_cs] *
                       b[(ptrdiff_t)p * b_rs + (ptrdiff_t)j * b_cs];
            T *cij = &c[(ptrdiff_t)i * c_rs + (ptrdiff_t)j * c_cs];
            /* beta == 0 must not read C: it may hold NaN or garbage (BLAS). */
            *cij = (beta == 0) ? alpha * acc : alpha * acc + beta * *cij;
        }
    }
    return NC_OK;
}

/* ------------------------------------------------------ dense-layer pieces */

nc_status REF(nc_bias_add)(size_t m, size_t n, const T *bias, T *y, ptrdiff_t y_rs)
{
    if (m && n && (!bias || !y))
        return NC_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            y[(ptrdiff_t)i * y_rs + (ptrdiff_t)j] += bias[j];
    return NC_OK;
}

nc_status REF(nc_bias_grad)(size_t m, size_t n, const T *dy, ptrdiff_t dy_rs, T beta, T *dbias)
{
    if (n && (!dbias || (m && !dy)))
        return NC_ERR_INVALID_ARGUMENT;
    for (size_t j = 0; j < n; j++) {
        T acc = 0;
        for (size_t i = 0; i < m; i++)
            acc += dy[(ptrdiff_t)i * dy_rs + (ptrdiff_t)j];
        dbias[j] = (beta == 0) ? acc : beta * dbias[j] + acc;
    }
    return NC_OK;
}

/* ----------------------------------------------------- batch normalization */

nc_status REF(nc_batch_norm_stats)(size_t m, size_t n, const T *x, ptrdiff_t x_rs, T *mean, T *var)
{
    if (m == 0 || (n && (!x || !mean || !var)))
        return NC_ERR_INVALID_ARGUMENT;
    for (size_t j = 0; j < n; j++) {
        double sum = 0;
        for (size_t i = 0; i < m; i++)
            sum += (double)x[(ptrdiff_t)i * x_rs + (ptrdiff_t)j];
        const double mu = sum / (double)m;
        double squares = 0;
        for (size_t i = 0; i < m; i++) {
            const double d = (double)x[(ptrdiff_t)i * x_rs + (ptrdiff_t)j] - mu;
            squares += d * d;
        }
        mean[j] = (T)mu;
        var[j] = (T)(squares / (double)m);
    }
    return NC_OK;
}

nc_status REF(nc_batch_norm_forward)(size_t m, size_t n, const T *x, ptrdiff_t x_rs, const T *mean,
                                     const T *var, const T *gamma, const T *beta, T epsilon, T *y,
                                     ptrdiff_t y_rs)
{
    if (!(epsilon >= 0) || (m && n && (!x || !mean || !var || !y)))
        return NC_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            const T x_hat =
                (x[(ptrdiff_t)i * x_rs + (ptrdiff_t)j] - mean[j]) / SQRT(var[j] + epsilon);
            y[(ptrdiff_t)i * y_rs + (ptrdiff_t)j] =
                (gamma ? gamma[j] : (T)1) * x_hat + (beta ? beta[j] : (T)0);
        }
    return NC_OK;
}

nc_status REF(nc_batch_norm_backward)(size_t m, size_t n, const T *x, ptrdiff_t x_rs, const T *mean,
                                      const T *var, const T *gamma, T epsilon, int batch_stats,
                                      const T *dy, ptrdiff_t dy_rs, T *dgamma, T *dbeta, T *dx,
                                      ptrdiff_t dx_rs)
{
    if (!(epsilon >= 0) || (m && n && (!x || !mean || !var || !dy)))
        return NC_ERR_INVALID_ARGUMENT;
    for (size_t j = 0; j < n; j++) {
        const T s = SQRT(var[j] + epsilon);
        double sum_dy = 0, sum_dy_x_hat = 0;
        for (size_t i = 0; i < m; i++) {
            const T x_hat = (x[(ptrdiff_t)i * x_rs + (ptrdiff_t)j] - mean[j]) / s;
            const T g = dy[(ptrdiff_t)i * dy_rs + (ptrdiff_t)j];
            sum_dy += (double)g;
            sum_dy_x_hat += (double)g * (double)x_hat;
        }
        if (dgamma)
            dgamma[j] = (T)sum_dy_x_hat;
        if (dbeta)
            dbeta[j] = (T)sum_dy;
        if (!dx)
            continue;
        const T g_over_s = (gamma ? gamma[j] : (T)1) / s;
        for (size_t i = 0; i < m; i++) {
            const T x_hat = (x[(ptrdiff_t)i * x_rs + (ptrdiff_t)j] - mean[j]) / s;
            T d = dy[(ptrdiff_t)i * dy_rs + (ptrdiff_t)j];
            if (batch_stats)
                d = d - (T)(sum_dy / (double)m) - x_hat * (T)(sum_dy_x_hat / (double)m);
            dx[(ptrdiff_t)i * dx_rs + (ptrdiff_t)j] = g_over_s * d;
        }
    }
    return NC_OK;
}

/* ------------------------------------------------------------- activations */

/* sigmoid without overflow: exp is only taken of a non-positive number. */
static T REF(sigmoid_scalar)(T x)
{
    if (x >= 0)
        return 1 / (1 + EXP(-x));
    T e = EXP(x);
    return e / (1 + e);
}

static T REF(activation_scalar)(nc_activation act, T alpha, T x)
{
    switch (act) {
    case NC_ACT_LINEAR: return x;
    case NC_ACT_RELU: return x < 0 ? 0 : x; /* NaN passes through */
    case NC_ACT_LEAKY_RELU: return x > 0 ? x : alpha * x;
    case NC_ACT_ELU: return x > 0 ? x : alpha * EXPM1(x);
    case NC_ACT_SIGMOID: return REF(sigmoid_scalar)(x);
    case NC_ACT_TANH: return TANH(x);
    /* log(1 + e^x) = max(x, 0) + log(1 + e^-|x|): never overflows. */
    case NC_ACT_SOFTPLUS: return (x > 0 ? x : 0) + LOG1P(EXP(-FABS(x)));
    case NC_ACT_GELU: return (T)0.5 * x * (1 + ERF(x * (T)0.70710678118654752440));
    default: return 0; /* softmax is row-wise, handled by the caller */
    }
}

/* dy/dx of one element, from x (pre-activation) and y = f(x). */
static T REF(activation_derivative)(nc_activation act, T alpha, T x, T y)
{
    switch (act) {
    case NC_ACT_LINEAR: return 1;
    case NC_ACT_RELU: return x > 0 ? 1 : 0; /* relu'(0) = 0 */
    case NC_ACT_LEAKY_RELU: return x > 0 ? 1 : alpha;
    case NC_ACT_ELU: return x > 0 ? 1 : y + alpha; /* d/dx alpha(e^x - 1) = y + alpha */
    case NC_ACT_SIGMOID: return y * (1 - y);
    case NC_ACT_TANH: return 1 - y * y;
    case NC_ACT_SOFTPLUS: return REF(sigmoid_scalar)(x);
    case NC_ACT_GELU: {
        /* Phi(x) + x * phi(x), with Phi the normal CDF and phi its density */
        T cdf = (T)0.5 * (1 + ERF(x * (T)0.70710678118654752440));
        T pdf = EXP((T)-0.5 * x * x) * (T)0.39894228040143267794;
        return cdf + x * pdf;
    }
    default: return 0;
    }
}

nc_status REF(nc_activation_forward)(nc_activation act, T alpha, size_t m, size_t n, const T *x,
                                     ptrdiff_t x_rs, T *y, ptrdiff_t y_rs)
{
    if ((unsigned)act >= NC_ACT_COUNT || (m && n && (!x || !y)))
        return NC_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < m; i++) {
        const T *xr = x + (ptrdiff_t)i * x_rs;
        T *yr = y + (ptrdiff_t)i * y_rs;
        if (act == NC_ACT_SOFTMAX) {
            if (n == 0)
                continue;
            T max = xr[0];
            for (size_t j = 1; j < n; j++)
                max = xr[j] > max ? xr[j] : max;
            T sum = 0;
            for (size_t j = 0; j < n; j++) {
                yr[j] = EXP(xr[j] - max);
                sum += yr[j];
            }
            for (size_t j = 0; j < n; j++)
                yr[j] /= sum;
        } else {
            for (size_t j = 0; j < n; j++)
                yr[j] = REF(activation_scalar)(act, alpha, xr[j]);
        }
    }
    return NC_OK;
}

nc_status REF(nc_activation_backward)(nc_activation act, T alpha, size_t m, size_t n, const T *x,
                                      ptrdiff_t x_rs, const T *y, ptrdiff_t y_rs, const T *dy,
                                      ptrdiff_t dy_rs, T *dx, ptrdiff_t dx_rs)
{
    if ((unsigned)act >= NC_ACT_COUNT || (m && n && (!x || !y || !dy || !dx)))
        return NC_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < m; i++) {
        const T *xr = x + (ptrdiff_t)i * x_rs, *yr = y + (ptrdiff_t)i * y_rs;
        const T *dyr = dy + (ptrdiff_t)i * dy_rs;
        T *dxr = dx + (ptrdiff_t)i * dx_rs;
        if (act == NC_ACT_SOFTMAX) {
            /* dx_j = y_j (dy_j - sum_k dy_k y_k): the Jacobian-vector product */
            T dot = 0;
            for (size_t j = 0; j < n; j++)
                dot += dyr[j] * yr[j];
            for (size_t j = 0; j < n; j++)
                dxr[j] = yr[j] * (dyr[j] - dot);
        } else {
            for (size_t j = 0; j < n; j++)
                dxr[j] = dyr[j] * REF(activation_derivative)(act, alpha, xr[j], yr[j]);
        }
    }
    return NC_OK;
}

/* The epilogue's twin: the plain product, then one pass over C. */
nc_status REF(nc_gemm_epilogue)(size_t m, size_t n, size_t k, T alpha, const T *a, ptrdiff_t a_rs,
                                ptrdiff_t a_cs, const T *b, ptrdiff_t b_rs, ptrdiff_t b_cs, T beta,
                                T *c, ptrdiff_t c_rs, ptrdiff_t c_cs, const EPILOGUE *ep)
{
    if (!ep || (unsigned)ep->kind > NC_EPILOGUE_ACTIVATION_GRAD ||
        (unsigned)ep->activation >= NC_ACT_COUNT || (m && n && c_cs != 1) ||
        (ep->kind == NC_EPILOGUE_ACTIVATION_GRAD && m && n && (!ep->z || !ep->a)))
        return NC_ERR_INVALID_ARGUMENT;
    nc_status status =
        REF(nc_gemm)(m, n, k, alpha, a, a_rs, a_cs, b, b_rs, b_cs, beta, c, c_rs, c_cs);
    if (status != NC_OK || ep->kind == NC_EPILOGUE_NONE)
        return status;
    nc_activation act = (nc_activation)ep->activation;
    if (ep->kind == NC_EPILOGUE_ACTIVATION_GRAD)
        return REF(nc_activation_backward)(act, ep->alpha, m, n, ep->z, ep->z_rs, ep->a, ep->a_rs,
                                           c, c_rs, c, c_rs);
    if (ep->bias)
        status = REF(nc_bias_add)(m, n, ep->bias, c, c_rs);
    if (status == NC_OK && (act != NC_ACT_LINEAR || ep->out))
        status = REF(nc_activation_forward)(act, ep->alpha, m, n, c, c_rs, ep->out ? ep->out : c,
                                            ep->out ? ep->out_rs : c_rs);
    return status;
}

/* ------------------------------------------------------------------ losses */

#define REF_PROB_EPS ((T)1e-7) /* Keras' epsilon: clip for probabilities, poisson offset */

static int REF(is_cross_entropy)(nc_loss loss)
{
    return loss == NC_LOSS_BINARY_CROSSENTROPY || loss == NC_LOSS_CATEGORICAL_CROSSENTROPY ||
           loss == NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
}

static nc_status REF(check_loss_args)(nc_loss loss, int from_logits, size_t m, size_t n, const T *p,
                                      const T *t, ptrdiff_t t_rs)
{
    if ((unsigned)loss >= NC_LOSS_COUNT || (from_logits && !REF(is_cross_entropy)(loss)))
        return NC_ERR_INVALID_ARGUMENT;
    if (m && n && (!p || !t))
        return NC_ERR_INVALID_ARGUMENT;
    if (loss == NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) {
        for (size_t i = 0; i < m; i++) {
            T label = t[(ptrdiff_t)i * t_rs];
            /* written so that NaN fails too */
            if (!(label >= 0 && label < (T)n && label == (T)(size_t)label))
                return NC_ERR_INVALID_ARGUMENT;
        }
    }
    return NC_OK;
}

static T REF(clip_probability)(T p)
{
    return p < REF_PROB_EPS ? REF_PROB_EPS : (p > 1 - REF_PROB_EPS ? 1 - REF_PROB_EPS : p);
}

/* log(sum_j exp(z_j)) of one row, stable for any finite z. */
static double REF(log_sum_exp)(size_t n, const T *z)
{
    double max = z[0], sum = 0;
    for (size_t j = 1; j < n; j++)
        max = z[j] > max ? z[j] : max;
    for (size_t j = 0; j < n; j++)
        sum += exp((double)z[j] - max);
    return max + log(sum);
}

/* The loss of one sample (one row): mean over outputs, or sum over classes. */
static double REF(sample_loss)(nc_loss loss, int from_logits, size_t n, const T *p, const T *t)
{
    double total = 0;
    switch (loss) {
    case NC_LOSS_CATEGORICAL_CROSSENTROPY:
        if (from_logits) {
            double lse = REF(log_sum_exp)(n, p);
            for (size_t j = 0; j < n; j++)
                total += (double)t[j] * (lse - (double)p[j]);
        } else {
            for (size_t j = 0; j < n; j++)
                total -= (double)t[j] * log((double)REF(clip_probability)(p[j]));
        }
        return total;
    case NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY: {
        size_t c = (size_t)t[0];
        if (from_logits)
            return REF(log_sum_exp)(n, p) - (double)p[c];
        return -log((double)REF(clip_probability)(p[c]));
    }
    default: break;
    }
    for (size_t j = 0; j < n; j++) {
        double pj = p[j], tj = t[j], d = pj - tj, ad = fabs(d);
        switch (loss) {
        case NC_LOSS_MSE: total += d * d; break;
        case NC_LOSS_MAE: total += ad; break;
        case NC_LOSS_HUBER: total += ad <= 1 ? 0.5 * d * d : ad - 0.5; break;
        case NC_LOSS_POISSON: total += pj - tj * log(pj + (double)REF_PROB_EPS); break;
        case NC_LOSS_BINARY_CROSSENTROPY:
            if (from_logits) {
                /* -(t log s(z) + (1-t) log(1-s(z))) = max(z,0) - z t + log(1+e^-|z|) */
                total += (pj > 0 ? pj : 0) - pj * tj + log1p(exp(-fabs(pj)));
            } else {
                double pc = REF(clip_probability)(p[j]);
                total -= tj * log(pc) + (1 - tj) * log(1 - pc);
            }
            break;
        default: break;
        }
    }
    return total / (double)n;
}

nc_status REF(nc_loss_value)(nc_loss loss, int from_logits, size_t m, size_t n, const T *p,
                             ptrdiff_t p_rs, const T *t, ptrdiff_t t_rs, const T *sample_weight,
                             double *value)
{
    nc_status status = REF(check_loss_args)(loss, from_logits, m, n, p, t, t_rs);
    if (status != NC_OK || !value)
        return status != NC_OK ? status : NC_ERR_INVALID_ARGUMENT;
    double total = 0;
    if (n) {
        for (size_t i = 0; i < m; i++) {
            double w = sample_weight ? (double)sample_weight[i] : 1.0;
            total += w * REF(sample_loss)(loss, from_logits, n, p + (ptrdiff_t)i * p_rs,
                                          t + (ptrdiff_t)i * t_rs);
        }
    }
    *value = m ? total / (double)m : 0.0;
    return NC_OK;
}

nc_status REF(nc_loss_grad)(nc_loss loss, int from_logits, size_t m, size_t n, const T *p,
                            ptrdiff_t p_rs, const T *t, ptrdiff_t t_rs, const T *sample_weight,
                            T *grad, ptrdiff_t g_rs)
{
    nc_status status = REF(check_loss_args)(loss, from_logits, m, n, p, t, t_rs);
    if (status != NC_OK)
        return status;
    if (m && n && !grad)
        return NC_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < m; i++) {
        const T *pr = p + (ptrdiff_t)i * p_rs, *tr = t + (ptrdiff_t)i * t_rs;
        T *gr = grad + (ptrdiff_t)i * g_rs;
        double w = sample_weight ? (double)sample_weight[i] : 1.0;
        double scale = w / (double)m; /* categorical: sum over classes */
        if (loss == NC_LOSS_CATEGORICAL_CROSSENTROPY ||
            loss == NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) {
            int sparse = loss == NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
            size_t label = sparse ? (size_t)tr[0] : 0;
            if (from_logits) {
                /* d/dz_j [S lse(z) - sum t z] = S softmax(z)_j - t_j, S = sum_j t_j */
                double lse = REF(log_sum_exp)(n, pr), total_t = 0;
                for (size_t j = 0; j < n; j++)
                    total_t += sparse ? (j == label) : (double)tr[j];
                for (size_t j = 0; j < n; j++) {
                    double tj = sparse ? (j == label) : (double)tr[j];
                    double pj = exp((double)pr[j] - lse);
                    /* (grad may alias p: read pr[j] before writing gr[j]) */
                    gr[j] = (T)(scale * (total_t == 1 ? pj - tj : total_t * pj - tj));
                }
            } else {
                for (size_t j = 0; j < n; j++) {
                    double tj = sparse ? (j == label) : (double)tr[j];
                    T pj = pr[j];
                    int clipped = pj < REF_PROB_EPS || pj > 1 - REF_PROB_EPS;
                    gr[j] = clipped ? 0 : (T)(scale * (-tj / (double)pj));
                }
            }
            continue;
        }
        scale /= (double)n; /* the other losses are means over the n outputs */
        for (size_t j = 0; j < n; j++) {
            double pj = pr[j], tj = tr[j], d = pj - tj, g = 0;
            switch (loss) {
            case NC_LOSS_MSE: g = 2 * d; break;
            case NC_LOSS_MAE: g = (d > 0) - (d < 0); break;
            case NC_LOSS_HUBER: g = fabs(d) <= 1 ? d : (double)((d > 0) - (d < 0)); break;
            case NC_LOSS_POISSON: g = 1 - tj / (pj + (double)REF_PROB_EPS); break;
            case NC_LOSS_BINARY_CROSSENTROPY:
                if (from_logits) {
                    g = (double)REF(sigmoid_scalar)(pr[j]) - tj;
                } else if (pj < (double)REF_PROB_EPS || pj > 1 - (double)REF_PROB_EPS) {
                    g = 0;
                } else {
                    g = -tj / pj + (1 - tj) / (1 - pj);
                }
                break;
            default: break;
            }
            gr[j] = (T)(scale * g);
        }
    }
    return NC_OK;
}

nc_status REF(nc_loss_value_grad)(nc_loss loss, int from_logits, size_t m, size_t n, const T *p,
                                  ptrdiff_t p_rs, const T *t, ptrdiff_t t_rs,
                                  const T *sample_weight, double *value, T *grad, ptrdiff_t g_rs,
                                  T *prob, ptrdiff_t prob_rs)
{
    if (prob && !from_logits)
        return NC_ERR_INVALID_ARGUMENT;
    nc_status status =
        REF(nc_loss_value)(loss, from_logits, m, n, p, p_rs, t, t_rs, sample_weight, value);
    if (status == NC_OK)
        status =
            REF(nc_loss_grad)(loss, from_logits, m, n, p, p_rs, t, t_rs, sample_weight, grad, g_rs);
    if (status == NC_OK && prob)
        status = REF(nc_activation_forward)(loss == NC_LOSS_BINARY_CROSSENTROPY ? NC_ACT_SIGMOID
                                                                                : NC_ACT_SOFTMAX,
                                            0, m, n, p, p_rs, prob, prob_rs);
    return status;
}

#undef REF_PROB_EPS

/* -------------------------------------------------------------- optimizers */

/* The update of element i at step t. */
static void REF(optimizer_update_element)(const nc_optimizer *opt, uint64_t t, size_t n, size_t i,
                                          T *w, const T *g, T *state)
{
    const T lr = (T)opt->learning_rate;
    T *slot0 = state, *slot1 = state + n;
    switch (opt->kind) {
    case NC_OPT_SGD: {
        const T mu = (T)opt->momentum;
        if (opt->momentum == 0) {
            w[i] -= lr * g[i];
            break;
        }
        slot0[i] = mu * slot0[i] - lr * g[i];
        w[i] += opt->nesterov ? mu * slot0[i] - lr * g[i] : slot0[i];
        break;
    }
    case NC_OPT_ADAM:
    case NC_OPT_ADAMW: {
        const T b1 = (T)opt->beta_1, b2 = (T)opt->beta_2, eps = (T)opt->epsilon;
        /* the bias corrections fold into one step size (Kingma & Ba, sec. 2) */
        const T step = (T)(opt->learning_rate * sqrt(1 - pow(opt->beta_2, (double)t)) /
                           (1 - pow(opt->beta_1, (double)t)));
        const T decay = (T)(opt->learning_rate * opt->weight_decay);
        if (opt->kind == NC_OPT_ADAMW)
            w[i] -= decay * w[i];
        slot0[i] = b1 * slot0[i] + (1 - b1) * g[i];
        slot1[i] = b2 * slot1[i] + (1 - b2) * g[i] * g[i];
        w[i] -= step * slot0[i] / (SQRT(slot1[i]) + eps);
        break;
    }
    case NC_OPT_RMSPROP: {
        const T rho = (T)opt->rho, eps = (T)opt->epsilon, mu = (T)opt->momentum;
        slot0[i] = rho * slot0[i] + (1 - rho) * g[i] * g[i];
        T increment = lr * g[i] / SQRT(slot0[i] + eps);
        if (opt->momentum > 0) {
            slot1[i] = mu * slot1[i] + increment;
            w[i] -= slot1[i];
        } else {
            w[i] -= increment;
        }
        break;
    }
    }
}

nc_status REF(nc_optimizer_step_ranges)(nc_optimizer *opt, size_t n, T *w, const T *g, T *state,
                                        size_t n_ranges, const size_t *ranges)
{
    if (!opt || (unsigned)opt->kind > NC_OPT_RMSPROP || (n && (!w || !g || !state)) ||
        (n_ranges && !ranges))
        return NC_ERR_INVALID_ARGUMENT;
    for (size_t r = 0; r < n_ranges; r++)
        if (ranges[2 * r] > ranges[2 * r + 1] || ranges[2 * r + 1] > n ||
            (r && ranges[2 * r] < ranges[2 * r - 1]))
            return NC_ERR_INVALID_ARGUMENT;
    uint64_t t = opt->iterations + 1;
    for (size_t r = 0; r < n_ranges; r++)
        for (size_t i = ranges[2 * r]; i < ranges[2 * r + 1]; i++)
            REF(optimizer_update_element)(opt, t, n, i, w, g, state);
    opt->iterations = t;
    return NC_OK;
}

nc_status REF(nc_optimizer_step)(nc_optimizer *opt, size_t n, T *w, const T *g, T *state)
{
    const size_t whole[2] = {0, n};
    return REF(nc_optimizer_step_ranges)(opt, n, w, g, state, 1, whole);
}
