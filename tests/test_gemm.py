"""GEMM against a float64 numpy reference and against the C reference twin."""

import os
import subprocess
import sys

import numpy as np
import pytest

from nncore import _core, kernels
from nncore.kernels import _gemm, gemm, matmul

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


def test_threadpoolctl_limits_the_kernels_threads_unless_set_explicitly(tmp_path):
    # Without set_num_threads or NNCORE_NUM_THREADS, nncore runs as many
    # threads as OpenMP would, so threadpoolctl (as scikit-learn uses it) limits
    # it; a fresh process, since this one may have set a count already.
    pytest.importorskip("threadpoolctl")
    code = (
        "import threadpoolctl\n"
        "from nncore import kernels\n"
        "if not any(i['user_api'] == 'openmp' for i in threadpoolctl.threadpool_info()):\n"
        "    print('no-openmp'); raise SystemExit\n"
        "with threadpoolctl.threadpool_limits(limits=1, user_api='openmp'):\n"
        "    inside = kernels.get_num_threads()\n"
        "print(kernels.get_num_threads(), inside)\n"
        "kernels.set_num_threads(2)\n"
        "with threadpoolctl.threadpool_limits(limits=1, user_api='openmp'):\n"
        "    print(kernels.get_num_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NNCORE_NUM_THREADS"}
    env["OMP_NUM_THREADS"] = "2"
    # run outside the repository, so that `import nncore` is the installed one
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.split()
    if out == ["no-openmp"]:
        pytest.skip("built without OpenMP")
    assert out == ["2", "1", "2"]  # followed OpenMP, then kept the explicit count


def test_cpu_features_reports_a_kernel():
    features = kernels.cpu_features()
    assert features["kernel"] in ("generic", "avx2", "avx512", "neon")
    assert set(features) >= {"avx2", "fma", "avx512f", "kernel"}


# ---------------------------------------------------------------- every path
#
# The packed driver's edges sit at the register tile (MR x NR), the depth
# block KC and the row block MC of each path; the AVX2 path uses MR 6,
# NR 16 (float32) / 8 (float64), KC 384 / 256, MC 120 / 72, the generic path
# 4 x 4, KC 256. Products of up to 192*192*160 (float32) or 96*96*128
# (float64) multiply-adds run the unpacked small kernel on AVX2 (32**3 on the
# generic path), larger ones the packed driver; both appear with odd edges.
PATH_SHAPES = [
    (0, 5, 3),
    (5, 0, 3),
    (1, 1, 1),
    (7, 7, 7),
    (7, 17, 9),  # MR+1 x NR+1 (float32)
    (32, 6, 4),  # tiny MLP layer
    (6, 16, 256),  # exactly one tile and one KC block
    (7, 300, 257),  # small kernel, odd everything
    (3, 64, 64),  # both operands strided when trans: B copied for the small kernel
    (3, 65, 64),  # one element past that copy's limit: packed
    (1, 1100, 7),  # one row: B streamed by rows, two 4 KB passes, k not a multiple of 4
    (3, 530, 9),  # three rows streamed together; float64: two passes
    (600, 3, 9),  # three columns: streamed as C^T when both operands are transposed
    (1030, 10, 70),  # narrower than NR: the small kernel past its work limit
    (10, 1030, 70),  # the same, as C^T when op(A) has unit row stride
    (73, 70, 257),  # float64 packed: MC+1 rows, KC+1 depth
    (7, 1700, 515),  # packed: MR+1 rows, two or three k blocks, NR edge
    (121, 200, 250),  # packed: MC+1 rows (float32)
    (300, 290, 280),
]


@pytest.fixture
def restore_kernel():
    default = kernels.cpu_features()["kernel"]
    yield
    _core.set_kernel(default)


def float64_product(a, b, trans_a, trans_b, alpha=1.0, beta=0.0, c=None):
    op_a = (a.T if trans_a else a).astype(np.float64)
    op_b = (b.T if trans_b else b).astype(np.float64)
    want = alpha * (op_a @ op_b)
    if beta != 0:
        want += beta * c.astype(np.float64)
    return want, np.abs(op_a).sum(axis=1, keepdims=True) @ np.abs(op_b).sum(axis=0, keepdims=True)


def assert_close_to_float64(got, want, magnitude, dtype, k, alpha=1.0):
    # error bound of a length-k dot product: ~k*eps relative to sum |a||b|
    eps = np.finfo(dtype).eps
    atol = 2 * (k + 2) * eps * (abs(alpha) * magnitude + np.abs(want) + 1e-30)
    assert np.all(np.abs(got - want) <= atol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_path_against_reference_twin_and_float64(rng, dtype, kernel_paths, restore_kernel):
    for path in kernel_paths:
        _core.set_kernel(path)
        for m, n, k in PATH_SHAPES:
            for trans_a in (False, True):
                for trans_b in (False, True):
                    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
                    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
                    c = rng.standard_normal((m, n)).astype(dtype)
                    args = (a, b, c, 0.75, -0.5, trans_a, trans_b, None)
                    got = _gemm(*args, reference=False)
                    twin = _gemm(*args, reference=True)
                    want, magnitude = float64_product(a, b, trans_a, trans_b, 0.75, -0.5, c)
                    where = f"path={path} shape={(m, n, k)} trans={(trans_a, trans_b)}"
                    assert got.dtype == dtype, where
                    assert_close_to_float64(got, want, magnitude, dtype, k, 0.75)
                    assert_close_to_float64(twin, want, magnitude, dtype, k, 0.75)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_path_strided_views_and_beta_zero_with_nan(rng, dtype, kernel_paths, restore_kernel):
    for path in kernel_paths:
        _core.set_kernel(path)
        for m, n, k in [(7, 17, 9), (33, 40, 300), (130, 70, 50)]:
            # negative and non-unit strides on every operand
            big_a = rng.standard_normal((2 * m + 1, 3 * k + 2)).astype(dtype)
            big_b = rng.standard_normal((3 * k, 2 * n + 1)).astype(dtype)
            a = big_a[::-2, 1::3][:m, :k]
            b = big_b[::-3, ::-2][:k, :n]
            for layout in ("C", "F", "strided"):
                if layout == "strided":
                    c = np.full((m, 2 * n), np.nan, dtype)[:, ::-2]
                else:
                    c = np.full((m, n), np.nan, dtype, order=layout)
                got = gemm(a, b, c, alpha=-2.0, beta=0.0, out=c)
                assert got is c
                want, magnitude = float64_product(a, b, False, False, -2.0)
                assert np.isfinite(c).all(), f"path={path} beta=0 read C ({layout})"
                assert_close_to_float64(c, want, magnitude, dtype, k, 2.0)
                # accumulate into the same (now finite) C with beta != 0
                before = c.astype(np.float64)
                gemm(a, b, c, alpha=1.0, beta=2.5, out=c)
                want2 = want / -2.0 + 2.5 * before
                assert_close_to_float64(c, want2, magnitude + 2.5 * np.abs(before), dtype, k)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_k_zero_scales_c(dtype, kernel_paths, restore_kernel):
    for path in kernel_paths:
        _core.set_kernel(path)
        c = np.arange(12, dtype=dtype).reshape(3, 4)
        got = gemm(np.ones((3, 0), dtype), np.ones((0, 4), dtype), c, beta=0.5)
        np.testing.assert_array_equal(got, 0.5 * c)
        nan_c = np.full((3, 4), np.nan, dtype)
        got = gemm(np.ones((3, 0), dtype), np.ones((0, 4), dtype), nan_c, beta=0.0)
        np.testing.assert_array_equal(got, np.zeros((3, 4), dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_bit_identical_for_one_and_two_threads(rng, dtype, kernel_paths, restore_kernel):
    before = kernels.get_num_threads()
    # packed driver: row split, column split (m below two row panels), several
    # k blocks; small kernel split by rows (AVX2: below 192*192*160 float32 or
    # 96*96*128 float64 multiply-adds, above ~96**3)
    # (50, 4200, 300): several NC blocks with the column split
    shapes = [
        (300, 200, 600),
        (5, 2000, 300),
        (97, 523, 257),
        (1000, 64, 64),
        (100, 90, 110),
        (50, 4200, 300),
    ]
    try:
        for path in kernel_paths:
            _core.set_kernel(path)
            for m, n, k in shapes:
                a = rng.standard_normal((k, m)).astype(dtype).T  # transposed view
                for trans_b in (False, True):
                    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
                    c = rng.standard_normal((m, n)).astype(dtype)
                    results = []
                    for threads in (1, 2, 3):
                        kernels.set_num_threads(threads)
                        results.append(gemm(a, b, c, alpha=1.5, beta=0.5, trans_b=trans_b))
                    np.testing.assert_array_equal(results[0], results[1])
                    np.testing.assert_array_equal(results[0], results[2])
    finally:
        kernels.set_num_threads(before)


# ------------------------------------------------- GEMM with an epilogue

EPILOGUE_SHAPES = [
    (1, 1, 1),
    (7, 5, 3),  # small kernel
    (33, 17, 130),  # small kernel, several 48-row blocks? no: one, odd widths
    (130, 20, 40),  # small kernel, rows past one epilogue block
    (5, 2000, 300),  # packed, column split, edge tiles
    (97, 523, 257),  # packed, several k blocks (the epilogue only after the last)
    (300, 200, 600),
]


def unfused(a, b, c, act, alpha_act, bias, kind, z=None, y=None):
    """The separate passes the epilogue replaces (fast kernels)."""
    _core.gemm(a, b, c, 1.0, 0.0)
    if kind == "activation_grad":
        _core.activation_backward(z, y, c, c, act, alpha_act)
        return c, None
    if bias is not None:
        _core.bias_add(bias, c)
    out = np.empty_like(c)
    _core.activation_forward(c, out, act, alpha_act)
    return c, out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_epilogue_equals_the_separate_passes_bit_for_bit(rng, dtype, kernel_paths, restore_kernel):
    before = kernels.get_num_threads()
    try:
        for path in kernel_paths:
            _core.set_kernel(path)
            for m, n, k in EPILOGUE_SHAPES:
                a = rng.standard_normal((k, m)).astype(dtype).T  # a transposed view
                b = rng.standard_normal((k, n)).astype(dtype)
                bias = rng.standard_normal(n).astype(dtype)
                z = rng.standard_normal((m, n)).astype(dtype)
                for act in kernels.ACTIVATIONS:
                    alpha_act = 0.2 if act in ("leaky_relu", "elu") else 0.0
                    y = np.empty_like(z)
                    _core.activation_forward(z, y, act, alpha_act)
                    where = f"path={path} shape={(m, n, k)} act={act}"
                    for threads in (1, 2):
                        kernels.set_num_threads(threads)
                        # forward: bias and activation, z kept in c, act(z) in out
                        want_z, want_out = unfused(
                            a, b, np.empty((m, n), dtype), act, alpha_act, bias, "bias_activation"
                        )
                        c = np.full((m, n), np.nan, dtype)
                        out = np.full((m, n), np.nan, dtype)
                        _core.gemm_epilogue(
                            a, b, c, 1.0, 0.0, "bias_activation", act, alpha_act, bias, out
                        )
                        np.testing.assert_array_equal(c, want_z, err_msg=where)
                        np.testing.assert_array_equal(out, want_out, err_msg=where)
                        # in place (out None), no bias
                        want_z, want_out = unfused(
                            a, b, np.empty((m, n), dtype), act, alpha_act, None, "bias_activation"
                        )
                        c = np.full((m, n), np.nan, dtype)
                        _core.gemm_epilogue(a, b, c, 1.0, 0.0, "bias_activation", act, alpha_act)
                        np.testing.assert_array_equal(c, want_out, err_msg=where)
                        # backward: the derivative of the layer below applied to c
                        want, _ = unfused(
                            a,
                            b,
                            np.empty((m, n), dtype),
                            act,
                            alpha_act,
                            None,
                            "activation_grad",
                            z,
                            y,
                        )
                        c = np.full((m, n), np.nan, dtype)
                        _core.gemm_epilogue(
                            a, b, c, 1.0, 0.0, "activation_grad", act, alpha_act, z=z, y=y
                        )
                        np.testing.assert_array_equal(c, want, err_msg=where)
    finally:
        kernels.set_num_threads(before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_epilogue_against_its_reference_twin_and_float64(rng, dtype):
    m, n, k = 37, 29, 300
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    bias = rng.standard_normal(n).astype(dtype)
    c0 = rng.standard_normal((m, n)).astype(dtype)
    want_z, magnitude = float64_product(a, b, False, False, 0.5, 2.0, c0)
    want_z = want_z + bias
    results = []
    for reference in (False, True):
        c, out = c0.copy(), np.empty((m, n), dtype)
        _core.gemm_epilogue(
            a, b, c, 0.5, 2.0, "bias_activation", "tanh", 0.0, bias, out, reference=reference
        )
        results.append((c, out))
        assert_close_to_float64(c, want_z, magnitude + 2 * np.abs(c0) + np.abs(bias), dtype, k)
        np.testing.assert_allclose(out, np.tanh(want_z), atol=200 * np.finfo(dtype).eps * k)
    np.testing.assert_allclose(results[0][1], results[1][1], atol=50 * np.finfo(dtype).eps * k)


def test_epilogue_k_zero_and_bad_arguments():
    a, b = np.ones((3, 0)), np.ones((0, 4))
    c = np.full((3, 4), np.nan)
    bias = np.arange(4.0)
    _core.gemm_epilogue(a, b, c, 1.0, 0.0, "bias_activation", "relu", 0.0, bias - 1.5)
    np.testing.assert_array_equal(c, np.tile(np.maximum(bias - 1.5, 0), (3, 1)))
    # C must have unit column stride; the derivative needs z and y
    f = np.zeros((3, 4), order="F")
    with pytest.raises(ValueError, match="gemm_epilogue"):
        _core.gemm_epilogue(
            np.ones((3, 2)), np.ones((2, 4)), f, 1.0, 0.0, "bias_activation", "relu"
        )
    with pytest.raises(ValueError, match="gemm_epilogue"):
        _core.gemm_epilogue(
            np.ones((3, 2)), np.ones((2, 4)), np.zeros((3, 4)), 1.0, 0.0, "activation_grad", "relu"
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_few_rows_give_the_bits_of_the_same_rows_in_a_larger_product(
    rng, dtype, kernel_paths, restore_kernel
):
    """Up to 4 rows go through the small kernel's streaming mode; each element
    takes the same operations as in the register tiles, so a row alone has
    the bits it has inside a product of more rows."""
    for path in kernel_paths:
        _core.set_kernel(path)
        for n, k in [(40, 9), (100, 3), (70, 33)]:
            a = rng.standard_normal((7, k)).astype(dtype)
            b = rng.standard_normal((k, n)).astype(dtype)
            c = rng.standard_normal((7, n)).astype(dtype)
            whole = _gemm(a, b, c.copy(), 0.5, -1.0, False, False, None, reference=False)
            for rows in (1, 2, 4):
                part = _gemm(
                    a[:rows], b, c[:rows].copy(), 0.5, -1.0, False, False, None, reference=False
                )
                np.testing.assert_array_equal(part, whole[:rows], err_msg=f"{path} {rows} {n}x{k}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_products_computed_in_tiles_give_the_bits_of_one_call(rng, dtype, monkeypatch):
    """Big products run as several calls (so Ctrl-C is seen between them); with
    tiny tiles forced, every argument combination gives one call's bits."""
    m, n, k = 45, 38, 29
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((n, k)).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    cases = [
        dict(a=a, b=b, trans_b=True),
        dict(a=a.T.copy(), b=b.T, trans_a=True, c=c, alpha=0.5, beta=-2.0),
        dict(a=a[::-1], b=b[:, ::-1], trans_b=True, c=c[0], beta=1.0),
    ]
    one_call = [gemm(**case) for case in cases]
    in_place = gemm(a, b, c.copy(), beta=3.0, trans_b=True)
    monkeypatch.setattr(kernels, "_GEMM_TILE_MULTIPLY_ADDS", 500)
    monkeypatch.setattr(kernels, "_GEMM_TILE_MIN_ROWS", 4)
    monkeypatch.setattr(kernels, "_GEMM_TILE_MIN_COLS", 7)
    assert len(list(kernels._interruptible_tiles(m, n, k))) > 20
    for case, expected in zip(cases, one_call):
        assert np.array_equal(gemm(**case), expected)
    c_out = c.copy()
    assert gemm(a, b, c_out, beta=3.0, trans_b=True, out=c_out) is c_out
    assert np.array_equal(c_out, in_place)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_fast_path_and_python_path_agree(rng, dtype):
    # kernels.gemm runs plain calls through _core.gemm_public and everything
    # else through the Python path: both give the kernel's bits
    a = rng.standard_normal((9, 7)).astype(dtype)
    b = rng.standard_normal((7, 5)).astype(dtype)
    c = rng.standard_normal((9, 5)).astype(dtype)
    want = np.empty((9, 5), dtype)
    want[...] = c
    _core.gemm(a, b, want, 0.5, 2.0)
    calls = [
        dict(),  # fast
        dict(trans_a=1, trans_b=0),  # ints: Python path
        dict(out=np.empty((9, 5), dtype)),  # fast, into out
        dict(out=np.empty((5, 9), dtype).T),  # fast, column-major out
    ]
    for kwargs in calls:
        trans_a = bool(kwargs.get("trans_a", False))
        op_a = np.ascontiguousarray(a.T) if trans_a else a
        got = gemm(op_a, b, c, alpha=0.5, beta=2.0, **kwargs)
        np.testing.assert_array_equal(got, want, err_msg=str(kwargs))
    assert _core.gemm_public(a, b, c, 0.5, 2.0, False, False, None, 1e9) is not None
    # fallbacks: None from the compiled layer, the right answer from gemm
    overlapping = np.zeros((9, 12), dtype)
    overlapping[:, :7] = a
    for args in [
        (a, b, c, np.float64(0.5), 2.0, False, False, None),  # numpy scalar
        (a, b, c[:1], 0.5, 2.0, False, False, None),  # broadcast c
        (a, b.astype(np.float16), c, 0.5, 2.0, False, False, None),
        (overlapping[:, :7], b, c, 0.5, 2.0, False, False, overlapping[:, 7:]),  # out meets a
        (a, b, None, 0.5, 2.0, False, False, None),  # beta without c
        (a, b, c, 0.5, float("nan"), False, False, None),
    ]:
        assert _core.gemm_public(*args, 1e9) is None
    assert _core.gemm_public(a, b, c, 0.5, 2.0, False, False, None, 314) is None  # 315 > 314
    got = gemm(overlapping[:, :7], b, c, alpha=0.5, beta=2.0, out=overlapping[:, 7:])
    np.testing.assert_array_equal(got, want)
