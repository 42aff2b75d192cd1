# cython: freethreading_compatible=True
# An extension of "another package" that uses nncore's kernels from Cython,
# without the GIL and without linking to nncore: tests/test_embedding.py
# builds it against the installed nncore. It is also the README's example.
# It keeps no state of its own, so free-threaded Python may run it without
# the GIL (the directive on the first line says so).
from libc.stdint cimport uintptr_t
from libc.stdlib cimport free, malloc

from nncore.cython_kernels cimport (
    NC_OK,
    NetworkSnapshot,
    nc_gemm_f32,
    nc_gemm_f64,
    nc_get_num_threads,
    nc_network_predict_f32,
    nc_network_predict_f64,
    nc_network_workspace_size,
    nc_status,
    nc_status_message,
    nc_status_string,
)

import numpy as np


cdef check(nc_status status, str what):
    if status != NC_OK:
        raise ValueError(f"{what}: {nc_status_string(status).decode()}")


def gemm_f32(const float[:, :] a, const float[:, :] b):
    """a @ b for any strides (a transposed or sliced view needs no copy)."""
    cdef size_t m = a.shape[0], k = a.shape[1], n = b.shape[1]
    c = np.empty((m, n), dtype=np.float32)
    cdef float[:, ::1] cv = c
    cdef nc_status status
    with nogil:
        status = nc_gemm_f32(m, n, k, 1.0, &a[0, 0], a.strides[0] // 4, a.strides[1] // 4,
                             &b[0, 0], b.strides[0] // 4, b.strides[1] // 4, 0.0,
                             &cv[0, 0], n, 1)
    check(status, "nc_gemm_f32")
    return c


def gemm_f64(double alpha, const double[:, :] a, const double[:, :] b, double beta,
             double[:, :] c):
    """c = alpha * a @ b + beta * c, in place, for any strides."""
    cdef size_t m = a.shape[0], k = a.shape[1], n = b.shape[1]
    cdef nc_status status
    with nogil:
        status = nc_gemm_f64(m, n, k, alpha, &a[0, 0], a.strides[0] // 8, a.strides[1] // 8,
                             &b[0, 0], b.strides[0] // 8, b.strides[1] // 8, beta,
                             &c[0, 0], c.strides[0] // 8, c.strides[1] // 8)
    check(status, "nc_gemm_f64")


def bad_gemm_status():
    """The status message of a call the C layer refuses (a NULL matrix)."""
    cdef double c = 0
    cdef nc_status status = nc_gemm_f64(1, 1, 1, 1.0, NULL, 1, 1, NULL, 1, 1, 0.0, &c, 1, 1)
    return int(status), nc_status_string(status).decode()


def status_texts(int status):
    """A status in words under the API's name and the older one."""
    return nc_status_string(<nc_status>status).decode(), nc_status_message(<nc_status>status).decode()


def threads():
    return nc_get_num_threads()


def predict(model, x, size_t batch_size=16):
    """The model's predictions on x, computed by nc_network_predict without the GIL
    on a snapshot of the model, in chunks of batch_size rows."""
    cdef NetworkSnapshot snap = NetworkSnapshot(model)
    x = np.ascontiguousarray(x, dtype=snap.dtype)
    if x.ndim != 2 or x.shape[1] != snap.n_in:
        raise ValueError(f"x must have {snap.n_in} columns")
    cdef size_t n = x.shape[0]
    out = np.empty((n, snap.n_out), dtype=snap.dtype)
    cdef size_t ws_bytes = nc_network_workspace_size(&snap.network, batch_size, snap.itemsize)
    cdef char *block = <char *>malloc(ws_bytes + 64)
    if block == NULL:
        raise MemoryError()
    cdef void *workspace = block + (64 - <uintptr_t>block % 64) % 64
    cdef const void *px = <const void *><uintptr_t>x.__array_interface__["data"][0]
    cdef void *pout = <void *><uintptr_t>out.__array_interface__["data"][0]
    cdef ptrdiff_t x_rs = snap.n_in, out_rs = snap.n_out
    cdef nc_status status
    try:
        with nogil:
            if snap.itemsize == 4:
                status = nc_network_predict_f32(
                    &snap.network, <const float *>snap.params, n, <const float *>px, x_rs,
                    <float *>pout, out_rs, batch_size, workspace, ws_bytes)
            else:
                status = nc_network_predict_f64(
                    &snap.network, <const double *>snap.params, n, <const double *>px, x_rs,
                    <double *>pout, out_rs, batch_size, workspace, ws_bytes)
    finally:
        free(block)
    check(status, "nc_network_predict")
    return out
