"""The compiled kernels, callable on numpy arrays (API.md section 1).

Every function accepts float32 and float64 arrays of any memory layout;
results keep the input dtype (float64 when inputs mix). The GIL is released
while the C code runs.
"""

from __future__ import annotations

import numpy as np

from nncore import _core
from nncore._validation import (
    float_array,
    kernel_ready,
    positive_int,
    real_number,
    result_dtype,
    writable_output,
)

__all__ = [
    "gemm",
    "matmul",
    "set_num_threads",
    "get_num_threads",
    "cpu_features",
]


def gemm(a, b, c=None, *, alpha=1.0, beta=0.0, trans_a=False, trans_b=False, out=None):
    """alpha * op(a) @ op(b) + beta * c, where op(x) is x.T when trans_x.

    a, b: 2-D arrays. c: broadcastable to the (m, n) result; needed when
    beta != 0. out: an (m, n) array of the result dtype to write into; it may
    be c itself. Returns out (or a new array).

    >>> import numpy as np
    >>> from nncore.kernels import gemm
    >>> gemm(np.eye(2, dtype=np.float32), np.ones((2, 3), np.float32), alpha=2.0)
    array([[2., 2., 2.],
           [2., 2., 2.]], dtype=float32)
    """
    return _gemm(a, b, c, alpha, beta, trans_a, trans_b, out, reference=False)


def _gemm(a, b, c, alpha, beta, trans_a, trans_b, out, *, reference):
    a = float_array(a, "a", ndim=2)
    b = float_array(b, "b", ndim=2)
    c = None if c is None else float_array(c, "c", ndim=(0, 1, 2))
    alpha = real_number(alpha, "alpha")
    beta = real_number(beta, "beta")
    op_a = a.T if trans_a else a
    op_b = b.T if trans_b else b
    (m, k), (k2, n) = op_a.shape, op_b.shape
    if k != k2:
        raise ValueError(
            f"inner dimensions differ: op(a) has shape {op_a.shape} and op(b) {op_b.shape} "
            f"(trans_a={bool(trans_a)}, trans_b={bool(trans_b)})"
        )
    if beta != 0 and c is None:
        raise ValueError(f"beta={beta} needs c; got c=None")
    dtype = result_dtype(a, b, c, out)
    if c is not None:
        try:
            np.broadcast_shapes(c.shape, (m, n))
        except ValueError:
            raise ValueError(
                f"c must be broadcastable to the result shape {(m, n)}; got shape {c.shape}"
            ) from None
    if out is None:
        out = np.empty((m, n), dtype=dtype)
    else:
        writable_output(out, "out", (m, n), dtype)
    op_a = kernel_ready(op_a, dtype)
    op_b = kernel_ready(op_b, dtype)
    # The kernel writes C in place: C must not overlap its inputs, and must
    # hold beta's operand. Work in a scratch array whenever that is not so.
    target = out
    if (
        any(s % out.itemsize for s in out.strides)
        or np.may_share_memory(out, op_a)
        or np.may_share_memory(out, op_b)
    ):
        target = np.empty((m, n), dtype=dtype)
    if beta != 0 and not (c is target and c.shape == (m, n)):
        target[...] = c
    _core.gemm(op_a, op_b, target, alpha, beta, reference)
    if target is not out:
        out[...] = target
    return out


def matmul(a, b):
    """a @ b for 1-D or 2-D arrays (vectors as in numpy.matmul), by the same kernel."""
    a = float_array(a, "a", ndim=(1, 2))
    b = float_array(b, "b", ndim=(1, 2))
    a2 = a[np.newaxis, :] if a.ndim == 1 else a
    b2 = b[:, np.newaxis] if b.ndim == 1 else b
    if a2.shape[1] != b2.shape[0]:
        raise ValueError(f"matmul: a has shape {a.shape} and b {b.shape}; inner dimensions differ")
    result = gemm(a2, b2)
    if a.ndim == 1 and b.ndim == 1:
        return result[0, 0]
    if a.ndim == 1:
        return result[0]
    if b.ndim == 1:
        return result[:, 0]
    return result


def set_num_threads(n):
    """Threads the kernels and the training loop use (results do not depend on it)."""
    _core.set_num_threads(positive_int(n, "n"))


def get_num_threads():
    """Threads in use: set_num_threads, else NNCORE_NUM_THREADS, OMP_NUM_THREADS, or the cores."""
    return _core.get_num_threads()


def cpu_features():
    """{'avx2': bool, 'fma': bool, 'avx512f': bool, ..., 'kernel': the path in use}."""
    return _core.cpu_features()
