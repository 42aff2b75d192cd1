# GEMM binding.

cdef int check_gemm_operands(object a, object b, object c, str where) except -1:
    """a (m, k), b (k, n) and c (m, n) for nc_gemm: one float dtype (c's),
    c writable and apart from a and b."""
    check_array(c, where, "c", 2, -1, True)
    cdef int kind = cnp.PyArray_TYPE(<cnp.ndarray>c)
    check_array(a, where, "a", 2, kind, False)
    check_array(b, where, "b", 2, kind, False)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"{where}: the rows of b ({b.shape[0]}) must match the columns of a "
                         f"({a.shape[1]})")
    check_shape(c, where, "c", (a.shape[0], b.shape[1]))
    check_apart(c, "c", a, "a", where, False)
    check_apart(c, "c", b, "b", where, False)
    return 0


def gemm(a, b, c, double alpha, double beta, bint reference=False):
    """c <- alpha * a @ b + beta * c, in place.

    a (m, k), b (k, n), c (m, n): 2-D arrays of one dtype (float32 or
    float64), aligned, whose strides are whole elements (negative too); c
    writable and apart from a and b. Anything else raises ValueError or
    TypeError naming the argument.
    """
    check_gemm_operands(a, b, c, "gemm")
    cdef size_t m = a.shape[0], k = a.shape[1], n = b.shape[1]
    cdef ptrdiff_t a_rs = stride_of(a, 0), a_cs = stride_of(a, 1)
    cdef ptrdiff_t b_rs = stride_of(b, 0), b_cs = stride_of(b, 1)
    cdef ptrdiff_t c_rs = stride_of(c, 0), c_cs = stride_of(c, 1)
    cdef void *pa = data_of(a)
    cdef void *pb = data_of(b)
    cdef void *pc = data_of(c)
    cdef nc_status status
    if is_f32(c):
        with nogil:
            if reference:
                status = nc_gemm_f32_ref(m, n, k, <float>alpha, <float *>pa, a_rs, a_cs,
                                         <float *>pb, b_rs, b_cs, <float>beta,
                                         <float *>pc, c_rs, c_cs)
            else:
                status = nc_gemm_f32(m, n, k, <float>alpha, <float *>pa, a_rs, a_cs,
                                     <float *>pb, b_rs, b_cs, <float>beta,
                                     <float *>pc, c_rs, c_cs)
    else:
        with nogil:
            if reference:
                status = nc_gemm_f64_ref(m, n, k, alpha, <double *>pa, a_rs, a_cs,
                                         <double *>pb, b_rs, b_cs, beta,
                                         <double *>pc, c_rs, c_cs)
            else:
                status = nc_gemm_f64(m, n, k, alpha, <double *>pa, a_rs, a_cs,
                                     <double *>pb, b_rs, b_cs, beta,
                                     <double *>pc, c_rs, c_cs)
    raise_for_status(status, "gemm")


def gemm_epilogue(a, b, c, double alpha, double beta, str kind, str activation,
                  double act_alpha=0.0, bias=None, out=None, z=None, y=None,
                  bint reference=False):
    """c <- alpha * a @ b + beta * c, then the epilogue on each finished tile.

    kind "bias_activation": c += bias (when given), then out = act(c) (c
    itself when out is None); kind "activation_grad": c = act'(z, y) * c.
    For tests and for code that builds its own layers: a, b, c as for gemm,
    c with adjacent columns; bias (n,) contiguous; out, z and y (m, n) with
    adjacent columns; one dtype. Anything else raises ValueError/TypeError.
    """
    where = "gemm_epilogue"
    check_gemm_operands(a, b, c, where)
    check_unit_columns(c, where, "c")
    if kind not in ("bias_activation", "activation_grad"):
        raise ValueError(f"{where}: kind must be 'bias_activation' or 'activation_grad'; "
                         f"got {kind!r}")
    if activation not in ACTIVATION_CODES:
        raise ValueError(f"{where}: activation must be one of {', '.join(ACTIVATION_CODES)}; "
                         f"got {activation!r}")
    cdef int dtype_num = cnp.PyArray_TYPE(<cnp.ndarray>c)
    shape = (a.shape[0], b.shape[1])
    if bias is not None:
        check_array(bias, where, "bias", 1, dtype_num, False)
        check_shape(bias, where, "bias", (shape[1],))
        if shape[1] > 1 and bias.strides[0] != bias.itemsize:
            raise ValueError(f"{where}: bias must be contiguous")
    for arr, arg in ((out, "out"), (z, "z"), (y, "y")):
        if arr is not None:
            check_array(arr, where, arg, 2, dtype_num, arg == "out")
            check_shape(arr, where, arg, shape)
            check_unit_columns(arr, where, arg)
            check_apart(c, "c", arr, arg, where, False)
    if out is not None:
        check_apart(out, "out", a, "a", where, False)
        check_apart(out, "out", b, "b", where, False)
    if kind == "activation_grad" and (z is None or y is None):
        raise ValueError(f"{where}: kind 'activation_grad' needs z and y")
    cdef size_t m = a.shape[0], k = a.shape[1], n = b.shape[1]
    cdef ptrdiff_t a_rs = stride_of(a, 0), a_cs = stride_of(a, 1)
    cdef ptrdiff_t b_rs = stride_of(b, 0), b_cs = stride_of(b, 1)
    cdef ptrdiff_t c_rs = stride_of(c, 0), c_cs = stride_of(c, 1)
    cdef void *pa = data_of(a)
    cdef void *pb = data_of(b)
    cdef void *pc = data_of(c)
    cdef nc_epilogue_f32 e32
    cdef nc_epilogue_f64 e64
    cdef nc_epilogue_kind code = (NC_EPILOGUE_BIAS_ACTIVATION if kind == "bias_activation"
                                  else NC_EPILOGUE_ACTIVATION_GRAD)
    cdef int act = ACTIVATION_CODES[activation]
    cdef void *pbias = data_of(<cnp.ndarray>bias) if bias is not None else NULL
    cdef void *pout = data_of(<cnp.ndarray>out) if out is not None else NULL
    cdef void *pz = data_of(<cnp.ndarray>z) if z is not None else NULL
    cdef void *py = data_of(<cnp.ndarray>y) if y is not None else NULL
    cdef ptrdiff_t out_rs = stride_of(<cnp.ndarray>out, 0) if out is not None else 0
    cdef ptrdiff_t z_rs = stride_of(<cnp.ndarray>z, 0) if z is not None else 0
    cdef ptrdiff_t y_rs = stride_of(<cnp.ndarray>y, 0) if y is not None else 0
    cdef nc_status status
    if is_f32(c):
        e32.kind = code
        e32.activation = act
        e32.alpha = <float>act_alpha
        e32.bias = <float *>pbias
        e32.out = <float *>pout
        e32.out_rs = out_rs
        e32.z = <float *>pz
        e32.a = <float *>py
        e32.z_rs = z_rs
        e32.a_rs = y_rs
        with nogil:
            if reference:
                status = nc_gemm_epilogue_f32_ref(m, n, k, <float>alpha, <float *>pa, a_rs, a_cs,
                                                  <float *>pb, b_rs, b_cs, <float>beta,
                                                  <float *>pc, c_rs, c_cs, &e32)
            else:
                status = nc_gemm_epilogue_f32(m, n, k, <float>alpha, <float *>pa, a_rs, a_cs,
                                              <float *>pb, b_rs, b_cs, <float>beta,
                                              <float *>pc, c_rs, c_cs, &e32)
    else:
        e64.kind = code
        e64.activation = act
        e64.alpha = act_alpha
        e64.bias = <double *>pbias
        e64.out = <double *>pout
        e64.out_rs = out_rs
        e64.z = <double *>pz
        e64.a = <double *>py
        e64.z_rs = z_rs
        e64.a_rs = y_rs
        with nogil:
            if reference:
                status = nc_gemm_epilogue_f64_ref(m, n, k, alpha, <double *>pa, a_rs, a_cs,
                                                  <double *>pb, b_rs, b_cs, beta,
                                                  <double *>pc, c_rs, c_cs, &e64)
            else:
                status = nc_gemm_epilogue_f64(m, n, k, alpha, <double *>pa, a_rs, a_cs,
                                              <double *>pb, b_rs, b_cs, beta,
                                              <double *>pc, c_rs, c_cs, &e64)
    raise_for_status(status, "gemm_epilogue")



cdef inline bint kernel_operand(object x, int kind) noexcept:
    """x is an ndarray of 2 dimensions and dtype `kind` that the kernel
    reads as it is: aligned, in this machine's byte order, strides whole
    elements."""
    if not cnp.PyArray_Check(x):
        return False
    cdef cnp.ndarray arr = <cnp.ndarray>x
    cdef Py_ssize_t item = cnp.PyArray_ITEMSIZE(arr)
    return (cnp.PyArray_NDIM(arr) == 2 and cnp.PyArray_TYPE(arr) == kind
            and cnp.PyArray_ISALIGNED(arr) and cnp.PyArray_ISNOTSWAPPED(arr)
            and cnp.PyArray_STRIDES(arr)[0] % item == 0
            and cnp.PyArray_STRIDES(arr)[1] % item == 0)


cdef inline bint finite_real(object x) noexcept:
    """x is a Python float or int (not bool) with a finite value."""
    if type(x) is float:
        return x - x == 0
    return type(x) is int and -2**1000 < x < 2**1000


def gemm_public(a, b, c, alpha, beta, trans_a, trans_b, out, double max_multiply_adds):
    """nncore.kernels.gemm for the common case, checked here: a and b of one
    float dtype, c None or of the result's shape and dtype, out None or a
    writable array of that shape and dtype apart from a and b, alpha and beta
    finite Python numbers, trans_a and trans_b bools, at most
    max_multiply_adds (m*n*k). Returns the result, or None for any other
    call (the Python path then converts, explains or splits the product)."""
    if not cnp.PyArray_Check(a):
        return None
    cdef int kind = cnp.PyArray_TYPE(<cnp.ndarray>a)
    if ((kind != cnp.NPY_FLOAT32 and kind != cnp.NPY_FLOAT64) or not kernel_operand(a, kind)
            or not kernel_operand(b, kind) or type(trans_a) is not bool
            or type(trans_b) is not bool or not finite_real(alpha) or not finite_real(beta)):
        return None
    cdef cnp.ndarray op_a = <cnp.ndarray>a
    cdef cnp.ndarray op_b = <cnp.ndarray>b
    cdef int ta = trans_a is True, tb = trans_b is True
    cdef size_t m = cnp.PyArray_DIMS(op_a)[1 if ta else 0]
    cdef size_t k = cnp.PyArray_DIMS(op_a)[0 if ta else 1]
    cdef size_t n = cnp.PyArray_DIMS(op_b)[0 if tb else 1]
    if (<size_t>cnp.PyArray_DIMS(op_b)[1 if tb else 0] != k
            or <double>m * <double>n * <double>k > max_multiply_adds):
        return None
    cdef double c_alpha = alpha, c_beta = beta
    if c is not None and not (kernel_operand(c, kind) and <size_t>cnp.PyArray_DIMS(<cnp.ndarray>c)[0] == m
                              and <size_t>cnp.PyArray_DIMS(<cnp.ndarray>c)[1] == n):
        return None
    if c is None and c_beta != 0:
        return None
    cdef cnp.ndarray target
    cdef cnp.npy_intp dims[2]
    if out is None:
        dims[0], dims[1] = m, n
        target = cnp.PyArray_EMPTY(2, dims, kind, 0)
    else:
        if not kernel_operand(out, kind):
            return None
        target = <cnp.ndarray>out
        if (<size_t>cnp.PyArray_DIMS(target)[0] != m or <size_t>cnp.PyArray_DIMS(target)[1] != n
                or not cnp.PyArray_ISWRITEABLE(target) or overlap(target, op_a)
                or overlap(target, op_b)
                or (m > 1 and cnp.PyArray_STRIDES(target)[0] == 0)
                or (n > 1 and cnp.PyArray_STRIDES(target)[1] == 0)):
            return None
        if c is not None and c is not out and overlap(target, <cnp.ndarray>c):
            return None
    if c_beta != 0 and c is not target:
        cnp.PyArray_CopyInto(target, <cnp.ndarray>c)
    cdef ptrdiff_t a_rs = stride_of(op_a, 0), a_cs = stride_of(op_a, 1)
    cdef ptrdiff_t b_rs = stride_of(op_b, 0), b_cs = stride_of(op_b, 1)
    if ta:
        a_rs, a_cs = a_cs, a_rs
    if tb:
        b_rs, b_cs = b_cs, b_rs
    cdef ptrdiff_t c_rs = stride_of(target, 0), c_cs = stride_of(target, 1)
    cdef void *pa = data_of(op_a)
    cdef void *pb = data_of(op_b)
    cdef void *pc = data_of(target)
    cdef nc_status status
    if kind == cnp.NPY_FLOAT32:
        with nogil:
            status = nc_gemm_f32(m, n, k, <float>c_alpha, <float *>pa, a_rs, a_cs,
                                 <float *>pb, b_rs, b_cs, <float>c_beta, <float *>pc, c_rs, c_cs)
    else:
        with nogil:
            status = nc_gemm_f64(m, n, k, c_alpha, <double *>pa, a_rs, a_cs,
                                 <double *>pb, b_rs, b_cs, c_beta, <double *>pc, c_rs, c_cs)
    raise_for_status(status, "gemm")
    return target
