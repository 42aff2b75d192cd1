/* losses.c -- public loss entry points (reference loops for now). */
#include "nncore.h"

nc_status nc_loss_value_f32(nc_loss loss, int from_logits, size_t m, size_t n, const float *p,
                            ptrdiff_t p_rs, const float *t, ptrdiff_t t_rs,
                            const float *sample_weight, double *value)
{
    return nc_loss_value_f32_ref(loss, from_logits, m, n, p, p_rs, t, t_rs, sample_weight, value);
}

nc_status nc_loss_value_f64(nc_loss loss, int from_logits, size_t m, size_t n, const double *p,
                            ptrdiff_t p_rs, const double *t, ptrdiff_t t_rs,
                            const double *sample_weight, double *value)
{
    return nc_loss_value_f64_ref(loss, from_logits, m, n, p, p_rs, t, t_rs, sample_weight, value);
}

nc_status nc_loss_grad_f32(nc_loss loss, int from_logits, size_t m, size_t n, const float *p,
                           ptrdiff_t p_rs, const float *t, ptrdiff_t t_rs,
                           const float *sample_weight, float *grad, ptrdiff_t g_rs)
{
    return nc_loss_grad_f32_ref(loss, from_logits, m, n, p, p_rs, t, t_rs, sample_weight, grad,
                                g_rs);
}

nc_status nc_loss_grad_f64(nc_loss loss, int from_logits, size_t m, size_t n, const double *p,
                           ptrdiff_t p_rs, const double *t, ptrdiff_t t_rs,
                           const double *sample_weight, double *grad, ptrdiff_t g_rs)
{
    return nc_loss_grad_f64_ref(loss, from_logits, m, n, p, p_rs, t, t_rs, sample_weight, grad,
                                g_rs);
}
