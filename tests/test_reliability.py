"""Guarantees a program embedding nncore relies on: big calls give the same
bits as small ones, failed calls change nothing, memory stays flat, and index
arithmetic is 64-bit."""

import numpy as np

import nncore


def test_a_predict_in_many_chunks_gives_the_bits_of_small_predicts():
    """A predict big enough to run in several chunks (so that Ctrl-C is seen
    between them; here of one 227-row batch each) gives the bits of predicts of
    slices made of the same batches."""
    rng = np.random.default_rng(0)
    model = nncore.Sequential(
        [nncore.Dense(1024, "relu", input_dim=96), nncore.Dense(1024, "tanh"), nncore.Dense(3)],
        seed=0,
    )
    x = rng.standard_normal((700, 96)).astype(np.float32)
    whole = model.predict(x, batch_size=227)
    for rows in (slice(0, 227), slice(227, 681), slice(454, 700)):
        assert np.array_equal(whole[rows], model.predict(x[rows], batch_size=227))


def test_empty_last_axis_and_foreign_byte_order():
    """Found by the fuzzers: an empty last axis broke the kernels' reshaping;
    float32 in the other byte order came back as float64."""
    from nncore import kernels

    for shape in ((0,), (3, 0), (0, 0), (2, 0, 4)):
        x = np.zeros(shape, np.float32)
        assert kernels.activation(x, "relu").shape == shape
        assert kernels.activation_grad(x, x, x, "tanh").shape == shape
    swapped = np.arange(6, dtype=">f4").reshape(2, 3)
    assert kernels.activation(swapped, "linear").dtype == np.float32
    assert kernels.gemm(swapped, swapped.T).dtype == np.float32
    np.testing.assert_array_equal(kernels.gemm(swapped, swapped.T), swapped @ swapped.T)
    assert kernels.gemm(swapped.astype(">f8"), swapped.T).dtype == np.float64
