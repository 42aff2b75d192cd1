"""The names of what the C code runs (activations, losses, metrics,
optimizers) and the spellings users may write for them: the one table that
kernels, layers, models and files read.

The C names come from the compiled module's own tables (nncore._core, which
maps each to its C code), so this module cannot list a name C lacks.
"""

from __future__ import annotations

from nncore import _core

__all__ = [
    "ACTIVATIONS",
    "KERNEL_ALPHA",
    "LAYER_ALPHA",
    "C_LOSSES",
    "C_METRICS",
    "OPTIMIZERS",
    "LOSSES",
    "METRICS",
    "OPTIMIZER_SLOTS",
    "optimizer_state_slots",
]

ACTIVATIONS = tuple(_core.ACTIVATION_CODES)
# The parameter of the activations that have one, when none is given:
# nncore.kernels keeps the kernel's own defaults; layers take keras.activations'
# (Keras 3's leaky_relu has slope 0.2).
KERNEL_ALPHA = {"leaky_relu": 0.01, "elu": 1.0}
LAYER_ALPHA = {"leaky_relu": 0.2, "elu": 1.0}
C_LOSSES = tuple(_core.LOSS_CODES)
C_METRICS = tuple(_core.METRIC_CODES)
OPTIMIZERS = tuple(_core.OPTIMIZER_CODES)

# What each slot of a C optimizer's state holds, by the name Keras 3 gives
# the variable that plays the same part in its update (the same formulas).
OPTIMIZER_SLOTS = {
    "sgd": ("momentum",),
    "adam": ("momentum", "velocity"),
    "adamw": ("momentum", "velocity"),
    "rmsprop": ("velocity", "momentum"),
}

# Loss names users may write (Keras spellings) -> the C loss.
LOSSES = {
    **{name: name for name in C_LOSSES},
    "mean_squared_error": "mse",
    "MSE": "mse",
    "mean_absolute_error": "mae",
    "MAE": "mae",
    "huber_loss": "huber",
}

# Metric names users may write -> the C metric ("accuracy" is resolved from the loss).
METRICS = {
    "accuracy": "accuracy",
    "acc": "accuracy",
    **{name: name for name in C_METRICS},
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
}


def optimizer_state_slots(kind: str) -> int:
    """Buffers of one value per parameter the C optimizer `kind` keeps between steps."""
    return _core.optimizer_state_slots(kind)


def _check_optimizer_slots():
    """OPTIMIZER_SLOTS names every slot of every C optimizer (an import-time
    check, so that a C optimizer added without its names fails at once)."""
    for kind in OPTIMIZERS:
        if len(OPTIMIZER_SLOTS.get(kind, ())) != optimizer_state_slots(kind):
            raise RuntimeError(
                f"internal error: nncore.names.OPTIMIZER_SLOTS has no name for each of the "
                f"{optimizer_state_slots(kind)} state slots of the C optimizer {kind!r}"
            )


_check_optimizer_slots()
