# Shared helpers: pointers, strides in elements, status -> exception,
# CPU features and threads.

cdef inline void *data_of(cnp.ndarray a) noexcept:
    return cnp.PyArray_DATA(a)


cdef inline ptrdiff_t stride_of(cnp.ndarray a, int axis) noexcept:
    """Stride of `axis` in elements (the caller guarantees it divides)."""
    return cnp.PyArray_STRIDES(a)[axis] // cnp.PyArray_ITEMSIZE(a)


cdef inline bint is_f32(cnp.ndarray a) noexcept:
    return cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT32


cdef int raise_for_status(nc_status status, str where) except -1:
    """Raises the Python exception that matches a C status (NC_OK: nothing)."""
    if status == NC_OK:
        return 0
    message = f"{where}: {nc_status_message(status).decode()}"
    if status == NC_ERR_NONFINITE:
        raise FloatingPointError(message)
    if status == NC_ERR_INTERRUPTED:
        raise KeyboardInterrupt(message)
    if status == NC_ERR_OUT_OF_MEMORY:
        raise MemoryError(message)
    raise ValueError(message)


def cpu_features():
    """What the CPU supports and which kernel path is in use."""
    cdef nc_cpu_info info
    nc_cpu_features(&info)
    return {
        "sse2": bool(info.sse2),
        "avx": bool(info.avx),
        "avx2": bool(info.avx2),
        "fma": bool(info.fma),
        "avx512f": bool(info.avx512f),
        "neon": bool(info.neon),
        "kernel": info.kernel.decode(),
    }


def set_kernel(str name):
    """Forces a kernel path ('generic', 'avx2', 'avx512', 'neon')."""
    raise_for_status(nc_set_kernel(name.encode()), f"set_kernel({name!r}): path not available")


def set_num_threads(int n):
    nc_set_num_threads(n)


def get_num_threads():
    return nc_get_num_threads()


def _warn_about_settings():
    """One RuntimeWarning per environment setting the C layer could not
    honour (it never prints); runs once, when this module is imported."""
    for note in nc_settings_notes().decode("utf-8", "replace").splitlines():
        warnings.warn(note, RuntimeWarning, stacklevel=2)


_warn_about_settings()


def permutation(n, seed, stream):
    """A uniformly random permutation of range(n) as a uintp array, a function
    of (seed, stream) alone (nc_permutation): the batch order of an epoch."""
    if not 0 <= n <= <size_t>-1 // sizeof(size_t):
        raise ValueError(f"permutation: n must be a non-negative size; got {n}")
    cdef cnp.ndarray order = np.empty(n, dtype=np.uintp)
    cdef size_t count = n
    cdef uint64_t c_seed = seed, c_stream = stream
    cdef size_t *p = <size_t *>cnp.PyArray_DATA(order)
    with nogil:
        nc_permutation(count, c_seed, c_stream, p)
    return order


def all_finite(a):
    """Whether a float32/float64 ndarray of 1 or 2 dimensions with contiguous
    rows holds no NaN or infinity, in one pass without a temporary; None for
    any other array (the caller then checks it with numpy)."""
    if type(a) is not np.ndarray or a.ndim not in (1, 2) or a.dtype.char not in "fd":
        return None
    cdef cnp.ndarray arr = a
    cdef size_t item = cnp.PyArray_ITEMSIZE(arr)
    cdef size_t m = 1 if arr.ndim == 1 else <size_t>arr.shape[0]
    cdef size_t n = <size_t>arr.shape[arr.ndim - 1]
    if n > 1 and <size_t>cnp.PyArray_STRIDES(arr)[arr.ndim - 1] != item:
        return None
    if arr.ndim == 2 and cnp.PyArray_STRIDES(arr)[0] % <ptrdiff_t>item:
        return None
    cdef ptrdiff_t rs = stride_of(arr, 0) if arr.ndim == 2 else <ptrdiff_t>n
    cdef void *p = data_of(arr)
    cdef bint single = is_f32(arr)
    cdef int finite
    with nogil:
        if single:
            finite = nc_all_finite_f32(m, n, <float *>p, rs)
        else:
            finite = nc_all_finite_f64(m, n, <double *>p, rs)
    return bool(finite)
