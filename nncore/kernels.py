"""The compiled kernels, callable on numpy arrays.

Every function accepts float32 and float64 arrays of any memory layout;
results keep the input dtype (float64 when inputs mix). The GIL is released
while the C code runs.
"""

from __future__ import annotations

import math

import numpy as np

from nncore import _core, names
from nncore._validation import (
    float_array,
    kernel_ready,
    positive_int,
    real_number,
    result_dtype,
    writable_output,
)

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "gemm",
    "matmul",
    "activation",
    "activation_grad",
    "loss",
    "loss_grad",
    "set_num_threads",
    "get_num_threads",
    "cpu_features",
]

ACTIVATIONS = names.ACTIVATIONS
ALPHA_DEFAULTS = names.KERNEL_ALPHA
LOSSES = names.C_LOSSES


def gemm(a, b, c=None, *, alpha=1.0, beta=0.0, trans_a=False, trans_b=False, out=None):
    """alpha * op(a) @ op(b) + beta * c, where op(x) is x.T when trans_x.

    a, b: 2-D arrays. c: broadcastable to the (m, n) result; needed when
    beta != 0. out: an (m, n) array of the result dtype to write into; it may
    be c itself. Returns out (or a new array).

    Ctrl-C stops a big product within a fraction of a second (KeyboardInterrupt;
    out is then partly written).

    >>> import numpy as np
    >>> from nncore.kernels import gemm
    >>> gemm(np.eye(2, dtype=np.float32), np.ones((2, 3), np.float32), alpha=2.0)
    array([[2., 2., 2.],
           [2., 2., 2.]], dtype=float32)
    """
    # The common case (float arrays of one dtype the kernel reads as they
    # are, a product small enough for one C call) is checked and run in the
    # compiled layer; anything else takes the Python path, which converts
    # what it can, explains what it cannot and splits big products.
    result = _core.gemm_public(
        a, b, c, alpha, beta, trans_a, trans_b, out, _GEMM_TILE_MULTIPLY_ADDS
    )
    if result is not None:
        return result
    return _gemm(a, b, c, alpha, beta, trans_a, trans_b, out, reference=False)


# A product bigger than this many multiply-adds is computed in tiles, one C
# call each, so that Python sees a Ctrl-C between two tiles (a fraction of a
# second apart). Tiles keep at least 512 rows and 1024 columns, where the
# repeated packing of the operands costs well under 1%, and the sums over k
# are not split.
_GEMM_TILE_MULTIPLY_ADDS = 1 << 31
_GEMM_TILE_MIN_ROWS = 512
_GEMM_TILE_MIN_COLS = 1024


def _interruptible_tiles(m: int, n: int, k: int):
    """(row slice, column slice) pairs covering the (m, n) result in tiles of
    equal size (no thin leftover tile)."""
    budget = _GEMM_TILE_MULTIPLY_ADDS
    row_parts = 1
    if m * n * k > budget:
        row_parts = max(1, m // max(_GEMM_TILE_MIN_ROWS, budget // max(1, n * k)))
    rows = max(1, -(-m // row_parts))
    col_parts = 1
    if rows * n * k > budget:
        col_parts = max(1, n // max(_GEMM_TILE_MIN_COLS, budget // max(1, rows * k)))
    cols = max(1, -(-n // col_parts))
    for i in range(0, max(m, 1), rows):
        for j in range(0, max(n, 1), cols):
            yield slice(i, i + rows), slice(j, j + cols)


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
            fits = np.broadcast_shapes(c.shape, (m, n)) == (m, n)  # c to the result, not both ways
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"c must be broadcastable to the result shape {(m, n)}; got shape {c.shape}"
            )
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
    for rows, cols in _interruptible_tiles(m, n, k):
        _core.gemm(op_a[rows], op_b[:, cols], target[rows, cols], alpha, beta, reference)
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


# ------------------------------------------------------------- activations


def _choice(name, valid, what):
    if not isinstance(name, str) or name not in valid:
        raise ValueError(f"{what} must be one of {', '.join(valid)}; got {name!r}")
    return name


def _alpha_for(name, alpha):
    if alpha is None:
        return ALPHA_DEFAULTS.get(name, 0.0)
    if name not in ALPHA_DEFAULTS:
        raise ValueError(
            f"alpha applies to leaky_relu and elu only; got alpha={alpha!r} for {name}"
        )
    return real_number(alpha, "alpha")


def _rows(arr):
    """arr as 2-D (rows, last axis) with unit column stride: a view whenever possible."""
    # the row count is explicit: reshape(-1, 0) is ambiguous for empty arrays
    rows = math.prod(arr.shape[:-1])
    matrix = arr.reshape(1, 1) if arr.ndim == 0 else arr.reshape(rows, arr.shape[-1])
    if matrix.shape[1] > 1 and matrix.strides[1] != matrix.itemsize:
        matrix = np.ascontiguousarray(matrix)
    return kernel_ready(matrix, matrix.dtype)


def _same_memory(a, b):
    """a and b are the same elements in the same layout (in-place use is then safe)."""
    return (
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.shape == b.shape
        and a.strides == b.strides
    )


def _output(out, shape, dtype, inputs=(), in_place_ok=None):
    """(array to return, 2-D array the kernel writes, copy back afterwards?).

    out may be exactly `in_place_ok`; any other overlap with an input, or a
    layout the kernel cannot write, goes through a scratch array."""
    if out is None:
        result = np.empty(shape, dtype=dtype)
        return result, _rows(result), False
    writable_output(out, "out", shape, dtype)
    exact = in_place_ok is not None and _same_memory(out, in_place_ok)
    clash = any(np.may_share_memory(out, x) for x in inputs) or (
        in_place_ok is not None and not exact and np.may_share_memory(out, in_place_ok)
    )
    if out.flags.c_contiguous and out.flags.aligned and not clash:
        return out, _rows(out), False
    return out, _rows(np.empty(shape, dtype=dtype)), True


def activation(x, name, *, alpha=None, out=None):
    """f(x) elementwise (softmax: over the last axis).

    name: linear, relu, leaky_relu (alpha, default 0.01), elu (alpha, default 1),
    sigmoid, tanh, softplus, gelu (exact erf form), softmax. out may be x.

    >>> import numpy as np
    >>> from nncore.kernels import activation
    >>> activation(np.array([-1.0, 0.0, 2.0]), "relu")
    array([0., 0., 2.])
    """
    name = _choice(name, ACTIVATIONS, "name")
    alpha = _alpha_for(name, alpha)
    x = float_array(x, "x")
    if name == "softmax" and x.ndim == 0:
        raise ValueError("softmax needs x with at least 1 dimension (it runs over the last axis)")
    result, target, copy_back = _output(out, x.shape, x.dtype, in_place_ok=x)
    if x.size:
        _core.activation_forward(_rows(x), target, name, alpha)
    if copy_back:
        result[...] = target.reshape(x.shape)
    return result


def activation_grad(x, y, dy, name, *, alpha=None, out=None):
    """dL/dx from the pre-activation x, the output y = f(x) and dy = dL/dy.

    All three have one shape. out may be dy (not x or y).
    """
    name = _choice(name, ACTIVATIONS, "name")
    alpha = _alpha_for(name, alpha)
    x = float_array(x, "x")
    y = float_array(y, "y")
    dy = float_array(dy, "dy")
    for arr, arg in ((y, "y"), (dy, "dy")):
        if arr.shape != x.shape:
            raise ValueError(f"{arg} must have the shape of x {x.shape}; got {arr.shape}")
    dtype = result_dtype(x, y, dy)
    x, y, dy = (arr.astype(dtype, copy=False) for arr in (x, y, dy))
    result, target, copy_back = _output(out, x.shape, dtype, inputs=(x, y), in_place_ok=dy)
    if x.size:
        _core.activation_backward(_rows(x), _rows(y), _rows(dy), target, name, alpha)
    if copy_back:
        result[...] = target.reshape(x.shape)
    return result


# ------------------------------------------------------------------ losses


def _loss_arguments(y_pred, y_true, name, sample_weight):
    """Checked 2-D (samples x outputs) predictions, targets, weights and dtype."""
    name = _choice(name, LOSSES, "name")
    p = float_array(y_pred, "y_pred")
    if p.ndim == 0:
        raise ValueError("y_pred must have a samples axis; got a scalar")
    sparse = name == "sparse_categorical_crossentropy"
    t = float_array(y_true, "y_true", allow_int=True)
    if p.size and not np.isfinite(p).all():
        raise ValueError("y_pred contains NaN or infinity")
    if t.size and not np.isfinite(t).all():
        raise ValueError("y_true contains NaN or infinity")
    n = p.shape[0]
    if sparse:
        if p.ndim != 2:
            raise ValueError(f"y_pred must be 2-D (samples, classes); got shape {p.shape}")
        if t.shape not in ((n,), (n, 1)):
            raise ValueError(f"y_true must hold {n} class labels, shape ({n},); got {t.shape}")
        labels = t.reshape(n)
        classes = p.shape[1]
        if n and (
            labels.min() < 0 or labels.max() >= classes or (labels != np.round(labels)).any()
        ):
            raise ValueError(
                f"y_true must hold integer class labels in [0, {classes - 1}]; got values from "
                f"{labels.min()} to {labels.max()}"
            )
    elif t.shape != p.shape:
        if p.ndim <= 2 and t.ndim <= 2 and t.size == p.size and t.shape[:1] == p.shape[:1]:
            t = t.reshape(p.shape)  # (n,) against (n, 1), as Keras accepts
        else:
            raise ValueError(f"y_true must have the shape of y_pred {p.shape}; got {t.shape}")
    w = None
    if sample_weight is not None:
        w = float_array(sample_weight, "sample_weight", allow_int=True)
        if w.shape not in ((n,), (n, 1)):
            raise ValueError(f"sample_weight must have shape ({n},); got {w.shape}")
        if w.size and (not np.isfinite(w).all() or (w < 0).any()):
            raise ValueError("sample_weight must be finite and >= 0")
    # float targets and weights take part in the dtype; integer labels do not
    given_floats = [
        arr
        for arr, given in ((t, y_true), (w, sample_weight))
        if arr is not None and isinstance(given, np.ndarray) and given.dtype.kind == "f"
    ]
    dtype = result_dtype(p, *given_floats)
    width = int(np.prod(p.shape[1:]))  # outputs per sample (explicit: n may be 0)
    p2 = _rows(p.astype(dtype, copy=False).reshape(n, width))
    if sparse:
        t2 = np.ascontiguousarray(t.reshape(n, 1), dtype=dtype)
    else:
        t2 = np.ascontiguousarray(t.reshape(p2.shape), dtype=dtype)
    w2 = None if w is None else np.ascontiguousarray(w.reshape(n), dtype=dtype)
    return name, p, p2, t2, w2, dtype


def loss(y_pred, y_true, name, *, sample_weight=None):
    """The loss as a Python float.

    The first axis holds samples; the others are flattened into outputs.
    Per-sample losses are means over outputs (sums over classes for the
    categorical cross-entropies); with sample weights w the result is
    sum_i w_i * loss_i / n_samples, as Keras computes it. Cross-entropies
    take probabilities, clipped to [1e-7, 1 - 1e-7].

    >>> import numpy as np
    >>> from nncore.kernels import loss
    >>> loss(np.array([[0.5], [1.5]]), np.array([[1.0], [1.0]]), "mse")
    0.25
    """
    name, p, p2, t2, w2, dtype = _loss_arguments(y_pred, y_true, name, sample_weight)
    return float(_core.loss_value(p2, t2, name, False, w2))


def loss_grad(y_pred, y_true, name, *, sample_weight=None, out=None):
    """d loss / d y_pred, shaped like y_pred (out may be y_pred)."""
    name, p, p2, t2, w2, dtype = _loss_arguments(y_pred, y_true, name, sample_weight)
    result, target, copy_back = _output(out, p.shape, dtype, in_place_ok=p)
    if p.size:
        _core.loss_gradient(p2, t2, name, False, w2, target.reshape(p2.shape))
    if copy_back:
        result[...] = target.reshape(p.shape)
    return result
