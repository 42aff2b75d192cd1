"""nncore.losses and nncore.metrics objects: Keras's names, defaults and
formulas (written here from Keras's documentation, float64 numpy), and clear
refusals of what the C training loop cannot compute."""

import numpy as np
import pytest

from nncore import losses, metrics

RNG = np.random.default_rng(0)
T = (RNG.random((6, 3)) > 0.5).astype(float)
P = RNG.random((6, 3)) * 0.9 + 0.05
Z = RNG.standard_normal((6, 3)) * 3
ONE_HOT = np.eye(3)[[0, 2, 1, 1, 0, 2]]
W = RNG.random(6)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def bce(t, p):
    return -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(axis=1)


def cce(t, p):
    return -(t * np.log(p)).sum(axis=1)


def huber(t, p):
    d = np.abs(p - t)
    return np.where(d <= 1, d**2 / 2, d - 0.5).mean(axis=1)


CASES = [
    (losses.MeanSquaredError(), T, P, ((P - T) ** 2).mean(axis=1)),
    (losses.MeanAbsoluteError(), T, P, np.abs(P - T).mean(axis=1)),
    (losses.Huber(), T, Z, huber(T, Z)),
    (losses.Poisson(), T, P, (P - T * np.log(P + 1e-7)).mean(axis=1)),
    (losses.BinaryCrossentropy(), T, P, bce(T, P)),
    (losses.BinaryCrossentropy(from_logits=True), T, Z, bce(T, sigmoid(Z))),
    (losses.BinaryCrossentropy(label_smoothing=0.2), T, P, bce(T * 0.8 + 0.1, P)),
    (losses.CategoricalCrossentropy(), ONE_HOT, softmax(Z), cce(ONE_HOT, softmax(Z))),
    (
        losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
        ONE_HOT,
        Z,
        cce(ONE_HOT * 0.9 + 0.1 / 3, softmax(Z)),
    ),
    (
        losses.SparseCategoricalCrossentropy(from_logits=True),
        ONE_HOT.argmax(axis=1),
        Z,
        cce(ONE_HOT, softmax(Z)),
    ),
]


@pytest.mark.parametrize("loss, y_true, y_pred, per_sample", CASES, ids=lambda c: repr(c)[:40])
def test_loss_objects_compute_keras_formulas(loss, y_true, y_pred, per_sample):
    assert loss(y_true, y_pred) == pytest.approx(per_sample.mean(), rel=1e-12)
    # Keras's default reduction: the weighted sum over the number of samples
    weighted = loss(y_true, y_pred, sample_weight=W)
    assert weighted == pytest.approx((W * per_sample).sum() / len(W), rel=1e-12)


def test_keras_names_and_defaults():
    assert losses.MeanSquaredError().name == "mean_squared_error"
    assert losses.Huber().name == "huber_loss" and losses.Huber().delta == 1.0
    bce_loss = losses.BinaryCrossentropy()
    assert bce_loss.get_config() == {
        "name": "binary_crossentropy",
        "reduction": "sum_over_batch_size",
        "from_logits": False,
        "axis": -1,
        "label_smoothing": 0.0,
    }
    assert metrics.BinaryAccuracy().threshold == 0.5
    assert [m().name for m in (metrics.CategoricalAccuracy, metrics.MeanAbsoluteError)] == [
        "categorical_accuracy",
        "mean_absolute_error",
    ]
    assert metrics.BinaryAccuracy(name="acc").name == "acc"


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: losses.Huber(delta=2.0), "delta"),
        (lambda: losses.MeanSquaredError(reduction="sum"), "reduction"),
        (lambda: losses.BinaryCrossentropy(label_smoothing=1.5), "label_smoothing"),
        (lambda: losses.CategoricalCrossentropy(axis=0), "axis"),
        (lambda: losses.SparseCategoricalCrossentropy(ignore_class=0), "sample_weight 0"),
        (lambda: losses.Poisson(dtype="float16"), "dtype"),
        (lambda: metrics.BinaryAccuracy(threshold=float("inf")), "threshold"),
    ],
)
def test_settings_the_c_loop_cannot_honour_are_refused(make, words):
    with pytest.raises(ValueError, match=words):
        make()


def test_keras_names_nncore_lacks_say_what_to_use():
    with pytest.raises(AttributeError, match="Compute R2Score after fit.*r2_score"):
        metrics.R2Score  # noqa: B018
    with pytest.raises(AttributeError, match="which has BinaryAccuracy, .*, AUC. Compute F1Score"):
        metrics.F1Score  # noqa: B018
    with pytest.raises(AttributeError, match="C training loop, which has MeanSquaredError"):
        losses.KLDivergence  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'Nonsense'"):
        metrics.Nonsense  # noqa: B018
