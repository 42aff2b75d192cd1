"""Batch normalization and flatten in the C network: the kernels against their
reference twins and a float64 numpy implementation of the formulas (Ioffe &
Szegedy 2015; Keras 3's BatchNormalization: biased batch variance, moving
statistics moved by moving * momentum + batch * (1 - momentum)), gradients
against central finite differences, the training loop's moving update, and
that the optimizer never moves the moving statistics."""

import numpy as np
import pytest

from nncore import _core, kernels

DTYPES = [np.float32, np.float64]
# float32 results against the float64 formulas
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def numpy_batch_norm(x, gamma, beta, epsilon, mean=None, var=None):
    """Keras's formulas in float64: (y, batch mean, biased batch variance)."""
    x = x.astype(np.float64)
    if mean is None:
        mean, var = x.mean(axis=0), ((x - x.mean(axis=0)) ** 2).mean(axis=0)
    x_hat = (x - mean) / np.sqrt(var + epsilon)
    return gamma * x_hat + beta, mean, var


def numpy_batch_norm_backward(x, gamma, epsilon, dy, batch_stats, mean=None, var=None):
    """(dgamma, dbeta, dx) of numpy_batch_norm, written out from the chain rule
    through mean and variance (not the folded formula the kernels use)."""
    x, dy = x.astype(np.float64), dy.astype(np.float64)
    m = x.shape[0]
    if batch_stats:
        mean, var = x.mean(axis=0), ((x - x.mean(axis=0)) ** 2).mean(axis=0)
    s = np.sqrt(var + epsilon)
    x_hat = (x - mean) / s
    dgamma, dbeta = (dy * x_hat).sum(axis=0), dy.sum(axis=0)
    dx_hat = dy * gamma
    if not batch_stats:
        return dgamma, dbeta, dx_hat / s
    dvar = (dx_hat * (x - mean)).sum(axis=0) * -0.5 * (var + epsilon) ** -1.5
    dmean = -(dx_hat / s).sum(axis=0) + dvar * (-2.0 / m) * (x - mean).sum(axis=0)
    return dgamma, dbeta, dx_hat / s + dvar * 2.0 * (x - mean) / m + dmean / m


def columns(rng, m, n, dtype):
    x = (rng.standard_normal((m, n)) * rng.uniform(0.5, 3, n) + rng.uniform(-2, 2, n)).astype(dtype)
    return x


# --------------------------------------------------------------- kernels


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", [1, 2, 7, 33])
@pytest.mark.parametrize("n", [1, 7, 17, 64, 65, 130])
def test_stats_match_twin_and_numpy(dtype, m, n):
    rng = np.random.default_rng(m * 1000 + n)
    x = columns(rng, m, n, dtype)
    got = [np.full(n, np.nan, dtype) for _ in range(4)]
    _core.batch_norm_stats(x, got[0], got[1])
    _core.batch_norm_stats(x, got[2], got[3], reference=True)
    # the same sums in the same order, in double: the same bits
    np.testing.assert_array_equal(got[0], got[2])
    np.testing.assert_array_equal(got[1], got[3])
    _, mean, var = numpy_batch_norm(x, 1, 0, 1e-3)
    np.testing.assert_allclose(got[0], mean, **TOL[dtype])
    np.testing.assert_allclose(got[1], var, **TOL[dtype])
    if m == 1:
        assert not got[1].any()  # one sample: variance 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", [1, 7, 33])
@pytest.mark.parametrize("n", [1, 7, 17, 65])
@pytest.mark.parametrize(
    "scale, center", [(True, True), (False, True), (True, False), (False, False)]
)
def test_forward_matches_twin_and_numpy(dtype, m, n, scale, center):
    rng = np.random.default_rng(m * 100 + n)
    x = columns(rng, m, n, dtype)
    mean = rng.standard_normal(n).astype(dtype)
    var = rng.uniform(0, 2, n).astype(dtype)
    gamma = rng.uniform(0.5, 2, n).astype(dtype) if scale else None
    beta = rng.standard_normal(n).astype(dtype) if center else None
    fast, ref = np.empty_like(x), np.empty_like(x)
    _core.batch_norm_forward(x, mean, var, gamma, beta, 1e-3, fast)
    _core.batch_norm_forward(x, mean, var, gamma, beta, 1e-3, ref, reference=True)
    want = numpy_batch_norm(
        x,
        1.0 if gamma is None else gamma.astype(np.float64),
        0.0 if beta is None else beta.astype(np.float64),
        np.float64(dtype(1e-3)),
        mean.astype(np.float64),
        var.astype(np.float64),
    )[0]
    np.testing.assert_allclose(fast, ref, **TOL[np.float32 if dtype == np.float32 else dtype])
    np.testing.assert_allclose(fast, want, **TOL[dtype])
    in_place = x.copy()
    _core.batch_norm_forward(in_place, mean, var, gamma, beta, 1e-3, in_place)
    np.testing.assert_array_equal(in_place, fast)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", [1, 2, 7, 33])
@pytest.mark.parametrize("n", [1, 7, 17, 65])
@pytest.mark.parametrize("batch_stats", [True, False])
def test_backward_matches_twin_and_numpy(dtype, m, n, batch_stats):
    rng = np.random.default_rng(m * 10 + n)
    x = columns(rng, m, n, dtype)
    gamma = rng.uniform(0.5, 2, n).astype(dtype)
    dy = rng.standard_normal((m, n)).astype(dtype)
    if batch_stats:
        mean, var = np.empty(n, dtype), np.empty(n, dtype)
        _core.batch_norm_stats(x, mean, var)
    else:
        mean = rng.standard_normal(n).astype(dtype)
        var = rng.uniform(0.1, 2, n).astype(dtype)
    eps = 1e-3
    outs = []
    for reference in (False, True):
        dgamma, dbeta, dx = np.empty(n, dtype), np.empty(n, dtype), np.empty_like(x)
        _core.batch_norm_backward(
            x, mean, var, gamma, eps, batch_stats, dy, dgamma, dbeta, dx, reference=reference
        )
        outs.append((dgamma, dbeta, dx))
    want = numpy_batch_norm_backward(
        x,
        gamma.astype(np.float64),
        np.float64(dtype(eps)),
        dy,
        batch_stats,
        mean.astype(np.float64),
        var.astype(np.float64),
    )
    # dx of the batch statistics is a difference of nearly equal terms: its
    # error scales with the terms, |dy| ~ 1 times gamma / s
    scale = np.abs(gamma / np.sqrt(var.astype(np.float64) + eps)).max() * (1 + np.abs(dy).max())
    tol = dict(rtol=TOL[dtype]["rtol"], atol=TOL[dtype]["atol"] * scale * 4)
    for fast, ref, exact in zip(*outs, want):
        np.testing.assert_allclose(fast, ref, **tol)
        np.testing.assert_allclose(fast, exact, **tol)
    if batch_stats and m == 1:
        assert not outs[0][2].any()  # one sample: the output does not depend on x
    # dx in place of dy, and outputs left out, give the same
    in_place = dy.copy()
    _core.batch_norm_backward(x, mean, var, gamma, eps, batch_stats, in_place, None, None, in_place)
    np.testing.assert_array_equal(in_place, outs[0][2])


def test_kernels_refuse_bad_arguments():
    x = np.ones((3, 4))
    v = np.ones(4)
    with pytest.raises(ValueError, match="mean must have shape"):
        _core.batch_norm_stats(x, np.ones(3), v)
    with pytest.raises(ValueError, match="invalid argument|epsilon"):
        _core.batch_norm_forward(x, v, v, None, None, -1.0, np.empty_like(x))
    with pytest.raises(ValueError, match="invalid argument"):
        _core.batch_norm_stats(np.ones((0, 4)), np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="must not overlap"):
        _core.batch_norm_backward(x, v, v, None, 1e-3, True, np.ones((3, 4)), None, None, x)


# --------------------------------------------------------------- networks


def dense(n_in, n_out, activation="linear", **extra):
    return {"kind": "dense", "n_in": n_in, "n_out": n_out, "activation": activation, **extra}


def batch_norm(n, **extra):
    return {"kind": "batch_norm", "n": n, **extra}


def sgd(learning_rate=0.1, **extra):
    return {
        "kind": "sgd",
        "learning_rate": learning_rate,
        "momentum": 0.0,
        "nesterov": False,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "rho": 0.9,
        "weight_decay": 0.0,
        "iterations": 0,
        **extra,
    }


def batch_norm_offsets(layers):
    """Per batch_norm layer: (moving_mean offset, n), from Keras's layout (dense
    W then b; batch_norm gamma, beta, moving_mean, moving_variance)."""
    offset, found = 0, []
    for layer in layers:
        if layer["kind"] == "dense":
            offset += layer["n_out"] * (layer["n_in"] + (1 if layer.get("use_bias", True) else 0))
        elif layer["kind"] == "batch_norm":
            n = layer["n"]
            offset += n * (layer.get("scale", True) + layer.get("center", True))
            found.append((offset, n))
            offset += 2 * n
    return found


def fresh_params(net, layers, rng, dtype):
    """Random weights, gammas and betas; moving statistics away from 0 and 1."""
    params = (rng.standard_normal(net.n_params) * 0.5).astype(dtype)
    for offset, n in batch_norm_offsets(layers):
        params[offset : offset + n] = rng.standard_normal(n) * 0.3
        params[offset + n : offset + 2 * n] = rng.uniform(0.5, 2, n)
    return params


def state_for(opt, params):
    return np.zeros(_core.optimizer_state_slots(opt["kind"]) * params.size, params.dtype)


def train(net, params, opt, x, y, batch_size, sample_weight=None):
    net.train_epoch(params, np.empty_like(params), state_for(opt, params), opt, x, y,
                    sample_weight, None, batch_size, 0, [])  # fmt: skip


def numeric_gradient(net, params, x, y, training, eps=1e-6):
    grad = np.empty_like(params)
    for i in range(params.size):
        step = np.zeros_like(params)
        step[i] = eps
        up = net.loss_grad(params + step, x, y, training=training)[0]
        down = net.loss_grad(params - step, x, y, training=training)[0]
        grad[i] = (up - down) / (2 * eps)
    return grad


NETWORKS = {
    "bn_between": [
        dense(5, 7, "linear"),
        batch_norm(7),
        {"kind": "activation", "n": 7, "activation": "tanh"},
        dense(7, 3, "softmax"),
    ],  # fmt: skip
    "bn_first": [
        batch_norm(5),
        dense(5, 4, "relu"),
        batch_norm(4, epsilon=0.01),
        dense(4, 3, "softmax"),
    ],  # fmt: skip
    "bn_last": [dense(5, 3, "elu", alpha=1.0), batch_norm(3, momentum=0.5)],
    "no_scale_center": [
        dense(5, 6, "sigmoid"),
        batch_norm(6, scale=False),
        batch_norm(6, center=False),
        dense(6, 3, "softmax"),
    ],  # fmt: skip
    "flatten": [
        {"kind": "flatten", "n": 5},
        dense(5, 3, "gelu"),
        batch_norm(3),
        {"kind": "dropout", "n": 3, "rate": 0.0},
        dense(3, 3, "softmax"),
    ],  # fmt: skip
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("batch", [1, 9])
def test_network_gradient_matches_finite_differences(name, training, batch):
    layers = NETWORKS[name]
    loss = "mse" if name == "bn_last" else "categorical_crossentropy"
    rng = np.random.default_rng(len(name) + batch)
    net = _core.Network(layers, loss, np.float64)
    params = fresh_params(net, layers, rng, np.float64)
    x = rng.standard_normal((batch, 5)) * 2 + 1
    y = rng.standard_normal((batch, 3)) if loss == "mse" else np.eye(3)[rng.integers(0, 3, batch)]
    value, grad = net.loss_grad(params, x, y, training=training)
    numeric = numeric_gradient(net, params, x, y, training)
    # the moving statistics have no gradient, whatever the mode: the optimizer
    # never moves them (in inference mode the loss does depend on them)
    for offset, n in batch_norm_offsets(layers):
        assert not grad[offset : offset + 2 * n].any()
        numeric[offset : offset + 2 * n] = 0
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    if training and batch > 1:
        assert value != net.loss_grad(params, x, y)[0]  # batch statistics, not moving ones


def test_frozen_batch_norm_runs_in_inference_mode_and_has_no_gradient():
    rng = np.random.default_rng(5)
    live = _core.Network([dense(4, 3), batch_norm(3)], "mse", np.float64)
    frozen = _core.Network([dense(4, 3), batch_norm(3, trainable=False)], "mse", np.float64)
    params = fresh_params(live, [dense(4, 3), batch_norm(3)], rng, np.float64)
    x, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    loss, grad = frozen.loss_grad(params, x, y, training=True)
    assert loss == live.loss_grad(params, x, y, training=False)[0]
    assert not grad[-12:].any()  # gamma, beta and the moving statistics
    np.testing.assert_allclose(
        grad, numeric_gradient(frozen, params, x, y, True) * (np.arange(grad.size) < 15),
        rtol=1e-6, atol=1e-8)  # fmt: skip
    p = params.copy()
    train(frozen, p, sgd(), x, y, 3)
    np.testing.assert_array_equal(p[-12:], params[-12:])  # nothing of the layer moved
    assert (p[:15] != params[:15]).any()


def keras_train_numpy(params, x, y, n_hidden, batch_size, epochs, learning_rate, momentum, eps):
    """Keras's fit for Dense(n_hidden) -> BatchNormalization -> Dense(1) with
    mse and plain SGD, no shuffling, in float64 numpy: the training forward
    with the batch's statistics, the moving update, the gradient step."""
    n_in = x.shape[1]
    p = params.astype(np.float64).copy()
    sizes = [n_in * n_hidden, n_hidden, n_hidden, n_hidden, n_hidden, n_hidden, n_hidden, 1]
    bounds = np.cumsum([0, *sizes])
    for _ in range(epochs):
        for start in range(0, len(x), batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            w1, b1, gamma, beta, mm, mv, w2, b2 = (
                p[bounds[i] : bounds[i + 1]] for i in range(len(sizes))
            )
            w1, w2 = w1.reshape(n_in, n_hidden), w2.reshape(n_hidden, 1)
            h = xb @ w1 + b1
            out, mean, var = numpy_batch_norm(h, gamma, beta, eps)
            pred = out @ w2 + b2
            d_pred = 2 * (pred - yb) / pred.size
            d_out = d_pred @ w2.T
            dgamma, dbeta, dh = numpy_batch_norm_backward(h, gamma, eps, d_out, True)
            grads = [xb.T @ dh, dh.sum(0), dgamma, dbeta, 0 * mm, 0 * mv, out.T @ d_pred,
                     d_pred.sum(0)]  # fmt: skip
            new_mm = mm * momentum + mean * (1 - momentum)
            new_mv = mv * momentum + var * (1 - momentum)
            p = p - learning_rate * np.concatenate([g.ravel() for g in grads])
            p[bounds[4] : bounds[5]], p[bounds[5] : bounds[6]] = new_mm, new_mv
    return p


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_three_epochs_of_sgd_match_keras_formulas_in_numpy(dtype, threads):
    rng = np.random.default_rng(11)
    n_hidden = 7
    net = _core.Network([dense(3, n_hidden), batch_norm(n_hidden, momentum=0.9),
                         dense(n_hidden, 1)], "mse", dtype)  # fmt: skip
    x = rng.standard_normal((23, 3)) * 2 + 0.5
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3
    start = (rng.standard_normal(net.n_params) * 0.5).astype(dtype)
    start[42:49], start[49:56] = 0, 1  # Keras's initial moving mean and variance
    want = keras_train_numpy(start, x, y, n_hidden, 8, 3, 0.05, 0.9, np.float64(dtype(1e-3)))
    before = kernels.get_num_threads()
    try:
        kernels.set_num_threads(threads)
        p, opt = start.copy(), sgd(0.05)
        xs, ys = x.astype(dtype), y.astype(dtype)
        for _ in range(3):
            net.train_epoch(p, np.empty_like(p), state_for(opt, p), opt, xs, ys, None, None, 8,
                            0, [])  # fmt: skip
    finally:
        kernels.set_num_threads(before)
    assert opt["iterations"] == 9
    np.testing.assert_allclose(p, want, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-4 if dtype == np.float32 else 1e-10)  # fmt: skip
    # inference uses the moving statistics just computed
    h = x @ want[:21].reshape(3, 7) + want[21:28]
    out = numpy_batch_norm(h, want[28:35], want[35:42], np.float64(dtype(1e-3)), want[42:49],
                           want[49:56])[0]  # fmt: skip
    np.testing.assert_allclose(net.predict(p, xs), out @ want[56:63, None] + want[63],
                               rtol=1e-4 if dtype == np.float32 else 1e-9, atol=1e-5)  # fmt: skip


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
def test_optimizer_never_moves_the_moving_statistics(kind):
    """Weight decay shrinks every weight the optimizer reaches, even where the
    gradient is zero: the moving statistics are not among them. With momentum
    1 the training update keeps them too, so they must come out unchanged;
    a frozen layer keeps everything."""
    rng = np.random.default_rng(4)
    layers = [batch_norm(3, momentum=1.0), batch_norm(3, trainable=False)]
    net = _core.Network(layers, "mse", np.float64)
    params = fresh_params(net, layers, rng, np.float64)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 3))
    p = params.copy()
    train(net, p, dict(sgd(0.1, weight_decay=0.5), kind=kind), x, y, 4)
    assert (p[0:6] != params[0:6]).all()  # gamma and beta of the live layer trained
    np.testing.assert_array_equal(p[6:12], params[6:12])
    np.testing.assert_array_equal(p[12:], params[12:])
    # the gradient has zeros there, whatever the mode
    for training in (True, False):
        assert not net.loss_grad(params, x, y, training=training)[1][6:].any()


def test_moving_update_uses_the_biased_variance_and_skips_frozen_layers():
    rng = np.random.default_rng(8)
    net = _core.Network([batch_norm(4, momentum=0.75), batch_norm(4, trainable=False)], "mse",
                        np.float64)  # fmt: skip
    params = fresh_params(net, [batch_norm(4), batch_norm(4)], rng, np.float64)
    x, y = rng.standard_normal((5, 4)) * 3, rng.standard_normal((5, 4))
    p = params.copy()
    train(net, p, sgd(0.0), x, y, 5)
    np.testing.assert_allclose(p[8:12], params[8:12] * 0.75 + x.mean(0) * 0.25, rtol=1e-13)
    np.testing.assert_allclose(p[12:16], params[12:16] * 0.75 + x.var(0) * 0.25, rtol=1e-13)
    np.testing.assert_array_equal(p[16:], params[16:])


def test_sample_weights_do_not_enter_the_statistics():
    rng = np.random.default_rng(9)
    net = _core.Network([dense(3, 4), batch_norm(4)], "mse", np.float64)
    params = fresh_params(net, [dense(3, 4), batch_norm(4)], rng, np.float64)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 4))
    p1, p2 = params.copy(), params.copy()
    train(net, p1, sgd(0.0), x, y, 6)
    train(net, p2, sgd(0.0), x, y, 6, rng.uniform(0.1, 3, 6))
    np.testing.assert_array_equal(p1, p2)
    assert (p1 != params).any()


def test_evaluate_and_predict_use_the_moving_statistics():
    rng = np.random.default_rng(10)
    net = _core.Network([batch_norm(4, epsilon=0.01)], "mse", np.float64)
    params = fresh_params(net, [batch_norm(4)], rng, np.float64)
    x, y = rng.standard_normal((7, 4)), rng.standard_normal((7, 4))
    want = numpy_batch_norm(x, params[0:4], params[4:8], 0.01, params[8:12], params[12:16])[0]
    np.testing.assert_allclose(net.predict(params, x), want, rtol=1e-13)
    assert net.evaluate(params, x, y)["loss"] == pytest.approx(((want - y) ** 2).mean(), rel=1e-12)


def test_flatten_is_the_identity():
    rng = np.random.default_rng(12)
    plain = _core.Network([dense(6, 2, "tanh")], "mse", np.float32)
    flat = _core.Network([{"kind": "flatten", "n": 6}, dense(6, 2, "tanh")], "mse", np.float32)
    params = rng.standard_normal(plain.n_params).astype(np.float32)
    x, y = (
        rng.standard_normal((5, 6)).astype(np.float32),
        rng.standard_normal((5, 2)).astype(np.float32),
    )
    np.testing.assert_array_equal(plain.predict(params, x), flat.predict(params, x))
    for a, b in zip(plain.loss_grad(params, x, y), flat.loss_grad(params, x, y)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "layer",
    [
        batch_norm(4, momentum=1.5),
        batch_norm(4, momentum=-0.1),
        batch_norm(4, epsilon=-1e-3),
        batch_norm(4, epsilon=float("inf")),
        {"kind": "flatten", "n": 3},
    ],
)
def test_bad_batch_norm_and_flatten_descriptions(layer):
    with pytest.raises(ValueError, match="momentum in \\[0, 1\\]"):
        _core.Network([dense(2, 4), layer], "mse", np.float32)


def test_weight_slices_follow_keras_order():
    net = _core.Network([dense(2, 3), batch_norm(3), batch_norm(3, scale=False)], "mse", np.float32)
    assert net.weight_slices() == [(0, (2, 3)), (6, (3,)), (9, (3,)), (12, (3,)), (15, (3,)),
                                   (18, (3,)), (21, (3,)), (24, (3,)), (27, (3,))]  # fmt: skip
    assert net.n_params == 30


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reference", [False, True])
def test_kernels_take_row_strides(dtype, reference):
    """Blocks of wider matrices (a row stride above the width) give what their
    contiguous copies give."""
    rng = np.random.default_rng(13)
    m, n = 9, 70
    big = columns(rng, m, n + 5, dtype)
    x = big[:, 3 : 3 + n]
    dy_big = rng.standard_normal((m, n + 9)).astype(dtype)
    dy = dy_big[:, 1 : 1 + n]
    gamma, beta = rng.uniform(0.5, 2, n).astype(dtype), rng.standard_normal(n).astype(dtype)
    results = []
    for xs, dys in ((x, dy), (np.ascontiguousarray(x), np.ascontiguousarray(dy))):
        mean, var = np.empty(n, dtype), np.empty(n, dtype)
        _core.batch_norm_stats(xs, mean, var, reference=reference)
        y = np.zeros((m, n + 4), dtype)[:, 2 : 2 + n]
        _core.batch_norm_forward(xs, mean, var, gamma, beta, 1e-3, y, reference=reference)
        dgamma, dbeta = np.empty(n, dtype), np.empty(n, dtype)
        dx = np.zeros((m, n + 6), dtype)[:, 4 : 4 + n]
        _core.batch_norm_backward(xs, mean, var, gamma, 1e-3, True, dys, dgamma, dbeta, dx,
                                  reference=reference)  # fmt: skip
        results.append((mean, var, y.copy(), dgamma, dbeta, dx.copy()))
    for strided, contiguous in zip(*results):
        np.testing.assert_array_equal(strided, contiguous)
