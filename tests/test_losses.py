"""Losses and their gradients: an independent float64 numpy version, central
finite differences, Keras' sample-weight semantics, the logits forms, the C
reference twins, and bad input."""

import numpy as np
import pytest

from nncore import _core
from nncore.kernels import LOSSES, loss, loss_grad

EPS = 1e-7


def numpy_loss(p, t, name, w=None):
    n = len(p)
    p = p.astype(np.float64).reshape(n, p[0].size if n else p.shape[-1])
    if name == "sparse_categorical_crossentropy":
        t = np.eye(p.shape[1])[t.astype(int).ravel()]
        name = "categorical_crossentropy"
    t = t.astype(np.float64).reshape(p.shape)
    d = p - t
    if name == "mse":
        per = np.mean(d**2, axis=1)
    elif name == "mae":
        per = np.mean(np.abs(d), axis=1)
    elif name == "huber":
        per = np.mean(np.where(np.abs(d) <= 1, 0.5 * d**2, np.abs(d) - 0.5), axis=1)
    elif name == "poisson":
        per = np.mean(p - t * np.log(p + EPS), axis=1)
    elif name == "binary_crossentropy":
        q = np.clip(p, EPS, 1 - EPS)
        per = np.mean(-(t * np.log(q) + (1 - t) * np.log(1 - q)), axis=1)
    else:
        per = -np.sum(t * np.log(np.clip(p, EPS, 1 - EPS)), axis=1)
    w = np.ones(n) if w is None else w
    return np.sum(w * per) / n if n else 0.0


def data_for(name, rng, shape, dtype):
    n, k = shape
    if name in ("binary_crossentropy",):
        p = rng.uniform(0.05, 0.95, shape)
        t = rng.integers(0, 2, shape).astype(float)
    elif name == "categorical_crossentropy":
        p = rng.dirichlet(np.ones(k), n) if n else np.zeros(shape)
        p = np.clip(p, 0.01, None)
        t = np.eye(k)[rng.integers(0, k, n)]
    elif name == "sparse_categorical_crossentropy":
        p = np.clip(rng.dirichlet(np.ones(k), n), 0.01, None) if n else np.zeros(shape)
        t = rng.integers(0, k, n)
    elif name == "poisson":
        p = rng.uniform(0.1, 3, shape)
        t = rng.poisson(1.0, shape).astype(float)
    else:
        p = rng.standard_normal(shape) * 2
        t = rng.standard_normal(shape)
    return p.astype(dtype), (t.astype(dtype) if t.dtype.kind == "f" else t)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(0, 3), (1, 1), (7, 5), (33, 17)])
def test_value_matches_numpy_with_and_without_weights(rng, name, dtype, shape):
    p, t = data_for(name, rng, shape, dtype)
    w = rng.uniform(0, 2, shape[0]).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss(p, t, name), numpy_loss(p, t, name), rtol=tol, atol=tol)
    np.testing.assert_allclose(
        loss(p, t, name, sample_weight=w), numpy_loss(p, t, name, w), rtol=tol, atol=tol
    )
    assert loss_grad(p, t, name).shape == p.shape
    assert loss_grad(p, t, name).dtype == dtype


@pytest.mark.parametrize("name", LOSSES)
def test_gradient_matches_finite_differences(rng, name):
    p, t = data_for(name, rng, (6, 4), np.float64)
    if name in ("mae", "huber"):
        p[np.abs(p - t) < 1e-3] += 0.1  # away from the kinks
    w = rng.uniform(0.5, 2, 6)
    got = loss_grad(p, t, name, sample_weight=w)
    want = np.empty_like(p)
    eps = 1e-6
    for index in np.ndindex(p.shape):
        step = np.zeros_like(p)
        step[index] = eps
        up = loss(p + step, t, name, sample_weight=w)
        down = loss(p - step, t, name, sample_weight=w)
        want[index] = (up - down) / (2 * eps)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logits_forms_match_the_probability_forms(rng, dtype):
    z = rng.standard_normal((9, 4)).astype(dtype)
    onehot = np.eye(4, dtype=dtype)[rng.integers(0, 4, 9)]
    labels = onehot.argmax(axis=1).astype(dtype).reshape(9, 1)
    w = rng.uniform(0, 2, 9).astype(dtype)
    p = softmax(z.astype(np.float64))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for name, target in (
        ("categorical_crossentropy", onehot),
        ("sparse_categorical_crossentropy", labels),
    ):
        value = _core.loss_value(z, target, name, True, w)
        np.testing.assert_allclose(value, numpy_loss(p, target, name, w), rtol=tol)
        grad = np.empty_like(z)
        _core.loss_gradient(z, target, name, True, w, grad)
        # exactly w_i (p - t) / n at the logits
        np.testing.assert_allclose(grad, w[:, None] * (p - onehot) / 9, rtol=tol * 10, atol=tol)
    t = rng.integers(0, 2, (9, 4)).astype(dtype)
    s = 1 / (1 + np.exp(-z.astype(np.float64)))
    value = _core.loss_value(z, t, "binary_crossentropy", True, None)
    np.testing.assert_allclose(value, numpy_loss(s, t, "binary_crossentropy"), rtol=tol)
    grad = np.empty_like(z)
    _core.loss_gradient(z, t, "binary_crossentropy", True, None, grad)
    np.testing.assert_allclose(grad, (s - t) / 36, rtol=tol * 10, atol=tol)
    # no overflow at extreme logits
    huge = np.array([[1e4, -1e4]], dtype)
    assert np.isfinite(
        _core.loss_value(huge, np.array([[0, 1]], dtype), "binary_crossentropy", True, None)
    )


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(0, 3), (1, 1), (7, 5), (29, 6), (3, 600)])
def test_fast_kernels_match_their_reference_twins(rng, name, dtype, shape):
    # the fast kernels (csrc/losses_impl.h) against the naive twins
    # (csrc/ref_impl.h): values to rounding (vectorized sums add in another
    # order), gradients to a few ulps; with and without weights, on
    # probabilities and (cross-entropies) on logits, gradients in place too
    m, n = shape
    if name == "sparse_categorical_crossentropy" and n == 1:
        n = 2
    p, t = data_for(name, rng, (m, n), dtype)
    width = 1 if name == "sparse_categorical_crossentropy" else n
    t2 = np.ascontiguousarray(np.asarray(t, dtype).reshape(m, width))
    w = rng.uniform(0, 2, m).astype(dtype)
    eps = np.finfo(dtype).eps
    forms = [(False, p)]
    if name in LOGIT_LOSSES:
        forms.append((True, (rng.standard_normal((m, n)) * 3).astype(dtype)))
    for from_logits, x in forms:
        for weights in (None, w):
            where = f"from_logits={from_logits} weights={weights is not None}"
            fast = _core.loss_value(x, t2, name, from_logits, weights)
            ref = _core.loss_value(x, t2, name, from_logits, weights, True)
            np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-300, err_msg=where)
            g_fast, g_ref = np.full_like(x, np.nan), np.full_like(x, np.nan)
            _core.loss_gradient(x, t2, name, from_logits, weights, g_fast)
            _core.loss_gradient(x, t2, name, from_logits, weights, g_ref, True)
            scale = np.abs(g_ref).max() if g_ref.size else 0
            atol = 4 * eps * scale
            np.testing.assert_allclose(g_fast, g_ref, rtol=4 * eps, atol=atol, err_msg=where)
            in_place = x.copy()
            _core.loss_gradient(in_place, t2, name, from_logits, weights, in_place)
            np.testing.assert_allclose(in_place, g_ref, rtol=4 * eps, atol=atol, err_msg=where)
            both = np.full_like(x, np.nan)
            value = _core.loss_value_gradient(x, t2, name, from_logits, weights, both)
            np.testing.assert_allclose(value, ref, rtol=1e-12, atol=1e-300, err_msg=where)
            np.testing.assert_allclose(both, g_ref, rtol=4 * eps, atol=atol, err_msg=where)


def test_shapes_keras_accepts_and_sparse_labels():
    p = np.array([[0.2], [0.9]])
    assert loss(p, np.array([0, 1]), "binary_crossentropy") == pytest.approx(
        numpy_loss(p, np.array([[0.0], [1.0]]), "binary_crossentropy")
    )
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    for labels in ([0, 2], np.array([[0], [2]]), np.array([0.0, 2.0])):
        assert loss(probs, labels, "sparse_categorical_crossentropy") == pytest.approx(
            -(np.log(0.7) + np.log(0.8)) / 2
        )
    assert loss(np.ones((3, 2), np.float32), np.ones((3, 2), np.int64), "mse") == 0.0
    assert loss(np.ones((3, 2), np.float32), np.ones((3, 2), np.int64), "mse").__class__ is float


def test_clipped_probabilities_have_zero_gradient():
    g = loss_grad(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]), "binary_crossentropy")
    np.testing.assert_array_equal(g, [[0.0, 0.0]])
    assert np.isfinite(loss(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]), "binary_crossentropy"))


def test_out_may_be_y_pred():
    p = np.array([[0.5, 2.0]])
    t = np.array([[1.0, 1.0]])
    want = loss_grad(p, t, "mse")
    assert loss_grad(p, t, "mse", out=p) is p
    np.testing.assert_allclose(p, want)


@pytest.mark.parametrize(
    "args, kwargs, error, words",
    [
        ((np.ones((2, 2)), np.ones((2, 2)), "hinge"), {}, ValueError, "name must be one of"),
        ((np.ones((2, 2)), np.ones((3, 2)), "mse"), {}, ValueError, "y_true must have the shape"),
        ((np.ones((2, 2), int), np.ones((2, 2)), "mse"), {}, TypeError, "y_pred must have dtype"),
        ((np.ones((2, 2)), np.ones((2, 2), complex), "mse"), {}, TypeError, "y_true"),
        ((np.ones((2, 2)), np.full((2, 2), np.nan), "mse"), {}, ValueError, "y_true contains NaN"),
        ((np.full((2, 2), np.inf), np.ones((2, 2)), "mse"), {}, ValueError, "y_pred contains NaN"),
        (
            (np.ones((2, 3)) / 3, [0, 3], "sparse_categorical_crossentropy"),
            {},
            ValueError,
            r"labels in \[0, 2\]",
        ),
        (
            (np.ones((2, 3)) / 3, [0, 1.5], "sparse_categorical_crossentropy"),
            {},
            ValueError,
            "integer class labels",
        ),
        (
            (np.ones((2, 3)) / 3, [0, 1, 2], "sparse_categorical_crossentropy"),
            {},
            ValueError,
            "2 class labels",
        ),
        (
            (np.ones((2, 2)), np.ones((2, 2)), "mse"),
            {"sample_weight": [1, -1]},
            ValueError,
            "sample_weight must be finite and >= 0",
        ),
        (
            (np.ones((2, 2)), np.ones((2, 2)), "mse"),
            {"sample_weight": [1, 1, 1]},
            ValueError,
            r"sample_weight must have shape \(2,\)",
        ),
        ((np.float64(1), np.float64(1), "mse"), {}, ValueError, "samples axis"),
    ],
)
def test_bad_input(args, kwargs, error, words):
    with pytest.raises(error, match=words):
        loss(*args, **kwargs)


LOGIT_LOSSES = [
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
]


def logits_data(name, rng, m, n, dtype):
    z = (rng.standard_normal((m, n)) * 3).astype(dtype)
    if name == "binary_crossentropy":
        t = rng.integers(0, 2, (m, n)).astype(dtype)
    elif name == "categorical_crossentropy":
        t = rng.dirichlet(np.ones(n), m).astype(dtype) * 1.5  # soft, rows summing to 1.5
    else:
        t = rng.integers(0, n, (m, 1)).astype(dtype)
    return z, t


@pytest.mark.parametrize("name", LOGIT_LOSSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (33, 10), (3, 600)])  # 600: past the row buffer
def test_value_and_gradient_in_one_pass_from_logits(rng, name, dtype, shape):
    m, n = shape
    if name == "sparse_categorical_crossentropy" and n == 1:
        n = 2
    z, t = logits_data(name, rng, m, n, dtype)
    w = rng.uniform(0, 2, m).astype(dtype)
    tol = 2e-6 if dtype == np.float32 else 1e-13
    for weights in (None, w):
        results = {}
        for reference in (False, True):
            grad = np.full((m, n), np.nan, dtype)
            prob = np.full((m, n), np.nan, dtype)
            value = _core.loss_value_gradient(z, t, name, True, weights, grad, prob, reference)
            results[reference] = value, grad, prob
        (value, grad, prob), (v_ref, g_ref, p_ref) = results[False], results[True]
        # the separate kernels, and the activation the forward pass applies
        np.testing.assert_allclose(value, _core.loss_value(z, t, name, True, weights), rtol=tol)
        np.testing.assert_allclose(value, v_ref, rtol=tol)
        np.testing.assert_allclose(grad, g_ref, rtol=tol * 10, atol=tol * np.abs(g_ref).max())
        np.testing.assert_allclose(prob, p_ref, rtol=tol * 10, atol=tol)
        # and an independent float64 form: the probabilities, the loss of them
        z64 = z.astype(np.float64)
        if name == "binary_crossentropy":
            want_p = 1 / (1 + np.exp(-z64))
        else:
            want_p = softmax(z64)
        np.testing.assert_allclose(prob, want_p, rtol=tol * 10, atol=tol)
        if name == "binary_crossentropy":
            per = np.mean(np.maximum(z64, 0) - z64 * t + np.log1p(np.exp(-np.abs(z64))), axis=1)
        else:
            top = z64.max(axis=1, keepdims=True)
            lse = top + np.log(np.exp(z64 - top).sum(axis=1, keepdims=True))
            onehot = np.eye(n)[t.astype(int).ravel()] if name.startswith("sparse") else t
            per = np.sum(onehot * (lse - z64), axis=1)
        want_value = np.sum((np.ones(m) if weights is None else weights) * per) / m
        np.testing.assert_allclose(value, want_value, rtol=tol * 10)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_value_and_gradient_in_one_call_for_every_loss(rng, name, dtype):
    p, t = data_for(name, rng, (13, 4), dtype)
    t2 = np.ascontiguousarray(np.asarray(t, dtype).reshape(13, -1))
    w = rng.uniform(0, 2, 13).astype(dtype)
    grad, g_sep = np.empty_like(p), np.empty_like(p)
    value = _core.loss_value_gradient(p, t2, name, False, w, grad)
    _core.loss_gradient(p, t2, name, False, w, g_sep)
    assert value == _core.loss_value(p, t2, name, False, w)
    np.testing.assert_array_equal(grad, g_sep)
    with pytest.raises(ValueError, match="loss_value_grad"):  # probabilities need logits
        _core.loss_value_gradient(p, t2, name, False, w, grad, np.empty_like(p))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_value_and_gradient_rejects_bad_labels_before_writing(dtype):
    z = np.zeros((3, 4), dtype)
    grad = np.full((3, 4), 7, dtype)
    for bad in (4.0, -1.0, 0.5, np.nan):
        labels = np.array([[0], [bad], [1]], dtype)
        with pytest.raises(ValueError, match="loss_value_grad"):
            _core.loss_value_gradient(
                z, labels, "sparse_categorical_crossentropy", True, None, grad, np.empty_like(z)
            )
        assert (grad == 7).all()


def test_value_and_gradient_no_overflow_at_extreme_logits():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]])
    for name, t in (
        ("binary_crossentropy", np.array([[0.0, 1, 1], [1, 0, 0]])),
        ("categorical_crossentropy", np.array([[0.0, 1, 0], [1, 0, 0]])),
    ):
        grad, prob = np.empty_like(z), np.empty_like(z)
        value = _core.loss_value_gradient(z, t, name, True, None, grad, prob)
        assert np.isfinite(value) and np.isfinite(grad).all() and np.isfinite(prob).all()
        assert value > 1e3  # confidently wrong
