"""nncore: compiled neural-network kernels for the CPU, with Keras- and
scikit-learn-style APIs. numpy is the only runtime dependency."""

import os

from nncore import (
    callbacks,
    constraints,
    initializers,
    kernels,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    plot,
    regularizers,
    utils,
)
from nncore._explain import explain
from nncore._version import __version__
from nncore.keras_files import load_keras
from nncore.layers import (
    ELU,
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Flatten,
    Input,
    LeakyReLU,
    ReLU,
    Softmax,
)
from nncore.models import Sequential, clone_model, load_model, model_from_json


def get_include() -> str:
    """The folder that holds nncore.h, nncore's whole C API, for other packages'
    extensions (``include_dirs=[nncore.get_include()]``); their Cython cimports
    the functions from nncore.cython_kernels (see its .pxd)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")


__all__ = [
    "__version__",
    "get_include",
    "kernels",
    "Sequential",
    "load_model",
    "model_from_json",
    "clone_model",
    "explain",
    "plot",
    "load_keras",
    "Dense",
    "Activation",
    "Dropout",
    "BatchNormalization",
    "Flatten",
    "Input",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Softmax",
    "callbacks",
    "constraints",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "regularizers",
    "utils",
]
