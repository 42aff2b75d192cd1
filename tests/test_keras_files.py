"""Keras 3 files: .keras models made by Keras itself (tests/data, see
make_keras_files.py there) read into nncore with Keras's predictions, and
nncore models written in the layout Keras writes."""

import copy
import io
import json
import os
import re
import sys
import zipfile

import numpy as np
import pytest

import nncore
from nncore import keras_files
from nncore.layers import ELU, Activation, Dense, Dropout, Input, LeakyReLU, ReLU, Softmax

h5py = pytest.importorskip("h5py")

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
EXPECTED = np.load(os.path.join(DATA, "keras_predictions.npz"), allow_pickle=False)


def data(name):
    return os.path.join(DATA, name)


@pytest.mark.parametrize("name", ["classifier", "regression", "activations"])
def test_keras_files_predict_as_keras(name):
    model = nncore.load_keras(data(f"{name}.keras"))
    x, expected = EXPECTED[f"{name}_x"], EXPECTED[f"{name}_y"]
    predicted = model.predict(x)
    assert predicted.dtype == np.float32 and predicted.shape == expected.shape
    # float32 rounding of both libraries, on values of order 1
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-6)


def test_compile_settings_come_along():
    classifier = nncore.load_keras(data("classifier.keras"))
    assert classifier.loss == "categorical_crossentropy"
    assert classifier.metrics_names == ["loss", "accuracy"]
    assert isinstance(classifier.optimizer, nncore.optimizers.Adam)
    assert classifier.optimizer.learning_rate == pytest.approx(1e-3)
    # Keras's Dense(activation="leaky_relu") has slope 0.2, and keeps it through nncore's files
    assert classifier.layers[2].alpha == 0.2
    regression = nncore.load_keras(data("regression.keras"))
    assert isinstance(regression.optimizer, nncore.optimizers.SGD)
    assert regression.optimizer.momentum == pytest.approx(0.9)
    dense = regression.layers[0]
    assert dense.kernel_regularizer.l2 == pytest.approx(0.01)
    assert isinstance(dense.kernel_constraint, nncore.constraints.NonNeg)
    assert [type(layer).__name__ for layer in regression.layers] == [
        "Dense",
        "LeakyReLU",
        "Flatten",
        "Dense",
        "ReLU",
        "Dense",
    ]
    assert nncore.load_keras(data("activations.keras")).optimizer is None
    # a loaded model trains on
    x = EXPECTED["classifier_x"]
    y = nncore.utils.to_categorical(np.arange(len(x)) % 3)
    classifier.fit(x, y, epochs=2, verbose=0)


@pytest.mark.parametrize(
    "name, layer", [("unsupported", "'layer_normalization' (LayerNormalization)")]
)
def test_the_first_unsupported_layer_is_named(name, layer):
    message = re.escape(f"{name}.keras: layer {layer}: nncore cannot run")
    with pytest.raises(ValueError, match=message):
        nncore.load_keras(data(f"{name}.keras"))


def keras_like_classifier(dtype="float32"):
    """The architecture of classifier.keras, built in nncore."""
    return nncore.Sequential(
        [
            Input((5,)),
            Dense(8, "relu"),
            Dropout(0.3),
            Dense(6, "leaky_relu"),
            Activation("tanh"),
            Dense(3, "softmax"),
        ],
        seed=4,
        dtype=dtype,
    )


def h5_layout(source) -> dict:
    """{dataset path: shape} and {group path: name attribute} of an HDF5 file."""
    shapes, names = {}, {}

    def visit(path, item):
        if isinstance(item, h5py.Dataset):
            shapes[path] = item.shape
        elif "name" in item.attrs:
            names[path] = item.attrs["name"]

    with h5py.File(source, "r") as f:
        f.visititems(visit)
    return shapes, names


def zipped(path, member):
    with zipfile.ZipFile(path) as archive:
        return archive.read(member)


def test_written_files_have_keras_layout(tmp_path):
    model = keras_like_classifier()
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    path = tmp_path / "model.keras"
    keras_files.save_keras(model, path)
    ours = json.loads(zipped(path, "config.json"))
    theirs = json.loads(zipped(data("classifier.keras"), "config.json"))
    assert ours["class_name"] == theirs["class_name"] == "Sequential"
    assert [x["class_name"] for x in ours["config"]["layers"]] == [
        x["class_name"] for x in theirs["config"]["layers"]
    ]
    assert ours["compile_config"]["loss"] == theirs["compile_config"]["loss"]
    assert ours["compile_config"]["optimizer"]["class_name"] == "Adam"
    our_shapes, our_names = h5_layout(io.BytesIO(zipped(path, "model.weights.h5")))
    their_shapes, _ = h5_layout(io.BytesIO(zipped(data("classifier.keras"), "model.weights.h5")))
    # the same variables at the same places, the optimizer's included
    assert our_shapes == their_shapes
    assert any(path.startswith("optimizer/vars/") for path in our_shapes)
    assert our_names["layers/dense_1/vars"] == model.layers[2].name


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_keras_round_trip(tmp_path, dtype):
    model = nncore.Sequential(
        [
            Dense(5, "leaky_relu", input_dim=3, kernel_regularizer=nncore.regularizers.l2(0.1)),
            Activation("elu", alpha=0.3),
            LeakyReLU(0.2),
            Dropout(0.1),
            Dense(4, "gelu", use_bias=False, kernel_constraint="max_norm"),
            ReLU(negative_slope=0.1),
            ELU(),
            Dense(3, "softmax"),
            Softmax(),
        ],
        seed=1,
        dtype=dtype,
    )
    model.compile(loss="categorical_crossentropy", optimizer=nncore.optimizers.RMSprop(0.01))
    path = tmp_path / "model.keras"
    keras_files.save_keras(model, path)
    loaded = nncore.load_keras(path)
    x = np.random.default_rng(0).standard_normal((6, 3))
    assert loaded.dtype == model.dtype
    assert np.array_equal(loaded.predict(x), model.predict(x))
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.layers[4].kernel_constraint == model.layers[4].kernel_constraint
    # Keras's "elu" string means alpha 1: alpha 0.3 goes as a layer of its own
    config = json.loads(zipped(path, "config.json"))
    assert [x["class_name"] for x in config["config"]["layers"][1:4]] == [
        "Dense",
        "ELU",
        "LeakyReLU",
    ]


def test_weights_files(tmp_path):
    model = keras_like_classifier()
    keras_files.load_weights(model, data("classifier.weights.h5"))
    x, expected = EXPECTED["classifier_x"], EXPECTED["classifier_y"]
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-6)
    path = tmp_path / "copy.weights.h5"
    keras_files.save_weights(model, path)
    other = keras_like_classifier(dtype="float64")
    keras_files.load_weights(other, path)
    for got, want in zip(other.get_weights(), model.get_weights()):
        assert np.array_equal(got, want)
    fresh = keras_like_classifier()
    keras_files.load_weights(fresh, data("classifier.keras"))
    assert np.array_equal(fresh.predict(x), model.predict(x))
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        keras_files.save_weights(model, tmp_path / "copy.h5")
    wrong = nncore.Sequential([Dense(4, input_dim=5), Dense(3)])
    before = wrong.get_weights()
    with pytest.raises(ValueError, match="weights"):
        keras_files.load_weights(wrong, path)
    assert all(np.array_equal(a, b) for a, b in zip(wrong.get_weights(), before))


def rewrite(tmp_path, source, **members):
    """A copy of the Keras file `source` with some members replaced (None: removed)."""
    path = tmp_path / "changed.keras"
    with zipfile.ZipFile(data(source)) as old, zipfile.ZipFile(path, "w") as new:
        for name in old.namelist():
            if name not in members:
                new.writestr(name, old.read(name))
        for name, content in members.items():
            if content is not None:
                new.writestr(name, content)
    return path


def classifier_config():
    return json.loads(zipped(data("classifier.keras"), "config.json"))


def test_bad_files_are_refused_with_a_reason(tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a zip"):
        nncore.load_keras(junk)
    with pytest.raises(ValueError, match="no config.json"):
        nncore.load_keras(rewrite(tmp_path, "classifier.keras", **{"config.json": None}))
    with pytest.raises(ValueError, match="not valid JSON"):
        nncore.load_keras(rewrite(tmp_path, "classifier.keras", **{"config.json": b"{"}))
    config = classifier_config()
    config["class_name"] = "Functional"
    with pytest.raises(ValueError, match="reads Sequential models"):
        nncore.load_keras(
            rewrite(tmp_path, "classifier.keras", **{"config.json": json.dumps(config)})
        )
    config = classifier_config()
    config["config"]["layers"][1]["config"]["activation"] = "selu"
    with pytest.raises(ValueError, match="layer 'dense' .*activation 'selu'"):
        nncore.load_keras(
            rewrite(tmp_path, "classifier.keras", **{"config.json": json.dumps(config)})
        )
    config = classifier_config()
    config["config"]["layers"][1]["config"]["units"] = 9  # the weights hold 8
    with pytest.raises(ValueError, match="shape"):
        nncore.load_keras(
            rewrite(tmp_path, "classifier.keras", **{"config.json": json.dumps(config)})
        )
    config = classifier_config()
    config["config"]["layers"][0]["config"]["batch_shape"] = [None, 28, 28]
    with pytest.raises(ValueError, match="2-D data"):
        nncore.load_keras(
            rewrite(tmp_path, "classifier.keras", **{"config.json": json.dumps(config)})
        )
    with pytest.raises(FileNotFoundError):
        nncore.load_keras(tmp_path / "missing.keras")


def test_without_h5py_the_extra_is_named(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"nncore-kernels\[keras\]"):
        nncore.load_keras(data("classifier.keras"))
    with pytest.raises(ImportError, match=r"nncore-kernels\[keras\]"):
        keras_files.save_keras(keras_like_classifier(), tmp_path / "m.keras")


# ------------------------------------------------------ optimizer state

RESUME = np.load(os.path.join(DATA, "keras_resume.npz"), allow_pickle=False)
RESUMED = ["resume_adam", "resume_sgd", "resume_rmsprop", "resume_adamw"]


def train_one_batch(model, name):
    model.train_on_batch(RESUME[f"{name}_batch_x"], RESUME[f"{name}_batch_y"])
    return model.predict(RESUME[f"{name}_x"], verbose=0)


@pytest.mark.parametrize("name", RESUMED)
def test_training_resumes_from_keras_files_as_in_keras(name):
    """A .keras file Keras 3 wrote after training (make_keras_files.py resume):
    nncore reads the optimizer's step count and moments, and ONE more batch
    gives Keras's predictions after that batch, to float rounding."""
    model = nncore.load_keras(data(f"{name}.keras"))
    assert model.optimizer.iterations == 12
    expected = RESUME[f"{name}_y"]
    predicted = train_one_batch(model, name)
    assert model.optimizer.iterations == int(RESUME[f"{name}_iterations"]) == 13
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-6)
    # The test can fail: without the moments the same batch lands elsewhere.
    fresh = nncore.load_keras(data(f"{name}.keras"))
    fresh.set_optimizer_state(np.zeros_like(fresh.get_optimizer_state()))
    assert np.abs(train_one_batch(fresh, name) - expected).max() > 1e-4


@pytest.mark.parametrize("name", RESUMED)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_optimizer_state_round_trips_through_keras_files(tmp_path, name, dtype):
    model = nncore.load_keras(data(f"{name}.keras"))
    if dtype == "float64":
        model = nncore.Sequential.from_config({**model.get_config(), "dtype": dtype})
        model.compile_from_config(nncore.load_keras(data(f"{name}.keras")).get_compile_config())
        source = nncore.load_keras(data(f"{name}.keras"))
        model.set_weights(source.get_weights())
        model.set_optimizer_state(source.get_optimizer_state())
        model.optimizer.iterations = source.optimizer.iterations
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = nncore.load_keras(path)
    assert loaded.dtype == model.dtype
    assert loaded.optimizer.iterations == model.optimizer.iterations == 12
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert np.array_equal(loaded.get_optimizer_state(), model.get_optimizer_state())
    assert np.array_equal(train_one_batch(loaded, name), train_one_batch(model, name))


def test_state_keras_does_not_keep_is_not_written(tmp_path):
    """SGD and RMSprop without momentum never read their momentum slot; Keras
    makes no variable for it, and the file has none."""
    for optimizer, count in [
        (nncore.optimizers.SGD(0.1), 2),
        (nncore.optimizers.SGD(0.1, momentum=0.5), 2 + 6),
        (nncore.optimizers.RMSprop(0.01), 2 + 6),
        (nncore.optimizers.RMSprop(0.01, momentum=0.2), 2 + 12),
        (nncore.optimizers.Adam(), 2 + 12),
    ]:  # iteration, learning_rate, then slots for 3 kernels and 3 biases
        model = keras_like_classifier()
        model.compile(loss="categorical_crossentropy", optimizer=optimizer)
        path = tmp_path / "model.keras"
        model.save(path)
        shapes, names = h5_layout(io.BytesIO(zipped(path, "model.weights.h5")))
        stored = sorted(int(p.split("/")[-1]) for p in shapes if p.startswith("optimizer/vars/"))
        assert stored == list(range(count)), optimizer
        loaded = nncore.load_keras(path)
        assert loaded.optimizer.get_config() == optimizer.get_config()


def rewrite_optimizer(tmp_path, source, change):
    """A copy of the .keras file `source` whose optimizer variables `change` edits."""
    weights = io.BytesIO(zipped(data(source), "model.weights.h5"))
    with h5py.File(weights, "a") as f:
        change(f["optimizer/vars"])
    return rewrite(tmp_path, source, **{"model.weights.h5": weights.getvalue()})


def test_bad_optimizer_state_is_refused(tmp_path):
    def drop_last(group):
        del group[str(len(group) - 1)]

    def reshape(group):
        value = group["3"][()]
        del group["3"]
        group.create_dataset("3", data=value.T)

    def negative_step(group):
        del group["0"]
        group.create_dataset("0", data=np.int64(-1))

    for change, message in [
        (drop_last, "holds 9 variables; Adam keeps 10"),
        (reshape, r"optimizer velocity of dense kernel has shape \(8, 4\)"),
        (negative_step, "not a step count"),
    ]:
        with pytest.raises(ValueError, match=message):
            nncore.load_keras(rewrite_optimizer(tmp_path, "resume_adam.keras", change))
    config = json.loads(zipped(data("resume_adam.keras"), "config.json"))
    for key, value in [("amsgrad", True), ("clipnorm", 1.0), ("use_ema", True)]:
        changed = copy.deepcopy(config)
        changed["compile_config"]["optimizer"]["config"][key] = value
        with pytest.raises(ValueError, match=f"{key}={value!r}"):
            nncore.load_keras(
                rewrite(tmp_path, "resume_adam.keras", **{"config.json": json.dumps(changed)})
            )
    changed = copy.deepcopy(config)
    changed["compile_config"]["optimizer"]["config"]["lookahead"] = 5
    with pytest.warns(RuntimeWarning, match="lookahead=5 is not one nncore knows"):
        nncore.load_keras(
            rewrite(tmp_path, "resume_adam.keras", **{"config.json": json.dumps(changed)})
        )
    changed = copy.deepcopy(config)
    changed["compile_config"]["optimizer"]["config"]["learning_rate"] = {
        "class_name": "ExponentialDecay",
        "config": {},
    }
    with pytest.raises(ValueError, match="learning-rate schedule"):
        nncore.load_keras(
            rewrite(tmp_path, "resume_adam.keras", **{"config.json": json.dumps(changed)})
        )


def test_files_without_optimizer_state_warn(tmp_path):
    def drop(group):
        del group.parent["vars"]

    with pytest.warns(RuntimeWarning, match="no optimizer state"):
        model = nncore.load_keras(rewrite_optimizer(tmp_path, "resume_adam.keras", drop))
    assert model.optimizer.iterations == 0
    assert not model.get_optimizer_state().any()


def test_frozen_layers_stay_frozen_through_keras_files(tmp_path):
    """trainable=False is written as Keras writes it and read back: the frozen
    layers' weights keep still and Keras's optimizer keeps no state for them,
    so training resumes identically."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = nncore.utils.to_categorical(rng.integers(0, 3, 64), 3)
    model = nncore.Sequential(
        [
            Input((4,)),
            Dense(6, "relu", trainable=False),
            nncore.layers.BatchNormalization(trainable=False),
            Dense(5, "tanh"),
            nncore.layers.BatchNormalization(),
            Dense(3, "softmax"),
        ],
        seed=2,
    )
    model.compile("adam", "categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    path = tmp_path / "frozen.keras"
    model.save(path)
    layer_configs = json.loads(zipped(path, "config.json"))["config"]["layers"]
    assert [c["config"]["trainable"] for c in layer_configs[1:]] == [
        False,
        False,
        True,
        True,
        True,
    ]
    loaded = nncore.load_keras(path)
    assert [layer.trainable for layer in loaded.layers] == [False, False, True, True, True]
    # Keras's optimizer keeps its moments for the trainable variables only
    with h5py.File(io.BytesIO(zipped(path, "model.weights.h5")), "r") as f:
        n_vars = len(f["optimizer/vars"])
    assert n_vars == 2 + 2 * (2 + 2 + 2)  # iteration, rate; m and v of 3 kernels/biases
    assert np.array_equal(loaded.get_optimizer_state(), model.get_optimizer_state())
    frozen = [w.copy() for w in loaded.layers[0].get_weights() + loaded.layers[1].get_weights()]
    for m in (model, loaded):
        m.train_on_batch(x[:16], y[:16])
    assert all(
        np.array_equal(a, b)
        for a, b in zip(frozen, loaded.layers[0].get_weights() + loaded.layers[1].get_weights())
    )
    assert np.array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("name", ["m.keras", "m.weights.h5"])
def test_a_failed_keras_save_leaves_the_old_file(tmp_path, monkeypatch, name):
    """.keras and .weights.h5 files are written as nncore's own: to a temporary
    file flushed to the disk, then renamed."""
    path = tmp_path / name
    model = keras_like_classifier()
    model.build((None, 5))
    save = model.save if name.endswith(".keras") else model.save_weights
    save(path)
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    model.set_weights([w + 1 for w in model.get_weights()])
    with pytest.raises(OSError, match="No space"):
        save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [name]
