/*
 * metrics_impl.h -- the per-batch part of the metrics, written once for a
 * generic element type and included by mlp_impl.h (T and NET as there). The
 * plain means add to the epoch's sums; the metrics with state (metrics.h)
 * add to their state and set their value so far.
 */

/* The index of the first largest element (as numpy.argmax). */
static size_t NET(argmax)(const T *row, size_t n)
{
    size_t best = 0;
    for (size_t j = 1; j < n; j++)
        if (row[j] > row[best])
            best = j;
    return best;
}

/* Keras's AUC bucket of an output: clipped to [0, 1], then
 * max(ceil(p (nt - 1)) - 1, 0), in the network's type as Keras computes it. */
static size_t NET(auc_bucket)(T p, size_t nt)
{
    p = p < (T)0 ? (T)0 : (p > (T)1 ? (T)1 : p);
    const T scaled = (T)ceil((double)(p * (T)(nt - 1))) - (T)1;
    return scaled > (T)0 ? (size_t)scaled : 0;
}

/* Adds one batch (outputs p and targets t, batch rows of n; sparse labels
 * are one per row) to the epoch's metrics. state holds the metrics' state
 * back to back (nc_metric_state_size). */
static void NET(accumulate_metrics)(const nc_network *net, size_t batch, const T *p, const T *t,
                                    const nc_metric *metrics, const nc_metric_params *params,
                                    size_t n_metrics, double *state, nc_epoch_result *result)
{
    const size_t n = net->layers[net->n_layers - 1].n_out, all = batch * n;
    for (size_t k = 0; k < n_metrics; k++) {
        const nc_metric_params mp = nc_metric_params_of(params, k);
        const T threshold = (T)mp.threshold;
        double sum = 0, count = (double)all;
        switch (metrics[k]) {
        case NC_METRIC_BINARY_ACCURACY: /* Keras: the label itself, not rounded */
            for (size_t i = 0; i < all; i++)
                sum += (T)(p[i] > threshold) == t[i];
            break;
        case NC_METRIC_CATEGORICAL_ACCURACY:
            for (size_t i = 0; i < batch; i++)
                sum += NET(argmax)(p + i * n, n) == NET(argmax)(t + i * n, n);
            count = (double)batch;
            break;
        case NC_METRIC_SPARSE_CATEGORICAL_ACCURACY:
            for (size_t i = 0; i < batch; i++)
                sum += (double)NET(argmax)(p + i * n, n) == (double)t[i];
            count = (double)batch;
            break;
        case NC_METRIC_MSE:
        case NC_METRIC_MAE:
            for (size_t i = 0; i < all; i++) {
                double d = (double)p[i] - (double)t[i];
                sum += metrics[k] == NC_METRIC_MSE ? d * d : fabs(d);
            }
            break;
        case NC_METRIC_PRECISION:
        case NC_METRIC_RECALL:
        case NC_METRIC_TRUE_POSITIVES:
        case NC_METRIC_FALSE_POSITIVES:
        case NC_METRIC_TRUE_NEGATIVES:
        case NC_METRIC_FALSE_NEGATIVES: {
            double counts[4] = {0, 0, 0, 0}; /* tp, fp, tn, fn */
            for (size_t i = 0; i < all; i++) {
                const int predicted = p[i] > threshold, positive = t[i] != (T)0;
                counts[predicted ? (positive ? 0 : 1) : (positive ? 3 : 2)] += 1;
            }
            for (size_t c = 0; c < 4; c++)
                state[c] += counts[c];
            break;
        }
        case NC_METRIC_AUC: {
            const size_t nt = mp.num_thresholds;
            for (size_t i = 0; i < all; i++)
                state[(t[i] != (T)0 ? 0 : nt) + NET(auc_bucket)(p[i], nt)] += 1;
            break;
        }
        case NC_METRIC_ROOT_MEAN_SQUARED_ERROR:
            for (size_t i = 0; i < all; i++) {
                double d = (double)p[i] - (double)t[i];
                state[0] += d * d;
            }
            state[1] += (double)all;
            break;
        }
        const size_t len = nc_metric_state_len(metrics[k], &mp);
        if (len) {
            result->metric_sums[k] = nc_metric_value(metrics[k], &mp, state);
            result->metric_counts[k] = 1;
            state += len;
        } else {
            result->metric_sums[k] += sum;
            result->metric_counts[k] += count;
        }
    }
}
