"""BatchNormalization and Flatten as Keras-style layers: defaults and
settings as Keras names them, weights in Keras's order, fit moving the
moving statistics and predict using them (against Keras's documented
formulas in numpy), summary, nncore's files, JSON, clone_model, and Keras 3
.keras files both ways (batch_normalization.keras and Keras's own
predictions, tests/data/make_keras_files.py)."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

import nncore
from nncore import BatchNormalization, Dense, Dropout, Flatten, Input

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def bn_model(dtype="float32", **bn):
    return nncore.Sequential(
        [Input((4,)), Dense(6, "relu"), BatchNormalization(**bn), Dense(1, "sigmoid")],
        seed=3,
        dtype=dtype,
    )


def numpy_predict(model, x):
    """The model's inference output from its weights, with Keras's formulas."""
    w1, b1, gamma, beta, mean, var, w2, b2 = (w.astype(np.float64) for w in model.get_weights())
    epsilon = model.layers[1].epsilon
    h = np.maximum(x @ w1 + b1, 0)
    h = gamma * (h - mean) / np.sqrt(var + epsilon) + beta
    return 1 / (1 + np.exp(-(h @ w2 + b2)))


def test_defaults_and_weights_are_keras():
    layer = BatchNormalization()
    assert (layer.axis, layer.momentum, layer.epsilon, layer.center, layer.scale) == (
        -1, 0.99, 1e-3, True, True)  # fmt: skip
    assert layer.name.startswith("batch_normalization")
    model = bn_model()
    gamma, beta, mean, var = model.layers[1].get_weights()
    np.testing.assert_array_equal(gamma, np.ones(6))
    np.testing.assert_array_equal(beta, np.zeros(6))
    np.testing.assert_array_equal(mean, np.zeros(6))
    np.testing.assert_array_equal(var, np.ones(6))
    assert [w.shape for w in bn_model(scale=False, center=False).layers[1].get_weights()] == [
        (6,), (6,)]  # fmt: skip
    with pytest.raises(ValueError, match=r"moving_variance\) must have shape \(6,\)"):
        model.layers[1].set_weights([gamma, beta, mean, np.ones(5)])


def test_summary_counts_moving_statistics_as_non_trainable():
    lines = []
    bn_model().summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "(BatchNormalization)" in text
    row = next(line for line in lines if "(BatchNormalization)" in line)
    assert row.split()[-1] == "24"  # 4 * 6
    total = 4 * 6 + 6 + 24 + 6 + 1
    assert f"Total params: {total}" in text
    assert f"Trainable params: {total - 12}" in text
    assert "Non-trainable params: 12" in text


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fit_moves_the_statistics_and_predict_uses_them(dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((40, 4)) * 3 + 1).astype(dtype)
    y = (x[:, :1] > 1).astype(dtype)
    model = bn_model(dtype, momentum=0.8)
    model.compile(loss="binary_crossentropy", optimizer=nncore.optimizers.SGD(0.05))
    before = model.layers[1].get_weights()
    # no shuffling, one batch: the moving update is the formula's, from the
    # batch's statistics of the weights before the step
    w1, b1 = (w.astype(np.float64) for w in model.layers[0].get_weights())
    h = np.maximum(x @ w1 + b1, 0)
    model.fit(x, y, epochs=1, batch_size=40, shuffle=False, verbose=0)
    after = model.layers[1].get_weights()
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(after[2], before[2] * 0.8 + h.mean(0) * 0.2, rtol=tol, atol=tol)
    np.testing.assert_allclose(after[3], before[3] * 0.8 + h.var(0) * 0.2, rtol=tol, atol=tol)
    np.testing.assert_allclose(model.predict(x), numpy_predict(model, x), rtol=tol, atol=tol)
    # evaluate runs in inference mode too
    p = np.clip(numpy_predict(model, x), 1e-7, 1 - 1e-7)
    want = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert model.evaluate(x, y, verbose=0) == pytest.approx(want, rel=1e-4)
    # train_on_batch moves them as well
    model.train_on_batch(x[:8], y[:8])
    assert (model.layers[1].get_weights()[2] != after[2]).all()


def test_frozen_layer_keeps_all_its_weights_and_uses_moving_statistics():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    model = bn_model(trainable=False)
    model.layers[1].set_weights(
        [np.full(6, 2.0), np.full(6, 0.5), np.full(6, 0.1), np.full(6, 3.0)]
    )
    before = model.layers[1].get_weights()
    model.compile(loss="binary_crossentropy", optimizer="adam")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(before, model.layers[1].get_weights()):
        np.testing.assert_array_equal(a, b)
    lines = []
    model.summary(print_fn=lines.append)
    assert "Non-trainable params: 24" in "\n".join(lines)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"axis": 0}, ValueError, "axis must be -1"),
        ({"momentum": 1.5}, ValueError, "momentum must be in"),
        ({"epsilon": 0}, ValueError, "epsilon must be"),
        ({"synchronized": True}, ValueError, "synchronized=True is not supported"),
        ({"gamma_regularizer": "l2"}, ValueError, "gamma_regularizer must be None"),
        ({"beta_constraint": "non_neg"}, ValueError, "beta_constraint must be None"),
        ({"renorm": True}, TypeError, "renorm"),
        ({"center": 1}, TypeError, "center must be True or False"),
        ({"gamma_initializer": "what"}, ValueError, "gamma_initializer must be one of"),
    ],
)
def test_settings_nncore_does_not_run_are_refused(kwargs, error, words):
    with pytest.raises(error, match=words):
        BatchNormalization(**kwargs)


def trained_model():
    rng = np.random.default_rng(2)
    model = bn_model(momentum=0.5)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    x = rng.standard_normal((24, 4)).astype(np.float32)
    model.fit(x, (x[:, :1] > 0).astype(np.float32), epochs=2, batch_size=8, verbose=0)
    return model, x


def test_nncore_files_json_and_clone_keep_the_layer(tmp_path):
    model, x = trained_model()
    path = tmp_path / "model.nnc"
    model.save(path)
    loaded = nncore.load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    layer = loaded.layers[1]
    assert isinstance(layer, BatchNormalization) and layer.momentum == 0.5
    again = nncore.models.model_from_json(model.to_json())
    assert isinstance(again.layers[1], BatchNormalization) and again.layers[1].momentum == 0.5
    clone = nncore.clone_model(model)
    assert clone.layers[1].get_config() == model.layers[1].get_config()
    np.testing.assert_array_equal(clone.layers[1].get_weights()[3], np.ones(6))


h5py = pytest.importorskip("h5py")


def test_keras_file_predicts_as_keras():
    expected = np.load(os.path.join(DATA, "keras_predictions.npz"), allow_pickle=False)
    model = nncore.load_keras(os.path.join(DATA, "batch_normalization.keras"))
    assert [type(layer).__name__ for layer in model.layers] == [
        "Dense", "BatchNormalization", "Dense"]  # fmt: skip
    mean, var = model.layers[1].get_weights()[2:]
    assert (mean != 0).any() and (var != 1).any()  # Keras trained them
    x, want = expected["batch_normalization_x"], expected["batch_normalization_y"]
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-5, atol=1e-6)


def h5_shapes(data):
    shapes = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(lambda path, item: shapes.update({path: getattr(item, "shape", None)}))
    return {k: v for k, v in shapes.items() if k.startswith("layers/")}


def test_written_keras_file_has_keras_layout_and_reads_back(tmp_path):
    model, x = trained_model()
    path = tmp_path / "model.keras"
    model.save(path)
    theirs = os.path.join(DATA, "batch_normalization.keras")
    with zipfile.ZipFile(path) as ours, zipfile.ZipFile(theirs) as keras:
        assert h5_shapes(ours.read("model.weights.h5")) == h5_shapes(keras.read("model.weights.h5"))
        config = json.loads(ours.read("config.json"))["config"]["layers"][2]
        keras_config = json.loads(keras.read("config.json"))["config"]["layers"][2]
    assert config["class_name"] == "BatchNormalization"
    assert set(config["config"]) == set(keras_config["config"])
    loaded = nncore.load_keras(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    # Adam's moments of gamma and beta come along (the moving statistics have none)
    np.testing.assert_array_equal(loaded.get_optimizer_state(), model.get_optimizer_state())
    assert loaded.optimizer.iterations == model.optimizer.iterations == 6


# ----------------------------------------------------------------- Flatten


def flat_model(**kwargs):
    return nncore.Sequential(
        [Input((3, 4)), Flatten(), Dense(5, "tanh"), Dropout(0.0), Dense(2)], seed=1, **kwargs
    )


def test_flatten_takes_samples_of_any_shape_without_a_copy():
    rng = np.random.default_rng(3)
    model = flat_model()
    assert model.input_shape == (None, 3, 4)
    x = rng.standard_normal((10, 3, 4)).astype(np.float32)
    y = rng.standard_normal((10, 2)).astype(np.float32)
    flat = nncore.Sequential([Input((12,)), Flatten(), Dense(5, "tanh"), Dropout(0.0), Dense(2)])
    flat.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict(x), flat.predict(x.reshape(10, 12)))
    assert np.shares_memory(model._features(x, "x"), x)
    model.compile(loss="mse", optimizer="sgd")
    flat.compile(loss="mse", optimizer="sgd")
    model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    flat.fit(x.reshape(10, 12), y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), flat.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.evaluate(x, y, verbose=0) == flat.evaluate(x.reshape(10, 12), y, verbose=0)
    lines = []
    model.summary(print_fn=lines.append)
    assert any("(Flatten)" in line and "(None, 12)" in line for line in lines)


def test_samples_of_more_dimensions_need_a_flatten_first():
    plain = nncore.Sequential([Input((12,)), Dense(2)])
    with pytest.raises(ValueError, match=r"x must be 2-D, of shape \(samples, 12\).*Flatten"):
        plain.predict(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"samples of shape \(3, 4\)"):
        flat_model().predict(np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="first layer must be Flatten"):
        nncore.Sequential([Input((3, 4)), Dense(2)])
    with pytest.raises(ValueError, match="data_format must be None or 'channels_last'"):
        Flatten("channels_first")


def test_flatten_models_go_through_files_and_json(tmp_path):
    model = flat_model(dtype="float64")
    x = np.random.default_rng(4).standard_normal((3, 3, 4))
    for path in (tmp_path / "m.nnc", tmp_path / "m.keras"):
        model.save(path)
        loaded = nncore.load_model(path)
        assert loaded.input_shape == (None, 3, 4)
        np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    again = nncore.models.model_from_json(model.to_json())
    assert again.input_shape == (None, 3, 4) and isinstance(again.layers[0], Flatten)
    first = nncore.Sequential([Flatten(input_shape=(3, 4)), Dense(2)])
    assert first.input_shape == (None, 3, 4)
    assert nncore.Sequential.from_config(first.get_config()).input_shape == (None, 3, 4)


def test_build_takes_the_sample_shape_of_a_flatten_model():
    model = nncore.Sequential([Flatten(), Dense(2)], seed=0)
    model.build((None, 3, 4))
    assert model.input_shape == (None, 3, 4) and model.count_params() == 26
    model.build((None, 3, 4))  # again: nothing changes
    with pytest.raises(ValueError, match=r"built for samples of shape \(3, 4\)"):
        model.build((None, 4, 3))
    with pytest.raises(ValueError, match="first layer must be Flatten"):
        nncore.Sequential([Dense(2)]).build((None, 3, 4))


def test_data_that_builds_a_flatten_model_fixes_its_sample_shape():
    """As in Keras, the first data a Flatten-first model sees sets its input
    shape; later data of another sample shape is refused even when it has as
    many values per sample. A call refused before building leaves it unset."""
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((8, 3, 4)), rng.standard_normal((8, 2))
    model = nncore.Sequential([Flatten(), Dense(2)], seed=0, dtype="float64")
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="y must have one row per sample"):
        model.fit(rng.standard_normal((8, 6, 2)), y[:5], verbose=0)
    assert not model.built and model.input_shape is None
    with pytest.raises(
        ValueError, match=r"validation_data\[0\] must have samples of shape \(3, 4\)"
    ):
        model.fit(x, y, validation_data=(x.reshape(8, 4, 3), y), verbose=0)
    assert not model.built
    model.fit(x, y, epochs=1, verbose=0)
    assert model.input_shape == (None, 3, 4)
    with pytest.raises(ValueError, match=r"samples of shape \(3, 4\)"):
        model.predict(x.reshape(8, 2, 6), verbose=0)
    with pytest.raises(ValueError, match=r"samples of shape \(3, 4\).*reshape it to \(8, 3, 4\)"):
        model.predict(x.reshape(8, 12), verbose=0)
    np.testing.assert_array_equal(
        model.predict(x, verbose=0),
        x.reshape(8, 12) @ model.get_weights()[0] + model.get_weights()[1],
    )
