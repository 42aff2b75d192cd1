"""Weight initializers (Keras names): each draws an array from a numpy Generator.

The model gives every Dense layer its own Generator seeded from (model seed,
layer index), so initial weights depend only on the seed and the architecture.
Values are drawn in float64 and then rounded to the model dtype.

Fans follow Glorot & Bengio (2010) and He et al. (2015): for a kernel of shape
(fan_in, fan_out) the variance is 2 / (fan_in + fan_out) (Glorot) or
2 / fan_in (He). The "normal" variants draw from a normal distribution
truncated at two standard deviations, scaled so that the truncated
distribution has exactly that variance (the scheme Keras uses; the factor
0.87962566103423978 is the standard deviation of a unit normal truncated to
[-2, 2]). Truncation is done by redrawing the samples that fall outside.
"""

from __future__ import annotations

import numpy as np

from nncore._validation import describe, real_number

__all__ = [
    "Initializer",
    "GlorotUniform",
    "GlorotNormal",
    "HeUniform",
    "HeNormal",
    "Zeros",
    "Ones",
    "Constant",
    "get",
]

# Standard deviation of a unit normal truncated to [-2, 2].
_TRUNCATED_NORMAL_STD = 0.87962566103423978


def _fans(shape):
    if len(shape) == 1:  # a bias: fan_in = fan_out = its length
        return shape[0], shape[0]
    return shape[0], shape[1]


def _truncated_normal(rng: np.random.Generator, shape, stddev: float) -> np.ndarray:
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2.0
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2.0
    return values * (stddev / _TRUNCATED_NORMAL_STD)


class Initializer:
    """Base class: call(shape, rng, dtype) -> new array."""

    name = ""

    def __call__(self, shape, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
        return np.asarray(self._draw(tuple(shape), rng), dtype=np.float64).astype(dtype)

    def _draw(self, shape, rng):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    __hash__ = None


class GlorotUniform(Initializer):
    """U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out))."""

    name = "glorot_uniform"

    def _draw(self, shape, rng):
        fan_in, fan_out = _fans(shape)
        limit = np.sqrt(6.0 / max(fan_in + fan_out, 1))
        return rng.uniform(-limit, limit, shape)


class GlorotNormal(Initializer):
    """Truncated normal with variance 2 / (fan_in + fan_out)."""

    name = "glorot_normal"

    def _draw(self, shape, rng):
        fan_in, fan_out = _fans(shape)
        return _truncated_normal(rng, shape, np.sqrt(2.0 / max(fan_in + fan_out, 1)))


class HeUniform(Initializer):
    """U(-limit, limit) with limit = sqrt(6 / fan_in)."""

    name = "he_uniform"

    def _draw(self, shape, rng):
        fan_in, _ = _fans(shape)
        limit = np.sqrt(6.0 / max(fan_in, 1))
        return rng.uniform(-limit, limit, shape)


class HeNormal(Initializer):
    """Truncated normal with variance 2 / fan_in."""

    name = "he_normal"

    def _draw(self, shape, rng):
        fan_in, _ = _fans(shape)
        return _truncated_normal(rng, shape, np.sqrt(2.0 / max(fan_in, 1)))


class Constant(Initializer):
    """Every element equal to `value`."""

    name = "constant"

    def __init__(self, value=0.0):
        self.value = real_number(value, "value")

    def _draw(self, shape, rng):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    name = "zeros"

    def __init__(self):
        super().__init__(0.0)

    def get_config(self):
        return {}


class Ones(Constant):
    name = "ones"

    def __init__(self):
        super().__init__(1.0)

    def get_config(self):
        return {}


_BY_NAME = {
    cls.name: cls for cls in (GlorotUniform, GlorotNormal, HeUniform, HeNormal, Zeros, Ones)
}
_CLASSES = {cls.__name__: cls for cls in (*_BY_NAME.values(), Constant)}


def get(identifier, argument: str = "initializer") -> Initializer:
    """An Initializer from a name ("glorot_uniform", ...) or an Initializer."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    names = ", ".join(repr(n) for n in _BY_NAME)
    raise ValueError(
        f"{argument} must be one of {names} or an Initializer; got {describe(identifier)}"
    )


def serialize(initializer: Initializer) -> dict:
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


def deserialize(spec) -> Initializer:
    if not isinstance(spec, dict) or spec.get("class_name") not in _CLASSES:
        raise ValueError(f"unknown initializer description {describe(spec)}")
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise ValueError(f"initializer config must be a dict; got {describe(config)}")
    return _CLASSES[spec["class_name"]](**config)
