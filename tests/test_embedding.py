"""nncore inside another package: the installed header (nncore.get_include()),
the capsule table of nncore.cython_kernels, and a Cython extension built in a
temporary folder against the INSTALLED nncore that calls GEMM and a network's
predict without the GIL (tests/embedding/embed_demo.pyx)."""

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import nncore
from nncore import Dense, Sequential, cython_kernels, kernels

DEMO = Path(__file__).parent / "embedding" / "embed_demo.pyx"


def header_text():
    return (Path(nncore.get_include()) / "nncore.h").read_text()


def header_functions():
    """The names of the functions nncore.h declares (a declaration starts a line)."""
    return set(re.findall(r"^[A-Za-z_][\w ]*?\**\b(nc_\w+)\(", header_text(), re.MULTILINE))


def test_get_include_holds_the_public_header():
    text = header_text()
    assert "#ifndef NNCORE_H" in text
    assert "nc_status nc_gemm_f32(size_t m, size_t n, size_t k" in text
    assert len(header_functions()) >= 50


def test_every_header_function_is_exported_to_cython():
    exported = set(cython_kernels.__pyx_capi__)
    assert header_functions() == exported


def capsule_function(name, restype, *argtypes):
    """The C function behind cython_kernels' capsule `name`, callable from ctypes."""
    capsule = cython_kernels.__pyx_capi__[name]
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    pointer = api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))
    return ctypes.CFUNCTYPE(restype, *argtypes)(pointer)


def test_the_capsules_reach_the_kernel_state_the_python_api_sets():
    # One copy of the C code per process: a thread count set through
    # nncore.kernels is the one an embedder's call sees.
    get_threads = capsule_function("nc_get_num_threads", ctypes.c_int)
    before = kernels.get_num_threads()
    try:
        for n in (1, 3):
            kernels.set_num_threads(n)
            assert get_threads() == n
    finally:
        kernels.set_num_threads(before)


def small_model(dtype="float32", seed=0):
    model = Sequential(
        [Dense(9, activation="relu", input_shape=(5,)), Dense(3, activation="softmax")],
        dtype=dtype,
        seed=seed,
    )
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((40, 5))
    model.fit(x, rng.integers(0, 3, 40), epochs=2, batch_size=8, verbose=0)
    return model


def test_network_snapshot_copies_the_model():
    model = small_model("float64")
    snap = cython_kernels.NetworkSnapshot(model)
    params = np.concatenate([w.ravel() for w in model.get_weights()])
    assert (snap.n_in, snap.n_out, snap.itemsize, snap.dtype) == (5, 3, 8, np.float64)
    np.testing.assert_array_equal(snap.parameters, params)
    assert not snap.parameters.flags.writeable
    assert snap.workspace_size(16) > 0
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    np.testing.assert_array_equal(snap.parameters, params)


def test_network_snapshot_refuses_a_model_that_is_not_built():
    with pytest.raises(ValueError, match="model must be a built nncore Sequential"):
        cython_kernels.NetworkSnapshot(Sequential([Dense(2)]))
    with pytest.raises(ValueError, match="got int"):
        cython_kernels.NetworkSnapshot(3)


# ------------------------------------------------- an extension of another package

SETUP_PY = """
import nncore
from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    name="{name}",
    ext_modules=cythonize(
        [Extension("{name}", ["{name}.{ext}"], include_dirs=[nncore.get_include()])],
        include_path={include_path!r},
    ),
)
"""


def build_extension(folder, name, ext):
    """Builds folder/name.ext in place with the running Python's setuptools;
    returns the finished subprocess."""
    package_parent = os.path.dirname(os.path.dirname(nncore.__file__))
    setup_py = SETUP_PY.format(name=name, ext=ext, include_path=[package_parent])
    (folder / "setup.py").write_text(textwrap.dedent(setup_py))
    # -O0: the test checks what the extension computes, not its speed, and the
    # C Cython generates compiles several times faster unoptimized
    env = {**os.environ, "CFLAGS": os.environ.get("CFLAGS", "") + " -O0"}
    return subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace"],
        cwd=folder,
        capture_output=True,
        text=True,
        env=env,
    )


def load_extension(folder, name):
    path = next(
        p for p in folder.iterdir() if p.name.startswith(name + ".") and p.suffix in (".so", ".pyd")
    )
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """tests/embedding/embed_demo.pyx compiled against the installed nncore."""
    pytest.importorskip("Cython", reason="building the demo extension needs Cython")
    probe = tmp_path_factory.mktemp("probe")
    (probe / "probe.c").write_text(
        "#include <Python.h>\n"
        'static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "probe"};\n'
        "PyMODINIT_FUNC PyInit_probe(void) { return PyModuleDef_Init(&def); }\n"
    )
    probe_build = build_extension(probe, "probe", "c")
    if probe_build.returncode != 0:
        pytest.skip(f"no working C compiler: {probe_build.stderr[-300:]}")
    folder = tmp_path_factory.mktemp("embed")
    shutil.copy(DEMO, folder / DEMO.name)
    build = build_extension(folder, "embed_demo", "pyx")
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-4000:]
    return load_extension(folder, "embed_demo")


@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (7, 5, 3), (33, 65, 17)])
def test_demo_gemm_f32_matches_numpy(demo, m, k, n):
    rng = np.random.default_rng(m * 100 + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(demo.gemm_f32(a, b), expected, rtol=1e-5, atol=1e-5)
    # views: a transposed copy read through its strides, and every other column of b
    a_t = np.asfortranarray(a)
    wide = np.repeat(b, 2, axis=1)
    np.testing.assert_allclose(demo.gemm_f32(a_t, wide[:, ::2]), expected, rtol=1e-5, atol=1e-5)


def test_demo_gemm_f64_in_place_with_alpha_and_beta(demo):
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((9, 4)), rng.standard_normal((4, 6))
    c = rng.standard_normal((9, 6))
    expected = 0.5 * a @ b - 2.0 * c
    demo.gemm_f64(0.5, a, b, -2.0, c)
    np.testing.assert_allclose(c, expected, rtol=1e-12, atol=1e-12)


def test_demo_gemm_runs_on_several_threads_at_once(demo):
    rng = np.random.default_rng(3)
    pairs = [
        (rng.standard_normal((64, 48)).astype(np.float32), rng.standard_normal((48, 32)))
        for _ in range(8)
    ]
    pairs = [(a, b.astype(np.float32)) for a, b in pairs]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda ab: demo.gemm_f32(*ab), pairs))
    for (a, b), c in zip(pairs, results):
        np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-5)


def test_demo_sees_a_refused_call_as_a_status(demo):
    status, message = demo.bad_gemm_status()
    assert status == 1  # NC_ERR_INVALID_ARGUMENT
    assert "invalid" in message.lower()


def test_status_string_and_its_older_name_say_the_same(demo):
    texts = [demo.status_texts(s) for s in range(6)]
    assert texts[0] == ("ok", "ok")
    assert all(new == old for new, old in texts)
    assert len({new for new, _ in texts}) == 6  # each status has its own words
    assert demo.status_texts(99)[0] == "unknown status"


def test_demo_shares_the_thread_count(demo):
    before = kernels.get_num_threads()
    try:
        kernels.set_num_threads(2)
        assert demo.threads() == 2
    finally:
        kernels.set_num_threads(before)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_demo_predict_matches_sequential_predict(demo, dtype):
    model = small_model(dtype, seed=5)
    x = np.random.default_rng(1).standard_normal((37, 5))
    expected = model.predict(x.astype(dtype), verbose=0)
    for batch_size in (1, 16, 64):
        got = demo.predict(model, x, batch_size)
        assert got.dtype == np.dtype(dtype)
        tol = 1e-6 if dtype == "float32" else 1e-14
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def test_demo_predict_of_a_saved_model_on_several_threads(demo, tmp_path):
    model = small_model("float32", seed=8)
    path = tmp_path / "model.nnc"
    model.save(path)
    loaded = nncore.load_model(path)
    x = np.random.default_rng(2).standard_normal((50, 5)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    with ThreadPoolExecutor(3) as pool:
        results = list(
            pool.map(
                lambda rows: demo.predict(loaded, x[rows]),
                [slice(0, 20), slice(20, 50), slice(None)],
            )
        )
    np.testing.assert_allclose(np.vstack(results[:2]), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(results[2], expected, rtol=1e-6, atol=1e-6)
