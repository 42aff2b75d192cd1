"""Type stubs for nncore.cython_kernels: its C functions are for Cython (see
cython_kernels.pxd); from Python it offers NetworkSnapshot and the capsule table."""

from typing import Any

import numpy as np

__pyx_capi__: dict[str, Any]

def _gemm_blocking(dtype: Any) -> dict[str, int]: ...
def _gemm_plan(
    blocks: dict[str, int],
    itemsize: int,
    threads: int,
    m: int,
    n: int,
    k: int,
    a_strides: tuple[int, int],
    b_strides: tuple[int, int],
    c_strides: tuple[int, int],
) -> dict[str, Any]: ...

class NetworkSnapshot:
    itemsize: int
    n_in: int
    n_out: int
    def __init__(self, model: Any) -> None: ...
    @property
    def dtype(self) -> np.dtype: ...
    @property
    def parameters(self) -> np.ndarray: ...
    def workspace_size(self, batch_size: int) -> int: ...
