"""Weight regularizers. The C training loop adds l2 * sum(W**2) to the loss of
every batch (and 2 * l2 * W to the gradient), as Keras' L2 does."""

from __future__ import annotations

from nncore._validation import describe, real_number

__all__ = ["Regularizer", "L2", "l2", "get"]


class Regularizer:
    """Base class of the regularizers nncore can run in C."""


class L2(Regularizer):
    """Adds l2 * sum(kernel ** 2) to the loss."""

    def __init__(self, l2=0.01):
        value = real_number(l2, "l2")
        if value < 0:
            raise ValueError(f"l2 must be >= 0; got {value}")
        self.l2 = value

    def get_config(self):
        return {"l2": self.l2}

    def __repr__(self):
        return f"L2(l2={self.l2!r})"

    def __eq__(self, other):
        return isinstance(other, L2) and other.l2 == self.l2

    __hash__ = None


def l2(l2=0.01) -> L2:
    """regularizers.l2(0.001): the Keras spelling."""
    return L2(l2)


def get(identifier, argument: str = "kernel_regularizer"):
    """None, an L2, or the name "l2" (factor 0.01, as in Keras)."""
    if identifier is None or isinstance(identifier, L2):
        return identifier
    if isinstance(identifier, str) and identifier.lower() == "l2":
        return L2()
    raise ValueError(
        f"{argument} must be None, 'l2' or nncore.regularizers.l2(factor); "
        f"got {describe(identifier)}"
    )
