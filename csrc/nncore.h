/*
 * nncore.h -- the whole public C API of nncore, in one header.
 *
 * Conventions (read these once; every declaration below follows them):
 *   - Plain C11. No Python, no numpy. Kernels never allocate, print or exit:
 *     they return an nc_status. Callers own every buffer.
 *   - Every kernel exists for float (suffix _f32) and double (suffix _f64).
 *     Its naive reference twin carries an extra _ref (nc_gemm_f32_ref); the
 *     twins are the portable fallback and the test oracle.
 *   - Sizes and indexes are size_t. Strides are ptrdiff_t, counted in
 *     ELEMENTS (not bytes), and may be negative or zero where it makes sense.
 *   - Matrices are described BLIS-style by a pointer, a row stride (rs) and a
 *     column stride (cs): element (i, j) of A is a[i*rs + j*cs]. A row-major
 *     matrix with leading dimension ld has rs = ld, cs = 1; its transpose is
 *     the same pointer with rs and cs swapped. So every numpy view, transposed
 *     or sliced, is described without a copy.
 *   - "out first, inputs after, sizes last" is NOT followed for matrices,
 *     where BLAS order (sizes, alpha, A, B, beta, C) is what readers expect;
 *     elementwise kernels take (sizes, inputs..., outputs...).
 *   - Output buffers may alias inputs exactly where a comment says so.
 *   - Status: NC_OK (0) on success. A NULL pointer where data is needed, an
 *     enum value outside its list or a size the function cannot take gives
 *     NC_ERR_INVALID_ARGUMENT; the other codes are named by the functions
 *     that return them. nc_status_string(status) describes one in English.
 *
 * From another package: nncore.get_include() (Python) is the folder that
 * holds this header, and Cython code cimports every function below, under
 * the same name, from nncore.cython_kernels, which finds them at import time
 * (nothing of nncore is linked). nncore.cython_kernels.NetworkSnapshot gives
 * an nncore model's nc_network and parameters for nc_network_predict_*.
 */
#ifndef NNCORE_H
#define NNCORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ status */

typedef enum nc_status {
    NC_OK = 0,
    NC_ERR_INVALID_ARGUMENT = 1, /* a size, enum, label or pointer is invalid */
    NC_ERR_NONFINITE = 2,        /* a loss or value became NaN/inf */
    NC_ERR_OUT_OF_MEMORY = 3,    /* only functions that say they allocate */
    NC_ERR_INTERRUPTED = 4,      /* a progress callback asked to stop */
    NC_ERR_WORKSPACE = 5         /* workspace smaller than *_workspace_size */
} nc_status;

/* A short English description of a status, never NULL. */
const char *nc_status_string(nc_status status);
/* The same description under the name earlier releases used. */
const char *nc_status_message(nc_status status);

/* --------------------------------------------------------- CPU and threads */

typedef struct nc_cpu_info {
    int sse2, avx, avx2, fma, avx512f, neon; /* 1 when the CPU and OS support it */
    const char *kernel; /* the path in use: "avx512", "avx2", "neon", "generic" */
} nc_cpu_info;

/* Detects the CPU once (thread-safe) and fills *info. The path in use is the
 * best one the CPU supports, unless the environment variable NNCORE_ARCH names
 * another supported one ("generic", "avx2", "avx512", "neon"). */
void nc_cpu_features(nc_cpu_info *info);

/* Forces a kernel path by name; NC_ERR_INVALID_ARGUMENT if unknown or not
 * supported by this CPU. For tests and diagnostics: a call already running
 * finishes on the path it started with (each reads the choice once), later
 * calls take the new one, so results may mix paths while threads run. */
nc_status nc_set_kernel(const char *name);

/* Threads used by the kernels and the training loop (>= 1). The initial value
 * comes from NNCORE_NUM_THREADS, else OMP_NUM_THREADS, else the core count.
 * Results are bit-identical for every thread count. Safe to call while
 * kernels run on other threads: calls already running keep their count. */
void nc_set_num_threads(int n);
int nc_get_num_threads(void);

/* The environment settings (NNCORE_NUM_THREADS, NNCORE_ARCH) that nncore
 * read at start-up and could not honour, one line each naming the value and
 * what is used instead; "" when it honoured them all. The library never
 * prints: the program that embeds it reports these (nncore's Python module
 * warns once, at import). Never NULL; the text does not change. */
const char *nc_settings_notes(void);

/* -------------------------------------------------------------------- GEMM */

/* C = alpha * A * B + beta * C, with A m x k, B k x n, C m x n, each given by
 * pointer, row stride and column stride (see the conventions). Transposes are
 * expressed by swapping strides. When beta == 0, C is not read (NaN in C does
 * not propagate), as in BLAS. k == 0 gives C = beta * C. C must not overlap A
 * or B. */
nc_status nc_gemm_f32(size_t m, size_t n, size_t k, float alpha, const float *a, ptrdiff_t a_rs,
                      ptrdiff_t a_cs, const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs, float beta,
                      float *c, ptrdiff_t c_rs, ptrdiff_t c_cs);
nc_status nc_gemm_f64(size_t m, size_t n, size_t k, double alpha, const double *a, ptrdiff_t a_rs,
                      ptrdiff_t a_cs, const double *b, ptrdiff_t b_rs, ptrdiff_t b_cs, double beta,
                      double *c, ptrdiff_t c_rs, ptrdiff_t c_cs);
nc_status nc_gemm_f32_ref(size_t m, size_t n, size_t k, float alpha, const float *a, ptrdiff_t a_rs,
                          ptrdiff_t a_cs, const float *b, ptrdiff_t b_rs, ptrdiff_t b_cs,
                          float beta, float *c, ptrdiff_t c_rs, ptrdiff_t c_cs);
nc_status nc_gemm_f64_ref(size_t m, size_t n, size_t k, double alpha, const double *a,
                          ptrdiff_t a_rs, ptrdiff_t a_cs, const double *b, ptrdiff_t b_rs,
                          ptrdiff_t b_cs, double beta, double *c, ptrdiff_t c_rs, ptrdiff_t c_cs);

/* GEMM with an epilogue: what happens to each finished tile of C while it is
 * still in the L1 cache, instead of in another pass over C afterwards (the
 * dense layer's "bias and activation in the write-back").
 *
 *   NC_EPILOGUE_BIAS_ACTIVATION:  C += bias (per column, when bias is not NULL),
 *       then out = act(C) (out NULL: act applied to C in place). C keeps the
 *       pre-activation z for the backward pass.
 *   NC_EPILOGUE_ACTIVATION_GRAD:  C = act'(z, a) * C, with z and a the forward
 *       pass' pre-activation and output of the layer below: the gradient that
 *       flows into a layer becomes dL/dz at once (the backward GEMM's input).
 *
 * The result equals nc_gemm followed by nc_bias_add and nc_activation_forward
 * (or nc_activation_backward) bit for bit: the same operations on each
 * element. Softmax, being row-wise, is applied after the whole product. C must
 * have column stride 1 (NC_ERR_INVALID_ARGUMENT otherwise); out, z and a are
 * m x n with column stride 1 and the given row strides, and must not overlap C
 * (out may be NULL, meaning C itself). */
typedef enum nc_epilogue_kind {
    NC_EPILOGUE_NONE = 0,
    NC_EPILOGUE_BIAS_ACTIVATION = 1,
    NC_EPILOGUE_ACTIVATION_GRAD = 2
} nc_epilogue_kind;

typedef struct nc_epilogue_f32 {
    nc_epilogue_kind kind;
    int activation; /* an nc_activation (declared below) */
    float alpha;    /* of leaky_relu and elu */
    const float *bias;
    float *out;
    ptrdiff_t out_rs;
    const float *z, *a;
    ptrdiff_t z_rs, a_rs;
} nc_epilogue_f32;

typedef struct nc_epilogue_f64 {
    nc_epilogue_kind kind;
    int activation;
    double alpha;
    const double *bias;
    double *out;
    ptrdiff_t out_rs;
    const double *z, *a;
    ptrdiff_t z_rs, a_rs;
} nc_epilogue_f64;

nc_status nc_gemm_epilogue_f32(size_t m, size_t n, size_t k, float alpha, const float *a,
                               ptrdiff_t a_rs, ptrdiff_t a_cs, const float *b, ptrdiff_t b_rs,
                               ptrdiff_t b_cs, float beta, float *c, ptrdiff_t c_rs, ptrdiff_t c_cs,
                               const nc_epilogue_f32 *epilogue);
nc_status nc_gemm_epilogue_f64(size_t m, size_t n, size_t k, double alpha, const double *a,
                               ptrdiff_t a_rs, ptrdiff_t a_cs, const double *b, ptrdiff_t b_rs,
                               ptrdiff_t b_cs, double beta, double *c, ptrdiff_t c_rs,
                               ptrdiff_t c_cs, const nc_epilogue_f64 *epilogue);
nc_status nc_gemm_epilogue_f32_ref(size_t m, size_t n, size_t k, float alpha, const float *a,
                                   ptrdiff_t a_rs, ptrdiff_t a_cs, const float *b, ptrdiff_t b_rs,
                                   ptrdiff_t b_cs, float beta, float *c, ptrdiff_t c_rs,
                                   ptrdiff_t c_cs, const nc_epilogue_f32 *epilogue);
nc_status nc_gemm_epilogue_f64_ref(size_t m, size_t n, size_t k, double alpha, const double *a,
                                   ptrdiff_t a_rs, ptrdiff_t a_cs, const double *b, ptrdiff_t b_rs,
                                   ptrdiff_t b_cs, double beta, double *c, ptrdiff_t c_rs,
                                   ptrdiff_t c_cs, const nc_epilogue_f64 *epilogue);

/* ------------------------------------------------------ dense-layer pieces */

/* y[i, j] += bias[j] for an m x n matrix y with row stride y_rs (cs = 1). */
nc_status nc_bias_add_f32(size_t m, size_t n, const float *bias, float *y, ptrdiff_t y_rs);
nc_status nc_bias_add_f64(size_t m, size_t n, const double *bias, double *y, ptrdiff_t y_rs);
nc_status nc_bias_add_f32_ref(size_t m, size_t n, const float *bias, float *y, ptrdiff_t y_rs);
nc_status nc_bias_add_f64_ref(size_t m, size_t n, const double *bias, double *y, ptrdiff_t y_rs);

/* dbias[j] = beta * dbias[j] + sum_i dy[i, j]  (beta 0: overwrite, 1: accumulate).
 * The sum runs over i in increasing order, so it is deterministic. */
nc_status nc_bias_grad_f32(size_t m, size_t n, const float *dy, ptrdiff_t dy_rs, float beta,
                           float *dbias);
nc_status nc_bias_grad_f64(size_t m, size_t n, const double *dy, ptrdiff_t dy_rs, double beta,
                           double *dbias);
nc_status nc_bias_grad_f32_ref(size_t m, size_t n, const float *dy, ptrdiff_t dy_rs, float beta,
                               float *dbias);
nc_status nc_bias_grad_f64_ref(size_t m, size_t n, const double *dy, ptrdiff_t dy_rs, double beta,
                               double *dbias);

/* ----------------------------------------------------- batch normalization */

/* Batch normalization (Ioffe & Szegedy 2015) of an m x n matrix x whose rows
 * are samples and columns features (column stride 1, row strides given).
 *
 * nc_batch_norm_stats: mean[j] and var[j], the mean and the BIASED variance
 * (the sum of squared deviations divided by m, as Keras uses for training and
 * for its moving variance) of column j: two passes over increasing rows,
 * summed in double, so the result is deterministic. m >= 1. */
nc_status nc_batch_norm_stats_f32(size_t m, size_t n, const float *x, ptrdiff_t x_rs, float *mean,
                                  float *var);
nc_status nc_batch_norm_stats_f64(size_t m, size_t n, const double *x, ptrdiff_t x_rs, double *mean,
                                  double *var);
nc_status nc_batch_norm_stats_f32_ref(size_t m, size_t n, const float *x, ptrdiff_t x_rs,
                                      float *mean, float *var);
nc_status nc_batch_norm_stats_f64_ref(size_t m, size_t n, const double *x, ptrdiff_t x_rs,
                                      double *mean, double *var);

/* y[i, j] = gamma[j] (x[i, j] - mean[j]) / sqrt(var[j] + epsilon) + beta[j]:
 * with the batch's own statistics in training, the moving ones in inference.
 * gamma NULL means 1 (Keras scale=False), beta NULL means 0 (center=False).
 * epsilon >= 0. y may be x (in place). */
nc_status nc_batch_norm_forward_f32(size_t m, size_t n, const float *x, ptrdiff_t x_rs,
                                    const float *mean, const float *var, const float *gamma,
                                    const float *beta, float epsilon, float *y, ptrdiff_t y_rs);
nc_status nc_batch_norm_forward_f64(size_t m, size_t n, const double *x, ptrdiff_t x_rs,
                                    const double *mean, const double *var, const double *gamma,
                                    const double *beta, double epsilon, double *y, ptrdiff_t y_rs);
nc_status nc_batch_norm_forward_f32_ref(size_t m, size_t n, const float *x, ptrdiff_t x_rs,
                                        const float *mean, const float *var, const float *gamma,
                                        const float *beta, float epsilon, float *y, ptrdiff_t y_rs);
nc_status nc_batch_norm_forward_f64_ref(size_t m, size_t n, const double *x, ptrdiff_t x_rs,
                                        const double *mean, const double *var, const double *gamma,
                                        const double *beta, double epsilon, double *y,
                                        ptrdiff_t y_rs);

/* The gradients of nc_batch_norm_forward from dy = dL/dy, with
 * s[j] = sqrt(var[j] + epsilon) and x_hat = (x - mean) / s:
 *   dgamma[j] = sum_i dy[i, j] x_hat[i, j]     dbeta[j] = sum_i dy[i, j]
 *   batch_stats != 0 (mean and var are x's own, from nc_batch_norm_stats, so
 *   the gradient also flows through them):
 *       dx = gamma / s * (dy - dbeta / m - x_hat dgamma / m)
 *   batch_stats == 0 (moving statistics, constants): dx = gamma / s * dy.
 * gamma NULL means 1. dgamma, dbeta or dx NULL: that output is not wanted.
 * The sums run over increasing rows in double. dx may be dy (in place),
 * never x. */
nc_status nc_batch_norm_backward_f32(size_t m, size_t n, const float *x, ptrdiff_t x_rs,
                                     const float *mean, const float *var, const float *gamma,
                                     float epsilon, int batch_stats, const float *dy,
                                     ptrdiff_t dy_rs, float *dgamma, float *dbeta, float *dx,
                                     ptrdiff_t dx_rs);
nc_status nc_batch_norm_backward_f64(size_t m, size_t n, const double *x, ptrdiff_t x_rs,
                                     const double *mean, const double *var, const double *gamma,
                                     double epsilon, int batch_stats, const double *dy,
                                     ptrdiff_t dy_rs, double *dgamma, double *dbeta, double *dx,
                                     ptrdiff_t dx_rs);
nc_status nc_batch_norm_backward_f32_ref(size_t m, size_t n, const float *x, ptrdiff_t x_rs,
                                         const float *mean, const float *var, const float *gamma,
                                         float epsilon, int batch_stats, const float *dy,
                                         ptrdiff_t dy_rs, float *dgamma, float *dbeta, float *dx,
                                         ptrdiff_t dx_rs);
nc_status nc_batch_norm_backward_f64_ref(size_t m, size_t n, const double *x, ptrdiff_t x_rs,
                                         const double *mean, const double *var, const double *gamma,
                                         double epsilon, int batch_stats, const double *dy,
                                         ptrdiff_t dy_rs, double *dgamma, double *dbeta, double *dx,
                                         ptrdiff_t dx_rs);

/* ------------------------------------------------------------- activations */

typedef enum nc_activation {
    NC_ACT_LINEAR = 0,     /* y = x */
    NC_ACT_RELU = 1,       /* y = max(x, 0); relu'(0) = 0 */
    NC_ACT_LEAKY_RELU = 2, /* y = x if x > 0 else alpha*x   (alpha default 0.01) */
    NC_ACT_ELU = 3,        /* y = x if x > 0 else alpha*(exp(x)-1)   (alpha default 1) */
    NC_ACT_SIGMOID = 4,    /* y = 1/(1+exp(-x)), no overflow for any finite x */
    NC_ACT_TANH = 5,       /* y = tanh(x) */
    NC_ACT_SOFTPLUS = 6,   /* y = log(1+exp(x)), no overflow for any finite x */
    NC_ACT_GELU = 7,       /* y = x/2 * (1 + erf(x/sqrt(2)))   (exact form) */
    NC_ACT_SOFTMAX = 8     /* row-wise: y[i,j] = exp(x[i,j]-max_j) / sum_j exp(...) */
} nc_activation;
#define NC_ACT_COUNT 9

/* y = f(x) over an m x n matrix (column stride 1; row strides given, so a row
 * block of a larger matrix needs no copy). alpha is used by leaky_relu and elu
 * only. y may be x (in place). */
nc_status nc_activation_forward_f32(nc_activation act, float alpha, size_t m, size_t n,
                                    const float *x, ptrdiff_t x_rs, float *y, ptrdiff_t y_rs);
nc_status nc_activation_forward_f64(nc_activation act, double alpha, size_t m, size_t n,
                                    const double *x, ptrdiff_t x_rs, double *y, ptrdiff_t y_rs);
nc_status nc_activation_forward_f32_ref(nc_activation act, float alpha, size_t m, size_t n,
                                        const float *x, ptrdiff_t x_rs, float *y, ptrdiff_t y_rs);
nc_status nc_activation_forward_f64_ref(nc_activation act, double alpha, size_t m, size_t n,
                                        const double *x, ptrdiff_t x_rs, double *y, ptrdiff_t y_rs);

/* dx = dL/dx given x (pre-activation), y = f(x) and dy = dL/dy, all m x n with
 * column stride 1. Each activation reads whichever of x and y is cheaper and
 * more accurate (sigmoid, tanh, softmax, elu use y; the others x); the caller
 * passes both. For softmax, dx_i = y_i * (dy_i - sum_j dy_j y_j) per row.
 * dx may be dy (in place), never x or y. */
nc_status nc_activation_backward_f32(nc_activation act, float alpha, size_t m, size_t n,
                                     const float *x, ptrdiff_t x_rs, const float *y, ptrdiff_t y_rs,
                                     const float *dy, ptrdiff_t dy_rs, float *dx, ptrdiff_t dx_rs);
nc_status nc_activation_backward_f64(nc_activation act, double alpha, size_t m, size_t n,
                                     const double *x, ptrdiff_t x_rs, const double *y,
                                     ptrdiff_t y_rs, const double *dy, ptrdiff_t dy_rs, double *dx,
                                     ptrdiff_t dx_rs);
nc_status nc_activation_backward_f32_ref(nc_activation act, float alpha, size_t m, size_t n,
                                         const float *x, ptrdiff_t x_rs, const float *y,
                                         ptrdiff_t y_rs, const float *dy, ptrdiff_t dy_rs,
                                         float *dx, ptrdiff_t dx_rs);
nc_status nc_activation_backward_f64_ref(nc_activation act, double alpha, size_t m, size_t n,
                                         const double *x, ptrdiff_t x_rs, const double *y,
                                         ptrdiff_t y_rs, const double *dy, ptrdiff_t dy_rs,
                                         double *dx, ptrdiff_t dx_rs);

/* ------------------------------------------------------------------ losses */

typedef enum nc_loss {
    NC_LOSS_MSE = 0,                            /* mean((p-t)^2) */
    NC_LOSS_MAE = 1,                            /* mean(|p-t|) */
    NC_LOSS_HUBER = 2,                          /* delta 1: d^2/2 if |d|<=1 else |d|-1/2 */
    NC_LOSS_POISSON = 3,                        /* mean(p - t*log(p + 1e-7)) as Keras */
    NC_LOSS_BINARY_CROSSENTROPY = 4,            /* mean(-(t log p + (1-t) log(1-p))) */
    NC_LOSS_CATEGORICAL_CROSSENTROPY = 5,       /* mean_i -sum_j t_ij log p_ij */
    NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY = 6 /* the same with t_i a class index */
} nc_loss;
#define NC_LOSS_COUNT 7

/* The loss of predictions p (m samples x n outputs, row stride p_rs, column
 * stride 1) against targets t (same shape and stride t_rs; for the sparse
 * cross-entropy t is m x 1 holding class indices 0..n-1 as exact integers in
 * the float type, with t_rs its stride between samples).
 *
 * Per-sample loss l_i is the mean over the n outputs of the elementwise loss
 * (the SUM over classes for the two categorical cross-entropies). The result
 * is sum_i w_i * l_i / m, with w_i = 1 when sample_weight is NULL (Keras).
 *
 * from_logits = 0: p are probabilities for the cross-entropies, clipped to
 * [1e-7, 1-1e-7] (Keras). from_logits = 1 (cross-entropies only): p are the
 * logits z of a sigmoid (binary) or softmax (categorical) output, and the loss
 * is computed by log-sum-exp without clipping.
 *
 * The value is accumulated in double and written to *value. Returns
 * NC_ERR_INVALID_ARGUMENT for a sparse label that is not an integer in
 * [0, n) or from_logits on a loss that has no logits form. m == 0 gives 0. */
nc_status nc_loss_value_f32(nc_loss loss, int from_logits, size_t m, size_t n, const float *p,
                            ptrdiff_t p_rs, const float *t, ptrdiff_t t_rs,
                            const float *sample_weight, double *value);
nc_status nc_loss_value_f64(nc_loss loss, int from_logits, size_t m, size_t n, const double *p,
                            ptrdiff_t p_rs, const double *t, ptrdiff_t t_rs,
                            const double *sample_weight, double *value);
nc_status nc_loss_value_f32_ref(nc_loss loss, int from_logits, size_t m, size_t n, const float *p,
                                ptrdiff_t p_rs, const float *t, ptrdiff_t t_rs,
                                const float *sample_weight, double *value);
nc_status nc_loss_value_f64_ref(nc_loss loss, int from_logits, size_t m, size_t n, const double *p,
                                ptrdiff_t p_rs, const double *t, ptrdiff_t t_rs,
                                const double *sample_weight, double *value);

/* grad = d(loss value above)/dp, m x n with row stride g_rs. With
 * from_logits = 1 it is the gradient at the logits: exactly
 * w_i * (softmax(z)_ij - t_ij) / m for the categorical cross-entropies and
 * w_i * (sigmoid(z)_ij - t_ij) / (m*n) for the binary one. Where the clip of
 * the probability form is active the gradient is 0 (as in Keras). grad may
 * be p (in place). */
nc_status nc_loss_grad_f32(nc_loss loss, int from_logits, size_t m, size_t n, const float *p,
                           ptrdiff_t p_rs, const float *t, ptrdiff_t t_rs,
                           const float *sample_weight, float *grad, ptrdiff_t g_rs);
nc_status nc_loss_grad_f64(nc_loss loss, int from_logits, size_t m, size_t n, const double *p,
                           ptrdiff_t p_rs, const double *t, ptrdiff_t t_rs,
                           const double *sample_weight, double *grad, ptrdiff_t g_rs);
nc_status nc_loss_grad_f32_ref(nc_loss loss, int from_logits, size_t m, size_t n, const float *p,
                               ptrdiff_t p_rs, const float *t, ptrdiff_t t_rs,
                               const float *sample_weight, float *grad, ptrdiff_t g_rs);
nc_status nc_loss_grad_f64_ref(nc_loss loss, int from_logits, size_t m, size_t n, const double *p,
                               ptrdiff_t p_rs, const double *t, ptrdiff_t t_rs,
                               const double *sample_weight, double *grad, ptrdiff_t g_rs);

/* Value and gradient in one call: *value as nc_loss_value and grad as
 * nc_loss_grad. With from_logits, prob (when not NULL) receives the output
 * activation of the logits (sigmoid for the binary cross-entropy, softmax for
 * the categorical ones), what the forward pass would have computed: the fast
 * version reads each logit once and takes one exp per logit (the training
 * loop's "softmax + cross-entropy in one pass"). grad and prob must not
 * overlap p; prob must be NULL without from_logits. */
nc_status nc_loss_value_grad_f32(nc_loss loss, int from_logits, size_t m, size_t n, const float *p,
                                 ptrdiff_t p_rs, const float *t, ptrdiff_t t_rs,
                                 const float *sample_weight, double *value, float *grad,
                                 ptrdiff_t g_rs, float *prob, ptrdiff_t prob_rs);
nc_status nc_loss_value_grad_f64(nc_loss loss, int from_logits, size_t m, size_t n, const double *p,
                                 ptrdiff_t p_rs, const double *t, ptrdiff_t t_rs,
                                 const double *sample_weight, double *value, double *grad,
                                 ptrdiff_t g_rs, double *prob, ptrdiff_t prob_rs);
nc_status nc_loss_value_grad_f32_ref(nc_loss loss, int from_logits, size_t m, size_t n,
                                     const float *p, ptrdiff_t p_rs, const float *t, ptrdiff_t t_rs,
                                     const float *sample_weight, double *value, float *grad,
                                     ptrdiff_t g_rs, float *prob, ptrdiff_t prob_rs);
nc_status nc_loss_value_grad_f64_ref(nc_loss loss, int from_logits, size_t m, size_t n,
                                     const double *p, ptrdiff_t p_rs, const double *t,
                                     ptrdiff_t t_rs, const double *sample_weight, double *value,
                                     double *grad, ptrdiff_t g_rs, double *prob, ptrdiff_t prob_rs);

/* -------------------------------------------------------------- optimizers */

typedef enum nc_optimizer_kind {
    NC_OPT_SGD = 0,   /* v = momentum*v - lr*g; w += v  (nesterov: w += momentum*v - lr*g) */
    NC_OPT_ADAM = 1,  /* m,v moments; w -= lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v)+eps) */
    NC_OPT_ADAMW = 2, /* w -= lr*weight_decay*w, then the Adam step (Keras order) */
    NC_OPT_RMSPROP =
        3 /* a = rho*a + (1-rho)*g^2; w -= lr*g/sqrt(a+eps) (Keras 3, incl. momentum) */
} nc_optimizer_kind;

typedef struct nc_optimizer {
    nc_optimizer_kind kind;
    double learning_rate;
    double momentum;                /* SGD, RMSprop */
    int nesterov;                   /* SGD */
    double beta_1, beta_2, epsilon; /* Adam, AdamW (epsilon also RMSprop) */
    double rho;                     /* RMSprop */
    double weight_decay;            /* AdamW */
    uint64_t iterations; /* steps taken so far; a step uses t = iterations+1 and increments it */
} nc_optimizer;

/* Number of state slots (each n elements) the optimizer needs: SGD 1
 * (velocity; unused when momentum == 0), Adam/AdamW 2 (m, v), RMSprop 2
 * (mean square, momentum buffer). */
size_t nc_optimizer_state_slots(nc_optimizer_kind kind);

/* One update of n parameters w from gradient g. state holds
 * nc_optimizer_state_slots(kind) slots of n elements, slot s at state + s*n,
 * zero-initialized before the first step; w, g and state must not overlap.
 * Increments opt->iterations. The
 * update is elementwise, so any partition of the n elements gives the same
 * bits. */
nc_status nc_optimizer_step_f32(nc_optimizer *opt, size_t n, float *w, const float *g,
                                float *state);
nc_status nc_optimizer_step_f64(nc_optimizer *opt, size_t n, double *w, const double *g,
                                double *state);
nc_status nc_optimizer_step_f32_ref(nc_optimizer *opt, size_t n, float *w, const float *g,
                                    float *state);
nc_status nc_optimizer_step_f64_ref(nc_optimizer *opt, size_t n, double *w, const double *g,
                                    double *state);

/* The same step restricted to the trainable parts of the buffer: ranges holds
 * n_ranges pairs [begin, end) of element indexes, ascending, not overlapping,
 * inside [0, n). Elements outside every range keep their value and their
 * state (frozen layers); optimizer->iterations still advances by one. The
 * step over the whole buffer is the single range [0, n). */
nc_status nc_optimizer_step_ranges_f32(nc_optimizer *opt, size_t n, float *w, const float *g,
                                       float *state, size_t n_ranges, const size_t *ranges);
nc_status nc_optimizer_step_ranges_f64(nc_optimizer *opt, size_t n, double *w, const double *g,
                                       double *state, size_t n_ranges, const size_t *ranges);
nc_status nc_optimizer_step_ranges_f32_ref(nc_optimizer *opt, size_t n, float *w, const float *g,
                                           float *state, size_t n_ranges, const size_t *ranges);
nc_status nc_optimizer_step_ranges_f64_ref(nc_optimizer *opt, size_t n, double *w, const double *g,
                                           double *state, size_t n_ranges, const size_t *ranges);

/* -------------------------------------------------- networks (see mlp.c) */

typedef enum nc_layer_kind {
    NC_LAYER_DENSE = 0,      /* y = act(x W + b), W n_in x n_out row-major */
    NC_LAYER_ACTIVATION = 1, /* y = act(x), n_in == n_out */
    NC_LAYER_DROPOUT = 2,    /* training: y = x * mask / (1-rate); inference: y = x */
    NC_LAYER_BATCH_NORM = 3, /* nc_batch_norm_forward per feature, n_in == n_out: training
                                (unless frozen) with the batch's mean and biased variance,
                                which train_epoch then moves the moving statistics towards;
                                inference (and frozen) with the moving statistics */
    NC_LAYER_FLATTEN = 4     /* y = x: a model's rank > 2 samples arrive as rows already */
} nc_layer_kind;

typedef enum nc_constraint {
    NC_CONSTRAINT_NONE = 0,
    NC_CONSTRAINT_NON_NEG = 1, /* W = max(W, 0) after each step */
    NC_CONSTRAINT_MAX_NORM = 2 /* each column W[:, j] rescaled to norm <= max_norm (Keras axis 0) */
} nc_constraint;

typedef struct nc_layer {
    nc_layer_kind kind;
    size_t n_in, n_out;
    nc_activation activation; /* DENSE (applied after the bias) and ACTIVATION */
    double activation_alpha;  /* leaky_relu / elu parameter */
    int use_bias;             /* DENSE */
    size_t weight_offset;     /* DENSE: W at params + weight_offset */
    size_t bias_offset;       /* DENSE with bias: b at params + bias_offset */
    double l2;                /* DENSE: adds l2 * sum(W^2) to the loss (0: none) */
    nc_constraint constraint; /* DENSE: applied to W after each optimizer step */
    double max_norm;          /* NC_CONSTRAINT_MAX_NORM */
    double dropout_rate;      /* DROPOUT, in [0, 1) */
    int frozen; /* DENSE: 1 = not trained (Keras trainable=False): no update, no weight decay,
                   no l2 penalty and no constraint for its W and b; gradients still flow
                   through it to the layers below. BATCH_NORM: the same for gamma and beta,
                   and the layer runs in inference mode in training too (Keras 3) */
    /* BATCH_NORM: moving = momentum * moving + (1 - momentum) * batch statistic, after
       each training batch; momentum in [0, 1], epsilon >= 0 */
    double momentum, epsilon;
    int scale, center; /* BATCH_NORM: gamma (scale) and beta (center) are present */
    /* BATCH_NORM: n_out values each at params + offset. The moving statistics are never
       touched by the optimizer (their gradient is 0, no update, no weight decay). */
    size_t gamma_offset, beta_offset, moving_mean_offset, moving_variance_offset;
} nc_layer;

typedef enum nc_metric {
    NC_METRIC_BINARY_ACCURACY = 0,             /* mean((p > 0.5) == t), as Keras: a label
                                                  other than 0 or 1 never counts as right */
    NC_METRIC_CATEGORICAL_ACCURACY = 1,        /* argmax p == argmax t */
    NC_METRIC_SPARSE_CATEGORICAL_ACCURACY = 2, /* argmax p == t */
    NC_METRIC_MSE = 3,
    NC_METRIC_MAE = 4,
    /* Keras's confusion-matrix metrics, over every output element: p > threshold
     * is a predicted positive, a target other than 0 a positive label. */
    NC_METRIC_PRECISION = 5,       /* tp / (tp + fp); 0 while nothing is predicted positive */
    NC_METRIC_RECALL = 6,          /* tp / (tp + fn); 0 while no label is positive */
    NC_METRIC_TRUE_POSITIVES = 7,  /* the counts themselves */
    NC_METRIC_FALSE_POSITIVES = 8, /* */
    NC_METRIC_TRUE_NEGATIVES = 9,  /* */
    NC_METRIC_FALSE_NEGATIVES = 10,
    /* Keras's AUC: the outputs clipped to [0, 1] fall into num_thresholds - 1
     * buckets, bucket(p) = max(ceil(p (num_thresholds - 1)) - 1, 0) computed in
     * the network's type; the confusion counts at thresholds i/(num_thresholds-1)
     * give the ROC or precision-recall curve, whose area is a Riemann sum
     * (interpolation: trapezoids for ROC and Davis & Goadrich's interpolation
     * of true and false positives for PR; minoring / majoring: the lower /
     * upper of the two ends of each interval). */
    NC_METRIC_AUC = 11,
    NC_METRIC_ROOT_MEAN_SQUARED_ERROR = 12 /* sqrt(mean((p - t)^2)) */
} nc_metric;

typedef enum nc_auc_curve { NC_AUC_ROC = 0, NC_AUC_PR = 1 } nc_auc_curve;
typedef enum nc_auc_summation {
    NC_AUC_INTERPOLATION = 0,
    NC_AUC_MINORING = 1,
    NC_AUC_MAJORING = 2
} nc_auc_summation;

/* The settings of one metric; a loop given none uses Keras's defaults
 * (threshold 0.5; 200 thresholds, ROC, interpolation). */
typedef struct nc_metric_params {
    double threshold;           /* BINARY_ACCURACY and the confusion-matrix metrics */
    size_t num_thresholds;      /* AUC: at least 2 */
    nc_auc_curve curve;         /* AUC */
    nc_auc_summation summation; /* AUC */
} nc_metric_params;

/* The doubles of state the metrics keep between batches (the confusion
 * counts, AUC's buckets, the squared-error sums), which a loop's caller
 * provides as metric_state; params may be NULL (the defaults). 0 for a
 * metric list that needs none. */
size_t nc_metric_state_size(const nc_metric *metrics, const nc_metric_params *params,
                            size_t n_metrics);

/* The most layers a network may have. */
#define NC_MAX_LAYERS 256

/* How a network scales its batch loss, its gradient and the l2 penalties.
 * S is the sum of the batch's sample weights (the batch size without them).
 * NC_SCALING_KERAS: the loss as nc_loss_value (sum_i w_i l_i / B) and each
 * layer's l2 * sum(W^2) whatever the batch.
 * NC_SCALING_SKLEARN, scikit-learn's MLP: sum_i w_i l_i / S with l_i the SUM
 * over outputs of the binary cross-entropy, half the MEAN squared error, the
 * other losses as nc_loss_value, except Poisson: the network's output is then
 * the log z of the predicted mean (scikit-learn's log link, whose output
 * activation is exp) and l_i the half deviance summed over outputs,
 * exp(z) - t z + t log t - t. Each layer's l2 * sum(W^2) / S. The gradient at
 * the output is w_i (p - t) / S (p = exp(z) for Poisson) for the squared error
 * too: n_out times the derivative of the value, as scikit-learn computes it. */
typedef enum nc_loss_scaling { NC_SCALING_KERAS = 0, NC_SCALING_SKLEARN = 1 } nc_loss_scaling;

typedef struct nc_network {
    size_t n_layers;
    const nc_layer *layers;
    size_t n_params; /* all parameters live in ONE flat buffer of this length */
    nc_loss loss;    /* when the last layer's activation is sigmoid (binary CE) or
                        softmax (categorical CEs), loss and gradient are taken
                        from the logits: stable, and exactly (p - t) scaled */
    /* zero (NC_SCALING_KERAS) in a zero-initialised description */
    nc_loss_scaling scaling;
} nc_network;

/* Threads: the network functions keep no state of their own, so calls may
 * run at the same time on several threads when each has its own workspace
 * and no call writes parameters (train_epoch) that another call reads. */

/* Checks the description (1 to NC_MAX_LAYERS layers, widths chain, offsets inside
 * n_params, enums and rates valid). Every function below calls it first. */
nc_status nc_network_check(const nc_network *net);

/* 1 when loss and gradient are taken from the logits of the last layer
 * (sigmoid with binary CE, softmax with the categorical CEs), else 0. */
int nc_network_uses_logits(const nc_network *net);

/* Bytes of workspace needed for batches of up to batch_size samples of the
 * given element size (4 or 8); SIZE_MAX if it does not fit in size_t. */
size_t nc_network_workspace_size(const nc_network *net, size_t batch_size, size_t elem_size);

/* Progress hook, called from inside the training loop between batches when
 * at least interval_seconds have passed since the previous call (and never
 * more than once per batch). Returning nonzero stops the epoch after the
 * batch just completed: the function returns NC_ERR_INTERRUPTED with the
 * parameters, optimizer and result consistent with the batches done. */
typedef int (*nc_progress_fn)(void *ctx, size_t batches_done, size_t samples_done, double loss_sum,
                              double weight_sum);

/* Where the training loop spends its time: seconds summed over the batches
 * of the nc_network_train_epoch calls given it in their options. A
 * diagnostic for developers (bench/train_phases.py): without one the loop
 * reads no clock. */
typedef struct nc_train_profile {
    uint64_t batches;
    double gather;                        /* copying the batch's rows, targets and weights */
    double forward;                       /* the forward pass ... */
    double layer_forward[NC_MAX_LAYERS];  /* ... layer by layer */
    double loss;                          /* loss and its gradient at the output */
    double backward;                      /* the backward pass ... */
    double layer_backward[NC_MAX_LAYERS]; /* ... layer by layer (dense: dW, db, dX) */
    double optimizer;                     /* the update of the flat buffer */
    double rest;                          /* constraints, metrics, the progress hook */
} nc_train_profile;

typedef struct nc_epoch_result nc_epoch_result;

/* Per-batch hook (Keras's on_train_batch_begin/end, on_test_batch_*), called
 * from inside the loop with the index of the batch in this call and the sums
 * of the batches finished so far. Returning nonzero stops the loop there: the
 * function returns NC_ERR_INTERRUPTED with everything consistent with the
 * batches done. */
typedef int (*nc_batch_fn)(void *ctx, size_t batch, const nc_epoch_result *so_far);

typedef struct nc_train_options {
    size_t batch_size;        /* >= 1; the last partial batch is included */
    const size_t *order;      /* NULL: samples in order; else a permutation of 0..n-1 */
    uint64_t seed;            /* dropout masks: a function of (seed, step, layer, element) */
    const nc_metric *metrics; /* metrics to accumulate over the epoch */
    size_t n_metrics;
    nc_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    double progress_interval_seconds;
    nc_batch_fn batch_begin; /* before each batch, may be NULL */
    nc_batch_fn batch_end;   /* after each batch's update, may be NULL */
    void *batch_ctx;
    nc_train_profile *profile; /* seconds per phase are added here; NULL: not measured */
    const nc_metric_params *metric_params; /* n_metrics of them, or NULL: the defaults */
    double *metric_state; /* nc_metric_state_size doubles (NULL when that is 0); the loop
                             zeroes it first */
} nc_train_options;

struct nc_epoch_result {
    size_t batches_done, samples_done;
    double loss_sum;         /* sum over batches of batch_loss * batch_weight */
    double weight_sum;       /* sum over batches of batch_weight (= batch size) */
    double metric_sums[8];   /* per metric, sum of per-sample values (accuracy: 0/1); */
    double metric_counts[8]; /* per metric, the count it is a mean over. A metric with
                                state (nc_metric_state_size) has its value so far as its
                                sum and 1 as its count */
    double last_loss;        /* the loss of the last batch attempted (NaN if none) */
};

/* One epoch of minibatch training, entirely in C: for each batch (taken in
 * `order`), forward pass, loss (+ l2 penalties), backward pass, optimizer
 * step over the trainable parts of the flat buffer (frozen layers and the
 * moving statistics keep their values), constraints, and the moving-average
 * update of each batch normalization layer that ran in training mode (Keras
 * makes it in its forward pass; it touches no parameter the optimizer does,
 * so the order is the same). x is n x n_in (row stride x_rs,
 * column stride 1), y is n x n_out (or n x 1 class indices for the sparse
 * loss), sample_weight n or NULL. grads (n_params) and opt_state (slots x
 * n_params) are caller-owned; workspace has at least
 * nc_network_workspace_size bytes, aligned to 64. Returns NC_ERR_NONFINITE,
 * without applying that batch's update, when a batch loss is not finite.
 * No allocation. */
nc_status nc_network_train_epoch_f32(const nc_network *net, nc_optimizer *opt, float *params,
                                     float *grads, float *opt_state, size_t n, const float *x,
                                     ptrdiff_t x_rs, const float *y, ptrdiff_t y_rs,
                                     const float *sample_weight, const nc_train_options *options,
                                     void *workspace, size_t workspace_bytes,
                                     nc_epoch_result *result);
nc_status nc_network_train_epoch_f64(const nc_network *net, nc_optimizer *opt, double *params,
                                     double *grads, double *opt_state, size_t n, const double *x,
                                     ptrdiff_t x_rs, const double *y, ptrdiff_t y_rs,
                                     const double *sample_weight, const nc_train_options *options,
                                     void *workspace, size_t workspace_bytes,
                                     nc_epoch_result *result);

/* 1 when every element of the m x n matrix x (row stride x_rs, column
 * stride 1) is finite, else 0. */
int nc_all_finite_f32(size_t m, size_t n, const float *x, ptrdiff_t x_rs);
int nc_all_finite_f64(size_t m, size_t n, const double *x, ptrdiff_t x_rs);

/* order[0..n) = a uniformly random permutation of 0..n-1 that depends on
 * (seed, stream) alone: the batch order of one training epoch. Fisher-Yates
 * with unbiased bounded integers (Lemire 2019, "Fast random integer
 * generation in an interval") drawn from splitmix64. */
void nc_permutation(size_t n, uint64_t seed, uint64_t stream, size_t *order);

/* Inference (dropout off): out = net(x), processed in chunks of batch_size
 * rows through the workspace.
 *   params     the network's flat parameter buffer (net->n_params values)
 *   x          n x n_in  (the first layer's n_in), row stride x_rs, column stride 1
 *   out        n x n_out (the last layer's n_out), row stride out_rs, column stride 1
 *   workspace  at least nc_network_workspace_size(net, batch_size, sizeof(T))
 *              bytes, aligned to 64; one per concurrent call (the call writes it)
 * Nothing but out and the workspace is written, so calls that share net and
 * params may run at once on several threads, each with its own workspace.
 * Denormals are flushed to zero during the call and the caller's
 * floating-point mode is restored before it returns. n == 0 writes nothing.
 * Returns NC_ERR_INVALID_ARGUMENT for batch_size 0, a NULL x, out or params
 * with n > 0, or a description nc_network_check refuses; NC_ERR_WORKSPACE for
 * a missing or too small workspace. */
nc_status nc_network_predict_f32(const nc_network *net, const float *params, size_t n,
                                 const float *x, ptrdiff_t x_rs, float *out, ptrdiff_t out_rs,
                                 size_t batch_size, void *workspace, size_t workspace_bytes);
nc_status nc_network_predict_f64(const nc_network *net, const double *params, size_t n,
                                 const double *x, ptrdiff_t x_rs, double *out, ptrdiff_t out_rs,
                                 size_t batch_size, void *workspace, size_t workspace_bytes);

typedef struct nc_eval_options {
    size_t batch_size;        /* >= 1: rows per forward pass */
    const nc_metric *metrics; /* metrics to accumulate (at most 8) */
    size_t n_metrics;
    nc_batch_fn batch_begin; /* may be NULL */
    nc_batch_fn batch_end;   /* may be NULL */
    void *batch_ctx;
    const nc_metric_params *metric_params; /* as in nc_train_options */
    double *metric_state;
} nc_eval_options;

/* Inference-mode loss and metrics over n samples, in batches: forward pass
 * (dropout off), the loss of each batch (+ l2 penalties) and the metrics,
 * with no backward pass and no parameter gradient. result->loss_sum /
 * result->weight_sum is the mean of the batch losses weighted by batch size
 * (the loss over all samples: sum_i w_i l_i / n + penalties), each metric
 * metric_sums[k] / metric_counts[k]. The workspace has at least
 * nc_network_workspace_size(net, batch_size) bytes. */
nc_status nc_network_evaluate_f32(const nc_network *net, const float *params, size_t n,
                                  const float *x, ptrdiff_t x_rs, const float *y, ptrdiff_t y_rs,
                                  const float *sample_weight, const nc_eval_options *options,
                                  void *workspace, size_t workspace_bytes, nc_epoch_result *result);
nc_status nc_network_evaluate_f64(const nc_network *net, const double *params, size_t n,
                                  const double *x, ptrdiff_t x_rs, const double *y, ptrdiff_t y_rs,
                                  const double *sample_weight, const nc_eval_options *options,
                                  void *workspace, size_t workspace_bytes, nc_epoch_result *result);

/* Loss (+ l2 penalties) and its full gradient over ONE batch of n samples
 * (n <= the batch_size the workspace was sized for), with dropout off unless
 * training != 0 (then masks come from seed and step 0, and batch
 * normalization layers that are not frozen use the batch's statistics). Does
 * not update anything but grads and *loss: not the moving statistics either.
 * Used by tests (finite differences) and by full-batch optimizers. */
nc_status nc_network_loss_grad_f32(const nc_network *net, const float *params, float *grads,
                                   size_t n, const float *x, ptrdiff_t x_rs, const float *y,
                                   ptrdiff_t y_rs, const float *sample_weight, int training,
                                   uint64_t seed, void *workspace, size_t workspace_bytes,
                                   double *loss);
nc_status nc_network_loss_grad_f64(const nc_network *net, const double *params, double *grads,
                                   size_t n, const double *x, ptrdiff_t x_rs, const double *y,
                                   ptrdiff_t y_rs, const double *sample_weight, int training,
                                   uint64_t seed, void *workspace, size_t workspace_bytes,
                                   double *loss);

#ifdef __cplusplus
}
#endif
#endif /* NNCORE_H */
