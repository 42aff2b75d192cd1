# Activations, losses, bias pieces and optimizer steps: bindings over
# csrc/activations.c, losses.c, optim.c and their *_ref twins. Arrays come
# checked from nncore/kernels.py: 2-D, one float dtype, unit column stride,
# row strides that are whole elements. `reference` selects the naive twin.


cdef inline ptrdiff_t row_stride(cnp.ndarray a) noexcept:
    return stride_of(a, 0)


def activation_forward(cnp.ndarray x, cnp.ndarray y, str name, double alpha,
                       bint reference=False):
    """y <- f(x) row by row (y may be x)."""
    cdef nc_activation act = ACTIVATION_CODES[name]
    cdef size_t m = x.shape[0], n = x.shape[1]
    cdef ptrdiff_t x_rs = row_stride(x), y_rs = row_stride(y)
    cdef void *px = data_of(x)
    cdef void *py = data_of(y)
    cdef nc_status status
    if is_f32(x):
        with nogil:
            if reference:
                status = nc_activation_forward_f32_ref(act, <float>alpha, m, n, <float *>px,
                                                       x_rs, <float *>py, y_rs)
            else:
                status = nc_activation_forward_f32(act, <float>alpha, m, n, <float *>px, x_rs,
                                                   <float *>py, y_rs)
    else:
        with nogil:
            if reference:
                status = nc_activation_forward_f64_ref(act, alpha, m, n, <double *>px, x_rs,
                                                       <double *>py, y_rs)
            else:
                status = nc_activation_forward_f64(act, alpha, m, n, <double *>px, x_rs,
                                                   <double *>py, y_rs)
    raise_for_status(status, "activation")


def activation_backward(cnp.ndarray x, cnp.ndarray y, cnp.ndarray dy, cnp.ndarray dx,
                        str name, double alpha, bint reference=False):
    """dx <- dL/dx from x, y = f(x) and dy = dL/dy (dx may be dy)."""
    cdef nc_activation act = ACTIVATION_CODES[name]
    cdef size_t m = x.shape[0], n = x.shape[1]
    cdef ptrdiff_t x_rs = row_stride(x), y_rs = row_stride(y)
    cdef ptrdiff_t dy_rs = row_stride(dy), dx_rs = row_stride(dx)
    cdef void *px = data_of(x)
    cdef void *py = data_of(y)
    cdef void *pdy = data_of(dy)
    cdef void *pdx = data_of(dx)
    cdef nc_status status
    if is_f32(x):
        with nogil:
            if reference:
                status = nc_activation_backward_f32_ref(
                    act, <float>alpha, m, n, <float *>px, x_rs, <float *>py, y_rs,
                    <float *>pdy, dy_rs, <float *>pdx, dx_rs)
            else:
                status = nc_activation_backward_f32(
                    act, <float>alpha, m, n, <float *>px, x_rs, <float *>py, y_rs,
                    <float *>pdy, dy_rs, <float *>pdx, dx_rs)
    else:
        with nogil:
            if reference:
                status = nc_activation_backward_f64_ref(
                    act, alpha, m, n, <double *>px, x_rs, <double *>py, y_rs,
                    <double *>pdy, dy_rs, <double *>pdx, dx_rs)
            else:
                status = nc_activation_backward_f64(
                    act, alpha, m, n, <double *>px, x_rs, <double *>py, y_rs,
                    <double *>pdy, dy_rs, <double *>pdx, dx_rs)
    raise_for_status(status, "activation_grad")


def loss_value(cnp.ndarray p, cnp.ndarray t, str name, bint from_logits, sample_weight,
               bint reference=False):
    """The loss of predictions p (m x n) against targets t (m x n, or m x 1 labels)."""
    cdef nc_loss loss = LOSS_CODES[name]
    cdef size_t m = p.shape[0], n = p.shape[1]
    cdef ptrdiff_t p_rs = row_stride(p), t_rs = row_stride(t)
    cdef void *pp = data_of(p)
    cdef void *pt = data_of(t)
    cdef void *pw = data_of(<cnp.ndarray>sample_weight) if sample_weight is not None else NULL
    cdef int logits = from_logits
    cdef double value = 0
    cdef nc_status status
    if is_f32(p):
        with nogil:
            if reference:
                status = nc_loss_value_f32_ref(loss, logits, m, n, <float *>pp, p_rs,
                                               <float *>pt, t_rs, <float *>pw, &value)
            else:
                status = nc_loss_value_f32(loss, logits, m, n, <float *>pp, p_rs, <float *>pt,
                                           t_rs, <float *>pw, &value)
    else:
        with nogil:
            if reference:
                status = nc_loss_value_f64_ref(loss, logits, m, n, <double *>pp, p_rs,
                                               <double *>pt, t_rs, <double *>pw, &value)
            else:
                status = nc_loss_value_f64(loss, logits, m, n, <double *>pp, p_rs,
                                           <double *>pt, t_rs, <double *>pw, &value)
    raise_for_status(status, "loss")
    return value


def loss_gradient(cnp.ndarray p, cnp.ndarray t, str name, bint from_logits, sample_weight,
                  cnp.ndarray grad, bint reference=False):
    """grad <- d loss / d p (grad may be p)."""
    cdef nc_loss loss = LOSS_CODES[name]
    cdef size_t m = p.shape[0], n = p.shape[1]
    cdef ptrdiff_t p_rs = row_stride(p), t_rs = row_stride(t), g_rs = row_stride(grad)
    cdef void *pp = data_of(p)
    cdef void *pt = data_of(t)
    cdef void *pg = data_of(grad)
    cdef void *pw = data_of(<cnp.ndarray>sample_weight) if sample_weight is not None else NULL
    cdef int logits = from_logits
    cdef nc_status status
    if is_f32(p):
        with nogil:
            if reference:
                status = nc_loss_grad_f32_ref(loss, logits, m, n, <float *>pp, p_rs,
                                              <float *>pt, t_rs, <float *>pw, <float *>pg, g_rs)
            else:
                status = nc_loss_grad_f32(loss, logits, m, n, <float *>pp, p_rs, <float *>pt,
                                          t_rs, <float *>pw, <float *>pg, g_rs)
    else:
        with nogil:
            if reference:
                status = nc_loss_grad_f64_ref(loss, logits, m, n, <double *>pp, p_rs,
                                              <double *>pt, t_rs, <double *>pw, <double *>pg,
                                              g_rs)
            else:
                status = nc_loss_grad_f64(loss, logits, m, n, <double *>pp, p_rs,
                                          <double *>pt, t_rs, <double *>pw, <double *>pg, g_rs)
    raise_for_status(status, "loss_grad")


def loss_value_gradient(cnp.ndarray p, cnp.ndarray t, str name, bint from_logits, sample_weight,
                        cnp.ndarray grad, prob=None, bint reference=False):
    """The loss value, grad <- d loss / d p and (from logits) prob <- the
    output activation of p, in one call. grad and prob must not overlap p."""
    cdef nc_loss loss = LOSS_CODES[name]
    cdef size_t m = p.shape[0], n = p.shape[1]
    cdef ptrdiff_t p_rs = row_stride(p), t_rs = row_stride(t), g_rs = row_stride(grad)
    cdef ptrdiff_t q_rs = row_stride(<cnp.ndarray>prob) if prob is not None else 0
    cdef void *pp = data_of(p)
    cdef void *pt = data_of(t)
    cdef void *pg = data_of(grad)
    cdef void *pq = data_of(<cnp.ndarray>prob) if prob is not None else NULL
    cdef void *pw = data_of(<cnp.ndarray>sample_weight) if sample_weight is not None else NULL
    cdef int logits = from_logits
    cdef double value = 0
    cdef nc_status status
    if is_f32(p):
        with nogil:
            if reference:
                status = nc_loss_value_grad_f32_ref(loss, logits, m, n, <float *>pp, p_rs,
                                                    <float *>pt, t_rs, <float *>pw, &value,
                                                    <float *>pg, g_rs, <float *>pq, q_rs)
            else:
                status = nc_loss_value_grad_f32(loss, logits, m, n, <float *>pp, p_rs,
                                                <float *>pt, t_rs, <float *>pw, &value,
                                                <float *>pg, g_rs, <float *>pq, q_rs)
    else:
        with nogil:
            if reference:
                status = nc_loss_value_grad_f64_ref(loss, logits, m, n, <double *>pp, p_rs,
                                                    <double *>pt, t_rs, <double *>pw, &value,
                                                    <double *>pg, g_rs, <double *>pq, q_rs)
            else:
                status = nc_loss_value_grad_f64(loss, logits, m, n, <double *>pp, p_rs,
                                                <double *>pt, t_rs, <double *>pw, &value,
                                                <double *>pg, g_rs, <double *>pq, q_rs)
    raise_for_status(status, "loss_value_grad")
    return value

def bias_add(cnp.ndarray bias, cnp.ndarray y, bint reference=False):
    """y[i, :] += bias."""
    cdef size_t m = y.shape[0], n = y.shape[1]
    cdef ptrdiff_t y_rs = row_stride(y)
    cdef void *pb = data_of(bias)
    cdef void *py = data_of(y)
    cdef nc_status status
    if is_f32(y):
        with nogil:
            status = (nc_bias_add_f32_ref if reference else nc_bias_add_f32)(
                m, n, <float *>pb, <float *>py, y_rs)
    else:
        with nogil:
            status = (nc_bias_add_f64_ref if reference else nc_bias_add_f64)(
                m, n, <double *>pb, <double *>py, y_rs)
    raise_for_status(status, "bias_add")


def bias_grad(cnp.ndarray dy, cnp.ndarray dbias, double beta, bint reference=False):
    """dbias <- beta * dbias + column sums of dy."""
    cdef size_t m = dy.shape[0], n = dy.shape[1]
    cdef ptrdiff_t dy_rs = row_stride(dy)
    cdef void *pdy = data_of(dy)
    cdef void *pb = data_of(dbias)
    cdef nc_status status
    if is_f32(dy):
        with nogil:
            status = (nc_bias_grad_f32_ref if reference else nc_bias_grad_f32)(
                m, n, <float *>pdy, dy_rs, <float>beta, <float *>pb)
    else:
        with nogil:
            status = (nc_bias_grad_f64_ref if reference else nc_bias_grad_f64)(
                m, n, <double *>pdy, dy_rs, beta, <double *>pb)
    raise_for_status(status, "bias_grad")


def optimizer_step(dict optimizer, cnp.ndarray w, cnp.ndarray g, cnp.ndarray state,
                   bint reference=False):
    """One update of the contiguous 1-D w from g; state holds the slots.
    optimizer: the dict of Network.train_epoch; its "iterations" is updated."""
    cdef nc_optimizer opt
    opt.kind = OPTIMIZER_CODES[optimizer["kind"]]
    opt.learning_rate = optimizer["learning_rate"]
    opt.momentum = optimizer["momentum"]
    opt.nesterov = bool(optimizer["nesterov"])
    opt.beta_1, opt.beta_2 = optimizer["beta_1"], optimizer["beta_2"]
    opt.epsilon, opt.rho = optimizer["epsilon"], optimizer["rho"]
    opt.weight_decay = optimizer["weight_decay"]
    opt.iterations = optimizer["iterations"]
    cdef size_t n = w.shape[0]
    if (g.shape[0] != w.shape[0] or <size_t>state.shape[0] != nc_optimizer_state_slots(opt.kind) * n
            or not (w.flags.c_contiguous and g.flags.c_contiguous and state.flags.c_contiguous)
            or not (w.dtype == g.dtype == state.dtype)):
        raise ValueError("optimizer_step: w, g and state must be contiguous arrays of one dtype "
                         "with len(g) == len(w) and len(state) == slots * len(w)")
    cdef void *pw = data_of(w)
    cdef void *pg = data_of(g)
    cdef void *ps = data_of(state)
    cdef nc_status status
    if is_f32(w):
        with nogil:
            status = (nc_optimizer_step_f32_ref if reference else nc_optimizer_step_f32)(
                &opt, n, <float *>pw, <float *>pg, <float *>ps)
    else:
        with nogil:
            status = (nc_optimizer_step_f64_ref if reference else nc_optimizer_step_f64)(
                &opt, n, <double *>pw, <double *>pg, <double *>ps)
    raise_for_status(status, "optimizer_step")
    optimizer["iterations"] = opt.iterations
