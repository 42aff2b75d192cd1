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
