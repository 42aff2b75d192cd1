"""Metric objects with keras.metrics' names, arguments and defaults, for
compile(metrics=[metrics.BinaryAccuracy(), ...]); the logs name each value
after the metric's `name`, as Keras does.

fit computes its metrics inside the C training loop, which has the
accuracies (binary, categorical, sparse categorical), the mean squared,
root mean squared and absolute errors, precision, recall, the four
confusion counts and the AUC, with Keras's formulas and defaults. A Keras
metric the loop does not have is refused with what to use instead (see
__getattr__ below).
"""

from __future__ import annotations

import math

from nncore import _core
from nncore._validation import describe, positive_int, real_number

__all__ = [
    "Metric",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "RootMeanSquaredError",
    "Precision",
    "Recall",
    "TruePositives",
    "FalsePositives",
    "TrueNegatives",
    "FalseNegatives",
    "AUC",
]


class Metric:
    """Base class: `name` (the key in the logs) and the C metric (`c_name`)."""

    c_name = ""

    def __init__(self, name, dtype=None):
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string; got {describe(name)}")
        if dtype is not None:
            raise ValueError(
                f"dtype must be None: nncore computes metrics in the model's dtype; got {dtype!r}"
            )
        self.name = name

    def get_config(self) -> dict:
        return {"name": self.name}

    def _c_settings(self) -> dict:
        """The settings the C loop takes for this metric (nncore._core's
        METRIC_SETTINGS names them and holds their defaults)."""
        return {}

    @property
    def c_metric(self):
        """The metric as the C loop takes it: its C name, or (C name, the
        settings not at their defaults)."""
        settings = {
            key: value
            for key, value in self._c_settings().items()
            if value != _core.METRIC_SETTINGS[key]
        }
        return (self.c_name, tuple(sorted(settings.items()))) if settings else self.c_name

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


def _threshold(thresholds, owner: str) -> float:
    """Keras's `thresholds` of a confusion-matrix metric: None (0.5), a number
    or a list of one number; the C loop has one threshold per metric."""
    if isinstance(thresholds, (list, tuple)):
        if len(thresholds) != 1:
            raise ValueError(
                f"{owner}: thresholds must be one number (nncore computes one threshold per "
                f"metric; add one metric per threshold); got {thresholds!r}"
            )
        thresholds = thresholds[0]
    if thresholds is None:
        return 0.5
    value = real_number(thresholds, "thresholds")
    if not 0 <= value <= 1:
        raise ValueError(f"{owner}: thresholds must be in [0, 1]; got {thresholds!r}")
    return value


def _unsupported(owner: str, **given):
    for key, value in given.items():
        if value is not None:
            raise ValueError(
                f"{owner}: {key} must be None; got {value!r} (the C loop computes the metric "
                "over every output of the model)"
            )


class BinaryAccuracy(Metric):
    """mean((y_pred > threshold) == y_true); the C loop's threshold is 0.5."""

    c_name = "binary_accuracy"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(name, dtype)
        self.threshold = real_number(threshold, "threshold")
        if not math.isfinite(self.threshold):
            raise ValueError(f"threshold must be a finite number; got {threshold!r}")

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}

    def _c_settings(self):
        return {"threshold": self.threshold}


class CategoricalAccuracy(Metric):
    """mean(argmax(y_pred) == argmax(y_true)) over samples, one-hot targets."""

    c_name = "categorical_accuracy"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(name, dtype)


class SparseCategoricalAccuracy(Metric):
    """mean(argmax(y_pred) == y_true) over samples, integer class labels."""

    c_name = "sparse_categorical_accuracy"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name, dtype)


class MeanSquaredError(Metric):
    """mean((y_pred - y_true)**2)."""

    c_name = "mse"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(name, dtype)


class MeanAbsoluteError(Metric):
    """mean(|y_pred - y_true|)."""

    c_name = "mae"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(name, dtype)


class RootMeanSquaredError(Metric):
    """sqrt(mean((y_pred - y_true)**2)) over every output of every sample so far."""

    c_name = "root_mean_squared_error"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name, dtype)


class _ConfusionMetric(Metric):
    """A metric of the confusion counts at one threshold: y_pred > threshold
    is a predicted positive, a y_true other than 0 a positive label, over every
    output (Keras's thresholds=None is 0.5)."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name or self.c_name, dtype)
        self.thresholds = thresholds
        self.threshold = _threshold(thresholds, type(self).__name__)

    def get_config(self):
        return {**super().get_config(), "thresholds": self.thresholds}

    def _c_settings(self):
        return {"threshold": self.threshold}


class _RateMetric(_ConfusionMetric):
    """Precision and Recall: Keras's top_k and class_id (None only)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        _unsupported(type(self).__name__, top_k=top_k, class_id=class_id)
        super().__init__(thresholds, name, dtype)

    def get_config(self):
        return {**super().get_config(), "top_k": None, "class_id": None}


class Precision(_RateMetric):
    """true_positives / (true_positives + false_positives); 0 while nothing
    is predicted positive."""

    c_name = "precision"


class Recall(_RateMetric):
    """true_positives / (true_positives + false_negatives); 0 while no label
    is positive."""

    c_name = "recall"


class TruePositives(_ConfusionMetric):
    """The number of outputs above the threshold whose label is positive."""

    c_name = "true_positives"


class FalsePositives(_ConfusionMetric):
    """The number of outputs above the threshold whose label is 0."""

    c_name = "false_positives"


class TrueNegatives(_ConfusionMetric):
    """The number of outputs at or below the threshold whose label is 0."""

    c_name = "true_negatives"


class FalseNegatives(_ConfusionMetric):
    """The number of outputs at or below the threshold whose label is positive."""

    c_name = "false_negatives"


class AUC(Metric):
    """Keras's approximate area under the ROC or precision-recall curve: the
    outputs, clipped to [0, 1], fall into num_thresholds - 1 buckets between
    evenly spaced thresholds, and the area is a Riemann sum over them
    ("interpolation": trapezoids for ROC, Davis & Goadrich's interpolation for
    PR; "minoring"/"majoring": lower/upper bounds). from_logits=True goes with a
    from_logits loss, whose logits the model turns into the probabilities the
    AUC reads (Keras applies the same sigmoid)."""

    c_name = "auc"

    def __init__(
        self,
        num_thresholds=200,
        curve="ROC",
        summation_method="interpolation",
        name=None,
        dtype=None,
        thresholds=None,
        multi_label=False,
        num_labels=None,
        label_weights=None,
        from_logits=False,
    ):
        super().__init__(name or "auc", dtype)
        self.num_thresholds = positive_int(num_thresholds, "num_thresholds", minimum=2)
        if self.num_thresholds > 1 << 24:
            raise ValueError(f"num_thresholds must be at most 2**24; got {num_thresholds}")
        curves = {"roc": "ROC", "pr": "PR"}
        if not isinstance(curve, str) or curve.lower() not in curves:
            raise ValueError(
                f"curve must be 'ROC' or 'PR'; got {describe(curve)}"
                + (" (nncore has no PRGAIN curve)" if str(curve).lower() == "prgain" else "")
            )
        self.curve = curves[curve.lower()]
        methods = ("interpolation", "minoring", "majoring")
        if not isinstance(summation_method, str) or summation_method.lower() not in methods:
            raise ValueError(
                f"summation_method must be one of {methods}; got {describe(summation_method)}"
            )
        self.summation_method = summation_method.lower()
        if thresholds is not None:
            raise ValueError(
                "AUC: thresholds must be None (nncore's AUC uses num_thresholds evenly spaced "
                f"thresholds); got {thresholds!r}"
            )
        if multi_label:
            raise ValueError(
                "AUC: multi_label must be False (nncore computes one AUC over every output)"
            )
        _unsupported("AUC", num_labels=num_labels, label_weights=label_weights)
        if not isinstance(from_logits, bool):
            raise TypeError(f"from_logits must be True or False; got {describe(from_logits)}")
        self.from_logits = from_logits

    def get_config(self):
        return {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "thresholds": None,
            "multi_label": False,
            "num_labels": None,
            "label_weights": None,
            "from_logits": self.from_logits,
        }

    def _c_settings(self):
        return {
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
        }


# Keras's metrics that the C loop does not compute -> what to compute them with
# after fit, from y and model.predict(x).
_NOT_IN_C = {
    "F1Score": "sklearn.metrics.f1_score",
    "FBetaScore": "sklearn.metrics.fbeta_score",
    "PrecisionAtRecall": "sklearn.metrics.precision_recall_curve",
    "RecallAtPrecision": "sklearn.metrics.precision_recall_curve",
    "SensitivityAtSpecificity": "sklearn.metrics.roc_curve",
    "SpecificityAtSensitivity": "sklearn.metrics.roc_curve",
    "TopKCategoricalAccuracy": "sklearn.metrics.top_k_accuracy_score",
    "SparseTopKCategoricalAccuracy": "sklearn.metrics.top_k_accuracy_score",
    "R2Score": "sklearn.metrics.r2_score",
    "MeanAbsolutePercentageError": "sklearn.metrics.mean_absolute_percentage_error",
    "MeanSquaredLogarithmicError": "sklearn.metrics.mean_squared_log_error",
    "MeanIoU": "sklearn.metrics.jaccard_score",
    "Accuracy": "numpy: np.mean(model.predict(x) == y), or BinaryAccuracy/CategoricalAccuracy",
    "BinaryCrossentropy": "the loss itself (compile with loss='binary_crossentropy')",
    "CategoricalCrossentropy": "the loss itself (compile with loss='categorical_crossentropy')",
    "SparseCategoricalCrossentropy": "the loss itself",
    "CosineSimilarity": "numpy on model.predict(x)",
    "LogCoshError": "numpy on model.predict(x)",
    "Hinge": "numpy on model.predict(x)",
    "KLDivergence": "scipy.stats.entropy",
    "Poisson": "the loss itself (compile with loss='poisson')",
}


def __getattr__(name):
    if name in _NOT_IN_C:
        raise AttributeError(
            f"nncore.metrics has no {name}: fit computes its metrics inside the C training "
            f"loop, which has {', '.join(__all__[1:])}. Compute {name} after fit from y and "
            f"model.predict(x), e.g. with {_NOT_IN_C[name]}"
        )
    raise AttributeError(f"module 'nncore.metrics' has no attribute {name!r}")
