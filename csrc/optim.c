/* optim.c -- public optimizer entry points (reference loops for now). */
#include "nncore.h"

size_t nc_optimizer_state_slots(nc_optimizer_kind kind)
{
    return kind == NC_OPT_SGD ? 1 : 2;
}

nc_status nc_optimizer_step_f32(nc_optimizer *opt, size_t n, float *w, const float *g, float *state)
{
    return nc_optimizer_step_f32_ref(opt, n, w, g, state);
}

nc_status nc_optimizer_step_f64(nc_optimizer *opt, size_t n, double *w, const double *g,
                                double *state)
{
    return nc_optimizer_step_f64_ref(opt, n, w, g, state);
}
