"""Optimizer steps over a flat buffer against a hand-written numpy version
over several steps, both dtypes, fast kernels against their reference twins."""

import numpy as np
import pytest

from nncore import _core


def config(kind, **overrides):
    opt = {
        "kind": kind,
        "learning_rate": 0.05,
        "momentum": 0.0,
        "nesterov": False,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "rho": 0.9,
        "weight_decay": 0.0,
        "iterations": 0,
    }
    opt.update(overrides)
    return opt


def numpy_steps(opt, w, grads):
    """The update rules as Keras 3 writes them, in float64."""
    w = w.astype(np.float64).copy()
    a = np.zeros_like(w)
    b = np.zeros_like(w)
    lr = opt["learning_rate"]
    for t, g in enumerate(grads, start=1):
        g = g.astype(np.float64)
        if opt["kind"] == "sgd":
            if opt["momentum"] == 0:
                w -= lr * g
            else:
                a = opt["momentum"] * a - lr * g
                w += opt["momentum"] * a - lr * g if opt["nesterov"] else a
        elif opt["kind"] in ("adam", "adamw"):
            if opt["kind"] == "adamw":
                w -= lr * opt["weight_decay"] * w
            a = opt["beta_1"] * a + (1 - opt["beta_1"]) * g
            b = opt["beta_2"] * b + (1 - opt["beta_2"]) * g * g
            step = lr * np.sqrt(1 - opt["beta_2"] ** t) / (1 - opt["beta_1"] ** t)
            w -= step * a / (np.sqrt(b) + opt["epsilon"])
        else:  # rmsprop
            a = opt["rho"] * a + (1 - opt["rho"]) * g * g
            increment = lr * g / np.sqrt(a + opt["epsilon"])
            if opt["momentum"] > 0:
                b = opt["momentum"] * b + increment
                w -= b
            else:
                w -= increment
    return w


CASES = [
    config("sgd"),
    config("sgd", momentum=0.9),
    config("sgd", momentum=0.9, nesterov=True),
    config("adam"),
    config("adam", learning_rate=0.001, beta_1=0.8, beta_2=0.99, epsilon=1e-3),
    config("adamw", weight_decay=0.004),
    config("rmsprop"),
    config("rmsprop", momentum=0.5),
]


@pytest.mark.parametrize("opt", CASES, ids=lambda o: f"{o['kind']}-{o['momentum']}-{o['nesterov']}")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [0, 1, 7, 1000])
def test_steps_match_numpy(rng, opt, dtype, size):
    w0 = rng.standard_normal(size).astype(dtype)
    grads = [rng.standard_normal(size).astype(dtype) for _ in range(5)]
    slots = _core.optimizer_state_slots(opt["kind"])
    results = []
    for reference in (False, True):
        w, state, o = w0.copy(), np.zeros(slots * size, dtype), dict(opt)
        for g in grads:
            _core.optimizer_step(o, w, g, state, reference)
        assert o["iterations"] == 5
        results.append(w)
    want = numpy_steps(opt, w0, grads)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(results[0], want, rtol=tol, atol=tol)
    np.testing.assert_allclose(results[0], results[1], rtol=4 * np.finfo(dtype).eps, atol=1e-30)


def test_state_slots():
    assert _core.optimizer_state_slots("sgd") == 1
    assert _core.optimizer_state_slots("adam") == 2
    with pytest.raises(ValueError, match="unknown optimizer kind 'lbfgs'"):
        _core.optimizer_state_slots("lbfgs")


def test_mismatched_buffers_are_refused():
    opt = config("adam")
    with pytest.raises(ValueError, match="len\\(state\\) == slots"):
        _core.optimizer_step(opt, np.zeros(3), np.zeros(3), np.zeros(3))
    assert opt["iterations"] == 0


@pytest.mark.parametrize("opt", CASES[::2], ids=lambda o: o["kind"])
def test_large_buffers_give_the_same_bits_on_any_thread_count(rng, opt):
    """Above 65536 parameters the update is split over the threads."""
    from nncore import kernels

    size = 200_003
    w0 = rng.standard_normal(size).astype(np.float32)
    g = rng.standard_normal(size).astype(np.float32)
    slots = _core.optimizer_state_slots(opt["kind"])
    results = []
    before = kernels.get_num_threads()
    try:
        for threads in (1, 2, 3):
            kernels.set_num_threads(threads)
            w, state, o = w0.copy(), np.zeros(slots * size, np.float32), dict(opt)
            for _ in range(3):
                _core.optimizer_step(o, w, g, state)
            results.append(w)
    finally:
        kernels.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])
