"""The model file (docs/file-format.md): round trips, exact resumption, pickling,
and refusal of corrupt, truncated or hostile files."""

import copy
import hashlib
import io as stdio
import json
import pickle
import struct

import numpy as np
import pytest

import nncore
from nncore import io as model_io
from nncore import optimizers
from nncore.layers import Activation, Dense, Dropout, Input


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4))
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5).astype(int)
    return x, labels


def make_model(dtype="float32", optimizer=None):
    model = nncore.Sequential(
        [
            Input((4,)),
            Dense(8, "relu", kernel_constraint="max_norm"),
            Dropout(0.2),
            Dense(6, kernel_regularizer=nncore.regularizers.l2(1e-3), use_bias=False),
            Activation("leaky_relu", alpha=0.1),
            Dense(3, "softmax", kernel_initializer="he_normal"),
        ],
        seed=11,
        dtype=dtype,
    )
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=optimizer if optimizer is not None else optimizers.Adam(0.01),
        metrics=["accuracy"],
    )
    return model


def structure(model):
    """The configuration without the names (which differ between two fresh models)."""
    config = {k: v for k, v in model.get_config().items() if k != "name"}
    config["layers"] = [
        {k: v for k, v in layer["config"].items() if k != "name"} for layer in config["layers"]
    ]
    return config


def assert_same_model(a, b):
    assert structure(a) == structure(b)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        assert wa.dtype == wb.dtype and np.array_equal(wa, wb)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_bit_identical(tmp_path, dtype):
    x, labels = data()
    model = make_model(dtype)
    model.fit(x, labels, epochs=2, batch_size=16, verbose=0)
    model.metadata = {"features": ["a", "b", "c", "d"], "classes": [0, 1, 2]}
    path = tmp_path / "model.nnc"
    model.save(path)
    loaded = nncore.load_model(str(path))
    assert_same_model(model, loaded)
    assert loaded.get_config() == model.get_config()  # names too
    assert np.array_equal(model.predict(x), loaded.predict(x))
    assert loaded.dtype == np.dtype(dtype) and loaded.seed == model.seed
    assert loaded.loss == "sparse_categorical_crossentropy" and loaded.metrics_names == [
        "loss",
        "accuracy",
    ]
    assert type(loaded.optimizer) is optimizers.Adam
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations == 12
    assert np.array_equal(loaded._opt_state, model._opt_state)
    assert loaded.metadata == model.metadata
    assert loaded.layers[3].alpha == 0.1 and loaded.layers[2].use_bias is False
    assert loaded.evaluate(x, labels) == model.evaluate(x, labels)


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: optimizers.Adam(0.01),
        lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
        lambda: optimizers.RMSprop(0.005, momentum=0.3),
        lambda: optimizers.AdamW(0.01),
    ],
)
def test_training_resumes_exactly(tmp_path, optimizer):
    x, labels = data()
    straight = make_model(optimizer=optimizer())
    straight.fit(x, labels, epochs=2, batch_size=10, verbose=0)  # shuffled, with dropout
    first = make_model(optimizer=optimizer())
    first.fit(x, labels, epochs=1, batch_size=10, verbose=0)
    first.save(tmp_path / "half.nnc")
    resumed = nncore.load_model(tmp_path / "half.nnc")
    resumed.fit(x, labels, epochs=1, batch_size=10, verbose=0)
    assert_same_model(straight, resumed)


def test_unbuilt_and_uncompiled_models(tmp_path):
    plain = nncore.Sequential([Dense(3, input_dim=2), Dense(1)], seed=1)
    plain.save(tmp_path / "plain.nnc")
    loaded = nncore.load_model(tmp_path / "plain.nnc")
    assert loaded.optimizer is None and loaded.built
    assert_same_model(plain, loaded)
    lazy = nncore.Sequential([Dense(3), Dense(1)], seed=1)
    lazy.compile(loss="mse")
    lazy.save(tmp_path / "lazy.nnc")
    loaded = nncore.load_model(tmp_path / "lazy.nnc")
    assert not loaded.built and loaded.compiled
    loaded.build((None, 2))
    for a, b in zip(plain.get_weights(), loaded.get_weights(), strict=True):
        assert np.array_equal(a, b)  # same seed, same initialization


def test_file_objects_pickle_and_deepcopy():
    x, labels = data()
    model = make_model()
    model.fit(x, labels, epochs=1, verbose=0)
    buffer = stdio.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    assert_same_model(model, nncore.load_model(buffer))
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert_same_model(model, clone)
        assert clone.layers[0]._model is clone
        assert np.array_equal(clone.predict(x), model.predict(x))
        clone.fit(x, labels, epochs=1, verbose=0)  # independent of the original
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])
    assert b"pickle" not in model_io.model_to_bytes(model)  # data only, no code


def test_metadata_must_be_json(tmp_path):
    model = nncore.Sequential([Dense(1, input_dim=2)])
    model.metadata = {"x": object()}
    with pytest.raises(TypeError, match="metadata"):
        model.save(tmp_path / "m.nnc")
    assert not (tmp_path / "m.nnc").exists()


# ------------------------------------------------------------ bad files


def contents():
    x, labels = data()
    model = make_model()
    model.fit(x, labels, epochs=1, verbose=0)
    return model_io.model_to_bytes(model)


def with_header(header: dict, arrays: bytes = b"", raw: bytes = None) -> bytes:
    """A file with a valid checksum around any header."""
    text = raw if raw is not None else json.dumps(header).encode()
    body = struct.pack("<8sII", model_io.MAGIC, 1, len(text)) + text
    body += b"\0" * (-len(body) % 8) + arrays
    return body + hashlib.sha256(body).digest()


def load(blob):
    return model_io.model_from_bytes(blob, source="test file")


def test_truncated_files_are_refused():
    blob = contents()
    for cut in (0, 5, 16, 40, len(blob) // 2, len(blob) - 33, len(blob) - 1):
        with pytest.raises(ValueError, match="cannot load test file"):
            load(blob[:cut])
    with pytest.raises(ValueError):
        load(blob + b"\0")


def test_every_flipped_byte_is_detected():
    blob = contents()
    assert load(blob) is not None
    for position in range(0, len(blob), max(1, len(blob) // 200)):
        damaged = bytearray(blob)
        damaged[position] ^= 0x40
        with pytest.raises(ValueError, match="cannot load"):
            load(bytes(damaged))


def test_wrong_magic_version_and_header_length():
    blob = contents()
    with pytest.raises(ValueError, match="magic"):
        load(b"PK\x03\x04" + blob[4:])
    with pytest.raises(ValueError, match="version 7"):
        load(blob[:8] + struct.pack("<I", 7) + blob[12:])
    with pytest.raises(ValueError, match="header length"):
        load(blob[:12] + struct.pack("<I", 0xFFFFFFFF) + blob[16:])


def test_hostile_headers_with_valid_checksums():
    good = json.loads(contents()[16 : 16 + struct.unpack_from("<I", contents(), 12)[0]])
    cases = []
    cases.append(({}, None, "format"))
    cases.append((None, b"not json {", "JSON"))
    cases.append((None, b"\xff\xfe", "JSON"))
    cases.append((None, b"[" * 100000 + b"]" * 100000, "JSON|header"))
    cases.append((None, b"[1, 2]", "header must be dict"))
    absurd = copy.deepcopy(good)
    absurd["arrays"]["params"] = 10**15
    cases.append((absurd, None, "parameters"))
    huge = copy.deepcopy(good)
    huge["model"]["layers"][0]["config"]["units"] = 10**12
    cases.append((huge, None, "parameters"))
    unknown = copy.deepcopy(good)
    unknown["model"]["layers"][0]["class_name"] = "Lambda"
    cases.append((unknown, None, "unknown class"))
    negative = copy.deepcopy(good)
    negative["model"]["layers"][0]["config"]["units"] = -3
    cases.append((negative, None, "units"))
    extra = copy.deepcopy(good)
    extra["model"]["layers"][0]["config"]["exec"] = "rm -rf /"
    cases.append((extra, None, "exec"))
    wrong_type = copy.deepcopy(good)
    wrong_type["model"]["seed"] = "eleven"
    cases.append((wrong_type, None, "seed"))
    bad_optimizer = copy.deepcopy(good)
    bad_optimizer["compile"]["optimizer"]["class_name"] = "os.system"
    cases.append((bad_optimizer, None, "optimizer"))
    bad_dtype = copy.deepcopy(good)
    bad_dtype["model"]["dtype"] = "object"
    cases.append((bad_dtype, None, "dtype"))
    for header, raw, message in cases:
        with pytest.raises(ValueError, match=message):
            load(with_header(header, raw=raw))


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        nncore.load_model(tmp_path / "nothing.nnc")
    (tmp_path / "empty.nnc").write_bytes(b"")
    with pytest.raises(ValueError, match="too short"):
        nncore.load_model(tmp_path / "empty.nnc")
