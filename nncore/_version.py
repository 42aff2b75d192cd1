"""The single place the nncore version is written."""

__version__ = "0.1.0"
