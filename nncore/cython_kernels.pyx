# The C kernels of nncore, compiled into this one extension, and exported to
# Cython through its capsule table (see cython_kernels.pxd, which is the
# documentation an embedder reads). Each exported function forwards to the C
# function of the same name; the forwarders are generated at build time from
# the .pxd declarations (setup.py, write_forwarders), so a signature is
# written once.

from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdint cimport uintptr_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy

import numpy as np

include "_cython_kernels_forwarders.pxi"


cdef extern from "dispatch.h" nogil:
    ctypedef struct nc_gemm_blocking:
        size_t mr, nr, kc, mc, nc, small_work, parallel_work

    const nc_gemm_blocking *nc_gemm_blocking_f32()
    const nc_gemm_blocking *nc_gemm_blocking_f64()


def _gemm_blocking(dtype):
    """The block sizes of the GEMM path in use for float32 or float64 (an
    internal table, not part of the C API): the edges that the tests of the
    thread splits probe."""
    cdef const nc_gemm_blocking *blocks = (
        nc_gemm_blocking_f32() if np.dtype(dtype) == np.float32 else nc_gemm_blocking_f64())
    return {"mr": blocks.mr, "nr": blocks.nr, "kc": blocks.kc, "mc": blocks.mc,
            "nc": blocks.nc, "small_work": blocks.small_work,
            "parallel_work": blocks.parallel_work}


cdef extern from "gemm_plan.h" nogil:
    ctypedef struct nc_gemm_shape:
        size_t m, n, k
        ptrdiff_t a_rs, a_cs, b_rs, b_cs, c_rs, c_cs

    ctypedef struct nc_gemm_plan:
        int transpose, small, copy_b, swap, threads, split
        size_t panel, panels, kc, mc, nc

    int NC_GEMM_SPLIT_ROWS, NC_GEMM_SPLIT_COLUMNS
    void nc_gemm_make_plan(const nc_gemm_blocking *blocks, size_t element_size, int threads,
                           const nc_gemm_shape *shape, nc_gemm_plan *plan)


def _gemm_plan(blocks, itemsize, threads, m, n, k, a_strides, b_strides, c_strides):
    """What the GEMM driver decides for a product (an internal struct, not
    part of the C API): m x k times k x n, strides in elements as
    (row, column) pairs, on a path with the block sizes `blocks` (a dict as
    _gemm_blocking returns), for the tests of those decisions."""
    cdef nc_gemm_blocking table
    table.mr, table.nr, table.kc = blocks["mr"], blocks["nr"], blocks["kc"]
    table.mc, table.nc = blocks["mc"], blocks["nc"]
    table.small_work, table.parallel_work = blocks["small_work"], blocks["parallel_work"]
    cdef nc_gemm_shape shape
    shape.m, shape.n, shape.k = m, n, k
    shape.a_rs, shape.a_cs = a_strides
    shape.b_rs, shape.b_cs = b_strides
    shape.c_rs, shape.c_cs = c_strides
    cdef nc_gemm_plan plan
    nc_gemm_make_plan(&table, itemsize, threads, &shape, &plan)
    split = {NC_GEMM_SPLIT_ROWS: "rows", NC_GEMM_SPLIT_COLUMNS: "columns"}.get(plan.split, "none")
    return {"transpose": bool(plan.transpose), "small": bool(plan.small),
            "copy_b": bool(plan.copy_b), "swap": bool(plan.swap), "threads": plan.threads,
            "split": split, "panel": plan.panel, "panels": plan.panels, "kc": plan.kc,
            "mc": plan.mc, "nc": plan.nc}


cdef class NetworkSnapshot:
    def __cinit__(self):
        self._layers = NULL
        self.params = NULL

    def __dealloc__(self):
        free(self._layers)

    def __init__(self, model):
        if not getattr(model, "built", False):
            raise ValueError(
                "model must be a built nncore Sequential (fitted, loaded with "
                f"nncore.load_model, or given its input shape); got {type(model).__name__}"
            )
        # The model's C network (nncore._core.Network) lends its description;
        # the snapshot keeps copies of the layers and parameters it points to.
        capsule = model._network().c_network()
        cdef const nc_network *source = <const nc_network *>PyCapsule_GetPointer(
            capsule, "nncore.nc_network")
        cdef size_t count = source.n_layers
        self._layers = <nc_layer *>malloc(count * sizeof(nc_layer))
        if self._layers == NULL:
            raise MemoryError()
        memcpy(self._layers, source.layers, count * sizeof(nc_layer))
        self.network = source[0]
        self.network.layers = self._layers
        params = np.array(model._params, copy=True)
        if params.dtype not in (np.float32, np.float64) or params.size != self.network.n_params:
            raise ValueError(
                f"the model's parameters ({params.dtype}, {params.size}) do not match its "
                f"network ({self.network.n_params} float32 or float64 values)"
            )
        params.flags.writeable = False
        self._params = params
        self.params = <const void *><uintptr_t>params.__array_interface__["data"][0]
        self.itemsize = params.itemsize
        self.n_in = self._layers[0].n_in
        self.n_out = self._layers[count - 1].n_out

    @property
    def dtype(self):
        """The dtype of the parameters and of predict's x and out."""
        return self._params.dtype

    @property
    def parameters(self):
        """The copied flat parameter buffer (read-only)."""
        return self._params

    def workspace_size(self, size_t batch_size):
        """Bytes of workspace nc_network_predict needs for chunks of batch_size rows."""
        return nc_network_workspace_size(&self.network, batch_size, self.itemsize)
