"""The scikit-learn loss scaling of a network (Network(..., scaling="sklearn")):
loss and gradient against scikit-learn's own MLP backpropagation, and against
central finite differences of the value."""

import warnings

import numpy as np
import pytest

from nncore import _core

# (output activation, nncore loss, scikit-learn estimator, its out_activation_)
OUTPUTS = [
    ("sigmoid", "binary_crossentropy", "MLPClassifier", "logistic"),
    ("softmax", "categorical_crossentropy", "MLPClassifier", "softmax"),
    ("linear", "mse", "MLPRegressor", "identity"),
    # Poisson reads the linear output as the log of the mean (scikit-learn's exp output)
    ("linear", "poisson", "MLPRegressor", "exp"),
]
HIDDEN = {"relu": "relu", "tanh": "tanh", "sigmoid": "logistic", "linear": "identity"}


def network(n_in, hidden, n_out, hidden_act, out_act, loss, alpha, dtype=np.float64):
    widths = [n_in, *hidden, n_out]
    layers = [
        {
            "kind": "dense",
            "n_in": widths[i],
            "n_out": widths[i + 1],
            "activation": hidden_act if i < len(hidden) else out_act,
            "l2": alpha / 2,
        }
        for i in range(len(widths) - 1)
    ]
    return _core.Network(layers, loss, dtype, scaling="sklearn")


def problem(out_act, n_out, rng, n=9, n_in=5, loss=None):
    x = rng.normal(size=(n, n_in))
    if out_act == "softmax":
        y = np.eye(n_out)[rng.integers(0, n_out, n)]
    elif out_act == "sigmoid":
        y = (rng.random((n, n_out)) < 0.5).astype(float)
    elif loss == "poisson":
        y = rng.poisson(2.0, size=(n, n_out)).astype(float)  # zeros included
    else:
        y = rng.normal(size=(n, n_out))
    return x, y


def sklearn_loss_grad(estimator_name, out_activation, hidden_act, params, slices, x, y, w, alpha):
    """scikit-learn's loss and gradient at nncore's parameters, in nncore's layout."""
    neural_network = pytest.importorskip("sklearn.neural_network")
    hidden = [shape[1] for _, shape, _ in slices[:-1]]
    mlp = getattr(neural_network, estimator_name)(
        hidden_layer_sizes=hidden,
        activation=HIDDEN[hidden_act],
        alpha=alpha,
        solver="lbfgs",
        max_iter=1,
        **({"loss": "poisson"} if out_activation == "exp" else {}),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(x, y)  # sets the private layout _loss_grad_lbfgs reads
    mlp.out_activation_ = out_activation
    coefs = [params[o : o + a * b].reshape(a, b) for o, (a, b), _ in slices]
    intercepts = [params[b : b + shape[1]] for _, shape, b in slices]
    packed = np.concatenate([c.ravel() for c in coefs] + intercepts)
    n_layers = len(slices)
    loss, grad = mlp._loss_grad_lbfgs(
        packed, x, y, w, [x] + [None] * n_layers, [None] * n_layers,
        [np.empty_like(c) for c in coefs], [np.empty_like(b) for b in intercepts],
    )  # fmt: skip
    out = np.empty_like(params)
    start = 0
    for (o, (a, b), _), c in zip(slices, coefs):
        out[o : o + a * b] = grad[start : start + c.size]
        start += c.size
    for _, (_, b), bias in slices:
        out[bias : bias + b] = grad[start : start + b]
        start += b
    return loss, out


@pytest.mark.parametrize("out_act,loss,estimator,sk_out", OUTPUTS)
@pytest.mark.parametrize("n_out", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("hidden_act", ["relu", "tanh", "sigmoid"])
def test_loss_and_gradient_are_scikit_learns(out_act, loss, estimator, sk_out, n_out, weighted,
                                             hidden_act):  # fmt: skip
    if out_act == "softmax" and n_out == 1:
        pytest.skip("a softmax over one class is constant")
    rng = np.random.default_rng(n_out)
    x, y = problem(out_act, n_out, rng, loss=loss)
    w = rng.uniform(0.2, 3, len(x)) if weighted else None
    alpha = 0.3
    net = network(x.shape[1], [7, 4], n_out, hidden_act, out_act, loss, alpha)
    params = rng.normal(scale=0.5, size=net.n_params)
    value, grad = net.loss_grad(params, x, y, w)
    want_value, want_grad = sklearn_loss_grad(
        estimator, sk_out, hidden_act, params, net.dense_slices(), x, y, w, alpha
    )
    # scikit-learn clips probabilities to [eps, 1 - eps] in the value: only
    # the last digits can differ at these logits
    np.testing.assert_allclose(value, want_value, rtol=1e-10)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-9, atol=1e-12)


def numeric_gradient(net, params, x, y, w, eps=1e-6):
    out = np.empty_like(params)
    for i in range(len(params)):
        step = np.zeros_like(params)
        step[i] = eps
        up = net.loss_grad(params + step, x, y, w)[0]
        down = net.loss_grad(params - step, x, y, w)[0]
        out[i] = (up - down) / (2 * eps)
    return out


@pytest.mark.parametrize("out_act,loss,estimator,sk_out", OUTPUTS)
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_is_the_derivative_of_the_value(out_act, loss, estimator, sk_out, weighted):
    """With several outputs scikit-learn's squared-error gradient is n_out
    times the derivative of its value (the value is half the MEAN over outputs,
    the gradient (p - y) / S); every other gradient is the derivative."""
    rng = np.random.default_rng(7)
    n_out = 3
    x, y = problem(out_act, n_out, rng, n=7, loss=loss)
    w = rng.uniform(0.2, 3, len(x)) if weighted else None
    net = network(x.shape[1], [6], n_out, "tanh", out_act, loss, alpha=0.7)
    params = rng.normal(scale=0.5, size=net.n_params)
    _, grad = net.loss_grad(params, x, y, w)
    numeric = numeric_gradient(net, params, x, y, w)
    if loss == "mse":
        # the penalty's gradient is exact; the data part is n_out times too big
        penalty = np.zeros_like(params)
        weight_sum = len(x) if w is None else w.sum()
        for offset, (a, b), _ in net.dense_slices():
            penalty[offset : offset + a * b] = 0.7 * params[offset : offset + a * b] / weight_sum
        numeric = n_out * (numeric - penalty) + penalty
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_penalty_is_divided_by_the_batch_weight():
    """Keras scaling adds l2 * sum(W^2) whatever the batch; scikit-learn's
    divides it by the batch's weight sum, so an epoch's batch size changes it."""
    rng = np.random.default_rng(3)
    x, y = problem("linear", 1, rng, n=8)
    params = rng.normal(size=network(5, [3], 1, "relu", "linear", "mse", 0.0).n_params)
    penalty = {}
    for scaling in ("keras", "sklearn"):
        layers = [
            {"kind": "dense", "n_in": 5, "n_out": 3, "activation": "relu", "l2": 0.25},
            {"kind": "dense", "n_in": 3, "n_out": 1, "l2": 0.25},
        ]
        with_l2 = _core.Network(layers, "mse", np.float64, scaling=scaling)
        for layer in layers:
            layer["l2"] = 0.0
        without = _core.Network(layers, "mse", np.float64, scaling=scaling)
        for w in (None, np.full(8, 2.0)):
            penalty[scaling, w is None] = (
                with_l2.loss_grad(params, x, y, w)[0] - without.loss_grad(params, x, y, w)[0]
            )
    squares = sum(np.sum(params[o : o + a * b] ** 2) for o, (a, b), _ in with_l2.dense_slices())
    np.testing.assert_allclose(penalty["keras", True], 0.25 * squares)
    np.testing.assert_allclose(penalty["keras", False], 0.25 * squares)
    np.testing.assert_allclose(penalty["sklearn", True], 0.25 * squares / 8)
    np.testing.assert_allclose(penalty["sklearn", False], 0.25 * squares / 16)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_epoch_trains_with_the_batch_gradients(dtype):
    """train_epoch under scikit-learn scaling takes, per batch, the step that
    loss_grad's gradient gives (plain SGD, no momentum)."""
    rng = np.random.default_rng(5)
    x, y = problem("softmax", 3, rng, n=10)
    x, y = x.astype(dtype), y.astype(dtype)
    w = rng.uniform(0.5, 2, len(x)).astype(dtype)
    net = network(5, [4], 3, "relu", "softmax", "categorical_crossentropy", 0.1, dtype)
    params = rng.normal(scale=0.5, size=net.n_params).astype(dtype)
    expected = params.copy()
    for rows in (slice(0, 4), slice(4, 8), slice(8, 10)):
        expected -= 0.1 * net.loss_grad(expected, x[rows], y[rows], w[rows])[1]
    optimizer = {
        "kind": "sgd", "learning_rate": 0.1, "momentum": 0.0, "nesterov": False, "beta_1": 0.9,
        "beta_2": 0.999, "epsilon": 1e-8, "rho": 0.9, "weight_decay": 0.0, "iterations": 0,
    }  # fmt: skip
    grads = np.empty_like(params)
    state = np.zeros(net.n_params, dtype)
    net.train_epoch(params, grads, state, optimizer, x, y, w, None, 4, 0, [])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(params, expected, rtol=tol, atol=tol)


def test_unknown_scaling_is_refused():
    layers = [{"kind": "dense", "n_in": 2, "n_out": 1}]
    with pytest.raises(ValueError, match="loss scaling"):
        _core.Network(layers, "mse", np.float64, scaling="torch")
