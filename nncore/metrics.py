"""Metric objects with keras.metrics' names, arguments and defaults, for
compile(metrics=[metrics.BinaryAccuracy(), ...]); the logs name each value
after the metric's `name`, as Keras does.

fit computes its metrics inside the C training loop, which has the
accuracies (binary at threshold 0.5, categorical, sparse categorical), the
mean squared error and the mean absolute error. A Keras metric the loop does
not have is refused with what to use instead (see __getattr__ below).
"""

from __future__ import annotations

from nncore._validation import describe, real_number

__all__ = [
    "Metric",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "MeanSquaredError",
    "MeanAbsoluteError",
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

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class BinaryAccuracy(Metric):
    """mean((y_pred > threshold) == y_true); the C loop's threshold is 0.5."""

    c_name = "binary_accuracy"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(name, dtype)
        if real_number(threshold, "threshold") != 0.5:
            raise ValueError(f"threshold must be 0.5 (the C loop's); got {threshold}")
        self.threshold = 0.5

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


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


# Keras's metrics that the C loop does not compute -> what to compute them with
# after fit, from y and model.predict(x).
_NOT_IN_C = {
    "AUC": "sklearn.metrics.roc_auc_score (or average_precision_score for curve='PR')",
    "Precision": "sklearn.metrics.precision_score(y, model.predict(x) > 0.5)",
    "Recall": "sklearn.metrics.recall_score(y, model.predict(x) > 0.5)",
    "F1Score": "sklearn.metrics.f1_score",
    "FBetaScore": "sklearn.metrics.fbeta_score",
    "TruePositives": "sklearn.metrics.confusion_matrix",
    "TrueNegatives": "sklearn.metrics.confusion_matrix",
    "FalsePositives": "sklearn.metrics.confusion_matrix",
    "FalseNegatives": "sklearn.metrics.confusion_matrix",
    "PrecisionAtRecall": "sklearn.metrics.precision_recall_curve",
    "RecallAtPrecision": "sklearn.metrics.precision_recall_curve",
    "SensitivityAtSpecificity": "sklearn.metrics.roc_curve",
    "SpecificityAtSensitivity": "sklearn.metrics.roc_curve",
    "TopKCategoricalAccuracy": "sklearn.metrics.top_k_accuracy_score",
    "SparseTopKCategoricalAccuracy": "sklearn.metrics.top_k_accuracy_score",
    "R2Score": "sklearn.metrics.r2_score",
    "RootMeanSquaredError": "the square root of the 'mse' metric",
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
            "loop, which has BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, "
            f"MeanSquaredError and MeanAbsoluteError. Compute {name} after fit from y and "
            f"model.predict(x), e.g. with {_NOT_IN_C[name]}"
        )
    raise AttributeError(f"module 'nncore.metrics' has no attribute {name!r}")
