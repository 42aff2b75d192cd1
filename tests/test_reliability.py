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
