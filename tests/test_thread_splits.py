"""Work split over threads: every element is computed exactly once, with the
same bits, whatever the thread count. Each kernel that splits its work is run
just past its split boundaries on 1, 2 and 3 threads: the GEMM driver's row
and column-panel splits and the small kernel's split of rows (sizes derived
from the block sizes of each path, cython_kernels._gemm_blocking), the row gather of a
batch and the finiteness scan of nc_all_finite (both split by rows)."""

import numpy as np
import pytest

import nncore
from nncore import _core, cython_kernels, kernels

THREADS = (1, 2, 3)


@pytest.fixture
def restore_settings():
    kernel = kernels.cpu_features()["kernel"]
    threads = kernels.get_num_threads()
    yield
    _core.set_kernel(kernel)
    kernels.set_num_threads(threads)


def depth_for(work, m, n, least=1):
    """A depth k that makes m*n*k exceed `work`."""
    return max(least, work // (m * n) + 1)


def split_shapes(blocks, itemsize):
    """(m, n, k, what, threads) just past the split boundaries of one GEMM
    path for that many threads.

    The packed products are run with B transposed: neither operand then has
    the unit stride the small kernel needs, so the packed driver runs at any
    size past a copy of B of 4096 elements (k * n > 4096)."""
    mr, nr = blocks["mr"], blocks["nr"]
    packed_work = 8 * blocks["parallel_work"]
    shapes = []
    # the widest block of B the packed driver packs at once (the plan's nc)
    nc = planned(blocks, itemsize, 2, mr, 8192, 4096, (1, 4096))["nc"]
    for threads in (2, 3):
        # packed driver, rows split in whole MR panels (A the larger operand)
        n = nr + 1
        first = -(-(n + 2) // (mr * threads))
        for q in (first, first + 1):
            for m in (mr * threads * q - 1, mr * threads * q + 1, mr * (threads * q + 1) + 1):
                k = max(depth_for(packed_work, m, n), 4096 // n + 1)
                shapes.append((m, n, k, "packed rows", threads))
        # packed driver, columns split in whole NR panels (two row panels),
        # also across more than one NC block of B
        m = mr + 1
        for q in (1, 2):
            for n in (nr * threads * q - 1, nr * threads * q + 1, nr * (threads * q + 1) + 1):
                k = max(depth_for(packed_work, m, n), 4096 // n + 1)
                shapes.append((m, n, k, "packed columns", threads))
        for n in (nc + 2 * nr + 1, 2 * nc + 1):
            shapes.append((m, n, depth_for(packed_work, m, n), "packed columns", threads))
        # small kernel (C no wider than NR), rows split in groups of 6
        n = nr
        for q in (2, 3):
            for m in (6 * threads * q - 1, 6 * threads * q + 1, 6 * (threads * q + 1) + 1):
                k = depth_for(blocks["parallel_work"], m, n)
                assert k <= 1024, "the small kernel takes products this deep"
                shapes.append((m, n, k, "small rows", threads))
    return shapes


def planned(blocks, itemsize, threads, m, n, k, b_strides):
    """The driver's plan for A (m x k, by rows) times B with `b_strides`."""
    return cython_kernels._gemm_plan(blocks, itemsize, threads, m, n, k, (k, 1), b_strides, (n, 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_splits_write_every_element_with_the_same_bits(
    rng, dtype, kernel_paths, restore_settings
):
    for path in kernel_paths:
        _core.set_kernel(path)
        blocks = cython_kernels._gemm_blocking(dtype)
        itemsize = np.dtype(dtype).itemsize
        for m, n, k, what, split_threads in split_shapes(blocks, itemsize):
            a = rng.standard_normal((m, k)).astype(dtype)
            b = rng.standard_normal((k, n)).astype(dtype)
            if what != "small rows":
                b = np.ascontiguousarray(b.T).T
            # the shape reaches the split it probes (the small kernel's just
            # below two tiles per thread: none)
            plan = planned(
                blocks,
                itemsize,
                split_threads,
                m,
                n,
                k,
                (b.strides[0] // itemsize, b.strides[1] // itemsize),
            )
            route = ("small " if plan["small"] else "packed ") + plan["split"]
            meant = "small none" if what == "small rows" and m < 12 * split_threads else what
            assert route == meant, (path, m, n, k, split_threads, plan)
            want = a.astype(np.float64) @ b.astype(np.float64)
            tol = 4 * k * np.finfo(dtype).eps * (np.abs(a) @ np.abs(b))
            results = []
            for threads in THREADS:
                kernels.set_num_threads(threads)
                c = np.full((m, n), np.nan, dtype)  # beta 0: every element must be written
                _core.gemm(a, b, c, 1.0, 0.0)
                results.append(c)
            where = f"path={path} {what} shape={(m, n, k)}"
            assert np.all(np.abs(results[0] - want) <= tol), where
            for threads, c in zip(THREADS[1:], results[1:]):
                np.testing.assert_array_equal(c, results[0], err_msg=f"{where} {threads} threads")


def finite_scan_rows(dtype):
    """Rows x columns of a matrix just over nc_all_finite's 4 MiB threshold,
    with a row count that no thread count divides."""
    width = 1024 * 8 // np.dtype(dtype).itemsize
    return 6 * 86 + 1, width


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_sees_a_nan_in_every_thread_share(dtype, restore_settings):
    rows, width = finite_scan_rows(dtype)
    base = np.ones((rows, width + 3), dtype)[:, :width]  # gaps between rows
    boundaries = {0, rows - 1}
    for parts in (2, 3):
        for t in range(1, parts):
            edge = rows * t // parts
            boundaries |= {edge - 1, edge, edge + 1}
    for threads in THREADS:
        kernels.set_num_threads(threads)
        assert _core.all_finite(base) is True
        for row in sorted(boundaries):
            for col in (0, width - 1):
                for bad in (np.nan, np.inf):
                    base[row, col] = bad
                    assert _core.all_finite(base) is False, (threads, row, col, bad)
                    base[row, col] = 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_row_gather_is_the_same_for_every_thread_count(rng, dtype, restore_settings):
    # predict on rows that are not contiguous gathers each batch; from 128 KB
    # of rows the gather runs on all threads
    width = 256
    model = nncore.Sequential([nncore.Dense(3, input_dim=width)], dtype=dtype, seed=1)
    itemsize = np.dtype(dtype).itemsize
    first_parallel = -(-128 * 1024 // (width * itemsize))
    data = rng.standard_normal((2 * (first_parallel + 8), width)).astype(dtype)
    for rows in (first_parallel - 1, first_parallel, first_parallel + 1, first_parallel + 5):
        x = data[::2][:rows]  # every other row: the network gathers them
        want = None
        for threads in THREADS:
            kernels.set_num_threads(threads)
            got = model.predict(x)
            assert got.shape == (rows, 3)
            if want is None:
                kernels.set_num_threads(1)
                want = model.predict(np.ascontiguousarray(x))
            np.testing.assert_array_equal(got, want, err_msg=f"{rows} rows, {threads} threads")
