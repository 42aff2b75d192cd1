"""Input checks shared by the public API.

Every message names the argument, what was expected and what was given, so
that a user can fix the call without reading nncore's source.
"""

from __future__ import annotations

import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def describe(x) -> str:
    """A short description of a value for an error message."""
    if isinstance(x, np.ndarray):
        return f"an array of dtype {x.dtype} and shape {x.shape}"
    return f"{type(x).__name__} {x!r}"[:200]


def float_array(x, name: str, *, ndim=None, allow_int: bool = False) -> np.ndarray:
    """x as a float32/float64 ndarray (no copy when it already is one).

    Integers are refused unless allow_int (then they become float64, or stay
    exactly representable); bool, complex, object and string arrays always are.
    ndim: an int or a tuple of accepted ranks.
    """
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{name} must be an array of floats; got {describe(x)}") from exc
    kind = arr.dtype.kind
    if kind == "f" and arr.dtype in FLOAT_DTYPES:
        pass
    elif kind == "f" and arr.dtype.newbyteorder("=") in FLOAT_DTYPES:  # other byte order
        arr = arr.astype(arr.dtype.newbyteorder("="))
    elif kind == "f":  # float16, longdouble
        arr = arr.astype(np.float64)
    elif kind in "iu" and allow_int:
        arr = arr.astype(np.float64)
    else:
        expected = "float32 or float64" + (" (or integer)" if allow_int else "")
        raise TypeError(f"{name} must have dtype {expected}; got {describe(arr)}")
    if ndim is not None:
        accepted = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in accepted:
            ranks = " or ".join(f"{r}-D" for r in accepted)
            raise ValueError(f"{name} must be {ranks}; got shape {arr.shape}")
    return arr


def result_dtype(*arrays) -> np.dtype:
    """float64 if any input is float64, else float32 (mixed inputs compute in float64)."""
    if any(a is not None and a.dtype == np.float64 for a in arrays):
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def kernel_ready(arr: np.ndarray, dtype) -> np.ndarray:
    """arr in `dtype`, aligned, with strides the C kernels can take (multiples of
    the item size)."""
    arr = arr.astype(dtype, copy=False)
    if not arr.flags.aligned or any(s % arr.itemsize for s in arr.strides):
        arr = arr.copy(order="C")  # new memory: aligned (ascontiguousarray may keep it)
    return arr


def real_number(x, name: str) -> float:
    """x as a finite Python float."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {describe(x)}")
    value = float(x)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    return value


def positive_int(x, name: str, *, minimum: int = 1) -> int:
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {describe(x)}")
    if x < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {x}")
    return int(x)


def writable_output(out, name: str, shape, dtype) -> np.ndarray:
    """Checks a user-supplied out= array."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy array; got {describe(out)}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}; got {out.shape}")
    if out.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}; got {out.dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    return out
