/* metrics.c -- the metrics' settings, their state between batches and their
 * values from it (the per-batch accumulation is in metrics_impl.h). The
 * formulas are Keras's (keras.metrics), so that a Keras user reads the same
 * figures: see nncore.h for each metric. */
#include <math.h>
#include <string.h>

#include "metrics.h"

nc_metric_params nc_metric_defaults(void)
{
    nc_metric_params p;
    p.threshold = 0.5;
    p.num_thresholds = 200;
    p.curve = NC_AUC_ROC;
    p.summation = NC_AUC_INTERPOLATION;
    return p;
}

nc_metric_params nc_metric_params_of(const nc_metric_params *params, size_t k)
{
    return params ? params[k] : nc_metric_defaults();
}

size_t nc_metric_state_len(nc_metric metric, const nc_metric_params *p)
{
    switch (metric) {
    case NC_METRIC_PRECISION:
    case NC_METRIC_RECALL:
    case NC_METRIC_TRUE_POSITIVES:
    case NC_METRIC_FALSE_POSITIVES:
    case NC_METRIC_TRUE_NEGATIVES:
    case NC_METRIC_FALSE_NEGATIVES: return 4;         /* tp, fp, tn, fn */
    case NC_METRIC_AUC: return 2 * p->num_thresholds; /* per bucket: positives, negatives */
    case NC_METRIC_ROOT_MEAN_SQUARED_ERROR: return 2; /* sum of squares, count */
    default: return 0;
    }
}

size_t nc_metric_state_size(const nc_metric *metrics, const nc_metric_params *params,
                            size_t n_metrics)
{
    size_t size = 0;
    for (size_t k = 0; metrics && k < n_metrics; k++) {
        nc_metric_params p = nc_metric_params_of(params, k);
        size += nc_metric_state_len(metrics[k], &p);
    }
    return size;
}

nc_status nc_metrics_start(const nc_network *net, const nc_metric *metrics,
                           const nc_metric_params *params, size_t n_metrics, double *state)
{
    if (n_metrics > 8 || (n_metrics && !metrics))
        return NC_ERR_INVALID_ARGUMENT;
    for (size_t k = 0; k < n_metrics; k++) {
        nc_metric_params p = nc_metric_params_of(params, k);
        if ((unsigned)metrics[k] > (unsigned)NC_METRIC_ROOT_MEAN_SQUARED_ERROR)
            return NC_ERR_INVALID_ARGUMENT;
        if (metrics[k] >= NC_METRIC_PRECISION &&
            net->loss == NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
            return NC_ERR_INVALID_ARGUMENT;
        if (!isfinite(p.threshold))
            return NC_ERR_INVALID_ARGUMENT;
        if (metrics[k] == NC_METRIC_AUC &&
            (p.num_thresholds < 2 || p.num_thresholds > ((size_t)1 << 24) ||
             (unsigned)p.curve > (unsigned)NC_AUC_PR ||
             (unsigned)p.summation > (unsigned)NC_AUC_MAJORING))
            return NC_ERR_INVALID_ARGUMENT;
    }
    const size_t size = nc_metric_state_size(metrics, params, n_metrics);
    if (size > 0 && !state)
        return NC_ERR_INVALID_ARGUMENT;
    if (size > 0)
        memset(state, 0, size * sizeof(double));
    return NC_OK;
}

/* a / b, or 0 when b is 0 (Keras's divide_no_nan). */
static double ratio(double a, double b)
{
    return b == 0 ? 0 : a / b;
}

/* One interval [threshold i, threshold i + 1] of the area under the curve,
 * from the counts at both ends (tp0, fp0 at i; tp1, fp1 at i + 1) and the
 * totals of positive and negative labels. */
static double auc_piece(const nc_metric_params *p, double tp0, double fp0, double tp1, double fp1,
                        double positives, double negatives)
{
    if (p->curve == NC_AUC_PR && p->summation == NC_AUC_INTERPOLATION) {
        /* True and false positives interpolated linearly between thresholds
         * (Davis & Goadrich, "The relationship between precision-recall and
         * ROC curves", ICML 2006), in the closed form Keras's AUC integrates:
         * precision = (tp1 + slope (P - P1)) / P over predicted positives P. */
        const double p0 = tp0 + fp0, p1 = tp1 + fp1, dtp = tp0 - tp1;
        const double slope = ratio(dtp, fmax(p0 - p1, 0));
        const double intercept = tp1 - slope * p1;
        const double p_ratio = p0 > 0 && p1 > 0 ? ratio(p0, fmax(p1, 0)) : 1;
        return ratio(slope * (dtp + intercept * log(p_ratio)), fmax(positives, 0));
    }
    double x0, x1, y0, y1;
    if (p->curve == NC_AUC_ROC) { /* false positive rate, recall */
        x0 = ratio(fp0, negatives);
        x1 = ratio(fp1, negatives);
        y0 = ratio(tp0, positives);
        y1 = ratio(tp1, positives);
    } else { /* recall, precision */
        x0 = ratio(tp0, positives);
        x1 = ratio(tp1, positives);
        y0 = ratio(tp0, tp0 + fp0);
        y1 = ratio(tp1, tp1 + fp1);
    }
    const double height = p->summation == NC_AUC_INTERPOLATION ? (y0 + y1) / 2
                          : p->summation == NC_AUC_MINORING    ? fmin(y0, y1)
                                                               : fmax(y0, y1);
    return (x0 - x1) * height;
}

/* The AUC from the per-bucket positives and negatives: the samples of a
 * bucket are above every threshold up to its own, so the counts at threshold
 * i are the sums over buckets >= i. */
static double auc(const nc_metric_params *p, const double *state)
{
    const size_t nt = p->num_thresholds;
    const double *pos = state, *neg = state + nt;
    double positives = 0, negatives = 0;
    for (size_t i = 0; i < nt; i++) {
        positives += pos[i];
        negatives += neg[i];
    }
    double area = 0, tp1 = 0, fp1 = 0; /* the counts at threshold i + 1 */
    for (size_t i = nt; i-- > 0;) {
        const double tp0 = tp1 + pos[i], fp0 = fp1 + neg[i];
        if (i + 1 < nt)
            area += auc_piece(p, tp0, fp0, tp1, fp1, positives, negatives);
        tp1 = tp0;
        fp1 = fp0;
    }
    return area;
}

double nc_metric_value(nc_metric metric, const nc_metric_params *p, const double *state)
{
    /* the confusion-matrix metrics' state: tp, fp, tn, fn */
    switch (metric) {
    case NC_METRIC_PRECISION: return ratio(state[0], state[0] + state[1]);
    case NC_METRIC_RECALL: return ratio(state[0], state[0] + state[3]);
    case NC_METRIC_TRUE_POSITIVES: return state[0];
    case NC_METRIC_FALSE_POSITIVES: return state[1];
    case NC_METRIC_TRUE_NEGATIVES: return state[2];
    case NC_METRIC_FALSE_NEGATIVES: return state[3];
    case NC_METRIC_AUC: return auc(p, state);
    case NC_METRIC_ROOT_MEAN_SQUARED_ERROR: return sqrt(ratio(state[0], state[1]));
    default: return NAN;
    }
}
