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
