"""Memory: resident memory stays flat over thousands of calls, and index
arithmetic is 64-bit (a view whose rows lie more than 2^31 elements apart).

Both run in a child process: the first to measure a clean process, the second
because wrong index arithmetic would crash."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self/statm; sparse files"
)

LEAK_CHECK = """
import os
import numpy as np
import nncore


def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


rng = np.random.default_rng(0)
x = rng.standard_normal((64, 8)).astype(np.float32)
y = (x[:, :1] > 0).astype(np.float32)
bad = x.copy()
bad[3, 2] = np.nan
model = nncore.Sequential(
    [nncore.Dense(16, "relu", input_dim=8), nncore.Dense(1, "sigmoid")], seed=0
)
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])


def cycle():
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.predict(x)
    try:  # the error paths too
        model.predict(bad)
    except ValueError:
        pass


for _ in range(500):  # warm-up: caches, workspaces, pymalloc arenas
    cycle()
before = resident_bytes()
for _ in range(CYCLES):
    cycle()
after = resident_bytes()
print(before, after)
"""

CYCLES = 5000  # 10,000 fit and predict calls, and 5,000 refused predicts
GROWTH_LIMIT = 1 << 20  # bytes; a leak of 100 bytes per call already exceeds it


def test_resident_memory_stays_flat_over_ten_thousand_fit_and_predict_calls(tmp_path):
    script = LEAK_CHECK.replace("CYCLES", str(CYCLES))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    before, after = map(int, result.stdout.split())
    print(f"resident memory {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB")
    assert after - before < GROWTH_LIMIT


WIDE_STRIDES = """
import sys
import numpy as np
import nncore
from nncore import kernels

ROW_STRIDE = 2**31 + 96  # elements: row 1 starts past 2^31 elements, row 2 past 2^32
ROWS, COLS = 3, 40
rng = np.random.default_rng(0)
values = rng.standard_normal((ROWS, COLS)).astype(np.float32)
total = ROW_STRIDE * (ROWS - 1) + COLS
with open(sys.argv[1], "wb") as f:  # a sparse file: only the rows' blocks exist on disk
    f.truncate(total * 4)
    for i in range(ROWS):
        f.seek(i * ROW_STRIDE * 4)
        f.write(values[i].tobytes())
base = np.memmap(sys.argv[1], dtype=np.float32, mode="r", shape=(total,))
x = np.lib.stride_tricks.as_strided(base, shape=(ROWS, COLS), strides=(ROW_STRIDE * 4, 4))
assert x.strides[0] // 4 > 2**31 and np.array_equal(x, values)

b = rng.standard_normal((COLS, 5)).astype(np.float32)
assert np.array_equal(kernels.gemm(x, b), kernels.gemm(values, b))
assert np.array_equal(kernels.gemm(x, x, trans_b=True), kernels.gemm(values, values.T))
assert np.array_equal(kernels.gemm(x, x, trans_a=True), kernels.gemm(values.T, values))
assert np.array_equal(kernels.activation(x, "tanh"), kernels.activation(values, "tanh"))
assert np.array_equal(kernels.activation(x, "softmax"), kernels.activation(values, "softmax"))
assert kernels.loss(x, values, "mse") == 0.0

y = values[:, :2] * 0.5
runs = []
for inputs in (x, values):
    model = nncore.Sequential([nncore.Dense(6, "relu", input_dim=COLS), nncore.Dense(2)], seed=0)
    model.compile(loss="mse", optimizer="adam")
    model.fit(inputs, y, epochs=3, batch_size=2, verbose=0)
    runs.append((model.get_weights(), model.predict(inputs), model.evaluate(inputs, y, verbose=0)))
(w1, p1, l1), (w2, p2, l2) = runs
assert all(np.array_equal(a, b) for a, b in zip(w1, w2))
assert np.array_equal(p1, p2) and l1 == l2
print("ok")
"""


@pytest.mark.skipif(sys.maxsize < 2**40, reason="needs a 64-bit address space")
def test_rows_more_than_two_to_the_31_elements_apart(tmp_path):
    """A view of 3 rows, 2^31 + 96 elements apart, in a sparse 17 GB file that
    holds only those rows: every entry point reads the rows where they are."""
    result = subprocess.run(
        [sys.executable, "-c", WIDE_STRIDES, str(tmp_path / "sparse.bin")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, f"exit status {result.returncode}: {result.stderr}"
    assert result.stdout.strip() == "ok"
