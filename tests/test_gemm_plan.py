"""The GEMM driver's decisions (nc_gemm_make_plan, csrc/gemm.c) at their
boundaries: small kernel or packed driver, orientation, thread count, and how
the threads share the output. The rules are the ones the driver states in its
comments; the block sizes are given here, so every rule is reached whatever
the machine runs. That a plan's execution gives the same bits for any thread
count is test_thread_splits.py's part."""

import pytest

from nncore import cython_kernels

# An AVX2 float32-like path: 6 x 16 tiles.
BLOCKS = {
    "mr": 6,
    "nr": 16,
    "kc": 384,
    "mc": 120,
    "nc": 4080,
    "small_work": 192 * 192 * 160,
    "parallel_work": 64 * 64 * 32,
}
F32 = 4


def plan(m, n, k, a="rows", b="rows", c="rows", threads=2, blocks=BLOCKS, itemsize=F32):
    """The plan for op(A) m x k, op(B) k x n, C m x n, each stored by rows or
    by columns (a transposed operand)."""

    def strides(layout, rows, cols):
        return (cols, 1) if layout == "rows" else (1, rows)

    return cython_kernels._gemm_plan(
        blocks, itemsize, threads, m, n, k, strides(a, m, k), strides(b, k, n), strides(c, m, n)
    )


# Neither operand with unit row stride of the kind the small kernel takes
# (B by columns, A by rows) and B too large to copy (k * n > 4096): the
# packed driver, at any size.
def packed(m, n, k, threads=2):
    assert k * n > 4096
    return plan(m, n, k, b="columns", threads=threads)


PACKED_WORK = 8 * BLOCKS["parallel_work"]


def test_packed_threads_split_rows_when_a_is_the_larger_operand():
    k = 1024
    got = packed(97, 96, k)
    assert (got["small"], got["threads"], got["split"]) == (False, 2, "rows")
    assert (got["panel"], got["panels"]) == (6, 17)  # ceil(97 / 6)
    got = packed(96, 96, k)  # as large as B: columns, A is packed by each
    assert (got["split"], got["panel"], got["panels"]) == ("columns", 16, 6)


def test_packed_threads_split_columns_when_rows_are_too_few_panels():
    k = 40000
    assert 6 * 5 * k >= PACKED_WORK
    assert packed(12, 5, k)["split"] == "rows"  # 2 panels of 6 rows for 2 threads
    assert packed(6, 5, k)["split"] == "columns"  # 1 panel of rows for 2 threads
    assert packed(13, 5, k, threads=3)["split"] == "rows"
    assert packed(12, 5, k, threads=3)["split"] == "columns"


def test_packed_threads_split_rows_when_columns_are_too_few_panels():
    k = 4096
    assert 16 * 16 * k == PACKED_WORK
    assert packed(16, 16, k)["split"] == "rows"  # one panel of columns for 2 threads
    assert packed(17, 17, k)["split"] == "columns"  # two panels of columns


def test_packed_driver_runs_on_one_thread_below_eight_times_parallel_work():
    assert 64 * 64 * 256 == PACKED_WORK
    assert packed(64, 64, 256)["threads"] == 2
    got = packed(64, 64, 255)
    assert (got["threads"], got["split"]) == (1, "none")
    assert packed(64, 64, 256, threads=3)["threads"] == 3
    assert packed(64, 64, 256, threads=1)["threads"] == 1


def test_packed_blocking_cuts_k_into_equal_blocks_and_fits_the_buffers():
    assert packed(64, 64, 784)["kc"] == 262  # 3 x 262, not 384 + 384 + 16
    assert packed(64, 64, 384)["kc"] == 384
    assert packed(64, 64, 385)["kc"] == 193
    got = packed(64, 64, 1000)
    # B buffer 4 MiB: 4080 x 384 floats do not fit, 2720 (a multiple of 16) do
    assert (got["mc"], got["nc"]) == (120, 4 * 1024 * 1024 // (384 * 4) // 16 * 16)
    assert plan(64, 64, 1000, b="columns", itemsize=8)["nc"] == 1360
    # A buffer 512 KiB: 120 x 384 doubles fit; 480 would not
    bigger = dict(BLOCKS, mc=480)
    assert plan(64, 64, 1000, b="columns", itemsize=8, blocks=bigger)["mc"] == 168


def test_small_kernel_up_to_small_work():
    # A and B by rows, C wider than one panel, more than a few rows: only
    # the work decides
    got = plan(192, 192, 160)
    assert got["small"] and not got["copy_b"] and not got["swap"] and not got["transpose"]
    assert not plan(192, 192, 161)["small"]


def test_small_kernel_threads_take_whole_six_row_tiles_two_at_least():
    # work above parallel_work; 12 rows per thread at least
    assert 24 * 64 * 86 >= BLOCKS["parallel_work"]
    got = plan(24, 64, 86)
    assert (got["small"], got["threads"], got["split"]) == (True, 2, "rows")
    assert (got["panel"], got["panels"]) == (6, 4)
    assert plan(23, 64, 90)["threads"] == 1
    assert plan(36, 64, 86, threads=3)["threads"] == 3
    assert plan(35, 64, 86, threads=3)["threads"] == 1
    # below parallel_work: one thread, whatever the rows
    assert 48 * 64 * 42 < BLOCKS["parallel_work"]
    assert plan(48, 64, 42)["threads"] == 1


def test_a_small_b_by_columns_is_copied_for_the_small_kernel():
    got = plan(64, 64, 64, b="columns")  # k * n = 4096
    assert got["small"] and got["copy_b"] and not got["swap"]
    got = plan(64, 65, 63, b="columns")  # k * n = 4095
    assert got["small"] and got["copy_b"]
    got = plan(64, 65, 64, b="columns")  # k * n = 4160: packed
    assert not got["small"] and not got["copy_b"]


def test_a_column_major_c_is_computed_as_its_transpose():
    assert plan(64, 64, 64, c="columns")["transpose"]
    assert not plan(64, 64, 64)["transpose"]
    # C^T = op(B)^T op(A)^T: A by columns becomes a right operand by rows,
    # so B by columns and A by columns make a small product again
    got = plan(64, 96, 64, a="columns", b="columns", c="columns")
    assert got["transpose"] and got["small"] and not got["copy_b"]


def test_few_rows_stream_through_the_small_kernel_at_any_size():
    k = 2000  # too deep for the narrow rule
    assert plan(4, 4096, k)["small"]
    assert not plan(5, 4096, k)["small"]
    # B by columns, A by columns: the same as C^T with 4 rows
    got = plan(4096, 4, k, a="columns", b="columns")
    assert got["small"] and got["swap"]
    assert not plan(4096, 5, k, a="columns", b="columns")["small"]


def test_products_narrower_than_a_panel_go_to_the_small_kernel_up_to_1024_deep():
    assert plan(2048, 16, 1024)["small"]
    assert not plan(2048, 16, 1025)["small"]
    assert not plan(2048, 17, 1024)["small"]


def test_the_small_kernel_runs_on_the_transpose_that_fills_its_vectors():
    # A by columns and B by rows (X^T dZ): both have unit strides the
    # small kernel can use. m <= NR < n: the narrow side becomes the columns.
    got = plan(10, 64, 128, a="columns")
    assert got["small"] and got["swap"]
    assert got["panels"] == 11  # 64 rows of C^T in tiles of 6
    # Vectors of NR / 2 = 8 lanes: 10 columns fill 10 of 16, 24 rows all 24
    assert plan(24, 10, 128, a="columns")["swap"]
    assert not plan(24, 24, 128, a="columns")["swap"]  # filled alike: no swap
    # Swapped, op(A)^T is the right operand: at most 256 KiB of it
    assert 17 * 3855 * 4 <= 256 * 1024 < 17 * 3856 * 4
    assert plan(17, 2, 3855, a="columns")["swap"]
    got = plan(17, 2, 3856, a="columns")
    assert got["small"] and not got["swap"]


def test_a_by_columns_goes_to_the_packed_driver_when_its_traffic_outgrows_l2():
    # The small kernel reads A once per NR columns of C: 64 rows x k x 4
    # bytes x 4 panels of C, up to 256 KiB. Rows and columns fill the
    # vectors alike, so the small kernel keeps this orientation.
    got = plan(64, 64, 256, a="columns")
    assert got["small"] and not got["swap"]
    assert not plan(64, 64, 257, a="columns")["small"]
    # C no wider than one panel reads A once: any depth up to the narrow limit
    assert plan(64, 16, 1024, a="columns")["small"]


@pytest.mark.parametrize("threads", [0, -3])
def test_no_thread_count_below_one(threads):
    assert packed(64, 64, 1024, threads=threads)["threads"] == 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_path_in_use_plans_the_rules_it_states(dtype):
    # the rules above, on the block sizes of the path in use
    blocks = cython_kernels._gemm_blocking(dtype)
    itemsize = 4 if dtype == "float32" else 8
    mr, nr = blocks["mr"], blocks["nr"]
    k = 8 * blocks["parallel_work"] // (mr * nr) + 4096
    got = plan(2 * mr + 1, nr, k, b="columns", blocks=blocks, itemsize=itemsize)
    assert (got["small"], got["threads"], got["split"], got["panel"]) == (False, 2, "rows", mr)
    got = plan(mr, 2 * nr, k, b="columns", blocks=blocks, itemsize=itemsize)
    assert (got["split"], got["panel"], got["panels"]) == ("columns", nr, 2)
