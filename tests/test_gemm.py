"""GEMM against a float64 numpy reference and against the C reference twin."""

import numpy as np
import pytest

from nncore import kernels
from nncore.kernels import gemm, matmul

SIZES = [0, 1, 7, 17, 33]


def tolerance(dtype, k):
    eps = np.finfo(dtype).eps
    return 4 * eps * max(k, 1) ** 0.5 * 10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_gemm_matches_float64_numpy(rng, dtype, trans_a, trans_b):
    for m in SIZES:
        for n in SIZES:
            for k in SIZES:
                a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
                b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
                c = rng.standard_normal((m, n)).astype(dtype)
                got = gemm(a, b, c, alpha=0.5, beta=-1.5, trans_a=trans_a, trans_b=trans_b)
                op_a = a.T if trans_a else a
                op_b = b.T if trans_b else b
                want = 0.5 * op_a.astype(np.float64) @ op_b.astype(np.float64) - 1.5 * c
                assert got.dtype == dtype
                assert got.shape == (m, n)
                scale = np.abs(op_a).max(initial=1) * np.abs(op_b).max(initial=1) * max(k, 1)
                np.testing.assert_allclose(got, want, atol=tolerance(dtype, k) * scale, rtol=0)


def test_gemm_noncontiguous_and_aliasing(rng):
    big = rng.standard_normal((40, 50))
    a = big[::3, 1::2]  # strided view
    b = np.asfortranarray(rng.standard_normal((a.shape[1], 9)))
    c = rng.standard_normal((a.shape[0], 9))
    want = a @ b + 2 * c
    out = gemm(a, b, c, beta=2.0, out=c)
    assert out is c
    np.testing.assert_allclose(c, want, rtol=1e-12, atol=1e-12)
    # out overlapping an input is computed correctly, not corrupted
    sq = rng.standard_normal((6, 6))
    want = sq @ sq
    gemm(sq, sq, out=sq)
    np.testing.assert_allclose(sq, want, rtol=1e-12, atol=1e-12)


def test_beta_zero_ignores_nan_in_c():
    a = np.ones((2, 2))
    c = np.full((2, 2), np.nan)
    np.testing.assert_array_equal(gemm(a, a, c, beta=0.0, out=c), 2 * np.ones((2, 2)))


def test_mixed_dtypes_compute_in_float64(rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4, 2))
    assert gemm(a, b).dtype == np.float64


def test_matmul_shapes(rng):
    a = rng.standard_normal((3, 4))
    v = rng.standard_normal(4)
    np.testing.assert_allclose(matmul(a, v), a @ v)
    np.testing.assert_allclose(matmul(v, v), v @ v)
    np.testing.assert_allclose(matmul(a, a.T), a @ a.T)


@pytest.mark.parametrize(
    "args, kwargs, error, words",
    [
        ((np.ones((2, 3)), np.ones((2, 3))), {}, ValueError, "inner dimensions"),
        ((np.ones((2, 3), int), np.ones((3, 3))), {}, TypeError, "a must have dtype"),
        ((np.ones((2, 3)), np.ones((3, 3), complex)), {}, TypeError, "b must have dtype"),
        ((np.ones((2, 3)), np.array([[object()]] * 3)), {}, TypeError, "b must have dtype"),
        ((np.ones(3), np.ones((3, 3))), {}, ValueError, "a must be 2-D"),
        ((np.ones((2, 3)), np.ones((3, 3))), {"beta": 1.0}, ValueError, "needs c"),
        ((np.ones((2, 3)), np.ones((3, 3)), np.ones((4, 4))), {"beta": 1.0}, ValueError, "c must"),
        ((np.ones((2, 3)), np.ones((3, 3))), {"alpha": np.nan}, ValueError, "alpha"),
        ((np.ones((2, 3)), np.ones((3, 3))), {"out": np.ones((3, 3))}, ValueError, "out"),
        (
            (np.ones((2, 3)), np.ones((3, 3))),
            {"out": np.ones((2, 3), np.float32)},
            TypeError,
            "out",
        ),
    ],
)
def test_gemm_bad_input(args, kwargs, error, words):
    with pytest.raises(error, match=words):
        gemm(*args, **kwargs)


def test_threads_api():
    before = kernels.get_num_threads()
    try:
        kernels.set_num_threads(1)
        assert kernels.get_num_threads() == 1
        with pytest.raises(ValueError, match="n must be >= 1"):
            kernels.set_num_threads(0)
    finally:
        kernels.set_num_threads(before)


def test_cpu_features_reports_a_kernel():
    features = kernels.cpu_features()
    assert features["kernel"] in ("generic", "avx2", "avx512", "neon")
    assert set(features) >= {"avx2", "fma", "avx512f", "kernel"}
