"""The model file (docs/file-format.md): round trips, exact resumption, pickling,
and refusal of corrupt, truncated or hostile files."""

import ast
import copy
import functools
import hashlib
import io as stdio
import json
import os
import pickle
import re
import signal
import stat
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nncore
from nncore import io as model_io
from nncore import models, optimizers
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
    assert b"pickle" not in models.model_to_bytes(model)  # data only, no code


def test_metadata_must_be_json(tmp_path):
    model = nncore.Sequential([Dense(1, input_dim=2)])
    model.metadata = {"x": object()}
    with pytest.raises(TypeError, match="metadata"):
        model.save(tmp_path / "m.nnc")
    assert not (tmp_path / "m.nnc").exists()


# ------------------------------------------------------------ bad files


@functools.cache
def contents():
    """The bytes of a small trained model's file."""
    x, labels = data()
    model = make_model()
    model.fit(x, labels, epochs=1, verbose=0)
    return models.model_to_bytes(model)


def with_header(header: dict, arrays: bytes = b"", raw: bytes = None) -> bytes:
    """A file with a valid checksum around any header."""
    text = raw if raw is not None else json.dumps(header).encode()
    body = struct.pack("<8sII", model_io.MAGIC, 1, len(text)) + text
    body += b"\0" * (-len(body) % 8) + arrays
    return body + hashlib.sha256(body).digest()


def load(blob):
    return models.model_from_bytes(blob, source="test file")


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
    cases.append((absurd, None, "bytes but its header describes"))
    huge = copy.deepcopy(good)
    huge["model"]["layers"][0]["config"]["units"] = 10**12
    cases.append((huge, None, r"holds 109 parameters but its architecture has \d{14}"))
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
    # Each header behind the arrays of the good file: the architecture is
    # checked against them before anything of its size is allocated.
    arrays = contents()[-32 - 4 * (109 + 218) : -32]
    for header, raw, message in cases:
        with pytest.raises(ValueError, match=message):
            load(with_header(header, arrays, raw=raw))


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        nncore.load_model(tmp_path / "nothing.nnc")
    (tmp_path / "empty.nnc").write_bytes(b"")
    with pytest.raises(ValueError, match="too short"):
        nncore.load_model(tmp_path / "empty.nnc")


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "newer.nnc"
    blob = contents()
    path.write_bytes(blob[:8] + struct.pack("<I", model_io.FORMAT_VERSION + 1) + blob[12:])
    with pytest.raises(
        ValueError,
        match=f"cannot load {re.escape(str(path))}.*version {model_io.FORMAT_VERSION + 1}",
    ):
        nncore.load_model(path)
    with pytest.raises(OSError, match="directory"):
        nncore.load_model(tmp_path)
    if os.path.exists("/dev/zero"):  # would be read forever
        with pytest.raises(OSError, match="/dev/zero: not a regular file"):
            nncore.load_model("/dev/zero")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=600), st.sampled_from([b"", model_io.MAGIC, model_io.MAGIC + b"\1\0\0\0"])
)
def test_random_files_are_refused(garbage, prefix):
    with pytest.raises(ValueError, match="cannot load test file"):
        load(prefix + garbage)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_headers_load_or_are_refused(data_strategy):
    """Any JSON value in place of any header field, behind a valid checksum:
    a model or a ValueError, nothing else."""
    blob = contents()
    header_length = struct.unpack_from("<I", blob, 12)[0]
    header = json.loads(blob[16 : 16 + header_length])
    arrays_at = 16 + header_length + (-(16 + header_length) % 8)
    paths = list(_field_paths(header))
    where = data_strategy.draw(st.sampled_from(paths))
    parent = header
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = data_strategy.draw(json_values)
    try:
        load(with_header(header, blob[arrays_at:-32]))
    except ValueError as exc:
        assert str(exc).startswith("cannot load test file")


def _field_paths(node, prefix=()):
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        yield (*prefix, key)
        if isinstance(value, (dict, list)):
            yield from _field_paths(value, (*prefix, key))


class _Payload:
    """Unpickling this creates the file `marker` (any unpickling runs it)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_payload_in_a_file_is_never_executed(tmp_path, monkeypatch):
    marker = str(tmp_path / "payload-ran")
    payload = pickle.dumps(_Payload(marker), protocol=2)
    pickle.loads(payload).close()  # the payload works: unpickling creates the marker
    os.unlink(marker)

    def refuse(*args, **kwargs):
        raise AssertionError("load_model unpickled something")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    blob = contents()
    header_length = struct.unpack_from("<I", blob, 12)[0]
    arrays_at = 16 + header_length + (-(16 + header_length) % 8)
    header = json.loads(blob[16 : 16 + header_length])
    n_array_bytes = len(blob) - 32 - arrays_at
    assert len(payload) < n_array_bytes
    in_arrays = payload + blob[arrays_at + len(payload) : -32]
    in_metadata = copy.deepcopy(header)
    in_metadata["metadata"] = {"pickle": payload.decode("latin-1")}
    files = {
        "whole file": payload,
        "after the prefix": blob[:16] + payload + blob[16 + len(payload) :],
        "as the header": with_header(None, raw=payload),
    }
    for name, blob_with_payload in files.items():
        with pytest.raises(ValueError, match="cannot load"):
            load(blob_with_payload)
        assert not os.path.exists(marker), name
    # Payloads behind a valid checksum, where the reader expects numbers or JSON strings,
    # load as data.
    model = load(with_header(header, in_arrays))
    assert (
        np.frombuffer(payload[:8], "<f4").tobytes() == model.get_weights()[0].ravel()[:2].tobytes()
    )
    assert (
        load(with_header(in_metadata, blob[arrays_at:-32])).metadata["pickle"]
        == in_metadata["metadata"]["pickle"]
    )
    assert not os.path.exists(marker)


# ------------------------------------------------------------ saving


def test_saved_file_has_the_usual_permissions(tmp_path):
    """The temporary file the save renames is created like open() would (umask)."""
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    path = tmp_path / "m.nnc"
    open(tmp_path / "plain", "wb").close()
    nncore.Sequential([Dense(1, input_dim=2)]).save(path)
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.nnc", "plain"]


def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.nnc"
    old = nncore.Sequential([Dense(3, input_dim=2)], seed=1)
    old.save(path)
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        nncore.Sequential([Dense(3, input_dim=2)], seed=2).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.nnc"]


SAVER = """
import sys
import nncore
from nncore.layers import Dense
model = nncore.Sequential([Dense(2000, input_dim=1500)], seed=2, name="new")
print("ready", flush=True)
while True:
    model.save(sys.argv[1])
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("old_file", [True, False])
def test_a_save_killed_midway_leaves_the_old_model_or_nothing(tmp_path, old_file):
    """SIGKILL at moments spread over a save (the saver saves in a loop): the final
    name holds a complete model (the old one, or the new one once a save has
    finished) or, without an old file, nothing."""
    path = tmp_path / "m.nnc"
    old = nncore.Sequential([Dense(2000, input_dim=1500)], seed=1, name="old")
    new = nncore.Sequential([Dense(2000, input_dim=1500)], seed=2, name="new")
    # Kill as soon as a temporary file appears (mid-write for sure), a little
    # later, and at fixed times after the start (wherever the saver then is).
    for wait_for_write, delay in ((True, 0.0), (True, 0.003), (False, 0.0), (False, 0.03)):
        if old_file:
            old.save(path)
        elif path.exists():
            path.unlink()
        saver = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, cwd=tmp_path
        )
        try:
            assert saver.stdout.readline() == b"ready\n"
            deadline = time.monotonic() + 30
            while wait_for_write and not any(tmp_path.glob(".m.nnc.*.tmp")):
                assert saver.poll() is None and time.monotonic() < deadline, "no save seen"
            time.sleep(delay)
            saver.send_signal(signal.SIGKILL)
        finally:
            saver.kill()
            saver.wait(timeout=30)
            saver.stdout.close()
        assert saver.returncode == -signal.SIGKILL
        for leftover in tmp_path.glob(".m.nnc.*.tmp"):  # a kill leaves it behind
            leftover.unlink()
        if path.exists():
            loaded = nncore.load_model(path)
            assert loaded.name in ("old", "new") and (old_file or loaded.name == "new")
            assert_same_model(loaded, old if loaded.name == "old" else new)


# ------------------------------------------- files of earlier versions

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


@pytest.mark.parametrize(
    "name", ["adam_classifier", "sgd_momentum_float64", "frozen_rmsprop", "uncompiled"]
)
def test_files_written_by_earlier_versions_load_bit_identically(name):
    """tests/data/<name>.nnc, written by make_nncore_files.py with the nncore of
    2026-12 (before io.py became a codec), with what that nncore held beside it."""
    expected = np.load(os.path.join(DATA, "nncore_files.npz"), allow_pickle=False)
    model = nncore.load_model(os.path.join(DATA, f"{name}.nnc"))
    weights = model.get_weights()
    stored = sorted(k for k in expected.files if k.startswith(f"{name}_weights_"))
    assert len(weights) == len(stored) > 0
    for i, w in enumerate(weights):
        reference = expected[f"{name}_weights_{i}"]
        assert w.dtype == reference.dtype and w.tobytes() == reference.tobytes()
    if f"{name}_optimizer_state" in expected.files:
        state = model.get_optimizer_state()
        reference = expected[f"{name}_optimizer_state"]
        assert state.dtype == reference.dtype and state.tobytes() == reference.tobytes()
        assert np.count_nonzero(state) > 0  # trained: the check compares something
        assert model.optimizer.iterations == int(expected[f"{name}_iterations"]) > 0
    else:
        assert model.optimizer is None and model.get_optimizer_state() is None
    x = expected["x"]
    assert np.array_equal(model.predict(x, verbose=0), expected[f"{name}_predictions"])
    # Saved again, the file is the same, byte for byte.
    with open(os.path.join(DATA, f"{name}.nnc"), "rb") as f:
        assert models.model_to_bytes(model) == f.read()


def test_frozen_layers_and_metadata_come_back():
    frozen = nncore.load_model(os.path.join(DATA, "frozen_rmsprop.nnc"))
    assert [layer.trainable for layer in frozen.layers] == [False, True]
    assert frozen.dtype == np.float32
    assert nncore.load_model(os.path.join(DATA, "sgd_momentum_float64.nnc")).dtype == np.float64
    plain = nncore.load_model(os.path.join(DATA, "uncompiled.nnc"))
    assert plain.metadata == {"features": ["a", "b", "c", "d"]}


# ------------------------------------------------------- the codec


IO_ALONE = """
import sys, types
package = types.ModuleType("nncore")
package.__path__ = [sys.argv[1]]
sys.modules["nncore"] = package  # nncore/__init__.py, which imports everything, is not run
import numpy as np
import nncore.io as codec
header = {"anything": [1, "two", None]}
arrays = {"params": np.arange(3.0), "optimizer_state": np.zeros(0)}
back, stored = codec.decode(codec.encode(header, arrays), "test")
assert back == header and stored["params"].tolist() == [0.0, 1.0, 2.0]
print(sorted(name for name in sys.modules if name.startswith("nncore")))
"""


def test_the_codec_imports_no_model_module():
    """io.py is a codec of headers and arrays: importing and using it alone
    imports neither nncore.models nor nncore.layers (no import cycle)."""
    folder = os.path.dirname(os.path.abspath(model_io.__file__))
    result = subprocess.run(
        [sys.executable, "-c", IO_ALONE, folder], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == [
        "['nncore',",
        "'nncore._validation',",
        "'nncore._version',",
        "'nncore.io']",
    ]


def test_the_codec_round_trips_and_checks_its_arguments():
    header = {"model": {"a": 1}, "metadata": None}
    arrays = {"params": np.arange(5, dtype=np.float32), "optimizer_state": np.ones(10, "f4")}
    back, stored = model_io.decode(model_io.encode(header, arrays), "test")
    assert back == header
    for name in model_io.ARRAYS:
        assert stored[name].dtype == np.float32
        assert np.array_equal(stored[name], arrays[name])
    big_endian = {name: a.astype(">f4") for name, a in arrays.items()}
    assert model_io.encode(header, big_endian) == model_io.encode(header, arrays)
    with pytest.raises(ValueError, match="'format'"):
        model_io.encode({"format": "x"}, arrays)
    with pytest.raises(ValueError, match="exactly"):
        model_io.encode(header, {"params": arrays["params"]})
    with pytest.raises(ValueError, match="float32 or all float64"):
        model_io.encode(header, {"params": np.zeros(2), "optimizer_state": np.zeros(2, "f4")})
    with pytest.raises(ValueError, match="1-D"):
        model_io.encode(header, {"params": np.zeros((2, 2)), "optimizer_state": np.zeros(0)})
    with pytest.raises(TypeError, match="JSON"):
        model_io.encode({"x": float("nan")}, arrays)


def test_io_touches_no_model_field():
    """The codec reads and writes no attribute of a model (it is never given
    one) and imports nothing of nncore but its helpers."""
    with open(model_io.__file__) as f:
        tree = ast.parse(f.read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
        elif isinstance(node, ast.Attribute):
            assert node.attr not in ("_params", "_opt_state", "_layers", "optimizer"), node.attr
        elif isinstance(node, ast.Name):
            assert node.id != "model", node.lineno
    assert {name for name in imported if name.startswith("nncore")} == {
        "nncore._validation",
        "nncore._version",
    }


# ------------------------------------------------- optimizer state


def test_get_and_set_optimizer_state():
    x, labels = data()
    model = make_model()
    model.fit(x, labels, epochs=1, verbose=0)
    state = model.get_optimizer_state()
    assert state.shape == (2, model.count_params()) and state.dtype == np.float32
    assert np.count_nonzero(state[0]) and (state[1] >= 0).all()
    state[0] = 0  # a copy
    assert np.count_nonzero(model.get_optimizer_state()[0])
    before = model.get_optimizer_state()
    for bad, error, message in [
        (state[:1], ValueError, r"shape \(2, 109\)"),
        (state.ravel(), ValueError, "shape"),
        (state.astype(str), TypeError, "real numbers"),
    ]:
        with pytest.raises(error, match=message):
            model.set_optimizer_state(bad)
        assert np.array_equal(model.get_optimizer_state(), before)  # unchanged
    model.set_optimizer_state(state.astype(np.float64))
    assert np.array_equal(model.get_optimizer_state(), state)
    uncompiled = nncore.Sequential([Dense(1, input_dim=2)])
    assert uncompiled.get_optimizer_state() is None
    with pytest.raises(ValueError, match="compiled and built"):
        uncompiled.set_optimizer_state(np.zeros((1, 3)))


def test_state_of_an_uncompiled_model_is_refused():
    model = nncore.Sequential([Dense(1, input_dim=2)], seed=0)
    header, arrays = model_io.decode(models.model_to_bytes(model), "test")
    arrays = {"params": arrays["params"], "optimizer_state": np.zeros(3, np.float32)}
    with pytest.raises(ValueError, match="cannot load test: an uncompiled model cannot have"):
        models.model_from_bytes(model_io.encode(header, arrays), "test")
