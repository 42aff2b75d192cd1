"""The helpers of keras.utils that a Dense-network user reaches for, with
Keras 3's arguments and results (numpy arrays in, numpy arrays out)."""

from __future__ import annotations

import numbers
import random

import numpy as np

from nncore._validation import describe, float_array

__all__ = ["to_categorical", "normalize", "set_random_seed"]

# The source of the seeds of models made without one, after set_random_seed.
_seed_source = None


def to_categorical(x, num_classes=None) -> np.ndarray:
    """One-hot encodes integer class labels: shape x.shape + (num_classes,),
    float64 (a trailing axis of length 1 is dropped first, as Keras does).
    num_classes defaults to max(x) + 1.

    >>> to_categorical([0, 2, 1])
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    """
    try:
        labels = np.asarray(x)
    except Exception as exc:
        raise TypeError(f"x must be an array of integer class labels; got {describe(x)}") from exc
    if labels.dtype.kind == "f":
        if not np.isfinite(labels).all() or not np.array_equal(labels, np.round(labels)):
            raise ValueError("x must hold integer class labels; got non-integer values")
    elif labels.dtype.kind not in "iu":
        raise TypeError(f"x must hold integer class labels; got {describe(labels)}")
    labels = labels.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise TypeError(f"num_classes must be an integer; got {describe(num_classes)}")
    num_classes = int(num_classes)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"x must hold class labels in [0, {num_classes}); got labels from "
            f"{labels.min()} to {labels.max()}"
        )
    one_hot = np.zeros((labels.size, num_classes))
    one_hot[np.arange(labels.size), labels] = 1.0
    return one_hot.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2) -> np.ndarray:
    """x divided by its `order`-norm along `axis` (np.linalg.norm's orders);
    zero vectors stay zero."""
    arr = float_array(x, "x", allow_int=True)
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis must be an integer; got {describe(axis)}")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"axis must be in [{-arr.ndim}, {arr.ndim}); got {axis}")
    norm = np.atleast_1d(np.linalg.norm(arr, order, axis))
    norm[norm == 0] = 1
    return arr / np.expand_dims(norm, axis)


def set_random_seed(seed) -> None:
    """Makes what follows reproducible, as keras.utils.set_random_seed does:
    seeds Python's random and numpy's global generator, and the seeds that
    models made without one (Sequential(seed=None), clone_model) draw."""
    global _seed_source
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer; got {describe(seed)}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32); got {seed}")
    random.seed(int(seed))
    np.random.seed(int(seed))
    _seed_source = np.random.default_rng(int(seed))


def model_seed() -> int:
    """A seed for a model made without one: from set_random_seed's source, or
    drawn from the operating system's entropy."""
    if _seed_source is not None:
        return int(_seed_source.integers(2**63))
    return int(np.random.SeedSequence().entropy % 2**63)
