"""Optimizers (Keras names and defaults). The update itself runs in C over the
model's flat parameter buffer (csrc/optim.c); these objects hold the
hyper-parameters and the step counter `iterations`.

Changing an attribute (model.optimizer.learning_rate = 1e-4) takes effect at
the next fit/train_on_batch. The moment buffers live in the model, next to
the parameters they belong to, so one optimizer should serve one model.
"""

from __future__ import annotations

import numbers

from nncore import names
from nncore._validation import describe, real_number

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "get"]


def _in_range(value, name, low, high, *, low_open=False, high_open=False):
    value = real_number(value, name)
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if below or above:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {left}{low}, {high}{right}; got {value}")
    return value


class Optimizer:
    """Base class. Subclasses set `kind` (the C optimizer) and their hyper-parameters."""

    kind = ""

    def __init__(self, learning_rate):
        self.learning_rate = _in_range(learning_rate, "learning_rate", 0.0, float("inf"))
        self.iterations = 0

    @property
    def state_slots(self) -> int:
        """Buffers of one value per parameter the C update keeps between steps."""
        return names.optimizer_state_slots(self.kind)

    @property
    def iterations(self) -> int:
        """Optimizer steps taken so far (one per batch)."""
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"iterations must be an integer >= 0; got {describe(value)}")
        self._iterations = int(value)

    def get_config(self) -> dict:
        raise NotImplementedError

    def _c_description(self) -> dict:
        """The dict nncore._core.Network.train_epoch takes (every key present)."""
        spec = {
            "kind": self.kind,
            "learning_rate": 0.0,
            "momentum": 0.0,
            "nesterov": False,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-7,
            "rho": 0.9,
            "weight_decay": 0.0,
            "iterations": self.iterations,
        }
        # Read the attributes now: users may have changed them since __init__.
        for key, value in self.get_config().items():
            spec[key] = value
        spec["learning_rate"] = _in_range(self.learning_rate, "learning_rate", 0.0, float("inf"))
        return spec

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """v = momentum * v - learning_rate * g;  w += v  (Nesterov: w += momentum * v - lr * g)."""

    kind = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        self.momentum = _in_range(momentum, "momentum", 0.0, 1.0)
        self.nesterov = bool(nesterov)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
        }


class Adam(Optimizer):
    """Kingma & Ba (2015), written as Keras does:
    w -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)."""

    kind = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        self.beta_1 = _in_range(beta_1, "beta_1", 0.0, 1.0, high_open=True)
        self.beta_2 = _in_range(beta_2, "beta_2", 0.0, 1.0, high_open=True)
        self.epsilon = _in_range(epsilon, "epsilon", 0.0, float("inf"), low_open=True)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019):
    w -= learning_rate * weight_decay * w before the Adam step (Keras order)."""

    kind = "adamw"

    def __init__(
        self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7
    ):
        super().__init__(learning_rate, beta_1, beta_2, epsilon)
        self.weight_decay = _in_range(weight_decay, "weight_decay", 0.0, float("inf"))

    def get_config(self):
        return {**super().get_config(), "weight_decay": self.weight_decay}


class RMSprop(Optimizer):
    """a = rho * a + (1 - rho) * g**2;  w -= learning_rate * g / sqrt(a + epsilon)
    (with momentum as in Keras 3)."""

    kind = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7):
        super().__init__(learning_rate)
        self.rho = _in_range(rho, "rho", 0.0, 1.0, high_open=True)
        self.momentum = _in_range(momentum, "momentum", 0.0, 1.0)
        self.epsilon = _in_range(epsilon, "epsilon", 0.0, float("inf"), low_open=True)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
        }


_CLASSES = {cls.__name__: cls for cls in (SGD, Adam, AdamW, RMSprop)}
_BY_NAME = {cls.kind: cls for cls in _CLASSES.values()}
if set(_BY_NAME) != set(names.OPTIMIZERS):
    raise RuntimeError(
        f"internal error: nncore.optimizers has classes for {sorted(_BY_NAME)}; "
        f"the C code runs {sorted(names.OPTIMIZERS)}"
    )


def get(identifier) -> Optimizer:
    """An Optimizer from a name ("sgd", "adam", "adamw", "rmsprop") or an Optimizer."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    names = ", ".join(repr(n) for n in _BY_NAME)
    raise ValueError(
        f"optimizer must be one of {names} or an Optimizer; got {describe(identifier)}"
    )


def serialize(optimizer: Optimizer) -> dict:
    return {
        "class_name": type(optimizer).__name__,
        "config": optimizer.get_config(),
        "iterations": optimizer.iterations,
    }


def deserialize(spec) -> Optimizer:
    if not isinstance(spec, dict) or spec.get("class_name") not in _CLASSES:
        raise ValueError(f"unknown optimizer description {describe(spec)}")
    config = spec.get("config")
    if not isinstance(config, dict):
        raise ValueError(f"optimizer config must be a dict; got {describe(config)}")
    optimizer = _CLASSES[spec["class_name"]](**config)
    optimizer.iterations = spec.get("iterations", 0)
    return optimizer
