"""Training on a big data set: 10 million rows x 20 features, float32 (800 MB).
Not collected by pytest.

Each case runs in a fresh process, which fills its data set in place (no
temporary copies), notes its resident memory, then fits one epoch and
predicts every row. The table gives the process's peak resident memory above
what it held before the fit, in units of the data set's size ("copies"), and
the rows per second of the fit and the predict. A C-contiguous float32 data set
is used where it lies; a float64 one, a Fortran-ordered one or a strided view is
converted once.

    python bench/load.py [--rows 10000000] [--threads 2]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

CASES = {
    "float32, C order": ("float32", "C"),
    "float32, Fortran order": ("float32", "F"),
    "float32, every other row": ("float32", "strided"),
    "float64 (model float32)": ("float64", "C"),
}

FEATURES = 20


def resident_bytes() -> int:
    """The process's resident memory now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_resident_bytes()


def peak_resident_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux counts KiB


def fill(rows: int, dtype: str, order: str):
    """The data set, written block by block into its final array."""
    import numpy as np

    rng = np.random.default_rng(0)
    shape = (rows * 2 if order == "strided" else rows, FEATURES)
    x = np.empty(shape, dtype=dtype, order="F" if order == "F" else "C")
    block = 1 << 14  # rows: the generator's temporaries stay a few MB
    for start in range(0, shape[0], block):
        stop = min(start + block, shape[0])
        x[start:stop] = rng.standard_normal((stop - start, FEATURES), dtype=np.float32)
    if order == "strided":
        x = x[::2]
    y = np.empty((rows, 1), dtype=np.float32)
    y[:, 0] = x[:, 0] * 0.5 - x[:, 1]
    return x, y


def measure(rows: int, dtype: str, order: str, threads: int) -> dict:
    """Runs in the child process."""
    import nncore
    from nncore import kernels

    kernels.set_num_threads(threads)
    x, y = fill(rows, dtype, order)
    model = nncore.Sequential(
        [nncore.Dense(32, "relu", input_dim=FEATURES), nncore.Dense(1)], seed=0
    )
    model.compile(loss="mse", optimizer="adam")
    model.fit(x[:1024], y[:1024], epochs=1, verbose=0)  # builds the model and its workspace
    data_bytes = rows * FEATURES * 4
    before = resident_bytes()
    start = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=256, verbose=0)
    fit_seconds = time.perf_counter() - start
    after_fit = peak_resident_bytes()
    start = time.perf_counter()
    model.predict(x)
    predict_seconds = time.perf_counter() - start
    after_predict = peak_resident_bytes()
    return {
        "data_mb": data_bytes / 1e6,
        "fit_copies": (after_fit - before) / data_bytes,
        "predict_copies": (after_predict - before) / data_bytes,
        "fit_rows_per_s": rows / fit_seconds,
        "predict_rows_per_s": rows / predict_seconds,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.rows, *args.child, args.threads)))
        return
    print(
        f"{args.rows:,} rows x {FEATURES} features, {args.threads} threads, "
        "one epoch (batch 256, shuffled) then a predict of every row"
    )
    print(
        f"{'case':<26} {'data MB':>8} {'fit peak':>9} {'predict peak':>13} "
        f"{'fit rows/s':>11} {'predict rows/s':>15}"
    )
    for name, (dtype, order) in CASES.items():
        output = subprocess.run(
            [
                sys.executable,
                os.path.abspath(__file__),
                "--rows",
                str(args.rows),
                "--threads",
                str(args.threads),
                "--child",
                dtype,
                order,
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=tempfile.gettempdir(),  # import the installed nncore, not the source folder
        ).stdout
        r = json.loads(output)
        print(
            f"{name:<26} {r['data_mb']:8.0f} {r['fit_copies']:8.2f}x {r['predict_copies']:12.2f}x "
            f"{r['fit_rows_per_s']:11.3g} {r['predict_rows_per_s']:15.3g}"
        )
    print("peaks: resident memory above the process's before the fit, in data set sizes")


if __name__ == "__main__":
    main()
