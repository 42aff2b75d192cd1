# Activations, losses, bias pieces and optimizer steps: bindings over
# csrc/activations.c, losses.c, optim.c and their *_ref twins. Each checks
# its arrays (check_rows): 2-D, one float dtype, aligned, unit column
# stride, row strides that are whole elements, matching shapes, outputs
# writable and apart from the inputs they may not alias. `reference`
# selects the naive twin.


cdef inline ptrdiff_t row_stride(cnp.ndarray a) noexcept:
    return stride_of(a, 0)


cdef int check_rows(object x, str where, str name, int type_num, tuple shape,
                    bint writable) except -1:
    """x: a 2-D array of rows with adjacent columns (shape checked unless None)."""
    check_array(x, where, name, 2, type_num, writable)
    if shape is not None:
        check_shape(x, where, name, shape)
    check_unit_columns(x, where, name)
    return 0


cdef int check_vector(object x, str where, str name, int type_num, Py_ssize_t length,
                      bint writable) except -1:
    """x: a contiguous 1-D array of `length` elements."""
    check_array(x, where, name, 1, type_num, writable)
    check_shape(x, where, name, (length,))
    if length > 1 and x.strides[0] != x.itemsize:
        raise ValueError(f"{where}: {name} must be contiguous; got strides {x.strides}")
    return 0


cdef int code_of(dict table, object name, str where, str what) except -1:
    if not isinstance(name, str) or name not in table:
        raise ValueError(f"{where}: {what} must be one of {', '.join(table)}; got {name!r}")
    return table[name]


def activation_forward(x, y, name, double alpha, bint reference=False):
    """y <- f(x) row by row (y may be x)."""
    where = "activation"
    cdef nc_activation act = <nc_activation>code_of(ACTIVATION_CODES, name, where, "name")
    check_rows(x, where, "x", -1, None, False)
    check_rows(y, where, "y", cnp.PyArray_TYPE(<cnp.ndarray>x), x.shape, True)
    check_apart(y, "y", x, "x", where, True)
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


def activation_backward(x, y, dy, dx, name, double alpha, bint reference=False):
    """dx <- dL/dx from x, y = f(x) and dy = dL/dy (dx may be dy)."""
    where = "activation_grad"
    cdef nc_activation act = <nc_activation>code_of(ACTIVATION_CODES, name, where, "name")
    check_rows(x, where, "x", -1, None, False)
    cdef int kind = cnp.PyArray_TYPE(<cnp.ndarray>x)
    check_rows(y, where, "y", kind, x.shape, False)
    check_rows(dy, where, "dy", kind, x.shape, False)
    check_rows(dx, where, "dx", kind, x.shape, True)
    check_apart(dx, "dx", x, "x", where, False)
    check_apart(dx, "dx", y, "y", where, False)
    check_apart(dx, "dx", dy, "dy", where, True)
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


cdef int check_loss_arrays(object p, object t, object sample_weight, nc_loss loss,
                           str where) except -1:
    """p (m, n); t (m, n), or (m, 1) labels for the sparse loss; sample_weight
    None or (m,) contiguous; one float dtype."""
    check_rows(p, where, "p", -1, None, False)
    cdef int kind = cnp.PyArray_TYPE(<cnp.ndarray>p)
    m = p.shape[0]
    width = 1 if loss == NC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY else p.shape[1]
    check_rows(t, where, "t", kind, (m, width), False)
    if sample_weight is not None:
        check_vector(sample_weight, where, "sample_weight", kind, m, False)
    return 0


def loss_value(p, t, name, bint from_logits, sample_weight, bint reference=False):
    """The loss of predictions p (m x n) against targets t (m x n, or m x 1 labels)."""
    cdef nc_loss loss = <nc_loss>code_of(LOSS_CODES, name, "loss", "name")
    check_loss_arrays(p, t, sample_weight, loss, "loss")
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


def loss_gradient(p, t, name, bint from_logits, sample_weight, grad, bint reference=False):
    """grad <- d loss / d p (grad may be p)."""
    where = "loss_grad"
    cdef nc_loss loss = <nc_loss>code_of(LOSS_CODES, name, where, "name")
    check_loss_arrays(p, t, sample_weight, loss, where)
    check_rows(grad, where, "grad", cnp.PyArray_TYPE(<cnp.ndarray>p), p.shape, True)
    check_apart(grad, "grad", p, "p", where, True)
    check_apart(grad, "grad", t, "t", where, False)
    if sample_weight is not None:
        check_apart(grad, "grad", sample_weight, "sample_weight", where, False)
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


def loss_value_gradient(p, t, name, bint from_logits, sample_weight, grad, prob=None,
                        bint reference=False):
    """The loss value, grad <- d loss / d p and (from logits) prob <- the
    output activation of p, in one call. grad and prob must not overlap p."""
    where = "loss_value_grad"
    cdef nc_loss loss = <nc_loss>code_of(LOSS_CODES, name, where, "name")
    check_loss_arrays(p, t, sample_weight, loss, where)
    cdef int kind = cnp.PyArray_TYPE(<cnp.ndarray>p)
    outputs = [(grad, "grad")] + ([(prob, "prob")] if prob is not None else [])
    for arr, arg in outputs:
        check_rows(arr, where, arg, kind, p.shape, True)
        check_apart(arr, arg, p, "p", where, False)
        check_apart(arr, arg, t, "t", where, False)
        if sample_weight is not None:
            check_apart(arr, arg, sample_weight, "sample_weight", where, False)
    if prob is not None:
        check_apart(prob, "prob", grad, "grad", where, False)
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

def bias_add(bias, y, bint reference=False):
    """y[i, :] += bias."""
    check_rows(y, "bias_add", "y", -1, None, True)
    check_vector(bias, "bias_add", "bias", cnp.PyArray_TYPE(<cnp.ndarray>y), y.shape[1], False)
    check_apart(y, "y", bias, "bias", "bias_add", False)
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


def bias_grad(dy, dbias, double beta, bint reference=False):
    """dbias <- beta * dbias + column sums of dy."""
    check_rows(dy, "bias_grad", "dy", -1, None, False)
    check_vector(dbias, "bias_grad", "dbias", cnp.PyArray_TYPE(<cnp.ndarray>dy), dy.shape[1], True)
    check_apart(dbias, "dbias", dy, "dy", "bias_grad", False)
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


cdef void *optional_vector(object v, str where, str name, int type_num, Py_ssize_t length,
                           bint writable) except? NULL:
    """The data of a checked vector, or NULL for None."""
    if v is None:
        return NULL
    check_vector(v, where, name, type_num, length, writable)
    return data_of(v)


def batch_norm_stats(x, mean, var, bint reference=False):
    """mean, var <- the column means and biased variances of x (m >= 1 rows)."""
    where = "batch_norm_stats"
    check_rows(x, where, "x", -1, None, False)
    cdef int kind = cnp.PyArray_TYPE(<cnp.ndarray>x)
    cdef size_t m = x.shape[0], n = x.shape[1]
    check_vector(mean, where, "mean", kind, n, True)
    check_vector(var, where, "var", kind, n, True)
    for out, name in ((mean, "mean"), (var, "var")):
        check_apart(out, name, x, "x", where, False)
    check_apart(mean, "mean", var, "var", where, False)
    cdef ptrdiff_t x_rs = row_stride(x)
    cdef void *px = data_of(x)
    cdef void *pm = data_of(mean)
    cdef void *pv = data_of(var)
    cdef nc_status status
    if is_f32(x):
        with nogil:
            status = (nc_batch_norm_stats_f32_ref if reference else nc_batch_norm_stats_f32)(
                m, n, <float *>px, x_rs, <float *>pm, <float *>pv)
    else:
        with nogil:
            status = (nc_batch_norm_stats_f64_ref if reference else nc_batch_norm_stats_f64)(
                m, n, <double *>px, x_rs, <double *>pm, <double *>pv)
    raise_for_status(status, where)


def batch_norm_forward(x, mean, var, gamma, beta, double epsilon, y, bint reference=False):
    """y <- gamma * (x - mean) / sqrt(var + epsilon) + beta per column (gamma,
    beta None: 1, 0). y may be x."""
    where = "batch_norm_forward"
    check_rows(x, where, "x", -1, None, False)
    cdef int kind = cnp.PyArray_TYPE(<cnp.ndarray>x)
    cdef size_t m = x.shape[0], n = x.shape[1]
    check_rows(y, where, "y", kind, (x.shape[0], x.shape[1]), True)
    cdef void *pm = optional_vector(mean, where, "mean", kind, n, False)
    cdef void *pv = optional_vector(var, where, "var", kind, n, False)
    if pm == NULL or pv == NULL:
        raise TypeError(f"{where}: mean and var must be arrays")
    cdef void *pg = optional_vector(gamma, where, "gamma", kind, n, False)
    cdef void *pb = optional_vector(beta, where, "beta", kind, n, False)
    check_apart(y, "y", x, "x", where, True)
    for v, name in ((mean, "mean"), (var, "var"), (gamma, "gamma"), (beta, "beta")):
        if v is not None:
            check_apart(y, "y", v, name, where, False)
    cdef ptrdiff_t x_rs = row_stride(x), y_rs = row_stride(y)
    cdef void *px = data_of(x)
    cdef void *py = data_of(y)
    cdef nc_status status
    if is_f32(x):
        with nogil:
            status = (nc_batch_norm_forward_f32_ref if reference else nc_batch_norm_forward_f32)(
                m, n, <float *>px, x_rs, <float *>pm, <float *>pv, <float *>pg, <float *>pb,
                <float>epsilon, <float *>py, y_rs)
    else:
        with nogil:
            status = (nc_batch_norm_forward_f64_ref if reference else nc_batch_norm_forward_f64)(
                m, n, <double *>px, x_rs, <double *>pm, <double *>pv, <double *>pg,
                <double *>pb, epsilon, <double *>py, y_rs)
    raise_for_status(status, where)


def batch_norm_backward(x, mean, var, gamma, double epsilon, bint batch_stats, dy, dgamma, dbeta,
                        dx, bint reference=False):
    """dgamma, dbeta, dx <- the gradients of batch_norm_forward from dy (any of
    the three None: not wanted; gamma None: 1). dx may be dy."""
    where = "batch_norm_backward"
    check_rows(x, where, "x", -1, None, False)
    cdef int kind = cnp.PyArray_TYPE(<cnp.ndarray>x)
    cdef size_t m = x.shape[0], n = x.shape[1]
    check_rows(dy, where, "dy", kind, (x.shape[0], x.shape[1]), False)
    cdef void *pm = optional_vector(mean, where, "mean", kind, n, False)
    cdef void *pv = optional_vector(var, where, "var", kind, n, False)
    if pm == NULL or pv == NULL:
        raise TypeError(f"{where}: mean and var must be arrays")
    cdef void *pg = optional_vector(gamma, where, "gamma", kind, n, False)
    cdef void *pdg = optional_vector(dgamma, where, "dgamma", kind, n, True)
    cdef void *pdb = optional_vector(dbeta, where, "dbeta", kind, n, True)
    cdef void *pdx = NULL
    cdef ptrdiff_t dx_rs = 0
    if dx is not None:
        check_rows(dx, where, "dx", kind, (x.shape[0], x.shape[1]), True)
        check_apart(dx, "dx", dy, "dy", where, True)
        for v, name in ((x, "x"), (mean, "mean"), (var, "var"), (gamma, "gamma")):
            if v is not None:
                check_apart(dx, "dx", v, name, where, False)
        pdx = data_of(dx)
        dx_rs = row_stride(dx)
    for out, name in ((dgamma, "dgamma"), (dbeta, "dbeta")):
        if out is None:
            continue
        for v, other in ((x, "x"), (dy, "dy"), (mean, "mean"), (var, "var"), (gamma, "gamma"),
                         (dx, "dx")):
            if v is not None:
                check_apart(out, name, v, other, where, False)
    if dgamma is not None and dbeta is not None:
        check_apart(dgamma, "dgamma", dbeta, "dbeta", where, False)
    cdef ptrdiff_t x_rs = row_stride(x), dy_rs = row_stride(dy)
    cdef void *px = data_of(x)
    cdef void *pdy = data_of(dy)
    cdef nc_status status
    cdef int stats = batch_stats
    if is_f32(x):
        with nogil:
            status = (nc_batch_norm_backward_f32_ref if reference else nc_batch_norm_backward_f32)(
                m, n, <float *>px, x_rs, <float *>pm, <float *>pv, <float *>pg, <float>epsilon,
                stats, <float *>pdy, dy_rs, <float *>pdg, <float *>pdb, <float *>pdx, dx_rs)
    else:
        with nogil:
            status = (nc_batch_norm_backward_f64_ref if reference else nc_batch_norm_backward_f64)(
                m, n, <double *>px, x_rs, <double *>pm, <double *>pv, <double *>pg, epsilon,
                stats, <double *>pdy, dy_rs, <double *>pdg, <double *>pdb, <double *>pdx, dx_rs)
    raise_for_status(status, where)


def optimizer_step(dict optimizer, w, g, state, bint reference=False):
    """One update of the contiguous 1-D w from g; state holds the slots.
    optimizer: the dict of Network.train_epoch; its "iterations" is updated."""
    where = "optimizer_step"
    check_array(w, where, "w", 1, -1, True)
    cdef int kind = cnp.PyArray_TYPE(<cnp.ndarray>w)
    check_array(g, where, "g", 1, kind, False)
    check_array(state, where, "state", 1, kind, True)
    for arr, arg in ((g, "g"), (state, "state")):
        check_apart(w, "w", arr, arg, where, False)
    check_apart(state, "state", g, "g", where, False)
    cdef nc_optimizer opt
    opt.kind = <nc_optimizer_kind>code_of(OPTIMIZER_CODES, optimizer["kind"], where, "kind")
    fill_optimizer(&opt, optimizer)
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
