"""Layers, initializers, regularizers, constraints, optimizers; model weights and summary.

Nothing here trains: these run without the training loop.
"""

import numpy as np
import pytest

import nncore
from nncore import constraints, initializers, optimizers, regularizers
from nncore.layers import Activation, Dense, Dropout, Input


def small_model(seed=0, dtype="float32", use_bias=True):
    return nncore.Sequential(
        [
            Input((3,)),
            Dense(4, activation="relu", use_bias=use_bias),
            Dropout(0.25),
            Dense(2, activation="softmax"),
        ],
        seed=seed,
        dtype=dtype,
    )


# ------------------------------------------------------------------ layers


def test_dense_description_and_defaults():
    dense = Dense(5, activation="leaky_relu", kernel_regularizer=regularizers.l2(0.5))
    d = dense._c_description(3)
    assert d["kind"] == "dense" and (d["n_in"], d["n_out"]) == (3, 5)
    # Keras 3's slope: keras.activations.leaky_relu(x) = max(x, 0.2 * x)
    assert d["activation"] == "leaky_relu" and d["alpha"] == 0.2
    assert d["use_bias"] is True and d["l2"] == 0.5 and d["constraint"] == "none"
    assert Dense(2, "elu")._c_description(1)["alpha"] == 1.0
    assert Dense(2)._c_description(1)["activation"] == "linear"
    d = Dense(2, kernel_constraint="max_norm")._c_description(1)
    assert d["constraint"] == "max_norm" and d["max_norm"] == 2.0
    d = Dense(2, kernel_constraint=constraints.MaxNorm(3))._c_description(1)
    assert d["max_norm"] == 3.0
    assert Dense(2, kernel_constraint="non_neg")._c_description(1)["constraint"] == "non_neg"


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"units": 0}, ValueError, "units"),
        ({"units": "3"}, TypeError, "units"),
        ({"units": 2.0}, TypeError, "units"),
        ({"units": 2, "activation": "swish"}, ValueError, "activation"),
        ({"units": 2, "activation": np.tanh}, ValueError, "callables"),
        ({"units": 2, "kernel_initializer": "lecun"}, ValueError, "kernel_initializer"),
        ({"units": 2, "bias_initializer": 3}, ValueError, "bias_initializer"),
        ({"units": 2, "kernel_constraint": "unit_norm"}, ValueError, "kernel_constraint"),
        ({"units": 2, "kernel_regularizer": "l1"}, ValueError, "kernel_regularizer"),
        ({"units": 2, "input_dim": 0}, ValueError, "input_dim"),
        ({"units": 2, "input_shape": (2, 3)}, ValueError, "input_shape"),
        ({"units": 2, "input_dim": 2, "input_shape": (2,)}, ValueError, "not both"),
    ],
)
def test_dense_rejects_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        Dense(**kwargs)


def test_activation_and_dropout_layers():
    act = Activation("leaky_relu", alpha=0.2)
    assert act._c_description(4) == {
        "kind": "activation",
        "n": 4,
        "activation": "leaky_relu",
        "alpha": 0.2,
    }
    assert Activation("leaky_relu", negative_slope=0.3).alpha == 0.3
    assert Activation("elu").alpha == 1.0
    with pytest.raises(ValueError, match="alpha"):
        Activation("relu", alpha=0.1)
    with pytest.raises(TypeError, match="unexpected"):
        Activation("relu", beta=1)
    assert Dropout(0.5)._c_description(7) == {"kind": "dropout", "n": 7, "rate": 0.5}
    for rate in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="rate"):
            Dropout(rate)
    assert Input(3).shape == (3,) and Input((3,)).shape == (3,)
    # samples of more dimensions, for a model that starts with Flatten
    assert Input((2, 3)).shape == (2, 3)
    for bad in ((2, 0), ()):
        with pytest.raises(ValueError, match="shape"):
            Input(bad)


def test_layer_names_are_unique_and_layers_belong_to_one_model():
    a, b = Dense(1), Dense(1)
    assert a.name != b.name and a.name.startswith("dense")
    model = nncore.Sequential([a])
    with pytest.raises(ValueError, match="already belongs"):
        nncore.Sequential([a])
    with pytest.raises(ValueError, match="already has a layer named"):
        model.add(Dense(1, name=a.name))
    with pytest.raises(ValueError, match="first"):
        model.add(Input((2,)))
    with pytest.raises(TypeError, match="layer"):
        model.add("dense")
    with pytest.raises(ValueError, match="first layer"):
        model.add(Dense(1, input_dim=3))


# ------------------------------------------------------------ initializers


@pytest.mark.parametrize(
    "name, variance",
    [
        ("glorot_uniform", 2 / (400 + 300)),
        ("glorot_normal", 2 / (400 + 300)),
        ("he_uniform", 2 / 400),
        ("he_normal", 2 / 400),
    ],
)
def test_initializer_statistics(name, variance):
    init = initializers.get(name)
    w = init((400, 300), np.random.default_rng(0), np.float64)
    assert w.shape == (400, 300) and w.dtype == np.float64
    assert abs(w.mean()) < 0.05 * np.sqrt(variance)
    assert w.var() == pytest.approx(variance, rel=0.02)
    if name.endswith("uniform"):
        assert np.abs(w).max() <= np.sqrt(3 * variance)
    else:  # truncated at two standard deviations of the untruncated normal
        assert np.abs(w).max() <= 2 * np.sqrt(variance) / 0.87962566103423978


def test_constant_initializers_and_get():
    rng = np.random.default_rng(0)
    assert np.all(initializers.get("zeros")((2, 3), rng) == 0)
    assert np.all(initializers.get("ones")((4,), rng, np.float64) == 1)
    assert initializers.get("ones")((4,), rng).dtype == np.float32
    assert np.all(initializers.Constant(0.5)((2,), rng) == 0.5)
    custom = initializers.HeNormal()
    assert initializers.get(custom) is custom
    spec = initializers.serialize(initializers.Constant(2.0))
    assert initializers.deserialize(spec) == initializers.Constant(2.0)


def test_seed_fixes_initial_weights():
    a, b, c = small_model(seed=7), small_model(seed=7), small_model(seed=8)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert np.array_equal(wa, wb)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])
    assert np.all(a.get_weights()[1] == 0)  # bias_initializer="zeros"
    assert nncore.Sequential().seed >= 0  # a random seed is drawn and kept


# ------------------------------------------------------------------ model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_weights_shapes_dtype_and_copies(dtype):
    model = small_model(dtype=dtype)
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(3, 4), (4,), (4, 2), (2,)]
    assert all(w.dtype == np.dtype(dtype) for w in weights)
    assert model.count_params() == 3 * 4 + 4 + 4 * 2 + 2
    weights[0][...] = 99  # a copy: the model does not change
    assert not np.any(model.get_weights()[0] == 99)
    assert [w.shape for w in model.layers[0].get_weights()] == [(3, 4), (4,)]
    assert model.layers[1].get_weights() == []  # Dropout
    assert len(model.layers) == 3  # Input is not a layer
    nobias = small_model(use_bias=False)
    assert [w.shape for w in nobias.get_weights()] == [(3, 4), (4, 2), (2,)]


def test_set_weights_round_trip_and_validation():
    model = small_model()
    rng = np.random.default_rng(1)
    new = [rng.standard_normal(w.shape) for w in model.get_weights()]  # float64 in
    model.set_weights(new)
    for got, want in zip(model.get_weights(), new):
        assert got.dtype == np.float32
        assert np.array_equal(got, want.astype(np.float32))
    before = model.get_weights()
    bad_shape = [new[0], new[1], new[2].T, new[3]]
    with pytest.raises(ValueError, match=r"weights\[2\].*shape \(4, 2\).*\(2, 4\)"):
        model.set_weights(bad_shape)
    with pytest.raises(ValueError, match="4 arrays"):
        model.set_weights(new[:3])
    with pytest.raises(TypeError, match="real numbers"):
        model.set_weights([new[0] + 1j, *new[1:]])
    with pytest.raises(TypeError, match="list"):
        model.set_weights(np.zeros(3))
    # all or nothing: the first array was valid but nothing was written
    for got, want in zip(model.get_weights(), before):
        assert np.array_equal(got, want)
    layer = model.layers[2]
    layer.set_weights([np.ones((4, 2)), np.full(2, 0.5)])
    assert np.all(model.get_weights()[2] == 1) and np.all(model.get_weights()[3] == 0.5)
    with pytest.raises(ValueError, match="shape"):
        layer.set_weights([np.ones((4, 3)), np.zeros(2)])


def test_unbuilt_model_weights():
    model = nncore.Sequential([Dense(4), Dense(1)])
    assert not model.built and model.get_weights() == [] and model.count_params() == 0
    assert model.layers[0].get_weights() == []
    with pytest.raises(ValueError, match="no weights yet"):
        model.layers[0].set_weights([np.zeros((2, 4)), np.zeros(4)])
    with pytest.raises(ValueError, match=r"weights\[3\]"):
        model.set_weights([np.zeros((2, 4)), np.zeros(4), np.zeros((4, 1)), np.zeros(2)])
    assert not model.built  # a refused set_weights builds nothing
    model.set_weights([np.zeros((2, 4)), np.zeros(4), np.ones((4, 1)), np.zeros(1)])
    assert model.built and model.input_shape == (None, 2) and model.output_shape == (None, 1)
    assert np.all(model.get_weights()[2] == 1)


def test_build_and_adding_layers_keeps_weights():
    model = nncore.Sequential([Dense(3, input_dim=2)], seed=3)
    first = model.get_weights()
    model.add(Dense(1))
    assert np.array_equal(model.get_weights()[0], first[0])
    assert [w.shape for w in model.get_weights()] == [(2, 3), (3,), (3, 1), (1,)]
    lazy = nncore.Sequential([Dense(3), Dense(1)], seed=3)
    lazy.build((None, 2))
    for a, b in zip(lazy.get_weights(), model.get_weights()):
        assert np.array_equal(a, b)  # initialization depends on (seed, layer index) only
    with pytest.raises(ValueError, match="2 input features"):
        lazy.build((None, 5))


def test_model_constructor_validation():
    with pytest.raises(ValueError, match="dtype"):
        nncore.Sequential(dtype="float16")
    with pytest.raises(ValueError, match="seed"):
        nncore.Sequential(seed=-1)
    with pytest.raises(TypeError, match="seed"):
        nncore.Sequential(seed=1.5)
    with pytest.raises(TypeError, match="layers"):
        nncore.Sequential(Dense(1))


def test_summary_text():
    model = small_model()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert 'Model: "' in text and "Layer (type)" in text and "Param #" in text
    layer_line = next(line for line in lines if line.startswith(model.layers[0].name + " "))
    assert "(Dense)" in layer_line and "(None, 4)" in layer_line and layer_line.endswith("16")
    assert "(Dropout)" in text and "(None, 2)" in text
    assert "Total params: 26 (104.00 B)" in text
    assert "Trainable params: 26" in text and "Non-trainable params: 0" in text
    assert "Optimizer params: 52" in text  # Adam: two moments per weight
    unbuilt = nncore.Sequential([Dense(4)])
    lines = []
    unbuilt.summary(print_fn=lines.append)
    assert any("unbuilt" in line for line in lines)


# -------------------------------------------------- optimizers and friends


def test_optimizer_defaults_match_keras():
    assert optimizers.SGD().get_config() == {
        "learning_rate": 0.01,
        "momentum": 0.0,
        "nesterov": False,
    }
    assert optimizers.Adam().get_config() == {
        "learning_rate": 0.001,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
    }
    assert optimizers.AdamW().get_config()["weight_decay"] == 0.004
    assert optimizers.RMSprop().get_config() == {
        "learning_rate": 0.001,
        "rho": 0.9,
        "momentum": 0.0,
        "epsilon": 1e-7,
    }
    for name, cls in [("sgd", "SGD"), ("Adam", "Adam"), ("adamw", "AdamW"), ("rmsprop", "RMSprop")]:
        assert type(optimizers.get(name)).__name__ == cls
    assert optimizers.get("sgd").iterations == 0


def test_optimizer_description_and_validation():
    opt = optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    opt.learning_rate = 0.05  # attributes are read at each fit
    spec = opt._c_description()
    assert set(spec) == {
        "kind",
        "learning_rate",
        "momentum",
        "nesterov",
        "beta_1",
        "beta_2",
        "epsilon",
        "rho",
        "weight_decay",
        "iterations",
    }
    assert spec["kind"] == "sgd" and spec["learning_rate"] == 0.05 and spec["nesterov"] is True
    assert optimizers.AdamW(weight_decay=0.1)._c_description()["weight_decay"] == 0.1
    for bad in (
        lambda: optimizers.SGD(learning_rate=-1),
        lambda: optimizers.SGD(momentum=1.5),
        lambda: optimizers.Adam(beta_1=1.0),
        lambda: optimizers.Adam(epsilon=0),
        lambda: optimizers.RMSprop(rho=-0.1),
        lambda: optimizers.get("adagrad"),
    ):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError, match="iterations"):
        opt.iterations = -1
    back = optimizers.deserialize(optimizers.serialize(optimizers.RMSprop(0.01, momentum=0.5)))
    assert back.get_config() == optimizers.RMSprop(0.01, momentum=0.5).get_config()


def test_regularizers_and_constraints():
    assert regularizers.l2(0.3).l2 == 0.3
    assert regularizers.get("l2").l2 == 0.01
    with pytest.raises(ValueError, match="l2"):
        regularizers.l2(-1)
    assert isinstance(constraints.get("non_neg"), constraints.NonNeg)
    assert constraints.get("max_norm").max_value == 2.0
    with pytest.raises(ValueError, match="max_value"):
        constraints.MaxNorm(0)


# ------------------------------------------------- Keras's activation layers


def keras_layer_outputs(layer, x):
    model = nncore.Sequential([Input((x.shape[1],)), layer], dtype="float64")
    return model.predict(x)


def test_keras_activation_layers_compute_keras_formulas():
    x = np.linspace(-3, 3, 14).reshape(2, 7)
    positive = np.maximum(x, 0)
    negative = np.minimum(x, 0)
    cases = [
        (nncore.ReLU(), positive),
        (nncore.ReLU(negative_slope=0.1), positive + 0.1 * negative),
        (nncore.LeakyReLU(), positive + 0.3 * negative),  # Keras 3's default slope
        (nncore.LeakyReLU(alpha=0.2), positive + 0.2 * negative),  # Keras 2's name
        (nncore.ELU(), positive + np.expm1(negative)),
        (nncore.ELU(alpha=0.5), positive + 0.5 * np.expm1(negative)),
        (nncore.Softmax(), np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)),
    ]
    for layer, expected in cases:
        np.testing.assert_allclose(keras_layer_outputs(layer, x), expected, rtol=1e-12, atol=1e-15)


def test_dense_leaky_relu_slope_in_files():
    dense = Dense(2, "leaky_relu")
    assert dense.get_config()["alpha"] == 0.2
    assert Dense.from_config(dense.get_config()).alpha == 0.2
    # files that did not record the slope were written when it was 0.01
    unrecorded = {k: v for k, v in dense.get_config().items() if k not in ("alpha", "name")}
    assert Dense.from_config(unrecorded).alpha == 0.01


def test_keras_activation_layers_config_names_and_refusals(tmp_path):
    layers = [nncore.ReLU(negative_slope=0.1), nncore.LeakyReLU(0.2), nncore.ELU(0.5)]
    assert [layer.get_config() for layer in layers] == [
        {"name": layers[0].name, "trainable": True, "negative_slope": 0.1},
        {"name": layers[1].name, "trainable": True, "negative_slope": 0.2},
        {"name": layers[2].name, "trainable": True, "alpha": 0.5},
    ]
    assert nncore.Softmax(axis=1).get_config()["axis"] == -1
    assert nncore.ReLU().name.startswith("re_lu") and nncore.LeakyReLU().name.startswith("leaky")
    model = nncore.Sequential([Dense(4, input_dim=3), *layers, nncore.Softmax()], seed=1)
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    path = tmp_path / "activations.nnc"
    model.save(path)
    loaded = nncore.load_model(path)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    x = np.random.default_rng(0).standard_normal((5, 3))
    assert np.array_equal(loaded.predict(x), model.predict(x))
    with pytest.raises(ValueError, match="max_value"):
        nncore.ReLU(max_value=6.0)
    with pytest.raises(ValueError, match="threshold"):
        nncore.ReLU(threshold=0.5)
    with pytest.raises(ValueError, match="negative_slope"):
        nncore.LeakyReLU(-0.1)
    with pytest.raises(ValueError, match="axis"):
        nncore.Softmax(axis=0)
    with pytest.raises(TypeError, match="unexpected"):
        nncore.LeakyReLU(slope=0.1)
