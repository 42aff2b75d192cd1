"""Activations and their derivatives: against an independent float64 numpy
version, central finite differences, the C reference twin, and bad input."""

import math
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from nncore import _core
from nncore.kernels import ACTIVATIONS, activation, activation_grad

ERF = np.vectorize(math.erf)
SHAPES = [(0, 3), (1, 1), (7, 5), (33, 17), (4, 3, 5)]


def numpy_activation(x, name, alpha):
    x = x.astype(np.float64)
    if name == "linear":
        return x
    if name == "relu":
        return np.where(x > 0, x, 0.0)
    if name == "leaky_relu":
        return np.where(x > 0, x, alpha * x)
    if name == "elu":
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
    if name == "sigmoid":
        return 0.5 * (1 + np.tanh(0.5 * x))  # an overflow-free identity
    if name == "tanh":
        return np.tanh(x)
    if name == "softplus":
        return np.logaddexp(0, x)
    if name == "gelu":
        return 0.5 * x * (1 + ERF(x / np.sqrt(2))) if x.size else x
    shifted = x - x.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


ALPHA = {"leaky_relu": 0.2, "elu": 0.7}


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_matches_numpy(rng, name, dtype):
    alpha = ALPHA.get(name)
    for shape in SHAPES:
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        got = activation(x, name, alpha=alpha)
        assert got.dtype == dtype and got.shape == x.shape
        want = numpy_activation(x, name, alpha)
        tol = 1e-6 if dtype == np.float32 else 1e-13
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_derivative_matches_finite_differences(rng, name):
    alpha = ALPHA.get(name)
    x = rng.standard_normal((6, 5)) * 2
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kinks of relu & co
    y = activation(x, name, alpha=alpha)
    dy = rng.standard_normal(x.shape)
    got = activation_grad(x, y, dy, name, alpha=alpha)
    # the directional derivative of L = sum(dy * f(x)) along each coordinate
    eps = 1e-6
    want = np.empty_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        up = np.sum(dy * activation(x + step, name, alpha=alpha))
        down = np.sum(dy * activation(x - step, name, alpha=alpha))
        want[index] = (up - down) / (2 * eps)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(37, 19), (33, 6)])  # 6 wide: rows run together as one
def test_fast_kernels_match_their_reference_twins(rng, name, dtype, shape):
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    alpha = ALPHA.get(name, 0.0)
    fast, ref = np.empty_like(x), np.empty_like(x)
    _core.activation_forward(x, fast, name, alpha)
    _core.activation_forward(x, ref, name, alpha, True)
    np.testing.assert_allclose(fast, ref, rtol=4 * np.finfo(dtype).eps, atol=0)
    dy = rng.standard_normal(x.shape).astype(dtype)
    dfast, dref = np.empty_like(x), np.empty_like(x)
    _core.activation_backward(x, ref, dy, dfast, name, alpha)
    _core.activation_backward(x, ref, dy, dref, name, alpha, True)
    np.testing.assert_allclose(dfast, dref, rtol=8 * np.finfo(dtype).eps, atol=1e-30)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(33, 6), (50, 7), (4, 1), (3, 5), (40, 16), (0, 4)])
@pytest.mark.parametrize("strided", [False, True])
def test_bias_add_matches_its_twin_and_numpy(rng, dtype, shape, strided):
    # narrow contiguous rows take the repeated-bias loop: 6 and 7 wide leave
    # a partial run at the end; 3 rows, 16 wide or strided rows the twin's
    m, n = shape
    bias = rng.standard_normal(n).astype(dtype)
    base = rng.standard_normal((m, 2 * n if strided else n)).astype(dtype)
    fast, ref = base.copy()[:, :n], base.copy()[:, :n]
    _core.bias_add(bias, fast)
    _core.bias_add(bias, ref, True)
    np.testing.assert_array_equal(fast, ref)
    np.testing.assert_array_equal(fast, base[:, :n] + bias)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_and_softplus_do_not_overflow(dtype):
    x = np.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=dtype)
    s = activation(x, "sigmoid")
    assert np.isfinite(s).all()
    assert s[0] == 0 and s[-1] == 1 and s[2] == 0.5
    sp = activation(x, "softplus")
    assert np.isfinite(sp).all()
    assert sp[0] == 0 and sp[-1] == dtype(1e4)
    big = np.array([[1e4, -1e4, 0.0]], dtype=dtype)
    np.testing.assert_array_equal(activation(big, "softmax"), [[1, 0, 0]])


def test_relu_derivative_at_zero_is_zero():
    x = np.zeros(3)
    np.testing.assert_array_equal(activation_grad(x, x, np.ones(3), "relu"), np.zeros(3))


def test_noncontiguous_input_and_out_aliasing(rng):
    base = rng.standard_normal((10, 12))
    view = base[::2, ::3]
    np.testing.assert_allclose(activation(view, "tanh"), np.tanh(view))
    np.testing.assert_allclose(
        activation(view.T, "softmax"), numpy_activation(view.T, "softmax", 0)
    )
    x = rng.standard_normal((5, 4))
    want = np.tanh(x)
    assert activation(x, "tanh", out=x) is x
    np.testing.assert_allclose(x, want)
    # out overlapping x in a shifted way is computed through a scratch array
    data = rng.standard_normal(10)
    want = np.tanh(data[:-1])
    activation(data[:-1], "tanh", out=data[1:])
    np.testing.assert_allclose(data[1:], want)
    # dx written over dy
    x = rng.standard_normal((3, 3))
    y = activation(x, "sigmoid")
    dy = np.ones_like(x)
    assert activation_grad(x, y, dy, "sigmoid", out=dy) is dy
    np.testing.assert_allclose(dy, y * (1 - y))


def test_mixed_dtypes_give_float64():
    x = np.ones(3, np.float32)
    assert activation_grad(x, x, np.ones(3), "linear").dtype == np.float64


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: activation(np.ones(3), "swish"), ValueError, "name must be one of"),
        (lambda: activation(np.ones(3, int), "relu"), TypeError, "x must have dtype"),
        (lambda: activation(np.ones(3, complex), "relu"), TypeError, "x must have dtype"),
        (lambda: activation(np.array(["a"]), "relu"), TypeError, "x must have dtype"),
        (lambda: activation(np.ones(3), "relu", alpha=0.1), ValueError, "alpha applies"),
        (lambda: activation(np.ones(3), "elu", alpha=np.nan), ValueError, "alpha must be finite"),
        (lambda: activation(np.ones(3), "relu", out=np.ones(4)), ValueError, "out must have shape"),
        (lambda: activation(np.float64(1), "softmax"), ValueError, "softmax needs"),
        (
            lambda: activation_grad(np.ones(3), np.ones(2), np.ones(3), "relu"),
            ValueError,
            "y must have the shape of x",
        ),
    ],
)
def test_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_each_kernel_path_computes_the_same_activations():
    script = (
        "import numpy as np; from nncore.kernels import activation, cpu_features;"
        "x = np.linspace(-5, 5, 301).reshape(7, 43);"
        "print(cpu_features()['kernel'], float(sum(activation(x, n).sum() for n in "
        "('relu','sigmoid','tanh','gelu','softmax','softplus','elu'))))"
    )
    outputs = {}
    for path in ("generic", "avx2", "avx512", "neon"):
        env = {**__import__("os").environ, "NNCORE_ARCH": path}
        done = subprocess.run(  # outside the repository: import the installed nncore
            [sys.executable, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=tempfile.gettempdir(),
        )
        kernel, total = done.stdout.split()
        outputs[kernel] = float(total)
    assert "generic" in outputs
    values = list(outputs.values())
    np.testing.assert_allclose(values, values[0], rtol=1e-12)
