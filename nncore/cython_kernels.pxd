# nncore's C API for Cython, in another package or in nncore itself.
#
#     from nncore.cython_kernels cimport nc_gemm_f32, nc_status, NC_OK
#     with nogil:
#         status = nc_gemm_f32(m, n, k, 1.0, a, lda, 1, b, ldb, 1, 0.0, c, ldc, 1)
#
# Every function of nncore.h is here under its C name and signature (the
# header documents each one: nncore.get_include() is the folder that holds it).
# They are Cython functions exported through this module's capsule table
# (__pyx_capi__), the way scipy.linalg.cython_blas exports BLAS: an extension
# that cimports them finds them when it is imported, links nothing of nncore,
# and needs only include_dirs=[nncore.get_include()] for the types below.
# The C kernels are compiled into this module alone; nncore._core calls them
# through the same table, so there is one kernel table, one thread count and
# one floating-point mode per process.
#
# Network predict from Cython: NetworkSnapshot(model) below holds an nncore
# model's C network description and a copy of its parameters.
from libc.stdint cimport uint64_t

from libc.stdint cimport uint64_t

cdef extern from "nncore.h" nogil:
    ctypedef enum nc_status:
        NC_OK
        NC_ERR_INVALID_ARGUMENT
        NC_ERR_NONFINITE
        NC_ERR_OUT_OF_MEMORY
        NC_ERR_INTERRUPTED
        NC_ERR_WORKSPACE

    ctypedef struct nc_cpu_info:
        int sse2, avx, avx2, fma, avx512f, neon
        const char *kernel

    ctypedef enum nc_epilogue_kind:
        NC_EPILOGUE_NONE
        NC_EPILOGUE_BIAS_ACTIVATION
        NC_EPILOGUE_ACTIVATION_GRAD

    ctypedef struct nc_epilogue_f32:
        nc_epilogue_kind kind
        int activation
        float alpha
        const float *bias
        float *out
        ptrdiff_t out_rs
        const float *z
        const float *a
        ptrdiff_t z_rs, a_rs

    ctypedef struct nc_epilogue_f64:
        nc_epilogue_kind kind
        int activation
        double alpha
        const double *bias
        double *out
        ptrdiff_t out_rs
        const double *z
        const double *a
        ptrdiff_t z_rs, a_rs

    ctypedef enum nc_activation:
        NC_ACT_LINEAR
        NC_ACT_RELU
        NC_ACT_LEAKY_RELU
        NC_ACT_ELU
        NC_ACT_SIGMOID
        NC_ACT_TANH
        NC_ACT_SOFTPLUS
        NC_ACT_GELU
        NC_ACT_SOFTMAX

    ctypedef enum nc_loss:
        NC_LOSS_MSE
        NC_LOSS_MAE
        NC_LOSS_HUBER
        NC_LOSS_POISSON
        NC_LOSS_BINARY_CROSSENTROPY
        NC_LOSS_CATEGORICAL_CROSSENTROPY
        NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY

    ctypedef enum nc_optimizer_kind:
        NC_OPT_SGD
        NC_OPT_ADAM
        NC_OPT_ADAMW
        NC_OPT_RMSPROP

    ctypedef struct nc_optimizer:
        nc_optimizer_kind kind
        double learning_rate
        double momentum
        int nesterov
        double beta_1, beta_2, epsilon
        double rho
        double weight_decay
        uint64_t iterations

    ctypedef enum nc_layer_kind:
        NC_LAYER_DENSE
        NC_LAYER_ACTIVATION
        NC_LAYER_DROPOUT
        NC_LAYER_BATCH_NORM
        NC_LAYER_FLATTEN

    ctypedef enum nc_constraint:
        NC_CONSTRAINT_NONE
        NC_CONSTRAINT_NON_NEG
        NC_CONSTRAINT_MAX_NORM

    ctypedef struct nc_layer:
        nc_layer_kind kind
        size_t n_in, n_out
        nc_activation activation
        double activation_alpha
        int use_bias
        size_t weight_offset
        size_t bias_offset
        double l2
        nc_constraint constraint
        double max_norm
        double dropout_rate
        int frozen
        double momentum, epsilon
        int scale, center
        size_t gamma_offset, beta_offset, moving_mean_offset, moving_variance_offset

    ctypedef enum nc_metric:
        NC_METRIC_BINARY_ACCURACY
        NC_METRIC_CATEGORICAL_ACCURACY
        NC_METRIC_SPARSE_CATEGORICAL_ACCURACY
        NC_METRIC_MSE
        NC_METRIC_MAE
        NC_METRIC_PRECISION
        NC_METRIC_RECALL
        NC_METRIC_TRUE_POSITIVES
        NC_METRIC_FALSE_POSITIVES
        NC_METRIC_TRUE_NEGATIVES
        NC_METRIC_FALSE_NEGATIVES
        NC_METRIC_AUC
        NC_METRIC_ROOT_MEAN_SQUARED_ERROR

    ctypedef enum nc_auc_curve:
        NC_AUC_ROC
        NC_AUC_PR

    ctypedef enum nc_auc_summation:
        NC_AUC_INTERPOLATION
        NC_AUC_MINORING
        NC_AUC_MAJORING

    ctypedef struct nc_metric_params:
        double threshold
        size_t num_thresholds
        nc_auc_curve curve
        nc_auc_summation summation

    ctypedef enum nc_loss_scaling:
        NC_SCALING_KERAS
        NC_SCALING_SKLEARN

    ctypedef struct nc_network:
        size_t n_layers
        const nc_layer *layers
        size_t n_params
        nc_loss loss
        nc_loss_scaling scaling

    ctypedef int (*nc_progress_fn)(void *ctx, size_t batches_done, size_t samples_done,
                                   double loss_sum, double weight_sum)

    enum:
        NC_MAX_LAYERS
        NC_ACT_COUNT
        NC_LOSS_COUNT

    ctypedef struct nc_train_profile:
        uint64_t batches
        double gather, forward, loss, backward, optimizer, rest
        double layer_forward[NC_MAX_LAYERS]
        double layer_backward[NC_MAX_LAYERS]

    ctypedef struct nc_epoch_result:
        size_t batches_done, samples_done
        double loss_sum
        double weight_sum
        double metric_sums[8]
        double metric_counts[8]
        double last_loss

    ctypedef int (*nc_batch_fn)(void *ctx, size_t batch, const nc_epoch_result *so_far)

    ctypedef struct nc_train_options:
        size_t batch_size
        const size_t *order
        uint64_t seed
        const nc_metric *metrics
        size_t n_metrics
        nc_progress_fn progress
        void *progress_ctx
        double progress_interval_seconds
        nc_batch_fn batch_begin
        nc_batch_fn batch_end
        void *batch_ctx
        nc_train_profile *profile
        const nc_metric_params *metric_params
        double *metric_state

    ctypedef struct nc_eval_options:
        size_t batch_size
        const nc_metric *metrics
        size_t n_metrics
        nc_batch_fn batch_begin
        nc_batch_fn batch_end
        void *batch_ctx
        const nc_metric_params *metric_params
        double *metric_state

# ------------------------------------------------------------------ functions
# Exported by nncore/cython_kernels.pyx (its forwarders are generated from
# these declarations at build time: see setup.py).

cdef const char *nc_status_string(nc_status status) noexcept nogil
cdef const char *nc_status_message(nc_status status) noexcept nogil
cdef void nc_cpu_features(nc_cpu_info *info) noexcept nogil
cdef nc_status nc_set_kernel(const char *name) noexcept nogil
cdef void nc_set_num_threads(int n) noexcept nogil
cdef int nc_get_num_threads() noexcept nogil
cdef const char *nc_settings_notes() noexcept nogil
cdef size_t nc_metric_state_size(const nc_metric *metrics, const nc_metric_params *params,
                                 size_t n_metrics) noexcept nogil
cdef nc_status nc_gemm_f32(size_t m, size_t n, size_t k, float alpha,
                           const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                           const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs, float beta,
                           float *c, ptrdiff_t c_rs, ptrdiff_t c_cs) noexcept nogil
cdef nc_status nc_gemm_f64(size_t m, size_t n, size_t k, double alpha,
                           const double *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                           const double *b, ptrdiff_t b_rs, ptrdiff_t b_cs, double beta,
                           double *c, ptrdiff_t c_rs, ptrdiff_t c_cs) noexcept nogil
cdef nc_status nc_gemm_f32_ref(size_t m, size_t n, size_t k, float alpha,
                               const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                               const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs, float beta,
                               float *c, ptrdiff_t c_rs, ptrdiff_t c_cs) noexcept nogil
cdef nc_status nc_gemm_f64_ref(size_t m, size_t n, size_t k, double alpha,
                               const double *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                               const double *b, ptrdiff_t b_rs, ptrdiff_t b_cs, double beta,
                               double *c, ptrdiff_t c_rs, ptrdiff_t c_cs) noexcept nogil
cdef nc_status nc_gemm_epilogue_f32(size_t m, size_t n, size_t k, float alpha,
                                    const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                                    const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs, float beta,
                                    float *c, ptrdiff_t c_rs, ptrdiff_t c_cs,
                                    const nc_epilogue_f32 *epilogue) noexcept nogil
cdef nc_status nc_gemm_epilogue_f64(size_t m, size_t n, size_t k, double alpha,
                                    const double *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                                    const double *b, ptrdiff_t b_rs, ptrdiff_t b_cs, double beta,
                                    double *c, ptrdiff_t c_rs, ptrdiff_t c_cs,
                                    const nc_epilogue_f64 *epilogue) noexcept nogil
cdef nc_status nc_gemm_epilogue_f32_ref(size_t m, size_t n, size_t k, float alpha,
                                        const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                                        const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                                        float beta, float *c, ptrdiff_t c_rs, ptrdiff_t c_cs,
                                        const nc_epilogue_f32 *epilogue) noexcept nogil
cdef nc_status nc_gemm_epilogue_f64_ref(size_t m, size_t n, size_t k, double alpha,
                                        const double *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                                        const double *b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                                        double beta, double *c, ptrdiff_t c_rs, ptrdiff_t c_cs,
                                        const nc_epilogue_f64 *epilogue) noexcept nogil
cdef nc_status nc_bias_add_f32(size_t m, size_t n, const float *bias, float *y, ptrdiff_t y_rs) noexcept nogil
cdef nc_status nc_bias_add_f64(size_t m, size_t n, const double *bias, double *y, ptrdiff_t y_rs) noexcept nogil
cdef nc_status nc_bias_add_f32_ref(size_t m, size_t n, const float *bias, float *y, ptrdiff_t y_rs) noexcept nogil
cdef nc_status nc_bias_add_f64_ref(size_t m, size_t n, const double *bias, double *y, ptrdiff_t y_rs) noexcept nogil
cdef nc_status nc_bias_grad_f32(size_t m, size_t n, const float *dy, ptrdiff_t dy_rs,
                                float beta, float *dbias) noexcept nogil
cdef nc_status nc_bias_grad_f64(size_t m, size_t n, const double *dy, ptrdiff_t dy_rs,
                                double beta, double *dbias) noexcept nogil
cdef nc_status nc_bias_grad_f32_ref(size_t m, size_t n, const float *dy, ptrdiff_t dy_rs,
                                    float beta, float *dbias) noexcept nogil
cdef nc_status nc_bias_grad_f64_ref(size_t m, size_t n, const double *dy, ptrdiff_t dy_rs,
                                    double beta, double *dbias) noexcept nogil
cdef nc_status nc_batch_norm_stats_f32(size_t m, size_t n, const float *x, ptrdiff_t x_rs,
                                    float *mean, float *var) noexcept nogil
cdef nc_status nc_batch_norm_stats_f64(size_t m, size_t n, const double *x, ptrdiff_t x_rs,
                                    double *mean, double *var) noexcept nogil
cdef nc_status nc_batch_norm_stats_f32_ref(size_t m, size_t n, const float *x, ptrdiff_t x_rs,
                                    float *mean, float *var) noexcept nogil
cdef nc_status nc_batch_norm_stats_f64_ref(size_t m, size_t n, const double *x, ptrdiff_t x_rs,
                                    double *mean, double *var) noexcept nogil
cdef nc_status nc_batch_norm_forward_f32(size_t m, size_t n, const float *x, ptrdiff_t x_rs,
                                      const float *mean, const float *var, const float *gamma,
                                      const float *beta, float epsilon, float *y, ptrdiff_t y_rs) noexcept nogil
cdef nc_status nc_batch_norm_forward_f64(size_t m, size_t n, const double *x, ptrdiff_t x_rs,
                                      const double *mean, const double *var, const double *gamma,
                                      const double *beta, double epsilon, double *y, ptrdiff_t y_rs) noexcept nogil
cdef nc_status nc_batch_norm_forward_f32_ref(size_t m, size_t n, const float *x, ptrdiff_t x_rs,
                                      const float *mean, const float *var, const float *gamma,
                                      const float *beta, float epsilon, float *y, ptrdiff_t y_rs) noexcept nogil
cdef nc_status nc_batch_norm_forward_f64_ref(size_t m, size_t n, const double *x, ptrdiff_t x_rs,
                                      const double *mean, const double *var, const double *gamma,
                                      const double *beta, double epsilon, double *y, ptrdiff_t y_rs) noexcept nogil
cdef nc_status nc_batch_norm_backward_f32(size_t m, size_t n, const float *x, ptrdiff_t x_rs,
                                       const float *mean, const float *var, const float *gamma,
                                       float epsilon, int batch_stats, const float *dy,
                                       ptrdiff_t dy_rs, float *dgamma, float *dbeta, float *dx,
                                       ptrdiff_t dx_rs) noexcept nogil
cdef nc_status nc_batch_norm_backward_f64(size_t m, size_t n, const double *x, ptrdiff_t x_rs,
                                       const double *mean, const double *var, const double *gamma,
                                       double epsilon, int batch_stats, const double *dy,
                                       ptrdiff_t dy_rs, double *dgamma, double *dbeta, double *dx,
                                       ptrdiff_t dx_rs) noexcept nogil
cdef nc_status nc_batch_norm_backward_f32_ref(size_t m, size_t n, const float *x, ptrdiff_t x_rs,
                                       const float *mean, const float *var, const float *gamma,
                                       float epsilon, int batch_stats, const float *dy,
                                       ptrdiff_t dy_rs, float *dgamma, float *dbeta, float *dx,
                                       ptrdiff_t dx_rs) noexcept nogil
cdef nc_status nc_batch_norm_backward_f64_ref(size_t m, size_t n, const double *x, ptrdiff_t x_rs,
                                       const double *mean, const double *var, const double *gamma,
                                       double epsilon, int batch_stats, const double *dy,
                                       ptrdiff_t dy_rs, double *dgamma, double *dbeta, double *dx,
                                       ptrdiff_t dx_rs) noexcept nogil
cdef nc_status nc_activation_forward_f32(nc_activation act, float alpha, size_t m, size_t n,
                                         const float *x, ptrdiff_t x_rs, float *y, ptrdiff_t y_rs) noexcept nogil
cdef nc_status nc_activation_forward_f64(nc_activation act, double alpha, size_t m, size_t n,
                                         const double *x, ptrdiff_t x_rs, double *y, ptrdiff_t y_rs) noexcept nogil
cdef nc_status nc_activation_forward_f32_ref(nc_activation act, float alpha, size_t m, size_t n,
                                             const float *x, ptrdiff_t x_rs, float *y,
                                             ptrdiff_t y_rs) noexcept nogil
cdef nc_status nc_activation_forward_f64_ref(nc_activation act, double alpha, size_t m, size_t n,
                                             const double *x, ptrdiff_t x_rs, double *y,
                                             ptrdiff_t y_rs) noexcept nogil
cdef nc_status nc_activation_backward_f32(nc_activation act, float alpha, size_t m, size_t n,
                                          const float *x, ptrdiff_t x_rs, const float *y,
                                          ptrdiff_t y_rs, const float *dy, ptrdiff_t dy_rs,
                                          float *dx, ptrdiff_t dx_rs) noexcept nogil
cdef nc_status nc_activation_backward_f64(nc_activation act, double alpha, size_t m, size_t n,
                                          const double *x, ptrdiff_t x_rs, const double *y,
                                          ptrdiff_t y_rs, const double *dy, ptrdiff_t dy_rs,
                                          double *dx, ptrdiff_t dx_rs) noexcept nogil
cdef nc_status nc_activation_backward_f32_ref(nc_activation act, float alpha, size_t m, size_t n,
                                              const float *x, ptrdiff_t x_rs, const float *y,
                                              ptrdiff_t y_rs, const float *dy, ptrdiff_t dy_rs,
                                              float *dx, ptrdiff_t dx_rs) noexcept nogil
cdef nc_status nc_activation_backward_f64_ref(nc_activation act, double alpha, size_t m, size_t n,
                                              const double *x, ptrdiff_t x_rs, const double *y,
                                              ptrdiff_t y_rs, const double *dy, ptrdiff_t dy_rs,
                                              double *dx, ptrdiff_t dx_rs) noexcept nogil
cdef nc_status nc_loss_value_f32(nc_loss loss, int from_logits, size_t m, size_t n,
                                 const float *p, ptrdiff_t p_rs, const float *t, ptrdiff_t t_rs,
                                 const float *sample_weight, double *value) noexcept nogil
cdef nc_status nc_loss_value_f64(nc_loss loss, int from_logits, size_t m, size_t n,
                                 const double *p, ptrdiff_t p_rs, const double *t, ptrdiff_t t_rs,
                                 const double *sample_weight, double *value) noexcept nogil
cdef nc_status nc_loss_value_f32_ref(nc_loss loss, int from_logits, size_t m, size_t n,
                                     const float *p, ptrdiff_t p_rs, const float *t,
                                     ptrdiff_t t_rs, const float *sample_weight, double *value) noexcept nogil
cdef nc_status nc_loss_value_f64_ref(nc_loss loss, int from_logits, size_t m, size_t n,
                                     const double *p, ptrdiff_t p_rs, const double *t,
                                     ptrdiff_t t_rs, const double *sample_weight, double *value) noexcept nogil
cdef nc_status nc_loss_grad_f32(nc_loss loss, int from_logits, size_t m, size_t n,
                                const float *p, ptrdiff_t p_rs, const float *t, ptrdiff_t t_rs,
                                const float *sample_weight, float *grad, ptrdiff_t g_rs) noexcept nogil
cdef nc_status nc_loss_grad_f64(nc_loss loss, int from_logits, size_t m, size_t n,
                                const double *p, ptrdiff_t p_rs, const double *t, ptrdiff_t t_rs,
                                const double *sample_weight, double *grad, ptrdiff_t g_rs) noexcept nogil
cdef nc_status nc_loss_grad_f32_ref(nc_loss loss, int from_logits, size_t m, size_t n,
                                    const float *p, ptrdiff_t p_rs, const float *t, ptrdiff_t t_rs,
                                    const float *sample_weight, float *grad, ptrdiff_t g_rs) noexcept nogil
cdef nc_status nc_loss_grad_f64_ref(nc_loss loss, int from_logits, size_t m, size_t n,
                                    const double *p, ptrdiff_t p_rs, const double *t,
                                    ptrdiff_t t_rs, const double *sample_weight, double *grad,
                                    ptrdiff_t g_rs) noexcept nogil
cdef nc_status nc_loss_value_grad_f32(nc_loss loss, int from_logits, size_t m, size_t n,
                                      const float *p, ptrdiff_t p_rs, const float *t,
                                      ptrdiff_t t_rs, const float *sample_weight, double *value,
                                      float *grad, ptrdiff_t g_rs, float *prob, ptrdiff_t prob_rs) noexcept nogil
cdef nc_status nc_loss_value_grad_f64(nc_loss loss, int from_logits, size_t m, size_t n,
                                      const double *p, ptrdiff_t p_rs, const double *t,
                                      ptrdiff_t t_rs, const double *sample_weight, double *value,
                                      double *grad, ptrdiff_t g_rs, double *prob,
                                      ptrdiff_t prob_rs) noexcept nogil
cdef nc_status nc_loss_value_grad_f32_ref(nc_loss loss, int from_logits, size_t m, size_t n,
                                          const float *p, ptrdiff_t p_rs, const float *t,
                                          ptrdiff_t t_rs, const float *sample_weight,
                                          double *value, float *grad, ptrdiff_t g_rs,
                                          float *prob, ptrdiff_t prob_rs) noexcept nogil
cdef nc_status nc_loss_value_grad_f64_ref(nc_loss loss, int from_logits, size_t m, size_t n,
                                          const double *p, ptrdiff_t p_rs, const double *t,
                                          ptrdiff_t t_rs, const double *sample_weight,
                                          double *value, double *grad, ptrdiff_t g_rs,
                                          double *prob, ptrdiff_t prob_rs) noexcept nogil
cdef size_t nc_optimizer_state_slots(nc_optimizer_kind kind) noexcept nogil
cdef nc_status nc_optimizer_step_f32(nc_optimizer *opt, size_t n, float *w, const float *g,
                                     float *state) noexcept nogil
cdef nc_status nc_optimizer_step_f64(nc_optimizer *opt, size_t n, double *w, const double *g,
                                     double *state) noexcept nogil
cdef nc_status nc_optimizer_step_f32_ref(nc_optimizer *opt, size_t n, float *w, const float *g,
                                         float *state) noexcept nogil
cdef nc_status nc_optimizer_step_f64_ref(nc_optimizer *opt, size_t n, double *w, const double *g,
                                         double *state) noexcept nogil
cdef nc_status nc_optimizer_step_ranges_f32(nc_optimizer *opt, size_t n, float *w, const float *g,
                                            float *state, size_t n_ranges,
                                            const size_t *ranges) noexcept nogil
cdef nc_status nc_optimizer_step_ranges_f64(nc_optimizer *opt, size_t n, double *w,
                                            const double *g, double *state, size_t n_ranges,
                                            const size_t *ranges) noexcept nogil
cdef nc_status nc_optimizer_step_ranges_f32_ref(nc_optimizer *opt, size_t n, float *w,
                                                const float *g, float *state, size_t n_ranges,
                                                const size_t *ranges) noexcept nogil
cdef nc_status nc_optimizer_step_ranges_f64_ref(nc_optimizer *opt, size_t n, double *w,
                                                const double *g, double *state, size_t n_ranges,
                                                const size_t *ranges) noexcept nogil
cdef nc_status nc_network_check(const nc_network *net) noexcept nogil
cdef int nc_network_uses_logits(const nc_network *net) noexcept nogil
cdef size_t nc_network_workspace_size(const nc_network *net, size_t batch_size, size_t elem_size) noexcept nogil
cdef nc_status nc_network_train_epoch_f32(const nc_network *net, nc_optimizer *opt,
                                          float *params, float *grads, float *opt_state,
                                          size_t n, const float *x, ptrdiff_t x_rs,
                                          const float *y, ptrdiff_t y_rs,
                                          const float *sample_weight,
                                          const nc_train_options *options,
                                          void *workspace, size_t workspace_bytes,
                                          nc_epoch_result *result) noexcept nogil
cdef nc_status nc_network_train_epoch_f64(const nc_network *net, nc_optimizer *opt,
                                          double *params, double *grads, double *opt_state,
                                          size_t n, const double *x, ptrdiff_t x_rs,
                                          const double *y, ptrdiff_t y_rs,
                                          const double *sample_weight,
                                          const nc_train_options *options,
                                          void *workspace, size_t workspace_bytes,
                                          nc_epoch_result *result) noexcept nogil
cdef void nc_permutation(size_t n, uint64_t seed, uint64_t stream, size_t *order) noexcept nogil
cdef int nc_all_finite_f32(size_t m, size_t n, const float *x, ptrdiff_t x_rs) noexcept nogil
cdef int nc_all_finite_f64(size_t m, size_t n, const double *x, ptrdiff_t x_rs) noexcept nogil
cdef nc_status nc_network_predict_f32(const nc_network *net, const float *params,
                                      size_t n, const float *x, ptrdiff_t x_rs,
                                      float *out, ptrdiff_t out_rs, size_t batch_size,
                                      void *workspace, size_t workspace_bytes) noexcept nogil
cdef nc_status nc_network_predict_f64(const nc_network *net, const double *params,
                                      size_t n, const double *x, ptrdiff_t x_rs,
                                      double *out, ptrdiff_t out_rs, size_t batch_size,
                                      void *workspace, size_t workspace_bytes) noexcept nogil
cdef nc_status nc_network_evaluate_f32(const nc_network *net, const float *params, size_t n,
                                       const float *x, ptrdiff_t x_rs, const float *y,
                                       ptrdiff_t y_rs, const float *sample_weight,
                                       const nc_eval_options *options, void *workspace,
                                       size_t workspace_bytes,
                                       nc_epoch_result *result) noexcept nogil
cdef nc_status nc_network_evaluate_f64(const nc_network *net, const double *params, size_t n,
                                       const double *x, ptrdiff_t x_rs, const double *y,
                                       ptrdiff_t y_rs, const double *sample_weight,
                                       const nc_eval_options *options, void *workspace,
                                       size_t workspace_bytes,
                                       nc_epoch_result *result) noexcept nogil
cdef nc_status nc_network_loss_grad_f32(const nc_network *net, const float *params, float *grads,
                                        size_t n, const float *x, ptrdiff_t x_rs,
                                        const float *y, ptrdiff_t y_rs, const float *sample_weight,
                                        int training, uint64_t seed,
                                        void *workspace, size_t workspace_bytes, double *loss) noexcept nogil
cdef nc_status nc_network_loss_grad_f64(const nc_network *net, const double *params,
                                        double *grads, size_t n, const double *x, ptrdiff_t x_rs,
                                        const double *y, ptrdiff_t y_rs,
                                        const double *sample_weight, int training, uint64_t seed,
                                        void *workspace, size_t workspace_bytes, double *loss) noexcept nogil


cdef class NetworkSnapshot:
    """An nncore model frozen for C: its network description and parameters.

    NetworkSnapshot(model) copies the layers and the flat parameter buffer of
    a built Sequential (for example one from nncore.load_model), so later
    training or set_weights on the model does not change it, and any number of
    threads may call nc_network_predict_f32/_f64 on it at once without the GIL:

        cdef NetworkSnapshot snap = NetworkSnapshot(model)
        cdef size_t ws = nc_network_workspace_size(&snap.network, batch, snap.itemsize)
        # a workspace of ws bytes aligned to 64, one per thread, then with nogil:
        status = nc_network_predict_f32(&snap.network, <const float *>snap.params,
                                        n, x, x_rs, out, out_rs, batch, workspace, ws)

    x is n x snap.n_in, out n x snap.n_out (column stride 1, row strides given),
    in the model's dtype: float when itemsize is 4, double when 8.
    """
    cdef nc_network network        # layers (owned by the snapshot), n_params, loss
    cdef const void *params        # n_params float or double values
    cdef readonly size_t itemsize  # 4: float32 model, 8: float64 model
    cdef readonly size_t n_in, n_out
    cdef nc_layer *_layers
    cdef object _params
