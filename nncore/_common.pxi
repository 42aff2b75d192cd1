# Shared helpers: pointers, strides in elements, status -> exception,
# CPU features and threads.

cdef inline void *data_of(cnp.ndarray a) noexcept:
    return cnp.PyArray_DATA(a)


cdef inline ptrdiff_t stride_of(cnp.ndarray a, int axis) noexcept:
    """Stride of `axis` in elements (the caller guarantees it divides)."""
    return cnp.PyArray_STRIDES(a)[axis] // cnp.PyArray_ITEMSIZE(a)


cdef inline bint is_f32(cnp.ndarray a) noexcept:
    return cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT32


# ---------------------------------------------------------------- checks
#
# The compiled layer is the safety boundary: whatever Python passes, no C
# kernel reads or writes outside the arrays it is given. Each binding checks
# its arrays with these before it takes a pointer, and names the argument.

cdef int check_array(object x, str where, str name, int ndim, int type_num,
                     bint writable) except -1:
    """x is a numpy array of `ndim` dimensions, dtype `type_num` (-1: float32
    or float64), aligned, with strides that are whole elements; `writable`:
    it can be written and no two of its elements share memory."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{where}: {name} must be a numpy array; got {type(x).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>x
    if cnp.PyArray_NDIM(arr) != ndim:
        raise ValueError(f"{where}: {name} must be {ndim}-D; got shape {x.shape}")
    cdef int kind = cnp.PyArray_TYPE(arr)
    if type_num < 0 and kind != cnp.NPY_FLOAT32 and kind != cnp.NPY_FLOAT64:
        raise TypeError(f"{where}: {name} must have dtype float32 or float64; got {x.dtype}")
    if type_num >= 0 and kind != type_num:
        raise TypeError(f"{where}: {name} must have dtype {np.dtype(cnp.PyArray_DescrFromType(type_num))}"
                        f" like the other arrays; got {x.dtype}")
    cdef Py_ssize_t item = cnp.PyArray_ITEMSIZE(arr)
    cdef int axis
    if not cnp.PyArray_ISALIGNED(arr):
        raise ValueError(f"{where}: {name} must be aligned to its dtype")
    if not cnp.PyArray_ISNOTSWAPPED(arr):
        raise ValueError(f"{where}: {name} must be in this machine's byte order; got {x.dtype}")
    for axis in range(ndim):
        if cnp.PyArray_STRIDES(arr)[axis] % item:
            raise ValueError(f"{where}: {name} must have strides that are whole elements; "
                             f"got {x.strides}")
    if writable:
        if not cnp.PyArray_ISWRITEABLE(arr):
            raise ValueError(f"{where}: {name} must be writable")
        for axis in range(ndim if cnp.PyArray_SIZE(arr) else 0):  # empty: nothing written
            if cnp.PyArray_STRIDES(arr)[axis] == 0 and cnp.PyArray_DIMS(arr)[axis] > 1:
                raise ValueError(f"{where}: {name} must not repeat elements (a zero stride)")
    return 0


cdef int check_unit_columns(object x, str where, str name) except -1:
    """The kernels over rows take a row stride only: columns must be adjacent."""
    cdef cnp.ndarray arr = <cnp.ndarray>x
    if (cnp.PyArray_SIZE(arr) and cnp.PyArray_DIMS(arr)[1] > 1
            and cnp.PyArray_STRIDES(arr)[1] != cnp.PyArray_ITEMSIZE(arr)):
        raise ValueError(f"{where}: {name} must have adjacent columns (unit column stride); "
                         f"got strides {x.strides}")
    return 0


cdef int check_shape(object x, str where, str name, tuple shape) except -1:
    if x.shape != shape:
        raise ValueError(f"{where}: {name} must have shape {shape}; got {x.shape}")
    return 0


cdef void extent(cnp.ndarray arr, char **lo, char **hi) noexcept:
    """The bytes [lo, hi) an array's elements lie in (lo == hi: none)."""
    cdef char *low = <char *>cnp.PyArray_DATA(arr)
    cdef char *high = low
    cdef int axis
    cdef Py_ssize_t step
    for axis in range(cnp.PyArray_NDIM(arr)):
        if cnp.PyArray_DIMS(arr)[axis] == 0:
            lo[0] = hi[0] = low
            return
        step = (cnp.PyArray_DIMS(arr)[axis] - 1) * cnp.PyArray_STRIDES(arr)[axis]
        if step < 0:
            low += step
        else:
            high += step
    lo[0] = low
    hi[0] = high + cnp.PyArray_ITEMSIZE(arr)


cdef bint overlap(cnp.ndarray a, cnp.ndarray b) noexcept:
    """Whether the extents of a and b meet (may share memory)."""
    cdef char *a_lo
    cdef char *a_hi
    cdef char *b_lo
    cdef char *b_hi
    extent(a, &a_lo, &a_hi)
    extent(b, &b_lo, &b_hi)
    return a_lo < a_hi and b_lo < b_hi and a_lo < b_hi and b_lo < a_hi


cdef bint same_elements(cnp.ndarray a, cnp.ndarray b) noexcept:
    """a and b are the same elements in the same layout (in place is then safe)."""
    if cnp.PyArray_DATA(a) != cnp.PyArray_DATA(b) or cnp.PyArray_NDIM(a) != cnp.PyArray_NDIM(b):
        return False
    cdef int axis
    for axis in range(cnp.PyArray_NDIM(a)):
        if (cnp.PyArray_DIMS(a)[axis] != cnp.PyArray_DIMS(b)[axis]
                or cnp.PyArray_STRIDES(a)[axis] != cnp.PyArray_STRIDES(b)[axis]):
            return False
    return True


cdef int check_apart(object out, str out_name, object x, str x_name, str where,
                     bint in_place_ok) except -1:
    """out must not overlap x (or, with in_place_ok, be exactly x)."""
    if overlap(out, x) and not (in_place_ok and same_elements(out, x)):  # checked arrays
        allowed = f" (it may be {x_name} itself)" if in_place_ok else ""
        raise ValueError(f"{where}: {out_name} must not overlap {x_name}{allowed}")
    return 0


cdef int raise_for_status(nc_status status, str where) except -1:
    """Raises the Python exception that matches a C status (NC_OK: nothing)."""
    if status == NC_OK:
        return 0
    message = f"{where}: {nc_status_string(status).decode()}"
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


def set_num_threads(n):
    """Threads the kernels use: an integer from 1 to 4096."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"set_num_threads: n must be an integer; got {type(n).__name__}")
    if not 1 <= n <= 4096:
        raise ValueError(f"set_num_threads: n must be from 1 to 4096; got {n}")
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
    for value, name in ((seed, "seed"), (stream, "stream")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"permutation: {name} must be an integer; got {type(value).__name__}")
        if not 0 <= value < 2**64:
            raise ValueError(f"permutation: {name} must be in [0, 2**64); got {value}")
    cdef size_t count = n
    cdef uint64_t c_seed = seed, c_stream = stream
    cdef size_t *p = <size_t *>cnp.PyArray_DATA(order)
    with nogil:
        nc_permutation(count, c_seed, c_stream, p)
    return order


def all_finite(a):
    """Whether a float32/float64 ndarray of 1 or 2 dimensions with contiguous
    rows, in this machine's byte order, holds no NaN or infinity, in one pass
    without a temporary; None for any other array (the caller then checks it
    with numpy)."""
    if (type(a) is not np.ndarray or a.ndim not in (1, 2) or a.dtype.char not in "fd"
            or not a.dtype.isnative or not a.flags.aligned):
        return None  # the other byte order's bytes read natively would hide a NaN
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


cdef int fill_optimizer(nc_optimizer *opt, dict optimizer) except -1:
    """The hyperparameters and step count of an optimizer dict (train_epoch's)
    into opt; the kind is the caller's, which words its own error."""
    opt.learning_rate = optimizer["learning_rate"]
    opt.momentum = optimizer["momentum"]
    opt.nesterov = bool(optimizer["nesterov"])
    opt.beta_1, opt.beta_2 = optimizer["beta_1"], optimizer["beta_2"]
    opt.epsilon, opt.rho = optimizer["epsilon"], optimizer["rho"]
    opt.weight_decay = optimizer["weight_decay"]
    opt.iterations = optimizer["iterations"]
    return 0
