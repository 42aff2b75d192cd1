# GEMM binding.

def gemm(cnp.ndarray a, cnp.ndarray b, cnp.ndarray c, double alpha, double beta,
         bint reference=False):
    """c <- alpha * a @ b + beta * c, in place.

    a (m, k), b (k, n), c (m, n): 2-D arrays of one dtype (float32 or
    float64) whose strides are multiples of the item size; c must not
    overlap a or b. Checked by the caller (nncore.kernels.gemm).
    """
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


def gemm_epilogue(cnp.ndarray a, cnp.ndarray b, cnp.ndarray c, double alpha, double beta,
                  str kind, str activation, double act_alpha=0.0, bias=None, out=None,
                  z=None, y=None, bint reference=False):
    """c <- alpha * a @ b + beta * c, then the epilogue on each finished tile.

    kind "bias_activation": c += bias (when given), then out = act(c) (c
    itself when out is None); kind "activation_grad": c = act'(z, y) * c.
    For tests and for code that builds its own layers: c, out, z and y are
    C-contiguous rows (column stride 1), one dtype; checked by the caller.
    """
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

