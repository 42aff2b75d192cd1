/*
 * metrics.h -- internal: what the training and evaluation loops need of the
 * metrics beyond their per-batch sums (metrics_impl.h): the settings in
 * force, the state each keeps between batches, and its value from that state.
 */
#ifndef NNCORE_METRICS_H
#define NNCORE_METRICS_H

#include <stddef.h>

#include "nncore.h"

/* Keras's defaults: threshold 0.5; AUC over 200 thresholds, ROC, interpolation. */
nc_metric_params nc_metric_defaults(void);

/* The settings of metric k: params[k], or the defaults when params is NULL. */
nc_metric_params nc_metric_params_of(const nc_metric_params *params, size_t k);

/* Doubles of state one metric keeps between batches (0 for the plain means). */
size_t nc_metric_state_len(nc_metric metric, const nc_metric_params *p);

/* Checks the metrics of a loop and zeroes their state: NC_OK when every
 * metric is known, its settings valid, it fits the network's targets (the
 * confusion-matrix metrics, AUC and RMSE read one target per output, so not
 * sparse labels), and state is given when the list needs it. */
nc_status nc_metrics_start(const nc_network *net, const nc_metric *metrics,
                           const nc_metric_params *params, size_t n_metrics, double *state);

/* The value of a metric with state, from that state. */
double nc_metric_value(nc_metric metric, const nc_metric_params *p, const double *state);

#endif
