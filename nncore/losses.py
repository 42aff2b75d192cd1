"""Loss objects with keras.losses' names, arguments and defaults:
compile(loss=losses.BinaryCrossentropy(from_logits=True)).

fit computes the loss inside its C training loop, which has mean squared and
absolute error, Huber (delta 1), Poisson and the three cross-entropies. A
setting the loop cannot honour is refused when the object is made, and so is
a Keras loss nncore does not have (see __getattr__ below). Called directly,
loss(y_true, y_pred, sample_weight=None) returns the value as a float, the
mean over the batch as Keras's default reduction takes it.
"""

from __future__ import annotations

import numpy as np

from nncore import kernels
from nncore._validation import describe, float_array, real_number

__all__ = [
    "Loss",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Huber",
    "Poisson",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
]


class Loss:
    """Base class: `name`, the C loss it runs (`c_name`) and its settings."""

    c_name = ""
    # The activation whose logits the loss takes with from_logits=True.
    logits_activation = None

    def __init__(self, name, reduction="sum_over_batch_size", dtype=None):
        if reduction != "sum_over_batch_size":
            raise ValueError(
                "reduction must be 'sum_over_batch_size' (the mean over the batch, what the "
                f"C training loop computes); got {describe(reduction)}"
            )
        if dtype is not None:
            raise ValueError(
                f"dtype must be None: nncore computes the loss in the model's dtype; got {dtype!r}"
            )
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string; got {describe(name)}")
        self.name = name
        self.reduction = reduction
        self.from_logits = False
        self.label_smoothing = 0.0

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    def smoothed(self, y_true: np.ndarray) -> np.ndarray:
        """The targets the loss compares with (label smoothing applied)."""
        return y_true

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        y_pred = float_array(y_pred, "y_pred")
        y_true = self.smoothed(float_array(y_true, "y_true", allow_int=True))
        if self.from_logits:
            y_pred = kernels.activation(np.atleast_2d(y_pred), self.logits_activation).reshape(
                y_pred.shape
            )
        return kernels.loss(y_pred, y_true, self.c_name, sample_weight=sample_weight)

    def __repr__(self):
        settings = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({settings})"


class MeanSquaredError(Loss):
    """mean((y_pred - y_true)**2)."""

    c_name = "mse"

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name, reduction, dtype)


class MeanAbsoluteError(Loss):
    """mean(|y_pred - y_true|)."""

    c_name = "mae"

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name, reduction, dtype)


class Huber(Loss):
    """mean(d**2 / 2 if |d| <= delta else delta * (|d| - delta / 2)), d = y_pred - y_true;
    the C loop's Huber has delta 1."""

    c_name = "huber"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        if real_number(delta, "delta") != 1.0:
            raise ValueError(f"delta must be 1.0 (the C loop's Huber loss); got {delta}")
        super().__init__(name, reduction, dtype)
        self.delta = 1.0

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class Poisson(Loss):
    """mean(y_pred - y_true * log(y_pred + 1e-7))."""

    c_name = "poisson"

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(name, reduction, dtype)


class _Crossentropy(Loss):
    """The settings the cross-entropies share: from_logits, axis (-1 only)."""

    def __init__(self, name, from_logits, reduction, dtype, axis):
        super().__init__(name, reduction, dtype)
        if axis not in (-1, 1) or isinstance(axis, bool):
            raise ValueError(
                f"axis must be -1 (the outputs of each sample): nncore models give 2-D "
                f"outputs; got {describe(axis)}"
            )
        self.from_logits = bool(from_logits)
        self.axis = -1

    def _label_smoothing(self, value):
        value = real_number(value, "label_smoothing")
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1]; got {value}")
        self.label_smoothing = value

    def get_config(self):
        config = {**super().get_config(), "from_logits": self.from_logits, "axis": self.axis}
        if not isinstance(self, SparseCategoricalCrossentropy):
            config["label_smoothing"] = self.label_smoothing
        return config


class BinaryCrossentropy(_Crossentropy):
    """mean(-(t log p + (1 - t) log(1 - p))). from_logits=True: y_pred are
    logits, p = sigmoid(y_pred) (the model's last layer is then linear).
    label_smoothing s: the targets become t (1 - s) + s / 2."""

    c_name = "binary_crossentropy"
    logits_activation = "sigmoid"

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_crossentropy",
        dtype=None,
    ):
        super().__init__(name, from_logits, reduction, dtype, axis)
        self._label_smoothing(label_smoothing)

    def smoothed(self, y_true):
        s = self.label_smoothing
        return y_true * (1.0 - s) + 0.5 * s if s else y_true


class CategoricalCrossentropy(_Crossentropy):
    """mean over samples of -sum_j t_j log p_j, t one-hot. from_logits=True:
    p = softmax(y_pred). label_smoothing s: t becomes t (1 - s) + s / classes."""

    c_name = "categorical_crossentropy"
    logits_activation = "softmax"

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(name, from_logits, reduction, dtype, axis)
        self._label_smoothing(label_smoothing)

    def smoothed(self, y_true):
        s = self.label_smoothing
        return y_true * (1.0 - s) + s / y_true.shape[-1] if s else y_true


class SparseCategoricalCrossentropy(_Crossentropy):
    """CategoricalCrossentropy with integer class labels. ignore_class is
    refused (the C loop counts every sample)."""

    c_name = "sparse_categorical_crossentropy"
    logits_activation = "softmax"

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction="sum_over_batch_size",
        name="sparse_categorical_crossentropy",
        dtype=None,
        axis=-1,
    ):
        if ignore_class is not None:
            raise ValueError(
                "ignore_class is not supported: the C training loop counts every sample "
                "(drop those samples, or give them sample_weight 0)"
            )
        super().__init__(name, from_logits, reduction, dtype, axis)


# Keras's losses that the C loop does not compute.
_NOT_IN_C = (
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
    "KLDivergence",
    "LogCosh",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "CosineSimilarity",
    "BinaryFocalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalGeneralizedCrossEntropy",
    "Tversky",
    "Dice",
    "CTC",
    "Circle",
)


def __getattr__(name):
    if name in _NOT_IN_C:
        raise AttributeError(
            f"nncore.losses has no {name}: fit computes the loss inside its C training loop, "
            "which has MeanSquaredError, MeanAbsoluteError, Huber, Poisson, "
            "BinaryCrossentropy, CategoricalCrossentropy and SparseCategoricalCrossentropy"
        )
    raise AttributeError(f"module 'nncore.losses' has no attribute {name!r}")
