/*
 * mlp_impl.h -- forward pass, backward pass and the whole training epoch of a
 * multilayer perceptron, written once for a generic element type and included
 * by mlp.c for float and for double.
 *
 * Before including, mlp.c defines:
 *   T         the element type
 *   NET(name) the name for this type: NET(nc_network_predict) -> nc_network_predict_f32
 *   K(name)   the kernel of this type: K(nc_gemm) -> nc_gemm_f32
 *
 * Shapes (B = samples in the batch; row-major, column stride 1 everywhere):
 *   layer input  in  B x n_in        layer output  a  B x n_out
 *   dense:       z = in W + b,  a = act(z)     W n_in x n_out (row-major), b n_out
 * Every layer keeps z and a in the workspace so that the backward pass reads
 * what the forward pass computed (as llm.c keeps its activations). Parameters,
 * gradients and optimizer moments share one flat layout, so the optimizer is
 * one call over the whole buffer.
 */

/* Pointers into the caller's workspace for one batch. */
typedef struct NET(buffers) {
    T *input;     /* B x n_in: the gathered batch */
    const T *in0; /* the batch's rows: input, or the caller's when they are contiguous */
    T *target;    /* B x n_out (or B x 1 labels): the gathered targets */
    T *weight;    /* B: the gathered sample weights */
    T *own_z[NC_MAX_LAYERS], *own_a[NC_MAX_LAYERS], *mask[NC_MAX_LAYERS]; /* storage */
    const T *z[NC_MAX_LAYERS]; /* pre-activation of layer l (dense: own_z; else its input) */
    const T *a[NC_MAX_LAYERS]; /* output of layer l (may be own_z, own_a or its input) */
    T *stats[NC_MAX_LAYERS];   /* batch normalization in training: its batch's mean, then
                                  its variance (n_out each); other layers: none */
    T *grad_ping, *grad_pong;  /* B x widest, the backward pass' two gradients */
    double l2_scale;           /* the batch's factor on the l2 penalties (nc_loss_scaling) */
} NET(buffers);

static void NET(carve)(const nc_network *net, size_t batch, void *workspace, NET(buffers) * buf)
{
    char *cursor = (char *)workspace;
    size_t widest = nc_network_widest(net);
    buf->input = (T *)nc_take(&cursor, batch * net->layers[0].n_in * sizeof(T));
    buf->in0 = buf->input;
    buf->target = (T *)nc_take(&cursor, batch * net->layers[net->n_layers - 1].n_out * sizeof(T));
    buf->weight = (T *)nc_take(&cursor, batch * sizeof(T));
    for (size_t l = 0; l < net->n_layers; l++) {
        size_t bytes = batch * net->layers[l].n_out * sizeof(T);
        buf->own_z[l] = (T *)nc_take(&cursor, bytes);
        buf->own_a[l] = (T *)nc_take(&cursor, bytes);
        buf->mask[l] = (T *)nc_take(&cursor, bytes);
        buf->stats[l] = (T *)nc_take(&cursor, nc_network_stats_count(&net->layers[l]) * sizeof(T));
    }
    buf->grad_ping = (T *)nc_take(&cursor, batch * widest * sizeof(T));
    buf->grad_pong = (T *)nc_take(&cursor, batch * widest * sizeof(T));
}

/* Copies rows order[start..start+count) (or start.. when order is NULL) of a
 * strided matrix with `width` columns into a contiguous block. */
static void NET(gather_rows)(T *dst, const T *src, ptrdiff_t src_rs, size_t width,
                             const size_t *order, size_t start, size_t count)
{
#if defined(NNCORE_OPENMP)
    /* A large batch of rows scattered over a data set bigger than the caches
     * is a memory-latency-bound copy: the threads split the rows. */
    if (count * width * sizeof(T) >= NC_GATHER_PARALLEL_BYTES && nc_get_num_threads() > 1) {
#pragma omp parallel for num_threads(nc_get_num_threads()) schedule(static)
        for (ptrdiff_t i = 0; i < (ptrdiff_t)count; i++) {
            size_t row = order ? order[start + (size_t)i] : start + (size_t)i;
            memcpy(dst + (size_t)i * width, src + (ptrdiff_t)row * src_rs, width * sizeof(T));
        }
        return;
    }
#endif
    if (width <= 8) { /* a few features or one target: a loop beats a memcpy call per row */
        for (size_t i = 0; i < count; i++) {
            const T *from = src + (ptrdiff_t)(order ? order[start + i] : start + i) * src_rs;
            for (size_t j = 0; j < width; j++)
                dst[i * width + j] = from[j];
        }
        return;
    }
    for (size_t i = 0; i < count; i++) {
        size_t row = order ? order[start + i] : start + i;
        memcpy(dst + i * width, src + (ptrdiff_t)row * src_rs, width * sizeof(T));
    }
}

/* Points buf->in0 at rows [start, start+count) of x in batch order: the
 * caller's own rows when they are contiguous and in order (predict, or fit
 * without shuffling: no copy), else a gathered copy in buf->input. */
static void NET(batch_input)(NET(buffers) * buf, const T *x, ptrdiff_t x_rs, size_t n_in,
                             const size_t *order, size_t start, size_t count)
{
    if (!order && x_rs == (ptrdiff_t)n_in) {
        buf->in0 = x + start * n_in;
        return;
    }
    NET(gather_rows)(buf->input, x, x_rs, n_in, order, start, count);
    buf->in0 = buf->input;
}

/* ------------------------------------------------------------ one layer */

/* z = in W + b, a = act(z) (a linear layer's a is z itself), the bias and
 * the activation applied by the GEMM to each tile as it is finished.
 * no_activation: z only (the loss computes a from the logits). */
static nc_status NET(dense_forward)(const nc_layer *layer, const T *params, size_t batch,
                                    const T *in, T *z, T *a, int no_activation)
{
    size_t n_in = layer->n_in, n_out = layer->n_out;
    int act = no_activation ? NC_ACT_LINEAR : (int)layer->activation;
    K(nc_epilogue)
    ep = {NC_EPILOGUE_BIAS_ACTIVATION,
          act,
          (T)layer->activation_alpha,
          layer->use_bias ? params + layer->bias_offset : NULL,
          act != NC_ACT_LINEAR ? a : NULL,
          (ptrdiff_t)n_out,
          NULL,
          NULL,
          0,
          0};
    return K(nc_gemm_epilogue)(batch, n_out, n_in, 1, in, (ptrdiff_t)n_in, 1,
                               params + layer->weight_offset, (ptrdiff_t)n_out, 1, 0, z,
                               (ptrdiff_t)n_out, 1, &ep);
}

/* From dz = dL/dz: dW = in^T dz + 2 l2 l2_scale W, db = column sums of dz
 * (neither for a frozen layer), and (when d_in is not NULL) d_in = dz W^T.
 * The transposes are stride swaps. When `below` is not NULL, the GEMM
 * multiplies d_in by the derivative of that layer's activation (its z and a
 * given) as it writes each tile, so d_in leaves as dL/dz of the layer below. */
static nc_status NET(dense_backward)(const nc_layer *layer, const T *params, T *grads, size_t batch,
                                     const T *in, const T *dz, T *d_in, const nc_layer *below,
                                     const T *z_below, const T *a_below, double l2_scale)
{
    const T *w = params + layer->weight_offset;
    T *dw = grads + layer->weight_offset;
    size_t n_in = layer->n_in, n_out = layer->n_out;
    nc_status status = NC_OK;
    if (!layer->frozen) /* a frozen layer's gradient would never be used */
        status = K(nc_gemm)(n_in, n_out, batch, 1, in, 1, (ptrdiff_t)n_in, dz, (ptrdiff_t)n_out, 1,
                            0, dw, (ptrdiff_t)n_out, 1);
    if (status == NC_OK && layer->l2 != 0 && !layer->frozen) {
        const T twice_l2 = (T)(2 * layer->l2 * l2_scale);
        for (size_t i = 0; i < n_in * n_out; i++)
            dw[i] += twice_l2 * w[i];
    }
    if (status == NC_OK && layer->use_bias && !layer->frozen)
        status = K(nc_bias_grad)(batch, n_out, dz, (ptrdiff_t)n_out, 0, grads + layer->bias_offset);
    if (status == NC_OK && d_in) {
        K(nc_epilogue)
        ep = {below ? NC_EPILOGUE_ACTIVATION_GRAD : NC_EPILOGUE_NONE,
              below ? (int)below->activation : NC_ACT_LINEAR,
              below ? (T)below->activation_alpha : 0,
              NULL,
              NULL,
              0,
              z_below,
              a_below,
              (ptrdiff_t)n_in,
              (ptrdiff_t)n_in};
        status = K(nc_gemm_epilogue)(batch, n_in, n_out, 1, dz, (ptrdiff_t)n_out, 1, w, 1,
                                     (ptrdiff_t)n_out, 0, d_in, (ptrdiff_t)n_in, 1, &ep);
    }
    return status;
}

/* Batch normalization kernels (nncore.h). The loops run row by row over
 * blocks of NC_BN_BLOCK columns, whose per-column factors and sums sit on the
 * stack: the rows stream through the caches once per pass and no square root
 * is taken per element. */

nc_status NET(nc_batch_norm_stats)(size_t m, size_t n, const T *x, ptrdiff_t x_rs, T *mean, T *var)
{
    if (m == 0 || (n && (!x || !mean || !var)))
        return NC_ERR_INVALID_ARGUMENT;
    for (size_t j0 = 0; j0 < n; j0 += NC_BN_BLOCK) {
        const size_t width = n - j0 < NC_BN_BLOCK ? n - j0 : NC_BN_BLOCK;
        double sum[NC_BN_BLOCK] = {0}, squares[NC_BN_BLOCK] = {0};
        for (size_t i = 0; i < m; i++) {
            const T *row = x + (ptrdiff_t)i * x_rs + (ptrdiff_t)j0;
            for (size_t j = 0; j < width; j++)
                sum[j] += (double)row[j];
        }
        for (size_t j = 0; j < width; j++)
            sum[j] /= (double)m; /* now the mean */
        for (size_t i = 0; i < m; i++) {
            const T *row = x + (ptrdiff_t)i * x_rs + (ptrdiff_t)j0;
            for (size_t j = 0; j < width; j++) {
                const double d = (double)row[j] - sum[j];
                squares[j] += d * d;
            }
        }
        for (size_t j = 0; j < width; j++) {
            mean[j0 + j] = (T)sum[j];
            var[j0 + j] = (T)(squares[j] / (double)m);
        }
    }
    return NC_OK;
}

nc_status NET(nc_batch_norm_forward)(size_t m, size_t n, const T *x, ptrdiff_t x_rs, const T *mean,
                                     const T *var, const T *gamma, const T *beta, T epsilon, T *y,
                                     ptrdiff_t y_rs)
{
    if (!(epsilon >= 0) || (m && n && (!x || !mean || !var || !y)))
        return NC_ERR_INVALID_ARGUMENT;
    for (size_t j0 = 0; j0 < n; j0 += NC_BN_BLOCK) {
        const size_t width = n - j0 < NC_BN_BLOCK ? n - j0 : NC_BN_BLOCK;
        T scale[NC_BN_BLOCK], shift[NC_BN_BLOCK]; /* y = x * scale + shift */
        for (size_t j = 0; j < width; j++) {
            const size_t c = j0 + j;
            scale[j] = (gamma ? gamma[c] : (T)1) / (T)sqrt((double)(var[c] + epsilon));
            shift[j] = (beta ? beta[c] : (T)0) - mean[c] * scale[j];
        }
        for (size_t i = 0; i < m; i++) {
            const T *in = x + (ptrdiff_t)i * x_rs + (ptrdiff_t)j0;
            T *out = y + (ptrdiff_t)i * y_rs + (ptrdiff_t)j0;
            for (size_t j = 0; j < width; j++)
                out[j] = in[j] * scale[j] + shift[j];
        }
    }
    return NC_OK;
}

nc_status NET(nc_batch_norm_backward)(size_t m, size_t n, const T *x, ptrdiff_t x_rs, const T *mean,
                                      const T *var, const T *gamma, T epsilon, int batch_stats,
                                      const T *dy, ptrdiff_t dy_rs, T *dgamma, T *dbeta, T *dx,
                                      ptrdiff_t dx_rs)
{
    if (!(epsilon >= 0) || (m && n && (!x || !mean || !var || !dy)))
        return NC_ERR_INVALID_ARGUMENT;
    const int need_sums = dgamma || dbeta || (dx && batch_stats);
    for (size_t j0 = 0; j0 < n; j0 += NC_BN_BLOCK) {
        const size_t width = n - j0 < NC_BN_BLOCK ? n - j0 : NC_BN_BLOCK;
        T inv_s[NC_BN_BLOCK];
        double sum_dy[NC_BN_BLOCK] = {0}, sum_dy_x_hat[NC_BN_BLOCK] = {0};
        for (size_t j = 0; j < width; j++)
            inv_s[j] = (T)1 / (T)sqrt((double)(var[j0 + j] + epsilon));
        for (size_t i = 0; need_sums && i < m; i++) {
            const T *in = x + (ptrdiff_t)i * x_rs + (ptrdiff_t)j0;
            const T *g = dy + (ptrdiff_t)i * dy_rs + (ptrdiff_t)j0;
            for (size_t j = 0; j < width; j++) {
                const T x_hat = (in[j] - mean[j0 + j]) * inv_s[j];
                sum_dy[j] += (double)g[j];
                sum_dy_x_hat[j] += (double)g[j] * (double)x_hat;
            }
        }
        for (size_t j = 0; j < width; j++) {
            if (dgamma)
                dgamma[j0 + j] = (T)sum_dy_x_hat[j];
            if (dbeta)
                dbeta[j0 + j] = (T)sum_dy[j];
        }
        if (!dx)
            continue;
        /* dx = factor * (dy - x_hat * slope - offset): the batch terms folded
         * into two constants per column */
        T factor[NC_BN_BLOCK], slope[NC_BN_BLOCK], offset[NC_BN_BLOCK];
        for (size_t j = 0; j < width; j++) {
            factor[j] = (gamma ? gamma[j0 + j] : (T)1) * inv_s[j];
            slope[j] = batch_stats ? (T)(sum_dy_x_hat[j] / (double)m) : (T)0;
            offset[j] = batch_stats ? (T)(sum_dy[j] / (double)m) : (T)0;
        }
        for (size_t i = 0; i < m; i++) {
            const T *in = x + (ptrdiff_t)i * x_rs + (ptrdiff_t)j0;
            const T *g = dy + (ptrdiff_t)i * dy_rs + (ptrdiff_t)j0;
            T *out = dx + (ptrdiff_t)i * dx_rs + (ptrdiff_t)j0;
            for (size_t j = 0; j < width; j++) {
                const T x_hat = (in[j] - mean[j0 + j]) * inv_s[j];
                out[j] = factor[j] * (g[j] - x_hat * slope[j] - offset[j]);
            }
        }
    }
    return NC_OK;
}

/* A batch normalization layer: in training mode (unless frozen) with the
 * batch's statistics, kept in stats for the backward pass and the moving
 * update; else with the moving statistics. */
static nc_status NET(batch_norm_layer_forward)(const nc_layer *layer, const T *params, size_t batch,
                                               const T *in, T *stats, T *a, int training)
{
    const size_t n = layer->n_out;
    const T *mean = params + layer->moving_mean_offset;
    const T *var = params + layer->moving_variance_offset;
    if (training && !layer->frozen) {
        nc_status status = K(nc_batch_norm_stats)(batch, n, in, (ptrdiff_t)n, stats, stats + n);
        if (status != NC_OK)
            return status;
        mean = stats;
        var = stats + n;
    }
    return K(nc_batch_norm_forward)(
        batch, n, in, (ptrdiff_t)n, mean, var, layer->scale ? params + layer->gamma_offset : NULL,
        layer->center ? params + layer->beta_offset : NULL, (T)layer->epsilon, a, (ptrdiff_t)n);
}

/* From grad = dL/da: dgamma and dbeta into grads (unless frozen), and d_in
 * (NULL: not needed), which may be grad itself. training: the forward pass
 * ran with the batch's statistics in stats. */
static nc_status NET(batch_norm_layer_backward)(const nc_layer *layer, const T *params, T *grads,
                                                size_t batch, const T *in, const T *stats,
                                                const T *grad, T *d_in, int training)
{
    const size_t n = layer->n_out;
    const int batch_stats = training && !layer->frozen;
    const int learns = !layer->frozen;
    return K(nc_batch_norm_backward)(
        batch, n, in, (ptrdiff_t)n, batch_stats ? stats : params + layer->moving_mean_offset,
        batch_stats ? stats + n : params + layer->moving_variance_offset,
        layer->scale ? params + layer->gamma_offset : NULL, (T)layer->epsilon, batch_stats, grad,
        (ptrdiff_t)n, learns && layer->scale ? grads + layer->gamma_offset : NULL,
        learns && layer->center ? grads + layer->beta_offset : NULL, d_in, (ptrdiff_t)n);
}

/* After a training batch: moving = momentum * moving + (1 - momentum) * the
 * batch's statistic, for each layer whose forward pass used its batch's
 * statistics (Keras's order of operations, in T). */
static void NET(update_moving_statistics)(const nc_network *net, T *params,
                                          const NET(buffers) * buf)
{
    for (size_t l = 0; l < net->n_layers; l++) {
        const nc_layer *layer = &net->layers[l];
        if (layer->kind != NC_LAYER_BATCH_NORM || layer->frozen)
            continue;
        const T keep = (T)layer->momentum, take = (T)(1.0 - layer->momentum);
        T *mean = params + layer->moving_mean_offset;
        T *var = params + layer->moving_variance_offset;
        for (size_t j = 0; j < layer->n_out; j++) {
            mean[j] = mean[j] * keep + buf->stats[l][j] * take;
            var[j] = var[j] * keep + buf->stats[l][layer->n_out + j] * take;
        }
    }
}

/* Inverted dropout: a = in * mask, mask = 1/(1-rate) with probability 1-rate
 * and 0 otherwise, a function of (seed, step, layer, element) alone. */
static void NET(dropout_forward)(const nc_layer *layer, size_t layer_index, size_t batch,
                                 const T *in, T *mask, T *a, uint64_t seed, uint64_t step)
{
    const T keep_scale = (T)(1.0 / (1.0 - layer->dropout_rate));
    uint64_t stream = nc_mix64(nc_mix64(nc_mix64(seed) ^ step) ^ (uint64_t)layer_index);
    for (size_t i = 0; i < batch * layer->n_out; i++) {
        double u = (double)(nc_mix64(stream + i) >> 11) * 0x1.0p-53; /* uniform [0, 1) */
        mask[i] = u >= layer->dropout_rate ? keep_scale : 0;
        a[i] = in[i] * mask[i];
    }
}

/* ------------------------------------------------------ whole network */

/* The forward pass. logits_only: the output layer's activation is left to
 * the loss, which computes it from the logits with the gradient. keep_z: a
 * backward pass follows and reads each dense layer's z besides its a;
 * without it (predict) the activation overwrites z, one less buffer to
 * write and to pull through the caches. prof: the profile to add each
 * layer's time to, or NULL. */
static nc_status NET(forward)(const nc_network *net, const T *params, size_t batch,
                              NET(buffers) * buf, int training, uint64_t seed, uint64_t step,
                              int logits_only, int keep_z, nc_train_profile *prof)
{
    const T *in = buf->in0;
    double mark = prof ? nc_seconds() : 0;
    for (size_t l = 0; l < net->n_layers; l++) {
        const nc_layer *layer = &net->layers[l];
        const int skip_activation = logits_only && l == net->n_layers - 1;
        nc_status status = NC_OK;
        switch (layer->kind) {
        case NC_LAYER_DENSE: {
            T *a = keep_z ? buf->own_a[l] : buf->own_z[l];
            buf->z[l] = buf->own_z[l];
            buf->a[l] = layer->activation == NC_ACT_LINEAR ? buf->own_z[l] : a;
            status =
                NET(dense_forward)(layer, params, batch, in, buf->own_z[l], a, skip_activation);
            break;
        }
        case NC_LAYER_ACTIVATION:
            buf->z[l] = in;
            buf->a[l] = buf->own_a[l];
            if (!skip_activation)
                status = K(nc_activation_forward)(layer->activation, (T)layer->activation_alpha,
                                                  batch, layer->n_out, in, (ptrdiff_t)layer->n_in,
                                                  buf->own_a[l], (ptrdiff_t)layer->n_out);
            break;
        case NC_LAYER_DROPOUT:
            buf->z[l] = in;
            buf->a[l] = in;
            if (training && layer->dropout_rate > 0) {
                NET(dropout_forward)(layer, l, batch, in, buf->mask[l], buf->own_a[l], seed, step);
                buf->a[l] = buf->own_a[l];
            }
            break;
        case NC_LAYER_BATCH_NORM:
            buf->z[l] = in;
            buf->a[l] = buf->own_a[l];
            status = NET(batch_norm_layer_forward)(layer, params, batch, in, buf->stats[l],
                                                   buf->own_a[l], training);
            break;
        case NC_LAYER_FLATTEN:
            buf->z[l] = in;
            buf->a[l] = in;
            break;
        }
        if (status != NC_OK)
            return status;
        in = buf->a[l];
        if (prof)
            nc_profile_add(&prof->layer_forward[l], &mark);
    }
    return NC_OK;
}

/* Turns the batch loss and output gradient of nc_loss_value_grad into
 * scikit-learn's (NC_SCALING_SKLEARN in nncore.h) and returns 1/S, the
 * factor on the l2 penalties. */
static double NET(rescale_as_sklearn)(const nc_network *net, size_t batch, const T *weights,
                                      double *loss, T *grad)
{
    size_t n_out = net->layers[net->n_layers - 1].n_out;
    double weight_sum = (double)batch;
    if (weights) {
        weight_sum = 0;
        for (size_t i = 0; i < batch; i++)
            weight_sum += (double)weights[i];
    }
    double value_factor = 1, grad_factor = 1;
    if (net->loss == NC_LOSS_MSE) {
        value_factor = 0.5;
        grad_factor = 0.5 * (double)n_out;
    } else if (net->loss == NC_LOSS_BINARY_CROSSENTROPY) {
        value_factor = grad_factor = (double)n_out;
    }
    const double per_weight = (double)batch / weight_sum;
    *loss *= value_factor * per_weight;
    const T scale = (T)(grad_factor * per_weight);
    if (scale != 1)
        for (size_t i = 0; i < batch * n_out; i++)
            grad[i] *= scale;
    return 1 / weight_sum;
}

/* scikit-learn's half Poisson deviance with its log link (NC_SCALING_SKLEARN):
 * the output z is the log of the predicted mean p = exp(z). The value is
 * sum_i w_i l_i / B, l_i the sum over outputs of p - t z + t log t - t, and
 * the gradient at z w_i (p - t) / B; rescale_as_sklearn then divides by the
 * weight sum instead of B. */
static double NET(poisson_log_link)(size_t batch, size_t n_out, const T *z, const T *t,
                                    const T *weights, T *grad)
{
    double total = 0;
    for (size_t i = 0; i < batch; i++) {
        const double w = weights ? (double)weights[i] : 1.0;
        double row = 0;
        for (size_t j = 0; j < n_out; j++) {
            const double zj = (double)z[i * n_out + j], tj = (double)t[i * n_out + j];
            const double pj = exp(zj);
            row += pj - tj * zj + (tj > 0 ? tj * log(tj) : 0) - tj;
            grad[i * n_out + j] = (T)(w * (pj - tj) / (double)batch);
        }
        total += w * row;
    }
    return total / (double)batch;
}

/* The batch loss, sum_i w_i l_i / B plus the l2 penalties (or as
 * net->scaling says), and its gradient at the output into buf->grad_ping, in
 * one pass. From the logits (after forward(logits_only)) this also writes
 * the output layer's activation. */
static nc_status NET(batch_loss_grad)(const nc_network *net, const T *params, size_t batch,
                                      NET(buffers) * buf, const T *weights, double *loss)
{
    size_t last = net->n_layers - 1, n_out = net->layers[last].n_out;
    int logits = nc_network_from_logits(net);
    const T *p = logits ? buf->z[last] : buf->a[last];
    ptrdiff_t t_rs = net->loss == NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ? 1 : (ptrdiff_t)n_out;
    nc_status status = NC_OK;
    if (net->scaling == NC_SCALING_SKLEARN && net->loss == NC_LOSS_POISSON)
        *loss = NET(poisson_log_link)(batch, n_out, p, buf->target, weights, buf->grad_ping);
    else
        status = K(nc_loss_value_grad)(
            net->loss, logits, batch, n_out, p, (ptrdiff_t)n_out, buf->target, t_rs, weights, loss,
            buf->grad_ping, (ptrdiff_t)n_out, logits ? buf->own_a[last] : NULL, (ptrdiff_t)n_out);
    buf->l2_scale = 1;
    if (status == NC_OK && net->scaling == NC_SCALING_SKLEARN)
        buf->l2_scale = NET(rescale_as_sklearn)(net, batch, weights, loss, buf->grad_ping);
    for (size_t l = 0; status == NC_OK && l < net->n_layers; l++) {
        const nc_layer *layer = &net->layers[l];
        if (layer->kind != NC_LAYER_DENSE || layer->l2 == 0 || layer->frozen)
            continue; /* Keras regularizes the trainable weights only */
        const T *w = params + layer->weight_offset;
        double squares = 0;
        for (size_t i = 0; i < layer->n_in * layer->n_out; i++)
            squares += (double)w[i] * (double)w[i];
        *loss += layer->l2 * buf->l2_scale * squares;
    }
    return status;
}

/* Whether the backward GEMM into `layer` applies its activation's
 * derivative itself: elementwise activations of dense and activation layers. */
static int NET(folds_derivative)(const nc_layer *layer)
{
    return (layer->kind == NC_LAYER_DENSE || layer->kind == NC_LAYER_ACTIVATION) &&
           layer->activation != NC_ACT_LINEAR && layer->activation != NC_ACT_SOFTMAX;
}

/* dL/dparams into grads, from the forward pass and the output gradient
 * (batch_loss_grad) in buf. */
static nc_status NET(backward)(const nc_network *net, const T *params, T *grads, size_t batch,
                               NET(buffers) * buf, int training, nc_train_profile *prof)
{
    size_t last = net->n_layers - 1;
    /* grad holds dL/da of the current layer, or dL/dz when grad_is_dz: from
     * the logits, or when the GEMM that made it applied the derivative */
    T *grad = buf->grad_ping, *spare = buf->grad_pong;
    int grad_is_dz = nc_network_from_logits(net);
    nc_status status = NC_OK;
    double mark = prof ? nc_seconds() : 0;
    size_t timed = last + 1; /* the layer whose time runs: none yet */
    for (size_t l = last + 1; status == NC_OK && l-- > 0;) {
        if (prof && timed <= last)
            nc_profile_add(&prof->layer_backward[timed], &mark);
        timed = l;
        const nc_layer *layer = &net->layers[l];
        const T *in = l ? buf->a[l - 1] : buf->in0;
        T *d_in = l ? spare : NULL; /* the input of layer 0 needs no gradient */
        ptrdiff_t width = (ptrdiff_t)layer->n_out;
        if (layer->kind == NC_LAYER_DROPOUT) {
            if (buf->a[l] != buf->z[l]) /* masks were applied: same mask backwards */
                for (size_t i = 0; i < batch * layer->n_out; i++)
                    grad[i] *= buf->mask[l][i];
            continue; /* the gradient passes to the input unchanged */
        }
        if (layer->kind == NC_LAYER_FLATTEN)
            continue;
        if (layer->kind == NC_LAYER_BATCH_NORM) { /* in place: grad becomes dL/d(input) */
            status = NET(batch_norm_layer_backward)(layer, params, grads, batch, in, buf->stats[l],
                                                    grad, l ? grad : NULL, training);
            continue;
        }
        if (!grad_is_dz && layer->activation != NC_ACT_LINEAR)
            status = K(nc_activation_backward)(layer->activation, (T)layer->activation_alpha, batch,
                                               layer->n_out, buf->z[l], width, buf->a[l], width,
                                               grad, width, grad, width);
        grad_is_dz = 0;
        if (status != NC_OK)
            break;
        if (layer->kind == NC_LAYER_ACTIVATION)
            continue; /* grad now holds dL/d(input), in place */
        const nc_layer *below =
            d_in && NET(folds_derivative)(&net->layers[l - 1]) ? &net->layers[l - 1] : NULL;
        status = NET(dense_backward)(layer, params, grads, batch, in, grad, d_in, below,
                                     below ? buf->z[l - 1] : NULL, below ? buf->a[l - 1] : NULL,
                                     buf->l2_scale);
        grad_is_dz = below != NULL;
        spare = grad;
        grad = d_in;
    }
    if (prof && timed <= last)
        nc_profile_add(&prof->layer_backward[timed], &mark);
    return status;
}

/* After the optimizer step: W = max(W, 0), or each column of W rescaled to
 * norm <= max_norm (Keras MaxNorm over axis 0: the weights into one unit). */
static void NET(apply_constraints)(const nc_network *net, T *params)
{
    for (size_t l = 0; l < net->n_layers; l++) {
        const nc_layer *layer = &net->layers[l];
        if (layer->kind != NC_LAYER_DENSE || layer->constraint == NC_CONSTRAINT_NONE ||
            layer->frozen)
            continue;
        T *w = params + layer->weight_offset;
        size_t n_in = layer->n_in, n_out = layer->n_out;
        if (layer->constraint == NC_CONSTRAINT_NON_NEG) {
            for (size_t i = 0; i < n_in * n_out; i++)
                w[i] = w[i] < 0 ? 0 : w[i];
            continue;
        }
        for (size_t j = 0; j < n_out; j++) {
            double squares = 0;
            for (size_t i = 0; i < n_in; i++)
                squares += (double)w[i * n_out + j] * (double)w[i * n_out + j];
            double norm = sqrt(squares);
            /* Keras: w * clip(norm, 0, max) / (epsilon + norm) */
            double desired = norm < layer->max_norm ? norm : layer->max_norm;
            T scale = (T)(desired / (1e-7 + norm));
            for (size_t i = 0; i < n_in; i++)
                w[i * n_out + j] *= scale;
        }
    }
}

#include "metrics_impl.h"

/* ------------------------------------------------------------ public */

static nc_status NET(check_call)(const nc_network *net, size_t batch, void *workspace,
                                 size_t workspace_bytes)
{
    nc_status status = nc_network_check(net);
    if (status != NC_OK)
        return status;
    if (!workspace || workspace_bytes < nc_network_workspace_size(net, batch, sizeof(T)))
        return NC_ERR_WORKSPACE;
    return NC_OK;
}

/* Gathers the targets and sample weights of rows order[start..start+count)
 * into buf; returns the weights, or NULL when there are none. */
static const T *NET(batch_targets)(const nc_network *net, NET(buffers) * buf, const T *y,
                                   ptrdiff_t y_rs, const T *sample_weight, const size_t *order,
                                   size_t start, size_t count)
{
    const size_t y_width = net->loss == NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY
                               ? 1
                               : net->layers[net->n_layers - 1].n_out;
    NET(gather_rows)(buf->target, y, y_rs, y_width, order, start, count);
    if (!sample_weight)
        return NULL;
    NET(gather_rows)(buf->weight, sample_weight, 1, 1, order, start, count);
    return buf->weight;
}

/* Adds one finished batch to the epoch's sums. */
static void NET(count_batch)(nc_epoch_result *result, size_t count, double loss)
{
    result->batches_done++;
    result->samples_done += count;
    result->loss_sum += loss * (double)count;
    result->weight_sum += (double)count;
    result->last_loss = loss;
}

/* The parts of the flat buffer the optimizer updates, as ascending,
 * disjoint [begin, end) pairs; returns their number. Without frozen layers
 * and without batch normalization that is the whole buffer; else the
 * weights and biases, gammas and betas of the layers that are not frozen,
 * sorted and merged (ranges holds 4 * NC_MAX_LAYERS): never a moving
 * statistic. */
static size_t NET(trainable_ranges)(const nc_network *net, size_t *ranges)
{
    size_t count = 0;
    int whole = 1;
    for (size_t l = 0; l < net->n_layers; l++)
        whole &= !(net->layers[l].kind == NC_LAYER_BATCH_NORM ||
                   (net->layers[l].kind == NC_LAYER_DENSE && net->layers[l].frozen));
    if (whole) {
        ranges[0] = 0;
        ranges[1] = net->n_params;
        return 1;
    }
    for (size_t l = 0; l < net->n_layers; l++) {
        const nc_layer *layer = &net->layers[l];
        size_t parts[4], n_parts = 0;
        if (layer->frozen)
            continue;
        if (layer->kind == NC_LAYER_DENSE) {
            parts[0] = layer->weight_offset;
            parts[1] = layer->weight_offset + layer->n_in * layer->n_out;
            parts[2] = layer->bias_offset;
            parts[3] = layer->bias_offset + layer->n_out;
            n_parts = layer->use_bias ? 2 : 1;
        } else if (layer->kind == NC_LAYER_BATCH_NORM) {
            if (layer->scale) {
                parts[2 * n_parts] = layer->gamma_offset;
                parts[2 * n_parts + 1] = layer->gamma_offset + layer->n_out;
                n_parts++;
            }
            if (layer->center) {
                parts[2 * n_parts] = layer->beta_offset;
                parts[2 * n_parts + 1] = layer->beta_offset + layer->n_out;
                n_parts++;
            }
        }
        for (size_t p = 0; p < n_parts; p++) {
            size_t i = count++; /* insertion sort by begin */
            for (; i > 0 && ranges[2 * i - 2] > parts[2 * p]; i--) {
                ranges[2 * i] = ranges[2 * i - 2];
                ranges[2 * i + 1] = ranges[2 * i - 1];
            }
            ranges[2 * i] = parts[2 * p];
            ranges[2 * i + 1] = parts[2 * p + 1];
        }
    }
    size_t merged = 0;
    for (size_t r = 0; r < count; r++) {
        if (merged && ranges[2 * r] <= ranges[2 * merged - 1]) {
            if (ranges[2 * r + 1] > ranges[2 * merged - 1])
                ranges[2 * merged - 1] = ranges[2 * r + 1];
            continue;
        }
        ranges[2 * merged] = ranges[2 * r];
        ranges[2 * merged + 1] = ranges[2 * r + 1];
        merged++;
    }
    return merged;
}

static nc_status NET(train_epoch)(const nc_network *net, nc_optimizer *opt, T *params, T *grads,
                                  T *opt_state, size_t n, const T *x, ptrdiff_t x_rs, const T *y,
                                  ptrdiff_t y_rs, const T *sample_weight,
                                  const nc_train_options *options, void *workspace,
                                  size_t workspace_bytes, nc_epoch_result *result)
{
    if (!options || !result || !opt || options->batch_size == 0 ||
        (n && (!x || !y || !params || !grads || !opt_state)))
        return NC_ERR_INVALID_ARGUMENT;
    size_t batch_size = options->batch_size < n ? options->batch_size : (n ? n : 1);
    nc_status status = NET(check_call)(net, batch_size, workspace, workspace_bytes);
    if (status != NC_OK)
        return status;
    status = nc_metrics_start(net, options->metrics, options->metric_params, options->n_metrics,
                              options->metric_state);
    if (status != NC_OK)
        return status;
    size_t ranges[4 * NC_MAX_LAYERS];
    const size_t n_ranges = NET(trainable_ranges)(net, ranges);
    memset(result, 0, sizeof *result);
    result->last_loss = NAN;
    NET(buffers) buf;
    NET(carve)(net, batch_size, workspace, &buf);
    size_t n_in = net->layers[0].n_in;
    /* positions of the flat buffer no layer owns keep a zero gradient */
    memset(grads, 0, net->n_params * sizeof(T));
    const int logits = nc_network_from_logits(net);
    double last_report = nc_seconds();
    nc_train_profile *prof = options->profile;
    double mark = prof ? last_report : 0;
    for (size_t start = 0; start < n; start += batch_size) {
        size_t count = n - start < batch_size ? n - start : batch_size;
        if (options->batch_begin &&
            options->batch_begin(options->batch_ctx, result->batches_done, result))
            return NC_ERR_INTERRUPTED;
        NET(batch_input)(&buf, x, x_rs, n_in, options->order, start, count);
        const T *weights =
            NET(batch_targets)(net, &buf, y, y_rs, sample_weight, options->order, start, count);
        double loss = NAN;
        if (prof)
            nc_profile_add(&prof->gather, &mark);
        status = NET(forward)(net, params, count, &buf, 1, options->seed, opt->iterations, logits,
                              1, prof);
        if (prof)
            nc_profile_add(&prof->forward, &mark);
        if (status == NC_OK)
            status = NET(batch_loss_grad)(net, params, count, &buf, weights, &loss);
        if (status == NC_OK && !isfinite(loss))
            status = NC_ERR_NONFINITE; /* this batch's update is not applied */
        if (prof)
            nc_profile_add(&prof->loss, &mark);
        if (status == NC_OK)
            status = NET(backward)(net, params, grads, count, &buf, 1, prof);
        if (prof)
            nc_profile_add(&prof->backward, &mark);
        if (status == NC_OK)
            status = K(nc_optimizer_step_ranges)(opt, net->n_params, params, grads, opt_state,
                                                 n_ranges, ranges);
        if (prof)
            nc_profile_add(&prof->optimizer, &mark);
        if (status != NC_OK) {
            result->last_loss = loss;
            return status;
        }
        NET(apply_constraints)(net, params);
        NET(update_moving_statistics)(net, params, &buf);
        NET(accumulate_metrics)(net, count, buf.a[net->n_layers - 1], buf.target, options->metrics,
                                options->metric_params, options->n_metrics, options->metric_state,
                                result);
        NET(count_batch)(result, count, loss);
        if (options->batch_end &&
            options->batch_end(options->batch_ctx, result->batches_done - 1, result))
            return NC_ERR_INTERRUPTED;
        if (options->progress && start + count < n) {
            double now = nc_seconds();
            if (now - last_report >= options->progress_interval_seconds) {
                last_report = now;
                if (options->progress(options->progress_ctx, result->batches_done,
                                      result->samples_done, result->loss_sum, result->weight_sum))
                    return NC_ERR_INTERRUPTED;
            }
        }
        if (prof) {
            prof->batches++;
            nc_profile_add(&prof->rest, &mark);
        }
    }
    return NC_OK;
}

static int NET(row_finite)(size_t n, const T *row)
{
    T sum = 0; /* x - x is 0 for finite x and NaN for NaN and inf */
#pragma omp simd reduction(+ : sum)
    for (size_t j = 0; j < n; j++)
        sum += row[j] - row[j];
    return sum == 0;
}

int NET(nc_all_finite)(size_t m, size_t n, const T *x, ptrdiff_t x_rs)
{
#if defined(NNCORE_OPENMP)
    /* A data set larger than the caches: a memory-bound scan, split by rows. */
    if ((double)m * (double)n * sizeof(T) >= NC_FINITE_PARALLEL_BYTES && m > 1 &&
        nc_get_num_threads() > 1) {
        int finite = 1;
#pragma omp parallel for num_threads(nc_get_num_threads()) schedule(static) reduction(&& : finite)
        for (ptrdiff_t i = 0; i < (ptrdiff_t)m; i++)
            finite = finite && NET(row_finite)(n, x + i * x_rs);
        return finite;
    }
#endif
    for (size_t i = 0; i < m; i++)
        if (!NET(row_finite)(n, x + (ptrdiff_t)i * x_rs))
            return 0;
    return 1;
}

static nc_status NET(predict)(const nc_network *net, const T *params, size_t n, const T *x,
                              ptrdiff_t x_rs, T *out, ptrdiff_t out_rs, size_t batch_size,
                              void *workspace, size_t workspace_bytes)
{
    if (batch_size == 0 || (n && (!x || !out || !params)))
        return NC_ERR_INVALID_ARGUMENT;
    nc_status status = NET(check_call)(net, batch_size, workspace, workspace_bytes);
    if (status != NC_OK)
        return status;
    NET(buffers) buf;
    NET(carve)(net, batch_size, workspace, &buf);
    size_t n_in = net->layers[0].n_in, last = net->n_layers - 1, n_out = net->layers[last].n_out;
    for (size_t start = 0; start < n; start += batch_size) {
        size_t count = n - start < batch_size ? n - start : batch_size;
        NET(batch_input)(&buf, x, x_rs, n_in, NULL, start, count);
        status = NET(forward)(net, params, count, &buf, 0, 0, 0, 0, 0, NULL);
        if (status != NC_OK)
            return status;
        for (size_t i = 0; i < count; i++)
            memcpy(out + (ptrdiff_t)(start + i) * out_rs, buf.a[last] + i * n_out,
                   n_out * sizeof(T));
    }
    return NC_OK;
}

static nc_status NET(evaluate)(const nc_network *net, const T *params, size_t n, const T *x,
                               ptrdiff_t x_rs, const T *y, ptrdiff_t y_rs, const T *sample_weight,
                               const nc_eval_options *options, void *workspace,
                               size_t workspace_bytes, nc_epoch_result *result)
{
    if (!options || !result || options->batch_size == 0 || (n && (!x || !y || !params)))
        return NC_ERR_INVALID_ARGUMENT;
    size_t batch_size = options->batch_size < n ? options->batch_size : (n ? n : 1);
    nc_status status = NET(check_call)(net, batch_size, workspace, workspace_bytes);
    if (status != NC_OK)
        return status;
    status = nc_metrics_start(net, options->metrics, options->metric_params, options->n_metrics,
                              options->metric_state);
    if (status != NC_OK)
        return status;
    memset(result, 0, sizeof *result);
    result->last_loss = NAN;
    NET(buffers) buf;
    NET(carve)(net, batch_size, workspace, &buf);
    const int logits = nc_network_from_logits(net);
    for (size_t start = 0; start < n; start += batch_size) {
        size_t count = n - start < batch_size ? n - start : batch_size;
        if (options->batch_begin &&
            options->batch_begin(options->batch_ctx, result->batches_done, result))
            return NC_ERR_INTERRUPTED;
        NET(batch_input)(&buf, x, x_rs, net->layers[0].n_in, NULL, start, count);
        const T *weights =
            NET(batch_targets)(net, &buf, y, y_rs, sample_weight, NULL, start, count);
        double loss = NAN;
        /* from logits the loss writes the probabilities beside z (keep_z), where
         * the metrics read them */
        status = NET(forward)(net, params, count, &buf, 0, 0, 0, logits, logits, NULL);
        if (status == NC_OK) /* the output gradient it also writes is scratch */
            status = NET(batch_loss_grad)(net, params, count, &buf, weights, &loss);
        if (status != NC_OK)
            return status;
        NET(accumulate_metrics)(net, count, buf.a[net->n_layers - 1], buf.target, options->metrics,
                                options->metric_params, options->n_metrics, options->metric_state,
                                result);
        NET(count_batch)(result, count, loss);
        if (options->batch_end &&
            options->batch_end(options->batch_ctx, result->batches_done - 1, result))
            return NC_ERR_INTERRUPTED;
    }
    return NC_OK;
}

static nc_status NET(loss_grad)(const nc_network *net, const T *params, T *grads, size_t n,
                                const T *x, ptrdiff_t x_rs, const T *y, ptrdiff_t y_rs,
                                const T *sample_weight, int training, uint64_t seed,
                                void *workspace, size_t workspace_bytes, double *loss)
{
    if (!loss || n == 0 || !x || !y || !params || !grads)
        return NC_ERR_INVALID_ARGUMENT;
    nc_status status = NET(check_call)(net, n, workspace, workspace_bytes);
    if (status != NC_OK)
        return status;
    NET(buffers) buf;
    NET(carve)(net, n, workspace, &buf);
    NET(batch_input)(&buf, x, x_rs, net->layers[0].n_in, NULL, 0, n);
    const T *weights = NET(batch_targets)(net, &buf, y, y_rs, sample_weight, NULL, 0, n);
    memset(grads, 0, net->n_params * sizeof(T));
    status =
        NET(forward)(net, params, n, &buf, training, seed, 0, nc_network_from_logits(net), 1, NULL);
    if (status == NC_OK)
        status = NET(batch_loss_grad)(net, params, n, &buf, weights, loss);
    if (status == NC_OK)
        status = NET(backward)(net, params, grads, n, &buf, training, NULL);
    return status;
}

/* ------------------------------------------------------ entry points */

/* Each runs with denormals flushed to zero and gives the caller's
 * floating-point mode back on return (runtime.h, nc_fp_flush_denormals). */

nc_status NET(nc_network_train_epoch)(const nc_network *net, nc_optimizer *opt, T *params, T *grads,
                                      T *opt_state, size_t n, const T *x, ptrdiff_t x_rs,
                                      const T *y, ptrdiff_t y_rs, const T *sample_weight,
                                      const nc_train_options *options, void *workspace,
                                      size_t workspace_bytes, nc_epoch_result *result)
{
    const uint64_t fp = nc_fp_flush_denormals();
    nc_status status = NET(train_epoch)(net, opt, params, grads, opt_state, n, x, x_rs, y, y_rs,
                                        sample_weight, options, workspace, workspace_bytes, result);
    nc_fp_swap(fp);
    return status;
}

nc_status NET(nc_network_predict)(const nc_network *net, const T *params, size_t n, const T *x,
                                  ptrdiff_t x_rs, T *out, ptrdiff_t out_rs, size_t batch_size,
                                  void *workspace, size_t workspace_bytes)
{
    const uint64_t fp = nc_fp_flush_denormals();
    nc_status status =
        NET(predict)(net, params, n, x, x_rs, out, out_rs, batch_size, workspace, workspace_bytes);
    nc_fp_swap(fp);
    return status;
}

nc_status NET(nc_network_evaluate)(const nc_network *net, const T *params, size_t n, const T *x,
                                   ptrdiff_t x_rs, const T *y, ptrdiff_t y_rs,
                                   const T *sample_weight, const nc_eval_options *options,
                                   void *workspace, size_t workspace_bytes, nc_epoch_result *result)
{
    const uint64_t fp = nc_fp_flush_denormals();
    nc_status status = NET(evaluate)(net, params, n, x, x_rs, y, y_rs, sample_weight, options,
                                     workspace, workspace_bytes, result);
    nc_fp_swap(fp);
    return status;
}

nc_status NET(nc_network_loss_grad)(const nc_network *net, const T *params, T *grads, size_t n,
                                    const T *x, ptrdiff_t x_rs, const T *y, ptrdiff_t y_rs,
                                    const T *sample_weight, int training, uint64_t seed,
                                    void *workspace, size_t workspace_bytes, double *loss)
{
    const uint64_t fp = nc_fp_flush_denormals();
    nc_status status = NET(loss_grad)(net, params, grads, n, x, x_rs, y, y_rs, sample_weight,
                                      training, seed, workspace, workspace_bytes, loss);
    nc_fp_swap(fp);
    return status;
}
