"""Shared fixtures. Tests import the INSTALLED nncore (pytest runs in
importlib mode), so build or install before running them."""

import os

import numpy as np
import pytest
from hypothesis import settings

from nncore import kernels

# CI draws the same property-test cases every run (see tests/fuzz_api.py).
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def available_kernels():
    """Every kernel path this machine can run, for tests that force each."""
    features = kernels.cpu_features()
    paths = ["generic"]
    if features["avx2"] and features["fma"]:
        paths.append("avx2")
    if features["avx512f"]:
        paths.append("avx512")
    if features["neon"]:
        paths.append("neon")
    return paths


@pytest.fixture
def kernel_paths():
    """available_kernels() for tests (importlib mode cannot import conftest)."""
    return available_kernels()
