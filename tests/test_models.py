"""Sequential: compile, fit, predict, evaluate, train_on_batch, reproducibility,
refused input, non-finite losses, Ctrl-C, progress output, and the examples."""

import _thread
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import nncore
from nncore import optimizers
from nncore.layers import Activation, Dense, Dropout, Input

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def blobs(n=120, seed=0, n_features=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n_features))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float64)
    return x, y


def classifier(seed=0, dtype="float32", dropout=0.0, optimizer=None, metrics=("accuracy",)):
    layers = [Input((3,)), Dense(8, "tanh")]
    if dropout:
        layers.append(Dropout(dropout))
    layers.append(Dense(1, "sigmoid"))
    model = nncore.Sequential(layers, seed=seed, dtype=dtype)
    model.compile(
        loss="binary_crossentropy",
        optimizer=optimizer if optimizer is not None else optimizers.Adam(0.02),
        metrics=list(metrics),
    )
    return model


def state_of(model):
    """Everything a fit may change, as bytes (for 'unchanged' checks)."""
    return (
        model.built,
        None if model._params is None else model._params.tobytes(),
        None if model._opt_state is None else model._opt_state.tobytes(),
        model.optimizer.iterations if model.optimizer else None,
        model.history,
    )


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        assert x.dtype == y.dtype
        assert np.array_equal(x, y), "weights differ"


# --------------------------------------------------------------- training


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fit_learns_and_reports(dtype):
    x, y = blobs()
    model = classifier(dtype=dtype, metrics=["accuracy", "mse"])
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0, validation_split=0.25)
    assert history is model.history
    assert list(history.history) == [
        "loss",
        "accuracy",
        "mse",
        "val_loss",
        "val_accuracy",
        "val_mse",
    ]
    assert history.epoch == list(range(30))
    assert history.params == {"verbose": 0, "epochs": 30, "steps": 6}  # 90 samples / 16
    assert all(len(v) == 30 for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.9
    proba = model.predict(x)
    assert proba.shape == (120, 1) and proba.dtype == np.dtype(dtype)
    assert np.all((proba > 0) & (proba < 1))
    loss, acc, mse = model.evaluate(x, y)
    assert acc == np.mean((proba[:, 0] > 0.5) == y)
    assert mse == pytest.approx(np.mean((proba[:, 0] - y) ** 2), rel=1e-5)
    assert model.evaluate(x, y, return_dict=True)["accuracy"] == acc
    assert all(w.dtype == np.dtype(dtype) for w in model.get_weights())


def test_metric_names_and_accuracy_resolution():
    def resolved(loss, units, metric):
        model = nncore.Sequential([Dense(units, input_dim=2)])
        model.compile(loss=loss, metrics=[metric])
        return model._c_metrics()[metric]

    assert resolved("binary_crossentropy", 1, "accuracy") == "binary_accuracy"
    assert resolved("categorical_crossentropy", 3, "acc") == "categorical_accuracy"
    assert resolved("sparse_categorical_crossentropy", 3, "accuracy") == (
        "sparse_categorical_accuracy"
    )
    assert resolved("mse", 1, "accuracy") == "binary_accuracy"
    assert resolved("mse", 2, "accuracy") == "categorical_accuracy"
    assert resolved("mean_squared_error", 2, "mean_absolute_error") == "mae"
    # History uses the names the user wrote
    x, y = blobs(40)
    model = classifier(metrics=["acc", "mean_absolute_error"])
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    assert list(history.history) == [
        "loss",
        "acc",
        "mean_absolute_error",
        "val_loss",
        "val_acc",
        "val_mean_absolute_error",
    ]
    assert model.metrics_names == ["loss", "acc", "mean_absolute_error"]


def test_compile_errors():
    model = nncore.Sequential([Dense(1, input_dim=2)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((2, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="loss must be one of"):
        model.compile(loss="hinge")
    with pytest.raises(ValueError, match="looks like an optimizer"):
        model.compile(loss="adam")
    with pytest.raises(
        ValueError, match=r"looks like a loss: the order is compile\(optimizer, loss\)"
    ):
        model.compile("mse", "adam")
    with pytest.raises(ValueError, match="metrics"):
        model.compile(loss="mse", metrics=["f1_score"])
    with pytest.raises(ValueError, match="duplicates"):
        model.compile(loss="mse", metrics=["mae", "mae"])
    with pytest.raises(ValueError, match="optimizer"):
        model.compile(loss="mse", optimizer="adagrad")
    assert not model.compiled
    model.compile(loss="mean_squared_error", optimizer="sgd")
    assert isinstance(model.optimizer, optimizers.SGD) and model.loss == "mean_squared_error"


def test_sparse_and_categorical_targets():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 3))
    labels = np.argmax(x, axis=1)
    model = nncore.Sequential([Dense(3, "softmax", input_dim=3)], seed=0)
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=optimizers.Adam(0.05),
        metrics=["accuracy"],
    )
    history = model.fit(x, labels, epochs=40, batch_size=10, verbose=0)
    assert history.history["accuracy"][-1] > 0.85
    model.fit(x, labels.reshape(-1, 1).astype(np.float64), epochs=1, verbose=0)  # (n, 1) floats
    with pytest.raises(ValueError, match=r"class labels in \[0, 3\)"):
        model.fit(x, labels + 1, verbose=0)
    with pytest.raises(ValueError, match="integer class labels"):
        model.fit(x, labels + 0.5, verbose=0)
    onehot = np.eye(3)[labels]
    cat = nncore.Sequential([Dense(3, "softmax", input_dim=3)], seed=0)
    cat.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    cat.fit(x, onehot, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        cat.fit(x, labels, verbose=0)


def test_integer_inputs_and_inferred_input_width():
    model = nncore.Sequential([Dense(4, "relu"), Dense(1)], seed=1)
    model.compile(loss="mse", optimizer="sgd")
    x = np.array([[0, 1], [1, 0], [1, 1], [2, 3]])  # int64
    model.fit(x, [1, 1, 2, 5], epochs=2, verbose=0)
    assert model.input_shape == (None, 2)
    assert model.predict(x.tolist()).shape == (4, 1)
    assert model.predict(np.zeros((0, 2))).shape == (0, 1)


def test_predict_builds_an_unbuilt_model():
    model = nncore.Sequential([Dense(2)], seed=0)
    out = model.predict(np.ones((3, 5)))
    assert out.shape == (3, 2) and model.built
    w, b = model.get_weights()
    np.testing.assert_allclose(out, np.ones((3, 5)) @ w + b, rtol=1e-6)


# ------------------------------------------------------ refused input


BAD_FITS = [
    (
        lambda x, y: {"X": np.where(np.arange(3) == 1, np.nan, x), "y": y},
        ValueError,
        "x contains NaN",
    ),
    (
        lambda x, y: {"X": x, "y": np.where(np.arange(120) == 5, np.inf, y)},
        ValueError,
        "y contains",
    ),
    (lambda x, y: {"X": x[:, :2], "y": y}, ValueError, r"x must have 3 features.*\(120, 2\)"),
    (lambda x, y: {"X": x[:, 0], "y": y}, ValueError, "x must be 2-D"),
    (lambda x, y: {"X": x, "y": y[:100]}, ValueError, r"y must have one row per sample.*\(100,\)"),
    (lambda x, y: {"X": x, "y": np.c_[y, y]}, ValueError, r"y must have shape \(120, 1\)"),
    (lambda x, y: {"X": x[:0], "y": y[:0]}, ValueError, "at least one sample"),
    (lambda x, y: {"X": x.astype(complex), "y": y}, TypeError, "x must have dtype"),
    (lambda x, y: {"X": x, "y": y, "epochs": -1}, ValueError, "epochs"),
    (lambda x, y: {"X": x, "y": y, "batch_size": 0}, ValueError, "batch_size"),
    (lambda x, y: {"X": x, "y": y, "validation_split": 1.0}, ValueError, "validation_split"),
    (lambda x, y: {"X": x, "y": y, "verbose": 3}, ValueError, "verbose"),
    (lambda x, y: {"X": x, "y": y, "sample_weight": np.ones(5)}, ValueError, "sample_weight"),
    (lambda x, y: {"X": x, "y": y, "sample_weight": -np.ones(120)}, ValueError, "sample_weight"),
    (
        lambda x, y: {"X": x, "y": y, "validation_data": (x[:, :2], y)},
        ValueError,
        r"validation_data\[0\] must have 3 features",
    ),
    (
        lambda x, y: {"X": x, "y": y, "validation_data": (x, y[:3])},
        ValueError,
        r"validation_data\[1\]",
    ),
    (lambda x, y: {"X": x, "y": y, "validation_data": x}, ValueError, "validation_data"),
    (lambda x, y: {"X": x, "y": y, "callbacks": [object()]}, TypeError, "on_epoch_end"),
]


@pytest.mark.parametrize("make, error, message", BAD_FITS)
def test_refused_fit_leaves_model_unchanged(make, error, message):
    x, y = blobs()
    model = classifier()
    model.fit(x, y, epochs=1, verbose=0)  # a history and optimizer state to keep
    before = state_of(model)
    kwargs = make(x, y)
    X, Y = kwargs.pop("X"), kwargs.pop("y")
    with pytest.raises(error, match=message):
        model.fit(X, Y, **{"verbose": 0, **kwargs})
    assert state_of(model) == before


def test_refused_fit_leaves_unbuilt_model_unbuilt():
    model = nncore.Sequential([Dense(3, "softmax")])
    model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="class labels"):
        model.fit(np.zeros((4, 2)), np.array([0, 1, 2, 3]), verbose=0)
    assert not model.built and model.input_shape is None
    with pytest.raises(ValueError, match="no layers"):
        nncore.Sequential().predict(np.zeros((1, 2)))


# ---------------------------------------------------- reproducibility


def test_same_seed_gives_bit_identical_training():
    x, y = blobs()
    runs = []
    for seed in (5, 5, 6):
        model = classifier(seed=seed, dropout=0.3)
        model.fit(x, y, epochs=3, batch_size=10, verbose=0, validation_split=0.1)
        runs.append(model)
    assert_same_weights(runs[0], runs[1])
    assert not np.array_equal(runs[0].get_weights()[0], runs[2].get_weights()[0])


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        lambda: optimizers.Adam(0.01),
        lambda: optimizers.AdamW(0.01, weight_decay=0.1),
        lambda: optimizers.RMSprop(0.01, momentum=0.5),
    ],
)
def test_train_on_batch_equals_fit_without_shuffle(make_optimizer):
    x, y = blobs(n=50)  # 50 = 3 batches of 16 and one of 2
    w = np.linspace(0.5, 1.5, 50)
    fitted = classifier(seed=3, dropout=0.2, optimizer=make_optimizer())
    fitted.fit(x, y, epochs=2, batch_size=16, shuffle=False, sample_weight=w, verbose=0)
    stepped = classifier(seed=3, dropout=0.2, optimizer=make_optimizer())
    losses = []
    for _ in range(2):
        for start in range(0, 50, 16):
            batch = slice(start, start + 16)
            logs = stepped.train_on_batch(x[batch], y[batch], sample_weight=w[batch])
            losses.append(logs[0])  # [loss, accuracy], as Keras returns them
    assert all(isinstance(v, float) for v in losses)
    assert stepped.optimizer.iterations == fitted.optimizer.iterations == 8
    assert_same_weights(fitted, stepped)


def test_validation_split_takes_the_last_fraction():
    x, y = blobs(n=100)
    split = classifier(seed=2)
    history = split.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0)
    head = classifier(seed=2)
    head.fit(x[:75], y[:75], epochs=2, batch_size=8, verbose=0)
    assert_same_weights(split, head)  # trained on the first 75 rows only, same shuffles
    loss, acc = head.evaluate(x[75:], y[75:])
    assert history.history["val_loss"][-1] == pytest.approx(loss, rel=1e-6)
    assert history.history["val_accuracy"][-1] == acc
    with pytest.raises(ValueError, match="empty"):
        classifier().fit(x[:1], y[:1], validation_split=0.1, verbose=0)


def test_sample_weight_scales_the_loss():
    x, y = blobs(n=40)
    model = classifier()
    plain = model.evaluate(x, y)[0]
    assert model.evaluate(x, y, sample_weight=np.full(40, 2.0))[0] == pytest.approx(2 * plain)


# ------------------------------------------ constraints and regularizers


def test_constraints_hold_after_fit_and_l2_adds_to_loss():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4))
    y = x @ np.array([1.0, -2.0, 3.0, -4.0])
    nonneg = nncore.Sequential([Dense(1, input_dim=4, kernel_constraint="non_neg")], seed=0)
    nonneg.compile(loss="mse", optimizer=optimizers.SGD(0.05))
    nonneg.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert np.all(nonneg.get_weights()[0] >= 0)
    capped = nncore.Sequential([Dense(3, input_dim=4, kernel_constraint="max_norm")], seed=0)
    capped.compile(loss="mse", optimizer=optimizers.SGD(0.05))
    capped.fit(x, np.c_[y, y, y], epochs=5, batch_size=8, verbose=0)
    assert np.all(np.linalg.norm(capped.get_weights()[0], axis=0) <= 2.0 + 1e-5)
    factor = 0.1
    reg = nncore.Sequential(
        [Dense(1, input_dim=4, kernel_regularizer=nncore.regularizers.l2(factor))], seed=0
    )
    reg.compile(loss="mse")
    plain = nncore.Sequential([Dense(1, input_dim=4)], seed=0)
    plain.compile(loss="mse")
    penalty = factor * np.sum(reg.get_weights()[0].astype(np.float64) ** 2)
    assert reg.evaluate(x, y) == pytest.approx(plain.evaluate(x, y) + penalty, rel=1e-5)


def test_activation_layer_with_parameters_trains():
    x, y = blobs(n=40)
    model = nncore.Sequential(
        [Dense(6, input_dim=3), Activation("leaky_relu", alpha=0.2), Dense(1, "sigmoid")], seed=0
    )
    model.compile(loss="binary_crossentropy")
    history = model.fit(x, y, epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


# --------------------------------------------- failures during training


def test_non_finite_loss_raises_and_keeps_finite_weights():
    x, y = blobs(n=64)
    model = nncore.Sequential([Dense(16, "relu", input_dim=3), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer=optimizers.SGD(learning_rate=1e6))
    with pytest.raises(FloatingPointError, match="epoch 1.*finite"):
        model.fit(x, y * 1e6, epochs=5, batch_size=4, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    model.optimizer.learning_rate = 1e-3
    model.fit(x, y, epochs=1, verbose=0)  # usable again


def test_exception_in_a_callback_leaves_a_consistent_model():
    x, y = blobs(n=64)

    class Boom:
        def on_epoch_end(self, epoch, logs):
            if epoch == 1:
                raise KeyboardInterrupt

    model = classifier(seed=4)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=5, batch_size=16, shuffle=False, callbacks=[Boom()], verbose=0)
    assert model.optimizer.iterations == 8
    reference = classifier(seed=4)
    reference.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert_same_weights(model, reference)


def test_keyboard_interrupt_inside_an_epoch(monkeypatch):
    """Ctrl-C raised from the progress hook: the C loop stops after the batch in
    progress, and the model holds exactly the weights of the batches done."""
    x, y = blobs(n=64)
    calls = []

    def interrupt(self, batches_done, loss):
        calls.append(batches_done)
        if batches_done >= 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(nncore.progress.ProgressLine, "interval", property(lambda self: 0.0))
    monkeypatch.setattr(nncore.progress.ProgressLine, "update", interrupt)
    model = classifier(seed=4)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=1)
    done = model.optimizer.iterations
    assert 3 <= done < 16 and calls[-1] == done
    reference = classifier(seed=4)
    for start in range(0, 4 * done, 4):
        reference.train_on_batch(x[start : start + 4], y[start : start + 4])
    assert_same_weights(model, reference)
    history = model.fit(x, y, epochs=1, verbose=0)  # fits again
    assert np.isfinite(history.history["loss"][0])


def test_ctrl_c_stops_a_long_fit_quickly():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20000, 32)).astype(np.float32)
    y = rng.standard_normal((20000, 1)).astype(np.float32)
    model = nncore.Sequential([Dense(128, "relu", input_dim=32), Dense(1)], seed=0)
    model.compile(loss="mse", optimizer=optimizers.SGD(1e-4))
    sent = []

    def press_ctrl_c():
        sent.append(time.perf_counter())
        _thread.interrupt_main()

    timer = threading.Timer(0.3, press_ctrl_c)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(x, y, epochs=10_000, batch_size=8, verbose=0)
        stopped = time.perf_counter()
    finally:
        timer.cancel()
    assert stopped - sent[0] < 0.5
    done = model.optimizer.iterations
    assert done > 0 and all(np.isfinite(w).all() for w in model.get_weights())
    model.fit(x[:100], y[:100], epochs=1, verbose=0)
    assert model.optimizer.iterations == done + 4


# --------------------------------------------------------------- callbacks


def test_callbacks_hooks_and_stop_training():
    x, y = blobs(n=40)
    seen = []

    class Plain:  # not a Callback subclass: any object with the hooks works
        def on_train_begin(self, logs):
            seen.append("begin")

        def on_epoch_begin(self, epoch, logs):
            seen.append(("epoch", epoch))

        def on_epoch_end(self, epoch, logs):
            seen.append(("end", epoch, sorted(logs)))
            if epoch == 2:
                self.model.stop_training = True

        def on_train_end(self, logs):
            seen.append("finish")

    model = classifier()
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[Plain()])
    assert history.epoch == [0, 1, 2]
    assert seen[0] == "begin" and seen[-1] == "finish"
    assert seen[1:3] == [("epoch", 0), ("end", 0, ["accuracy", "loss"])]


# ------------------------------------------------------------- progress


def test_verbose_output(capsys):
    x, y = blobs(n=40)
    model = classifier()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=2, batch_size=8, verbose=2, validation_split=0.2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "\r" not in out
    assert re.search(r"4/4 \[=+\] .* - loss: \d\.\d{4} - accuracy: .* - val_loss: ", out)
    model.fit(x, y, epochs=1, verbose=1)  # not a terminal: plain lines
    out = capsys.readouterr().out
    assert "\r" not in out and "2/2" in out


def test_live_progress_line_rewrites_in_place():
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    line = nncore.progress.ProgressLine(0, 3, 10, stream=stream)
    assert line.live and line.interval <= 1.0
    line.update(4, 0.5)
    line.finish(10, {"loss": 0.25, "accuracy": 1.0})
    text = stream.getvalue()
    assert text.startswith("Epoch 1/3\n")
    assert "\r 4/10 [========>" in text and "loss: 0.5000" in text
    assert text.endswith("accuracy: 1.0000\n") and "10/10 [====================]" in text


# --------------------------------------------------------------- examples


def run_example(script, tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_example_xor(tmp_path):
    assert "XOR predictions: [0 1 1 0]" in run_example("xor.py", tmp_path)


def test_example_sum_nonneg(tmp_path):
    out = run_example("sum_nonneg.py", tmp_path)
    weights = re.search(r"weights: \[\s*([-\d.e]+)\s+([-\d.e]+)\s*\]", out)
    assert weights, out
    assert [float(w) for w in weights.groups()] == pytest.approx([1, 1], abs=0.02)


def test_example_circles(tmp_path):
    out = run_example("circles.py", tmp_path)
    accuracy = re.search(r"test accuracy: ([\d.]+)", out)
    assert accuracy and float(accuracy.group(1)) > 0.95, out


def test_optimizer_state_is_what_the_c_update_keeps():
    # SGD: the velocity; Adam, AdamW: two moments; RMSprop: mean square and momentum
    expected = {optimizers.SGD: 1, optimizers.Adam: 2, optimizers.AdamW: 2, optimizers.RMSprop: 2}
    for cls, slots in expected.items():
        model = nncore.Sequential([Dense(3, input_dim=2)], seed=0)
        model.compile(cls(), "mse")
        assert cls().state_slots == slots
        assert model._opt_state.size == slots * model.count_params()


def test_predict_fast_path_matches_the_full_path():
    """predict() takes a C-checked shortcut for plain arrays; results and errors
    must be those of the fully validated path."""
    import nncore

    model = nncore.Sequential([nncore.Dense(3, "tanh", input_dim=2), nncore.Dense(1)], seed=1)
    model.compile(loss="mse")
    x = np.random.default_rng(0).standard_normal((5, 2))
    fast = model.predict(x.astype(np.float32))
    np.testing.assert_array_equal(fast, model.predict(x))  # float64 input: converted
    np.testing.assert_array_equal(fast, model.predict(x.tolist()))
    np.testing.assert_array_equal(fast[:2], model.predict(np.asfortranarray(x[:2])))
    bad = x.astype(np.float32)
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        model.predict(bad)
    with pytest.raises(ValueError, match="x must have 2 features"):
        model.predict(np.ones((2, 3), np.float32))


def test_all_finite_check_on_every_layout():
    """The one-pass C check fit uses, against numpy, on the layouts it reads and
    the ones it hands back (None) for numpy to check."""
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        base = rng.standard_normal((7, 9)).astype(dtype)
        views = [base, base[::2], base[:, 1:], base[3], base.T, base[:, ::2], base[:0], base[0, :1]]
        for view in views:
            for bad in (None, np.nan, np.inf, -np.inf):
                arr = view
                if bad is not None and view.size:
                    arr = view.copy(order="K")  # same layout, its own memory
                    arr.flat[arr.size // 2] = bad
                got = nncore._core.all_finite(arr)
                want = bool(np.isfinite(arr).all())
                assert got is None or got == want, (dtype, arr.strides, bad)
        assert nncore._core.all_finite(base.T) is None  # columns: numpy checks it
        assert nncore._core.all_finite(base[::2]) is True  # rows with a stride: C
        big = np.full((3, 5), np.finfo(dtype).max, dtype)  # x - x is 0 for huge finite x
        assert nncore._core.all_finite(big) is True
    before = nncore.kernels.get_num_threads()
    try:
        for threads in (1, 2):  # past 4 MB the rows are split over the threads
            nncore.kernels.set_num_threads(threads)
            large = np.zeros((2049, 600), np.float32)
            assert nncore._core.all_finite(large) is True
            for row in (0, 1024, 2048):
                large[row, 599] = np.inf
                assert nncore._core.all_finite(large) is False, (threads, row)
                large[row, 599] = 0
    finally:
        nncore.kernels.set_num_threads(before)
    assert nncore._core.all_finite(np.ones((2, 2), np.int64)) is None
    assert nncore._core.all_finite([1.0, np.nan]) is None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_fit_refuses_non_finite_float32_x_in_any_layout(bad):
    x = np.random.default_rng(1).standard_normal((20, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    for layout in (x.copy(), np.asfortranarray(x), x[:, ::1]):
        layout[17, 2] = bad
        model = nncore.Sequential([Dense(1, activation="sigmoid")], dtype="float32", seed=0)
        model.compile(loss="binary_crossentropy")
        with pytest.raises(
            ValueError, match=r"x contains NaN or infinity \(first at index \(17, 2\)\)"
        ):
            model.fit(layout, y, epochs=1, verbose=0)


def test_weights_that_overflow_roll_back_to_the_start_of_the_epoch_in_every_fit():
    """A finite loss whose step overflows the weights: fit goes back to the
    epoch's start (kept in buffers reused from one fit to the next)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((32, 2)).astype(np.float32)
    y = (10 + x.sum(axis=1, keepdims=True)).astype(np.float32)
    model = nncore.Sequential([Dense(1, input_dim=2)], seed=0)
    model.compile(loss="mse", optimizer=optimizers.SGD(learning_rate=1e-3))
    for _ in range(2):
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        start = [w.copy() for w in model.get_weights()], model.optimizer.iterations
        model.optimizer.learning_rate = 3e38  # the first step's weights are inf
        with pytest.raises(FloatingPointError, match="epoch 1"):
            model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        for got, want in zip(model.get_weights(), start[0]):
            np.testing.assert_array_equal(got, want)
        assert model.optimizer.iterations == start[1]
        model.optimizer.learning_rate = 1e-3


def test_contiguous_rows_read_in_place_give_the_bits_of_gathered_rows():
    """predict and unshuffled fit read C-contiguous rows where they are and
    gather any other layout into a copy: both give the same bits."""
    rng = np.random.default_rng(5)
    big = rng.standard_normal((80, 6)).astype(np.float32)
    strided, contiguous = big[::2, :3], np.ascontiguousarray(big[::2, :3])
    y = (contiguous[:, :1] > 0).astype(np.float32)
    models = []
    for x in (contiguous, strided):
        model = nncore.Sequential([Dense(5, "tanh", input_dim=3), Dense(1, "sigmoid")], seed=2)
        model.compile(loss="binary_crossentropy", optimizer="adam")
        model.fit(x, y, epochs=3, batch_size=7, shuffle=False, verbose=0)
        models.append(model)
    for got, want in zip(models[1].get_weights(), models[0].get_weights()):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(models[0].predict(strided), models[0].predict(contiguous))
