"""The C network (nncore._core.Network): gradients against finite differences,
forward/backward/update against an independent numpy implementation, the
classic worked backpropagation example, and the training loop's guarantees."""

import platform
import time

import numpy as np
import pytest

from nncore import _core, kernels

ACTIVATIONS = ["linear", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "gelu"]


def dense(n_in, n_out, activation="linear", **extra):
    return {"kind": "dense", "n_in": n_in, "n_out": n_out, "activation": activation, **extra}


def adam(**overrides):
    opt = {
        "kind": "adam",
        "learning_rate": 0.01,
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


def targets_for(loss, rng, n, width):
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, width, n).astype(np.float64)
    if loss == "categorical_crossentropy":
        return np.eye(width)[rng.integers(0, width, n)]
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, (n, width)).astype(np.float64)
    if loss == "poisson":
        return rng.poisson(1.0, (n, width)).astype(np.float64)
    return rng.standard_normal((n, width))


def numeric_gradient(net, params, x, y, weights=None, eps=1e-6):
    grad = np.empty_like(params)
    for i in range(params.size):
        step = np.zeros_like(params)
        step[i] = eps
        up = net.loss_grad(params + step, x, y, weights)[0]
        down = net.loss_grad(params - step, x, y, weights)[0]
        grad[i] = (up - down) / (2 * eps)
    return grad


# ----------------------------------------------------- finite differences


CASES = [
    # (hidden activation, output activation, loss, out width)
    *[(act, "sigmoid", "binary_crossentropy", 1) for act in ACTIVATIONS],
    ("tanh", "softmax", "categorical_crossentropy", 3),
    ("relu", "softmax", "sparse_categorical_crossentropy", 4),
    ("elu", "linear", "mse", 2),
    ("gelu", "linear", "mae", 2),
    ("softplus", "linear", "huber", 3),
    ("sigmoid", "softplus", "poisson", 2),
    ("leaky_relu", "tanh", "mse", 1),
    ("relu", "sigmoid", "mse", 2),  # sigmoid without cross-entropy: no logits shortcut
]


@pytest.mark.parametrize("hidden, output, loss, width", CASES)
@pytest.mark.parametrize("depth", [1, 2, 4])
def test_gradient_matches_finite_differences(hidden, output, loss, width, depth):
    rng = np.random.default_rng(depth)
    widths = [5, 3, 5, 7][:depth] + [width]
    layers = [
        dense(widths[i], widths[i + 1], output if i == depth - 1 else hidden, alpha=0.2, l2=0.01)
        for i in range(depth)
    ]
    net = _core.Network(layers, loss, np.float64)
    params = rng.standard_normal(net.n_params) * 0.5
    x = rng.standard_normal((9, 5))
    y = targets_for(loss, rng, 9, width)
    weights = rng.uniform(0.5, 2.0, 9)
    value, grad = net.loss_grad(params, x, y, weights)
    assert np.isfinite(value)
    numeric = numeric_gradient(net, params, x, y, weights)
    # mae/relu kinks are measure-zero for random data; 1e-5 covers the differences
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6)


def test_gradient_through_activation_and_dropout_layers():
    rng = np.random.default_rng(3)
    layers = [
        dense(4, 6),
        {"kind": "activation", "n": 6, "activation": "leaky_relu", "alpha": 0.3},
        {"kind": "dropout", "n": 6, "rate": 0.5},  # inference: identity
        dense(6, 3),
        {"kind": "activation", "n": 3, "activation": "softmax"},
    ]
    net = _core.Network(layers, "categorical_crossentropy", np.float64)
    assert net.from_logits
    params = rng.standard_normal(net.n_params)
    x, y = rng.standard_normal((8, 4)), np.eye(3)[rng.integers(0, 3, 8)]
    np.testing.assert_allclose(
        net.loss_grad(params, x, y)[1], numeric_gradient(net, params, x, y), rtol=1e-6, atol=1e-8
    )


# ------------------------------------------- an independent numpy network


def numpy_forward(params, slices, acts, x):
    """Returns the list of (z, a) per layer, computed with numpy alone."""
    out, a = [], x
    for (w_off, (n_in, n_out), b_off), act in zip(slices, acts):
        w = params[w_off : w_off + n_in * n_out].reshape(n_in, n_out)
        z = a @ w + params[b_off : b_off + n_out]
        if act == "relu":
            a = np.maximum(z, 0)
        elif act == "tanh":
            a = np.tanh(z)
        elif act == "sigmoid":
            a = 1 / (1 + np.exp(-z))
        elif act == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
        else:
            a = z
        out.append((z, a))
    return out


def numpy_gradient(params, slices, acts, x, y, loss):
    layers = numpy_forward(params, slices, acts, x)
    n = len(x)
    z, p = layers[-1]
    if loss == "mse":
        value = np.mean((p - y) ** 2)
        delta = 2 * (p - y) / p.size
    else:  # softmax / sigmoid cross-entropy from the output, p - y at the logits
        if loss == "categorical_crossentropy":
            value = -np.mean(np.sum(y * np.log(p), axis=1))
            delta = (p - y) / n
        else:
            value = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
            delta = (p - y) / p.size
    grad = np.zeros_like(params)
    for i in range(len(slices) - 1, -1, -1):
        w_off, (n_in, n_out), b_off = slices[i]
        z, a = layers[i]
        if i < len(slices) - 1 or loss == "mse":
            if acts[i] == "relu":
                delta = delta * (z > 0)
            elif acts[i] == "tanh":
                delta = delta * (1 - a**2)
        inp = layers[i - 1][1] if i else x
        grad[w_off : w_off + n_in * n_out] = (inp.T @ delta).ravel()
        grad[b_off : b_off + n_out] = delta.sum(axis=0)
        w = params[w_off : w_off + n_in * n_out].reshape(n_in, n_out)
        delta = delta @ w.T
    return value, grad


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "acts, loss",
    [
        (["relu", "tanh", "softmax"], "categorical_crossentropy"),
        (["tanh", "sigmoid"], "binary_crossentropy"),
        (["relu", "linear"], "mse"),
    ],
)
def test_forward_backward_and_adam_step_match_numpy(dtype, acts, loss):
    rng = np.random.default_rng(7)
    widths = [6, 7, 5, 3][: len(acts) + 1]
    layers = [dense(widths[i], widths[i + 1], acts[i]) for i in range(len(acts))]
    net = _core.Network(layers, loss, dtype)
    slices = net.dense_slices()
    params64 = rng.standard_normal(net.n_params) * 0.7
    x = rng.standard_normal((11, widths[0]))
    if loss == "categorical_crossentropy":
        y = np.eye(widths[-1])[rng.integers(0, widths[-1], 11)]
    elif loss == "binary_crossentropy":
        y = rng.integers(0, 2, (11, widths[-1])).astype(float)
    else:
        y = rng.standard_normal((11, widths[-1]))
    params = params64.astype(dtype)
    want_value, want_grad = numpy_gradient(params.astype(np.float64), slices, acts, x, y, loss)
    value, grad = net.loss_grad(params, x.astype(dtype), y.astype(dtype))
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(value, want_value, rtol=tol * 10)
    np.testing.assert_allclose(grad, want_grad, rtol=tol * 10, atol=tol)
    predicted = net.predict(params, x.astype(dtype))
    np.testing.assert_allclose(
        predicted,
        numpy_forward(params.astype(np.float64), slices, acts, x)[-1][1],
        rtol=tol * 10,
        atol=tol,
    )
    # one Adam step on the whole set as one batch
    state = np.zeros(2 * net.n_params, dtype)
    before = params.astype(np.float64)
    opt = adam(learning_rate=0.1)
    net.train_epoch(
        params,
        np.empty_like(params),
        state,
        opt,
        x.astype(dtype),
        y.astype(dtype),
        None,
        None,
        11,
        0,
        [],
    )
    m = 0.1 * want_grad
    v = 0.001 * want_grad**2
    step = 0.1 * np.sqrt(1 - 0.999) / (1 - 0.9)
    want = before - step * m / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(params, want, rtol=tol * 100, atol=tol * 10)
    assert opt["iterations"] == 1


def test_mazur_worked_example():
    """Matt Mazur's "A Step by Step Backpropagation Example": a 2-2-2 sigmoid
    network, E = sum 1/2 (t - o)^2, one gradient step with learning rate 0.5.
    Our mse is the MEAN of (p - t)^2 over the 2 outputs = E (so the same
    gradient) for one sample: E_mazur = 1/2 * sum = mean. The published
    numbers are rounded to 8 digits."""
    layers = [dense(2, 2, "sigmoid"), dense(2, 2, "sigmoid")]
    net = _core.Network(layers, "mse", np.float64)
    # W stored (in, out): W[i, j] = weight from input i to unit j
    params = np.array([0.15, 0.25, 0.20, 0.30, 0.35, 0.35, 0.40, 0.50, 0.45, 0.55, 0.60, 0.60])
    x, y = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])
    loss, _ = net.loss_grad(params, x, y)
    assert abs(loss - 0.298371109) < 1e-9
    opt = adam(kind="sgd", learning_rate=0.5)
    net.train_epoch(params, np.empty_like(params), np.zeros(12), opt, x, y, None, None, 1, 0, [])
    # Mazur updates the weights only (his biases stay); compare the weights
    w1 = params[0:4].reshape(2, 2)
    w2 = params[6:10].reshape(2, 2)
    np.testing.assert_allclose(
        [w2[0, 0], w2[1, 0], w2[0, 1], w2[1, 1]],
        [0.35891648, 0.408666186, 0.511301270, 0.561370121],
        atol=1e-9,
    )
    np.testing.assert_allclose(
        [w1[0, 0], w1[1, 0], w1[0, 1], w1[1, 1]],
        [0.149780716, 0.19956143, 0.24975114, 0.29950229],
        atol=1e-8,
    )


# ------------------------------------------------- the training loop


def small_problem(dtype=np.float32, loss="binary_crossentropy", dropout=0.0):
    rng = np.random.default_rng(0)
    layers = [dense(3, 8, "relu")]
    if dropout:
        layers.append({"kind": "dropout", "n": 8, "rate": dropout})
    layers.append(dense(8, 1, "sigmoid"))
    net = _core.Network(layers, loss, dtype)
    x = rng.standard_normal((103, 3)).astype(dtype)
    y = (x[:, :1] > 0).astype(dtype)
    params = (rng.standard_normal(net.n_params) * 0.3).astype(dtype)
    return net, params, x, y


def test_epoch_equals_batch_by_batch():
    net, params, x, y = small_problem(dropout=0.3)
    order = np.random.default_rng(1).permutation(len(x)).astype(np.uintp)
    state = np.zeros(2 * net.n_params, np.float32)
    p1, s1, o1 = params.copy(), state.copy(), adam()
    net.train_epoch(p1, np.empty_like(p1), s1, o1, x, y, None, order, 16, 5, [])
    p2, s2, o2 = params.copy(), state.copy(), adam()
    for start in range(0, len(x), 16):
        rows = order[start : start + 16]
        net.train_epoch(p2, np.empty_like(p2), s2, o2, x[rows], y[rows], None, None, 16, 5, [])
    assert o1["iterations"] == o2["iterations"] == 7
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(s1, s2)


def test_dropout_training_only_and_reproducible():
    net, params, x, y = small_problem(np.float64, dropout=0.5)
    plain = net.loss_grad(params, x, y)[0]
    assert net.loss_grad(params, x, y, training=True, seed=1)[0] != plain
    assert (
        net.loss_grad(params, x, y, training=True, seed=1)[0]
        == net.loss_grad(params, x, y, training=True, seed=1)[0]
    )
    # the kept fraction is about 1 - rate
    layers = [dense(1, 1000), {"kind": "dropout", "n": 1000, "rate": 0.3}, dense(1000, 1)]
    big = _core.Network(layers, "mse", np.float64)
    p = np.zeros(big.n_params)
    p[:1000] = 1.0  # first layer: copy the input to 1000 units
    w2 = big.dense_slices()[1][0]
    _, g = big.loss_grad(p, np.ones((1, 1)), np.ones((1, 1)), training=True, seed=3)
    # dL/dW2 = dropped-out activations * dL/dout: nonzero where kept
    kept = np.count_nonzero(g[w2 : w2 + 1000])
    assert 650 < kept < 750


def test_metrics_and_loss_report():
    net, params, x, y = small_problem(np.float64)
    opt = adam()
    out = net.train_epoch(
        params,
        np.empty_like(params),
        np.zeros(2 * net.n_params),
        opt,
        x,
        y,
        None,
        None,
        103,
        0,
        ["binary_accuracy", "mse"],
    )
    # one batch: the metrics are those of the forward pass before the update
    assert out["batches"] == 1 and out["samples"] == 103
    assert 0 <= out["metrics"]["binary_accuracy"] <= 1
    assert out["metrics"]["mse"] > 0


def test_nonfinite_loss_raises_and_keeps_weights():
    net, params, x, y = small_problem(np.float64, loss="mse")
    params[:] = 0
    x = x.copy()
    x[40, 0] = np.inf
    opt = adam()
    before = params.copy()
    with pytest.raises(FloatingPointError, match="batch 3"):
        net.train_epoch(
            params,
            np.empty_like(params),
            np.zeros(2 * net.n_params),
            opt,
            x,
            y,
            None,
            None,
            20,
            0,
            [],
        )
    assert opt["iterations"] == 2  # two good batches were applied
    assert not np.array_equal(params, before) and np.isfinite(params).all()


def test_progress_stops_and_errors_propagate():
    net, params, x, y = small_problem(np.float64)
    calls = []

    def stop_after_first(batches, samples, loss):
        calls.append((batches, samples, loss))
        return True

    opt = adam()
    out = net.train_epoch(
        params,
        np.empty_like(params),
        np.zeros(2 * net.n_params),
        opt,
        x,
        y,
        None,
        None,
        10,
        0,
        [],
        progress=stop_after_first,
        progress_interval=0,
    )
    assert out["stopped"] and out["batches"] == 1 and opt["iterations"] == 1
    assert calls == [(1, 10, pytest.approx(out["loss"]))]

    def interrupt(*args):
        raise KeyboardInterrupt

    opt = adam()
    with pytest.raises(KeyboardInterrupt):
        net.train_epoch(
            params,
            np.empty_like(params),
            np.zeros(2 * net.n_params),
            opt,
            x,
            y,
            None,
            None,
            10,
            0,
            [],
            progress=interrupt,
            progress_interval=0,
        )
    assert opt["iterations"] == 1


def test_thread_count_does_not_change_results():
    rng = np.random.default_rng(2)
    layers = [dense(64, 96, "relu"), dense(96, 80, "tanh"), dense(80, 10, "softmax")]
    net = _core.Network(layers, "sparse_categorical_crossentropy", np.float32)
    x = rng.standard_normal((300, 64)).astype(np.float32)
    y = rng.integers(0, 10, 300).astype(np.float32)
    start = (rng.standard_normal(net.n_params) * 0.1).astype(np.float32)
    results = []
    before = kernels.get_num_threads()
    try:
        for threads in (1, 2):
            kernels.set_num_threads(threads)
            p = start.copy()
            net.train_epoch(
                p,
                np.empty_like(p),
                np.zeros(2 * p.size, np.float32),
                adam(),
                x,
                y,
                None,
                None,
                64,
                0,
                [],
            )
            results.append(p)
    finally:
        kernels.set_num_threads(before)
    np.testing.assert_array_equal(results[0], results[1])


# where nncore can set the floating-point mode (runtime.c, nc_fp_flush_denormals)
FLUSHES_DENORMALS = platform.machine().lower() in ("x86_64", "amd64", "arm64", "aarch64")


@pytest.mark.skipif(not FLUSHES_DENORMALS, reason="no denormal flushing on this machine")
@pytest.mark.parametrize("threads", [1, 2])
def test_network_flushes_denormals_on_every_thread_and_restores_the_callers_mode(threads):
    # every output is 64 * 1e-20 * 1e-20 = 6.4e-39, below float32's smallest
    # normal (1.2e-38): flushed to zero, on both threads of the product
    net = _core.Network([dense(64, 256, use_bias=False)], "mse", np.float32)
    params = np.full(net.n_params, 1e-20, np.float32)
    x = np.full((512, 64), 1e-20, np.float32)
    tiny = np.float32(1e-20)
    assert tiny * tiny != 0  # numpy here keeps denormals
    before = kernels.get_num_threads()
    try:
        kernels.set_num_threads(threads)
        out = net.predict(params, x)
        assert out.shape == (512, 256) and not out.any()
        assert tiny * tiny != 0  # the caller's mode is back
        # the kernels themselves keep denormals, on every thread, though the
        # threads may have started inside a network call (and inherited its mode)
        kept = kernels.gemm(x, params.reshape(64, 256))
        np.testing.assert_allclose(kept, 6.4e-39, rtol=1e-3)
        net.train_epoch(
            params,
            np.empty_like(params),
            np.zeros(2 * params.size, np.float32),
            adam(),
            x,
            np.zeros((512, 256), np.float32),
            None,
            None,
            128,
            0,
            [],
        )
        assert tiny * tiny != 0
    finally:
        kernels.set_num_threads(before)


@pytest.mark.parametrize(
    "layers, loss, words",
    [
        ([dense(2, 3), dense(4, 1)], "mse", "chain"),
        ([dense(2, 3, "swish")], "mse", "unknown activation"),
        ([dense(2, 3)], "hinge", "unknown loss"),
        ([{"kind": "dropout", "n": 3, "rate": 1.0}], "mse", "dropout rates"),
        ([{"kind": "conv", "n": 3}], "mse", "unknown kind"),
        ([dense(0, 3)], "mse", "n_in must be an integer >= 1"),
        ([], "mse", "at least one layer"),
    ],
)
def test_bad_descriptions(layers, loss, words):
    with pytest.raises(ValueError, match=words):
        _core.Network(layers, loss, np.float32)


def test_bad_call_arguments_do_not_touch_state():
    net, params, x, y = small_problem()
    before = params.copy()
    opt = adam()
    with pytest.raises(ValueError, match="x must be a 2-D float32"):
        net.train_epoch(
            params,
            np.empty_like(params),
            np.zeros(2 * net.n_params, np.float32),
            opt,
            x[:, :2],
            y,
            None,
            None,
            8,
            0,
            [],
        )
    with pytest.raises(ValueError, match="order"):
        net.train_epoch(
            params,
            np.empty_like(params),
            np.zeros(2 * net.n_params, np.float32),
            opt,
            x,
            y,
            None,
            np.full(len(x), 10**6, np.uintp),
            8,
            0,
            [],
        )
    with pytest.raises(ValueError, match="opt_state"):
        net.train_epoch(
            params, np.empty_like(params), np.zeros(3, np.float32), opt, x, y, None, None, 8, 0, []
        )
    np.testing.assert_array_equal(params, before)
    assert opt["iterations"] == 0


# ------------------------------------------------------- the epoch's order


@pytest.mark.parametrize("n", [0, 1, 2, 7, 1000])
def test_permutation_holds_every_row_once_and_depends_on_seed_and_stream_alone(n):
    order = _core.permutation(n, 3, 11)
    assert order.dtype == np.uintp and order.shape == (n,)
    np.testing.assert_array_equal(np.sort(order), np.arange(n))
    np.testing.assert_array_equal(order, _core.permutation(n, 3, 11))
    if n >= 7:  # 7! orders: another seed or stream gives another one
        assert not np.array_equal(order, _core.permutation(n, 4, 11))
        assert not np.array_equal(order, _core.permutation(n, 3, 12))


def test_permutation_is_uniform():
    # all 24 orders of 4 rows over 24000 streams: chi-square with 23 degrees
    # of freedom stays below 49.7 with probability 0.999
    counts = {}
    for stream in range(24000):
        key = tuple(_core.permutation(4, 7, stream))
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 24
    chi2 = sum((c - 1000) ** 2 / 1000 for c in counts.values())
    assert chi2 < 49.7, chi2
    # and each row lands in each position equally often for a larger n
    positions = np.zeros((10, 10))
    for stream in range(5000):
        positions[np.arange(10), _core.permutation(10, 1, stream)] += 1
    chi2 = ((positions - 500) ** 2 / 500).sum()
    assert chi2 < 150, chi2  # 81 degrees of freedom: p < 1e-5 above 150


@pytest.mark.parametrize("n", [-1, 2**64])
def test_permutation_refuses_a_bad_size(n):
    with pytest.raises((ValueError, OverflowError)):
        _core.permutation(n, 0, 0)


def test_train_profile_times_each_phase_and_layer_only_while_on():
    rng = np.random.default_rng(4)
    layers = [
        dense(8, 16, "relu"),
        {"kind": "dropout", "n": 16, "rate": 0.2},
        dense(16, 3, "softmax"),
    ]
    net = _core.Network(layers, "sparse_categorical_crossentropy", np.float32)
    x = rng.standard_normal((100, 8)).astype(np.float32)
    y = rng.integers(0, 3, 100).astype(np.float32)
    p = (rng.standard_normal(net.n_params) * 0.1).astype(np.float32)
    g, state = np.empty_like(p), np.zeros(2 * p.size, np.float32)

    def epoch():
        net.train_epoch(p, g, state, adam(), x, y, None, None, 32, 0, [])

    _core.train_profile_start()
    _core.train_profile_stop()
    epoch()  # profiling is off: nothing is added
    assert _core.train_profile_stop()["batches"] == 0

    _core.train_profile_start()
    start = time.perf_counter()
    epoch()
    epoch()
    wall = time.perf_counter() - start
    prof = _core.train_profile_stop()
    assert prof["batches"] == 8  # 4 batches of at most 32 rows, twice
    phases = ["gather", "forward", "loss", "backward", "optimizer", "rest"]
    assert all(prof[k] >= 0 for k in phases)
    assert prof["forward"] > 0 and prof["backward"] > 0 and prof["optimizer"] > 0
    assert sum(prof[k] for k in phases) <= wall
    assert len(prof["layer_forward"]) == len(prof["layer_backward"]) == 3
    assert all(t > 0 for t in prof["layer_forward"] + prof["layer_backward"])
    assert sum(prof["layer_forward"]) <= prof["forward"]
    assert sum(prof["layer_backward"]) <= prof["backward"]
