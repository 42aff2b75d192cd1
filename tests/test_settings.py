"""Environment settings nncore cannot honour (NNCORE_NUM_THREADS,
NNCORE_ARCH) warn once, naming the value and what is used instead. Each case
runs in a fresh process: the settings are read when nncore starts."""

import json
import os
import subprocess
import sys

import pytest

from nncore import kernels

# Imports nncore, uses the kernels and the thread setting several times, and
# prints every warning raised on the way (all of them: "always").
PROBE = """
import json, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import numpy as np
    import nncore
    from nncore import kernels
    for _ in range(3):
        kernels.gemm(np.ones((40, 40)), np.ones((40, 40)))
        kernels.get_num_threads()
        kernels.cpu_features()
print(json.dumps({
    "warnings": [[w.category.__name__, str(w.message)] for w in caught],
    "threads": kernels.get_num_threads(),
    "kernel": kernels.cpu_features()["kernel"],
}))
"""


def run_with(tmp_path, **settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NNCORE_", "OMP_"))}
    env["OMP_NUM_THREADS"] = "2"
    env.update(settings)
    # outside the repository, so that `import nncore` is the installed one
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def default_kernel():
    # the best path this CPU runs: the one in use unless a test forced another
    order = ("avx512", "avx2", "neon")
    features = kernels.cpu_features()
    usable = {"avx512": features["avx512f"], "avx2": features["avx2"] and features["fma"]}
    usable["neon"] = features["neon"]
    return next((path for path in order if usable[path]), "generic")


@pytest.mark.parametrize("value", ["abc", "0", "-1", "4097", "99999999999999999999", "2 ", "1.5"])
def test_bad_thread_count_warns_once_and_follows_openmp(tmp_path, value):
    result = run_with(tmp_path, NNCORE_NUM_THREADS=value)
    assert len(result["warnings"]) == 1, result["warnings"]
    category, message = result["warnings"][0]
    assert category == "RuntimeWarning"
    assert f"NNCORE_NUM_THREADS='{value}'" in message
    assert "OpenMP's thread count" in message
    assert result["threads"] in (1, 2)  # OMP_NUM_THREADS=2, or 1 without OpenMP
    assert f"({result['threads']} now)" in message


@pytest.mark.parametrize("value", ["bogus", "AVX2", "avx2;rm -rf /"])
def test_unknown_kernel_path_warns_once_and_uses_the_best(tmp_path, value):
    result = run_with(tmp_path, NNCORE_ARCH=value)
    assert len(result["warnings"]) == 1, result["warnings"]
    category, message = result["warnings"][0]
    assert category == "RuntimeWarning"
    assert f"NNCORE_ARCH='{value}' names no kernel path" in message
    assert result["kernel"] == default_kernel()
    assert f"uses '{result['kernel']}' instead" in message


def test_kernel_path_this_cpu_lacks_warns_once(tmp_path, kernel_paths):
    missing = next(path for path in ("neon", "avx2", "avx512") if path not in kernel_paths)
    result = run_with(tmp_path, NNCORE_ARCH=missing)
    assert len(result["warnings"]) == 1, result["warnings"]
    category, message = result["warnings"][0]
    assert category == "RuntimeWarning"
    assert f"NNCORE_ARCH='{missing}' is a kernel path this CPU or this build does not run" in (
        message
    )
    assert result["kernel"] == default_kernel()


def test_honoured_settings_and_unset_ones_do_not_warn(tmp_path, kernel_paths):
    both = run_with(tmp_path, NNCORE_NUM_THREADS="3", NNCORE_ARCH=kernel_paths[-1])
    assert both["warnings"] == []
    assert both["threads"] == 3
    assert both["kernel"] == kernel_paths[-1]
    assert run_with(tmp_path, NNCORE_NUM_THREADS="", NNCORE_ARCH="")["warnings"] == []
    assert run_with(tmp_path)["warnings"] == []


def test_both_bad_settings_warn_once_each(tmp_path):
    result = run_with(tmp_path, NNCORE_NUM_THREADS="many", NNCORE_ARCH="fastest")
    messages = sorted(message for _, message in result["warnings"])
    assert len(messages) == 2
    assert messages[0].startswith("NNCORE_ARCH='fastest'")
    assert messages[1].startswith("NNCORE_NUM_THREADS='many'")
