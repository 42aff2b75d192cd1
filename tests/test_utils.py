"""nncore.utils against keras.utils' documented results."""

import numpy as np
import pytest

from nncore.utils import normalize, to_categorical


def test_to_categorical():
    np.testing.assert_array_equal(to_categorical([0, 2, 1]), [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    # a trailing axis of length 1 is dropped, as Keras does; float64 as Keras returns
    one_hot = to_categorical(np.array([[1], [0]]), num_classes=3)
    assert one_hot.dtype == np.float64
    np.testing.assert_array_equal(one_hot, [[0, 1, 0], [1, 0, 0]])
    assert to_categorical(np.array([[0, 1], [2, 0]])).shape == (2, 2, 3)
    assert to_categorical([], num_classes=3).shape == (0, 3)
    np.testing.assert_array_equal(to_categorical(np.array([1.0, 0.0])), [[0, 1], [1, 0]])


def test_to_categorical_refuses_what_keras_would_silently_change():
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        to_categorical([0, 2], num_classes=2)  # Keras: an IndexError
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        to_categorical([-1, 2])  # Keras: wraps around to the last class
    with pytest.raises(ValueError, match="integer"):
        to_categorical([0.5, 1.0])  # Keras: truncates to 0
    with pytest.raises(TypeError, match="num_classes"):
        to_categorical([0, 1], num_classes=2.0)
    with pytest.raises(TypeError, match="x"):
        to_categorical(["a", "b"])


def test_normalize():
    np.testing.assert_allclose(normalize(np.array([[3.0, 4.0], [0.0, 0.0]])), [[0.6, 0.8], [0, 0]])
    np.testing.assert_allclose(normalize(np.array([3.0, 4.0])), [[0.6, 0.8]])
    np.testing.assert_allclose(
        normalize(np.array([[3.0, -4.0], [1.0, 0.0]]), axis=0, order=1), [[0.75, -1], [0.25, 0]]
    )
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_allclose(normalize(x, axis=1, order=np.inf), x / x.max(axis=1, keepdims=True))
    with pytest.raises(ValueError, match="axis"):
        normalize(x, axis=3)
