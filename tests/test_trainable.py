"""Frozen layers (trainable=False) as Keras freezes them: no update, no
weight decay, no regularization penalty, no constraint; gradients still flow
through to the layers below. The expected figures follow Keras's rules
(regularization losses come from trainable weights only)."""

import numpy as np
import pytest

import nncore
from nncore import optimizers, regularizers


def data(seed=0, n=200):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] + 0.5 * x[:, 2]).astype(np.float32)
    return x, y


def model(frozen_index, *, regularized=False, optimizer="adam"):
    layers = [
        nncore.Dense(8, "tanh", input_dim=4, name="first"),
        nncore.Dense(
            6,
            "relu",
            name="middle",
            kernel_regularizer=regularizers.l2(0.1) if regularized else None,
            kernel_constraint="non_neg",
        ),
        nncore.Dense(1, name="last"),
    ]
    m = nncore.Sequential(layers, seed=5)
    if frozen_index is not None:
        m.layers[frozen_index].trainable = False
    m.compile(loss="mse", optimizer=optimizer)
    return m


@pytest.mark.parametrize("opt", ["adam", "sgd", lambda: optimizers.AdamW(0.01, weight_decay=0.5)])
def test_a_frozen_layer_keeps_its_weights_and_the_others_train(opt):
    x, y = data()
    m = model(1, regularized=True, optimizer=opt() if callable(opt) else opt)
    frozen_before = m.layers[1].get_weights()
    others_before = [m.layers[i].get_weights() for i in (0, 2)]
    m.fit(x, y, epochs=3, batch_size=16, verbose=0)
    for a, b in zip(frozen_before, m.layers[1].get_weights()):
        np.testing.assert_array_equal(a, b)  # not updated, decayed or constrained
    assert np.any(frozen_before[0] < 0)  # so non_neg would have changed it
    for before, i in zip(others_before, (0, 2)):
        for a, b in zip(before, m.layers[i].get_weights()):
            assert np.all(a != b), f"layer {i} did not train"  # gradients flow through


def test_dense_constructor_flag_and_unfreezing_between_fits():
    x, y = data()
    layer = nncore.Dense(8, "tanh", input_dim=4, trainable=False)
    m = nncore.Sequential([layer, nncore.Dense(1)], seed=1)
    m.compile(loss="mse", optimizer="sgd")
    before = layer.get_weights()
    m.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(before[0], layer.get_weights()[0])
    layer.trainable = True
    m.fit(x, y, epochs=1, verbose=0)
    assert np.all(before[0] != layer.get_weights()[0])


def test_a_frozen_layer_adds_no_regularization_to_the_loss():
    x, y = data()
    m = model(1, regularized=True)
    w = m.get_weights()
    pred = np.tanh(x @ w[0] + w[1])
    pred = np.maximum(pred @ w[2] + w[3], 0) @ w[4] + w[5]
    mse = np.mean((pred[:, 0] - y) ** 2)
    assert m.evaluate(x, y) == pytest.approx(mse, rel=1e-5)
    m.layers[1].trainable = True
    assert m.evaluate(x, y) == pytest.approx(mse + 0.1 * np.sum(w[2] ** 2), rel=1e-5)


def test_freezing_everything_changes_nothing_but_the_step_count():
    x, y = data()
    m = model(None)
    m.trainable = False
    assert not m.trainable and not any(layer.trainable for layer in m.layers)
    before = m.get_weights()
    m.fit(x, y, epochs=2, batch_size=50, verbose=0)
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert m.optimizer.iterations == 8


def test_summary_and_counts_split_trainable_and_frozen():
    m = model(1)
    lines = []
    m.summary(print_fn=lines.append)
    text = "\n".join(lines)
    frozen = 8 * 6 + 6
    total = m.count_params()
    assert total == 4 * 8 + 8 + frozen + 6 + 1
    assert f"Trainable params: {total - frozen:,}" in text
    assert f"Non-trainable params: {frozen:,}" in text


def test_the_flag_is_saved_and_loaded(tmp_path):
    m = model(0)
    m.save(tmp_path / "m.nnc")
    loaded = nncore.load_model(tmp_path / "m.nnc")
    assert [layer.trainable for layer in loaded.layers] == [False, True, True]
    x, y = data()
    before = loaded.layers[0].get_weights()
    loaded.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(before[0], loaded.layers[0].get_weights()[0])


@pytest.mark.parametrize("value", [0, 1, "no", None])
def test_trainable_must_be_a_bool(value):
    with pytest.raises(TypeError, match="trainable must be True or False"):
        nncore.Dense(3, trainable=value)
    layer = nncore.Dense(3)
    with pytest.raises(TypeError, match="trainable must be True or False"):
        layer.trainable = value
    assert layer.trainable is True
