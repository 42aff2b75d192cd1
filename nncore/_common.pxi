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
