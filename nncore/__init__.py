"""nncore: compiled neural-network kernels for the CPU, with Keras- and
scikit-learn-style APIs. numpy is the only runtime dependency."""

from nncore import (
    callbacks,
    constraints,
    initializers,
    kernels,
    layers,
    optimizers,
    plot,
    regularizers,
    utils,
)
from nncore._explain import explain
from nncore._version import __version__
from nncore.keras_files import load_keras
from nncore.layers import ELU, Activation, Dense, Dropout, Input, LeakyReLU, ReLU, Softmax
from nncore.models import Sequential, load_model

__all__ = [
    "__version__",
    "kernels",
    "Sequential",
    "load_model",
    "explain",
    "plot",
    "load_keras",
    "Dense",
    "Activation",
    "Dropout",
    "Input",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Softmax",
    "callbacks",
    "constraints",
    "initializers",
    "layers",
    "optimizers",
    "regularizers",
    "utils",
]
