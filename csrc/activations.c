/* activations.c -- public activation entry points (reference loops for now). */
#include "nncore.h"

nc_status nc_activation_forward_f32(nc_activation act, float alpha, size_t m, size_t n,
                                    const float *x, ptrdiff_t x_rs, float *y, ptrdiff_t y_rs)
{
    return nc_activation_forward_f32_ref(act, alpha, m, n, x, x_rs, y, y_rs);
}

nc_status nc_activation_forward_f64(nc_activation act, double alpha, size_t m, size_t n,
                                    const double *x, ptrdiff_t x_rs, double *y, ptrdiff_t y_rs)
{
    return nc_activation_forward_f64_ref(act, alpha, m, n, x, x_rs, y, y_rs);
}

nc_status nc_activation_backward_f32(nc_activation act, float alpha, size_t m, size_t n,
                                     const float *x, ptrdiff_t x_rs, const float *y, ptrdiff_t y_rs,
                                     const float *dy, ptrdiff_t dy_rs, float *dx, ptrdiff_t dx_rs)
{
    return nc_activation_backward_f32_ref(act, alpha, m, n, x, x_rs, y, y_rs, dy, dy_rs, dx, dx_rs);
}

nc_status nc_activation_backward_f64(nc_activation act, double alpha, size_t m, size_t n,
                                     const double *x, ptrdiff_t x_rs, const double *y,
                                     ptrdiff_t y_rs, const double *dy, ptrdiff_t dy_rs, double *dx,
                                     ptrdiff_t dx_rs)
{
    return nc_activation_backward_f64_ref(act, alpha, m, n, x, x_rs, y, y_rs, dy, dy_rs, dx, dx_rs);
}

nc_status nc_bias_add_f32(size_t m, size_t n, const float *bias, float *y, ptrdiff_t y_rs)
{
    return nc_bias_add_f32_ref(m, n, bias, y, y_rs);
}

nc_status nc_bias_add_f64(size_t m, size_t n, const double *bias, double *y, ptrdiff_t y_rs)
{
    return nc_bias_add_f64_ref(m, n, bias, y, y_rs);
}

nc_status nc_bias_grad_f32(size_t m, size_t n, const float *dy, ptrdiff_t dy_rs, float beta,
                           float *dbias)
{
    return nc_bias_grad_f32_ref(m, n, dy, dy_rs, beta, dbias);
}

nc_status nc_bias_grad_f64(size_t m, size_t n, const double *dy, ptrdiff_t dy_rs, double beta,
                           double *dbias)
{
    return nc_bias_grad_f64_ref(m, n, dy, dy_rs, beta, dbias);
}
