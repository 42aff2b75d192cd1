"""The compiled bindings (nncore._core) called directly with hostile arguments:
each raises ValueError or TypeError naming the argument before C reads or
writes anything, and leaves its outputs untouched."""

import numpy as np
import pytest

from nncore import _core

F32, F64 = np.float32, np.float64


def ones(shape, dtype=F64):
    return np.ones(shape, dtype)


def read_only(shape, dtype=F64):
    arr = np.zeros(shape, dtype)
    arr.flags.writeable = False
    return arr


def unaligned(shape, dtype=F64):
    raw = np.zeros(int(np.prod(shape)) * np.dtype(dtype).itemsize + 1, np.uint8)
    return raw[1:].view(dtype).reshape(shape)


def broadcast(shape, dtype=F64):
    return np.broadcast_to(np.zeros(shape[-1], dtype), shape)


def writable_broadcast(shape, dtype=F64):
    return np.lib.stride_tricks.as_strided(np.zeros(shape[-1], dtype), shape, (0, 8))


GEMM_CASES = [
    # (a, b, c, error, words)
    (ones((3, 4)), ones((4, 5)), np.zeros((3, 5), F32), TypeError, "a must have dtype float32"),
    (ones((3, 4), F32), ones((4, 5)), np.zeros((3, 5), F32), TypeError, "b must have dtype"),
    (ones((3, 4)), ones((5, 5)), np.zeros((3, 5)), ValueError, "rows of b"),
    (ones((3, 4)), ones((4, 5)), np.zeros((3, 6)), ValueError, "c must have shape"),
    (ones((3, 4)), ones((4, 5)), np.zeros((4, 5)), ValueError, "c must have shape"),
    (ones((3, 4)), ones((4, 5)), read_only((3, 5)), ValueError, "c must be writable"),
    (ones((3, 4)), ones((4, 5)), np.zeros(15), ValueError, "c must be 2-D"),
    (ones(4), ones((4, 5)), np.zeros((3, 5)), ValueError, "a must be 2-D"),
    ([[1.0] * 4] * 3, ones((4, 5)), np.zeros((3, 5)), TypeError, "a must be a numpy array"),
    (ones((3, 4)), ones((4, 5)), [[0.0] * 5] * 3, TypeError, "c must be a numpy array"),
    (ones((3, 4)), ones((4, 5)), np.zeros((3, 5), int), TypeError, "c must have dtype"),
    (ones((3, 4), int), ones((4, 5)), np.zeros((3, 5)), TypeError, "a must have dtype"),
    (unaligned((3, 4)), ones((4, 5)), np.zeros((3, 5)), ValueError, "a must be aligned"),
    (ones((3, 4)), ones((4, 5)), unaligned((3, 5)), ValueError, "c must be aligned"),
    (ones((3, 4)), ones((4, 5)), writable_broadcast((3, 5)), ValueError, "c must not repeat"),
    (ones((3, 8)).view(np.complex128), ones((4, 5)), np.zeros((3, 5)), TypeError, "a must"),
]


@pytest.mark.parametrize("a, b, c, error, words", GEMM_CASES)
def test_gemm_binding_refuses_hostile_arguments(a, b, c, error, words):
    before = c.copy() if isinstance(c, np.ndarray) else None
    with pytest.raises(error, match=words):
        _core.gemm(a, b, c, 1.0, 0.0)
    if before is not None:
        np.testing.assert_array_equal(c, before)


def test_gemm_binding_refuses_c_overlapping_an_operand():
    buffer = np.ones((6, 6))
    with pytest.raises(ValueError, match="c must not overlap a"):
        _core.gemm(buffer[:3, :3], buffer[3:, 3:], buffer[1:4, 1:4], 1.0, 0.0)
    with pytest.raises(ValueError, match="c must not overlap b"):
        _core.gemm(np.ones((3, 3)), buffer[:3, :3], buffer[:3, :3], 1.0, 0.0)
    # negative and strided views are fine, and so are broadcast inputs
    a = np.ones((5, 7))[::-1, ::2]
    c = np.zeros((10, 10))[::2, ::-3][:, :3]
    _core.gemm(a, broadcast((4, 3)), c, 1.0, 0.0)
    np.testing.assert_array_equal(c, np.zeros((5, 3)))  # broadcast b is zeros


def test_gemm_epilogue_binding_refuses_hostile_arguments():
    a, b, c = ones((3, 4)), ones((4, 5)), np.zeros((3, 5))
    cases = [
        ({"bias": ones(4)}, ValueError, "bias must have shape"),
        ({"bias": ones(5, F32)}, TypeError, "bias must have dtype"),
        ({"bias": ones(10)[::2]}, ValueError, "bias must be contiguous"),
        ({"out": read_only((3, 5))}, ValueError, "out must be writable"),
        ({"out": np.zeros((3, 4))}, ValueError, "out must have shape"),
        ({"out": np.zeros((5, 3)).T}, ValueError, "out must have adjacent columns"),
        ({"out": c}, ValueError, "c must not overlap out"),
        ({"kind": "activation_grad"}, ValueError, "needs z and y"),
        ({"kind": "bogus"}, ValueError, "kind must be"),
        ({"activation": "swish"}, ValueError, "activation must be one of"),
    ]
    for extra, error, words in cases:
        kwargs = {"kind": "bias_activation", "activation": "relu", **extra}
        kind, activation = kwargs.pop("kind"), kwargs.pop("activation")
        with pytest.raises(error, match=words):
            _core.gemm_epilogue(a, b, c, 1.0, 0.0, kind, activation, **kwargs)
    with pytest.raises(ValueError, match="c must have adjacent columns"):
        _core.gemm_epilogue(a, b, np.zeros((5, 3)).T, 1.0, 0.0, "bias_activation", "relu")


def test_elementwise_bindings_refuse_hostile_arguments():
    x = ones((3, 4))
    cases = [
        (lambda: _core.activation_forward(x, np.zeros((3, 4), F32), "relu", 0.0), TypeError, "y"),
        (lambda: _core.activation_forward(x, np.zeros((3, 5)), "relu", 0.0), ValueError, "y"),
        (lambda: _core.activation_forward(x, read_only((3, 4)), "relu", 0.0), ValueError, "y"),
        (lambda: _core.activation_forward(x, np.zeros((4, 3)).T, "relu", 0.0), ValueError, "y"),
        (lambda: _core.activation_forward(x, np.zeros((3, 4)), "nope", 0.0), ValueError, "name"),
        (lambda: _core.activation_forward(x, np.zeros((3, 4)), 3, 0.0), ValueError, "name"),
        (lambda: _core.activation_forward(ones(4), np.zeros(4), "relu", 0.0), ValueError, "x"),
        (
            lambda: _core.activation_backward(x, x, x, np.zeros((3, 3)), "relu", 0.0),
            ValueError,
            "dx must have shape",
        ),
        (
            lambda: _core.activation_backward(x, ones((3, 5)), x, np.zeros((3, 4)), "relu", 0.0),
            ValueError,
            "y must have shape",
        ),
        (lambda: _core.activation_backward(x, x, x, x, "relu", 0.0), ValueError, "dx must not"),
        (lambda: _core.bias_add(ones(3), np.zeros((3, 4))), ValueError, "bias must have shape"),
        (lambda: _core.bias_add(ones(4), read_only((3, 4))), ValueError, "y must be writable"),
        (lambda: _core.bias_grad(x, np.zeros(5), 0.0), ValueError, "dbias must have shape"),
        (lambda: _core.bias_grad(x, np.zeros(4, F32), 0.0), TypeError, "dbias must have dtype"),
        (lambda: _core.bias_grad(x, read_only(4), 0.0), ValueError, "dbias must be writable"),
    ]
    for call, error, words in cases:
        with pytest.raises(error, match=words):
            call()


def test_loss_bindings_refuse_hostile_arguments():
    p, t = np.full((4, 3), 0.5), np.full((4, 3), 0.5)
    grad = np.zeros((4, 3))
    cases = [
        (lambda: _core.loss_value(p, ones((4, 2)), "mse", False, None), ValueError, "t must"),
        (lambda: _core.loss_value(p, t.astype(F32), "mse", False, None), TypeError, "t must"),
        (lambda: _core.loss_value(p, t, "mse", False, ones(3)), ValueError, "sample_weight"),
        (lambda: _core.loss_value(p, t, "mse", False, ones(8)[::2]), ValueError, "sample_weight"),
        (lambda: _core.loss_value(p, t, "hinge", False, None), ValueError, "name must be one"),
        (
            lambda: _core.loss_value(p, t, "sparse_categorical_crossentropy", False, None),
            ValueError,
            r"t must have shape \(4, 1\)",
        ),
        (lambda: _core.loss_gradient(p, t, "mse", False, None, ones((4, 2))), ValueError, "grad"),
        (
            lambda: _core.loss_gradient(p, t, "mse", False, None, read_only((4, 3))),
            ValueError,
            "grad",
        ),
        (lambda: _core.loss_gradient(p, t, "mse", False, None, t), ValueError, "grad must not"),
        (
            lambda: _core.loss_value_gradient(p, t, "mse", False, None, p),
            ValueError,
            "grad must not overlap p",
        ),
        (
            lambda: _core.loss_value_gradient(p, t, "binary_crossentropy", True, None, grad, grad),
            ValueError,
            "prob must not overlap grad",
        ),
    ]
    for call, error, words in cases:
        with pytest.raises(error, match=words):
            call()
    assert (grad == 0).all()


def test_optimizer_binding_refuses_hostile_arguments():
    opt = {
        "kind": "sgd",
        "learning_rate": 0.1,
        "momentum": 0.0,
        "nesterov": False,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "rho": 0.9,
        "weight_decay": 0.0,
        "iterations": 0,
    }
    w, g, state = np.zeros(4), np.ones(4), np.zeros(4)
    with pytest.raises(ValueError, match="w must be writable"):
        _core.optimizer_step(opt, read_only(4), g, state)
    with pytest.raises(ValueError, match="w must be 1-D"):
        _core.optimizer_step(opt, np.zeros((2, 2)), g, state)
    with pytest.raises(TypeError, match="g must have dtype"):
        _core.optimizer_step(opt, w, g.astype(F32), state)
    with pytest.raises(ValueError, match="state must not overlap g"):
        _core.optimizer_step(opt, w, g, g)
    with pytest.raises(ValueError, match="kind must be one of"):
        _core.optimizer_step({**opt, "kind": "lion"}, w, g, state)
    assert (w == 0).all()


def test_thread_count_and_permutation_bindings_refuse_out_of_range_values():
    before = _core.get_num_threads()
    for bad, error in ((0, ValueError), (4097, ValueError), (2**70, ValueError), (1.5, TypeError)):
        with pytest.raises(error, match="set_num_threads: n must"):
            _core.set_num_threads(bad)
    assert _core.get_num_threads() == before
    with pytest.raises(ValueError, match="seed must be in"):
        _core.permutation(3, -1, 0)
    with pytest.raises(TypeError, match="stream must be an integer"):
        _core.permutation(3, 0, "x")


def test_all_finite_leaves_the_other_byte_order_to_numpy():
    import nncore

    x = np.array([[1.0, np.nan]], dtype=">f4" if np.little_endian else "<f4")
    assert _core.all_finite(x) is None  # read natively, these bytes would look finite
    model = nncore.Sequential([nncore.Dense(2, input_dim=3)], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="y contains NaN"):
        model.fit(np.ones((1, 3), np.float32), x, epochs=1, verbose=0)
