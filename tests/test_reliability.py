"""Guarantees a program embedding nncore relies on: big calls give the same
bits as small ones, failed calls change nothing, memory stays flat, and index
arithmetic is 64-bit."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import nncore


def test_a_predict_in_many_chunks_gives_the_bits_of_small_predicts():
    """A predict big enough to run in several chunks (so that Ctrl-C is seen
    between them; here of one 227-row batch each) gives the bits of predicts of
    slices made of the same batches."""
    rng = np.random.default_rng(0)
    model = nncore.Sequential(
        [nncore.Dense(1024, "relu", input_dim=96), nncore.Dense(1024, "tanh"), nncore.Dense(3)],
        seed=0,
    )
    x = rng.standard_normal((700, 96)).astype(np.float32)
    whole = model.predict(x, batch_size=227)
    for rows in (slice(0, 227), slice(227, 681), slice(454, 700)):
        assert np.array_equal(whole[rows], model.predict(x[rows], batch_size=227))


def test_empty_last_axis_and_foreign_byte_order():
    """Found by the fuzzers: an empty last axis broke the kernels' reshaping;
    float32 in the other byte order came back as float64."""
    from nncore import kernels

    for shape in ((0,), (3, 0), (0, 0), (2, 0, 4)):
        x = np.zeros(shape, np.float32)
        assert kernels.activation(x, "relu").shape == shape
        assert kernels.activation_grad(x, x, x, "tanh").shape == shape
    swapped = np.arange(6, dtype=">f4").reshape(2, 3)
    assert kernels.activation(swapped, "linear").dtype == np.float32
    assert kernels.gemm(swapped, swapped.T).dtype == np.float32
    np.testing.assert_array_equal(kernels.gemm(swapped, swapped.T), swapped @ swapped.T)
    assert kernels.gemm(swapped.astype(">f8"), swapped.T).dtype == np.float64


def test_a_fit_whose_loss_stops_being_finite_keeps_the_last_finite_step():
    """The weights, optimizer state and step count after the FloatingPointError
    are exactly those after the last batch whose loss was finite."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]]) * 1e3

    def model():
        m = nncore.Sequential([nncore.Dense(8, "relu", input_dim=3), nncore.Dense(1)], seed=2)
        m.compile(loss="mse", optimizer=nncore.optimizers.SGD(learning_rate=0.05, momentum=0.9))
        return m

    failing = model()
    with pytest.raises(FloatingPointError):
        failing.fit(x, y, epochs=50, batch_size=4, shuffle=False, verbose=0)
    steps = failing.optimizer.iterations
    assert steps > 0
    reference = model()
    for step in range(steps):
        rows = slice(step % 10 * 4, step % 10 * 4 + 4)
        assert np.isfinite(reference.train_on_batch(x[rows], y[rows]))
    for got, want in zip(failing.get_weights(), reference.get_weights()):
        assert np.isfinite(got).all() and np.array_equal(got, want)
    assert np.array_equal(failing._opt_state, reference._opt_state)
    with pytest.raises(FloatingPointError):  # the next batch is the one that failed
        rows = slice(steps % 10 * 4, steps % 10 * 4 + 4)
        reference.train_on_batch(x[rows], y[rows])


def test_the_fuzzers_find_no_crash_and_no_unexplained_error(tmp_path):
    """tests/fuzz_api.py in a subprocess: a crash in compiled code shows here as
    the child's exit status (with faulthandler's traceback in its output)."""
    fuzzers = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_api.py")
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "faulthandler",
            "-m",
            "pytest",
            fuzzers,
            "-q",
            "-p",
            "no:cacheprovider",
            "--hypothesis-show-statistics",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    examples = sum(map(int, re.findall(r"(\d+) passing,", result.stdout)))
    print(f"the fuzzers tried {examples} cases")
    assert examples >= 500


def test_a_failed_load_weights_or_set_weights_changes_nothing(tmp_path):
    pytest.importorskip("h5py")
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((32, 4)), rng.standard_normal((32, 1))

    def trained(width, seed):
        m = nncore.Sequential(
            [nncore.Dense(width, "tanh", input_dim=4), nncore.Dense(1)], seed=seed
        )
        m.compile(loss="mse", optimizer="adam")
        m.fit(x, y, epochs=2, verbose=0)
        return m

    model = trained(6, seed=1)
    state = (
        [w.copy() for w in model.get_weights()],
        model._opt_state.copy(),
        model.optimizer.iterations,
        model.history,
    )

    def unchanged():
        weights, opt_state, iterations, history = state
        assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), weights))
        assert np.array_equal(model._opt_state, opt_state)
        assert model.optimizer.iterations == iterations and model.history is history

    other = tmp_path / "other.weights.h5"
    trained(7, seed=2).save_weights(other)  # another architecture
    truncated = tmp_path / "truncated.weights.h5"
    own = tmp_path / "own.weights.h5"
    trained(6, seed=3).save_weights(own)
    truncated.write_bytes(own.read_bytes()[:-200])
    for path in (other, truncated, tmp_path / "missing.weights.h5", tmp_path / "m.nnc"):
        with pytest.raises((ValueError, OSError)):
            model.load_weights(path)
        unchanged()
    good = [w.copy() for w in model.get_weights()]
    for bad in (good[:-1], good[:-1] + [good[-1][:0]], [w.T for w in good], good + [good[0]]):
        with pytest.raises((ValueError, TypeError)):
            model.set_weights(bad)
        unchanged()
    model.load_weights(own)  # and a good file still loads
    assert not np.array_equal(model.get_weights()[0], state[0][0])
