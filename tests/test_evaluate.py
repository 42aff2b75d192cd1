"""evaluate and the validation pass: one C evaluation (forward, loss,
metrics; no backward pass), with the metrics of fit, both written as Keras
defines them and checked here against numpy formulas."""

import numpy as np
import pytest

import nncore


def binary_model(seed=0):
    m = nncore.Sequential(
        [nncore.Dense(8, "relu", input_dim=2), nncore.Dense(1, "sigmoid")], seed=seed
    )
    m.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy", "mse", "mae"])
    return m


def test_soft_labels_give_the_same_accuracy_in_fit_validation_and_evaluate():
    """Keras's binary accuracy compares (p > 0.5) with the label itself: a label
    of 0.9 or 0.1 never counts as right."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((400, 2)).astype(np.float32)
    y = np.where(x[:, 0] > 0, 0.9, 0.1).astype(np.float32)
    m = binary_model()
    history = m.fit(x, y, epochs=3, batch_size=32, verbose=0, validation_data=(x, y))
    assert history.history["accuracy"] == [0.0, 0.0, 0.0]
    assert history.history["val_accuracy"] == [0.0, 0.0, 0.0]
    assert m.evaluate(x, y, return_dict=True)["accuracy"] == 0.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_evaluate_matches_numpy_formulas(dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((333, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(np.float64)
    w = rng.uniform(0, 2, 333)
    m = binary_model()
    m = nncore.Sequential(
        [nncore.Dense(8, "relu", input_dim=2), nncore.Dense(1, "sigmoid")], seed=0, dtype=dtype
    )
    m.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy", "mse", "mae"])
    m.fit(x, y, epochs=2, verbose=0)
    p = m.predict(x)[:, 0].astype(np.float64)
    pc = np.clip(p, 1e-12, 1 - 1e-12)
    bce = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
    want = {
        "loss": np.sum(w * bce) / 333,  # sum_over_batch_size, as Keras
        "accuracy": np.mean((p > 0.5) == y),
        "mse": np.mean((p - y) ** 2),  # metrics unweighted (Keras's `metrics`)
        "mae": np.mean(np.abs(p - y)),
    }
    tol = 1e-5 if dtype == "float32" else 1e-12
    for batch_size in (None, 1, 7, 100, 333):
        got = m.evaluate(x, y, sample_weight=w, batch_size=batch_size, return_dict=True)
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=tol, abs=tol), (key, batch_size)


def test_sparse_and_categorical_accuracy_match_numpy():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((250, 5))
    labels = rng.integers(0, 3, 250)
    for loss, target in [
        ("sparse_categorical_crossentropy", labels),
        ("categorical_crossentropy", np.eye(3)[labels]),
    ]:
        m = nncore.Sequential([nncore.Dense(3, "softmax", input_dim=5)], seed=4)
        m.compile(loss=loss, optimizer="adam", metrics=["accuracy"])
        m.fit(x, target, epochs=2, verbose=0)
        p = m.predict(x)
        probs = p.astype(np.float64)
        want_loss = -np.mean(np.log(probs[np.arange(250), labels]))
        loss_value, accuracy = m.evaluate(x, target, batch_size=64)
        assert accuracy == pytest.approx(np.mean(p.argmax(axis=1) == labels), abs=1e-12)
        assert loss_value == pytest.approx(want_loss, rel=1e-5)
