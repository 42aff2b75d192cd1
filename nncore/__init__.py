"""nncore: compiled neural-network kernels for the CPU, with Keras- and
scikit-learn-style APIs. numpy is the only runtime dependency."""

from nncore import kernels
from nncore._version import __version__

__all__ = ["__version__", "kernels"]
