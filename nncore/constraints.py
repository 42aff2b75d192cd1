"""Weight constraints, applied by the C training loop to a Dense kernel after
every optimizer step."""

from __future__ import annotations

from nncore._validation import describe, real_number

__all__ = ["Constraint", "NonNeg", "MaxNorm", "non_neg", "max_norm", "get"]


class Constraint:
    """Base class of the constraints nncore can run in C."""

    name = ""

    def get_config(self):
        return {}

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    __hash__ = None


class NonNeg(Constraint):
    """W = max(W, 0) after each step."""

    name = "non_neg"

    def __repr__(self):
        return "NonNeg()"


class MaxNorm(Constraint):
    """Each column W[:, j] (the weights into one unit) rescaled to norm <= max_value."""

    name = "max_norm"

    def __init__(self, max_value=2.0, axis=0):
        value = real_number(max_value, "max_value")
        if value <= 0:
            raise ValueError(f"max_value must be > 0; got {value}")
        if axis != 0:
            raise ValueError(
                f"axis must be 0 (the norm of the weights into each unit); got {axis!r}"
            )
        self.max_value = value
        self.axis = 0

    def get_config(self):
        return {"max_value": self.max_value}

    def __repr__(self):
        return f"MaxNorm(max_value={self.max_value!r})"


non_neg = NonNeg
max_norm = MaxNorm

_BY_NAME = {
    "non_neg": NonNeg,
    "nonneg": NonNeg,
    "NonNeg": NonNeg,
    "max_norm": MaxNorm,
    "maxnorm": MaxNorm,
    "MaxNorm": MaxNorm,
}


def get(identifier, argument: str = "kernel_constraint"):
    """None, a Constraint, or its name ("non_neg", "max_norm")."""
    if identifier is None or isinstance(identifier, (NonNeg, MaxNorm)):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    raise ValueError(
        f"{argument} must be None, 'non_neg', 'max_norm' or a Constraint; "
        f"got {describe(identifier)}"
    )
