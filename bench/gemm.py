"""GEMM throughput: nncore against numpy (OpenBLAS), side by side in one run.

    python bench/gemm.py            # the full table (about five minutes)
    python bench/gemm.py --quick    # fewer repeats, one round
    python bench/gemm.py --small    # only the table of small calls (a few seconds)

Prints markdown: the machine, the measured FMA peak of one core (bench/fma_peak.c,
compiled here when gcc is available), then GFLOP/s for square and MLP-shaped
products (forward X W, and the two backward products X^T dZ and dZ W^T, as
transposed views), float32 and float64, 1 and 2 threads, and the C-level cost
of tiny products (bench/gemm_tiny.c). Timings are the best of several
repeats in each of three rounds; numpy and nncore take turns within each
round, so load from other processes hits both alike.

numpy's OpenBLAS picks its kernel from the CPU unless OPENBLAS_CORETYPE says
otherwise; this script re-runs itself without OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE so the comparison is against the kernel OpenBLAS would choose,
and prints the one threadpoolctl reports.
"""

import os
import sys

FORCED = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(name in os.environ for name in FORCED):
    env = {k: v for k, v in os.environ.items() if k not in FORCED}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

import datetime  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

from nncore import _core, kernels  # noqa: E402
from nncore.benchmarks import cpu_name  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SQUARE = [64, 128, 256, 512, 1024, 2048]
# (batch, n_in, n_out) of dense layers: forward X W is batch x n_in x n_out.
MLP = [(128, 784, 256), (128, 256, 128), (128, 128, 10), (256, 1024, 1024), (32, 2, 4)]
ROUNDS = 3  # turns each library gets at every product (see best_times)
# Seconds of rest before each block. OpenBLAS' threads keep spinning after a
# 2-thread square 1024 product for longer than 0.05 s: with that pause the
# nncore block right after numpy's ran at 124 GFLOP/s, the next one at 205.
PAUSE = 0.25


def compile_and_run(name, sources, flags):
    """Builds a bench/*.c program with gcc and returns its stdout ('' if no gcc)."""
    gcc = shutil.which("gcc")
    if not gcc:
        return ""
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, name)
        cmd = [gcc, "-O2", "-std=gnu11", *flags, "-o", exe, *sources, "-lm"]
        subprocess.run(cmd, check=True, cwd=ROOT)
        return subprocess.run([exe], check=True, capture_output=True, text=True).stdout


def fma_peak():
    """{'float32': GFLOP/s, 'float64': GFLOP/s} of one core, measured with the
    vector width of the path nncore runs (bench/fma_peak.c prints one line per
    instruction set and dtype: 'avx2 float32 129.9')."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return {}
    out = compile_and_run("fma_peak", ["bench/fma_peak.c"], ["-mavx2", "-mfma"])
    measured = {}
    for line in out.splitlines():
        isa, dtype, gflops = line.split()
        measured[isa, dtype] = float(gflops)
    isa = kernels.cpu_features()["kernel"]
    return {dt: measured[isa, dt] for dt in ("float32", "float64") if (isa, dt) in measured}


def micro_ceiling():
    """{'float32': GFLOP/s, 'float64': GFLOP/s} of the packed GEMM's microkernel
    alone on L1/L2-resident panels (bench/gemm_micro.c), for the x86 path nncore
    runs: the most the packed driver can reach."""
    isa = kernels.cpu_features()["kernel"]
    flags = {
        "avx512": ["-mavx512f", "-mavx2", "-mfma", "-DNNCORE_HAVE_AVX512"],
        "avx2": ["-mavx2", "-mfma", "-DNNCORE_HAVE_AVX2"],
    }
    if isa not in flags:
        return {}
    out = compile_and_run(
        "gemm_micro", ["bench/gemm_micro.c", f"csrc/gemm_{isa}.c"], ["-Icsrc", *flags[isa]]
    )
    return {dtype: float(gflops) for dtype, gflops in (line.split() for line in out.splitlines())}


def best_times(functions, repeats, rounds=ROUNDS, min_seconds=0.02):
    """Best seconds per call of each function.

    Each function runs its repeats as one block, after a pause: OpenBLAS'
    and OpenMP's worker threads spin for a while after a call, and would
    otherwise steal the second core from the other library's threads. The
    blocks take turns for `rounds` rounds, so that a slow spell of this
    shared machine (its neighbours' cache and memory traffic) lasting a few
    seconds cannot fall on one library's only block.
    """
    calls = []
    for f in functions:
        f()  # warm up (first touch of buffers, thread start)
        n = 1
        while True:
            start = time.perf_counter()
            for _ in range(n):
                f()
            if time.perf_counter() - start >= min_seconds or n >= 1 << 20:
                break
            n *= 2
        calls.append(n)
    best = [float("inf")] * len(functions)
    for _ in range(rounds):
        for i, (f, n) in enumerate(zip(functions, calls)):
            time.sleep(PAUSE)
            f()
            for _ in range(repeats):
                start = time.perf_counter()
                for _ in range(n):
                    f()
                best[i] = min(best[i], (time.perf_counter() - start) / n)
    return best


def cases():
    for n in SQUARE:
        yield f"square {n}", (n, n), (n, n), False, False
    for batch, n_in, n_out in MLP:
        yield f"X W {batch}x{n_in}x{n_out}", (batch, n_in), (n_in, n_out), False, False
        # dW = X^T dZ: X is batch x n_in, dZ batch x n_out
        yield f"X^T dZ {n_in}x{batch}x{n_out}", (batch, n_in), (batch, n_out), True, False
        # dX = dZ W^T: W is n_in x n_out
        yield f"dZ W^T {batch}x{n_out}x{n_in}", (batch, n_out), (n_in, n_out), False, True


def run(repeats, rounds):
    rng = np.random.default_rng(0)
    rows = []
    for label, a_shape, b_shape, trans_a, trans_b in cases():
        for dtype in (np.float32, np.float64):
            a = rng.standard_normal(a_shape).astype(dtype)
            b = rng.standard_normal(b_shape).astype(dtype)
            op_a = a.T if trans_a else a
            op_b = b.T if trans_b else b
            m, k = op_a.shape
            n = op_b.shape[1]
            out = np.empty((m, n), dtype)
            flops = 2.0 * m * n * k
            big = flops > 2e9
            for threads in (1, 2):
                kernels.set_num_threads(threads)
                with threadpool_limits(threads):
                    t_numpy, t_kernel, t_api = best_times(
                        [
                            partial(np.matmul, op_a, op_b, out=out),
                            # the compiled kernel through its binding, as the
                            # training loop calls it (no Python validation)
                            partial(_core.gemm, op_a, op_b, out, 1.0, 0.0, False),
                            partial(kernels.gemm, a, b, trans_a=trans_a, trans_b=trans_b, out=out),
                        ],
                        repeats=2 if big else repeats,
                        rounds=rounds,
                    )
                rows.append((label, dtype.__name__, threads, flops, t_numpy, t_kernel, t_api))
    return rows


# Square sizes of the small-call table: there the cost of a call (argument
# checks, the result's allocation) is a large part of the time.
SMALL_CALLS = [8, 32, 64]


def small_calls(rounds):
    """Rows (n, dtype, numpy seconds, nncore seconds) of a*b for n x n operands
    on one thread, each call returning a new array as numpy.matmul(a, b) does:
    the public kernels.gemm with every check it makes."""
    rng = np.random.default_rng(0)
    rows = []
    before = kernels.get_num_threads()
    kernels.set_num_threads(1)
    with threadpool_limits(1):
        for n in SMALL_CALLS:
            for dtype in (np.float32, np.float64):
                a = rng.standard_normal((n, n)).astype(dtype)
                b = rng.standard_normal((n, n)).astype(dtype)
                t_numpy, t_api = best_times(
                    [partial(np.matmul, a, b), partial(kernels.gemm, a, b)],
                    repeats=5,
                    rounds=rounds,
                )
                rows.append((n, dtype.__name__, t_numpy, t_api))
    kernels.set_num_threads(before)
    return rows


def print_small_calls(rows):
    print(
        "\nSmall calls on one thread: `numpy.matmul(a, b)` against `nncore.kernels.gemm(a, b)`, "
        "both returning a new array; microseconds per call, best of several runs; "
        "ratio = numpy time / nncore time (>= 1: nncore as fast or faster).\n"
    )
    print("| product | dtype | numpy us | nncore.kernels.gemm us | ratio |")
    print("|---|---|---|---|---|")
    for n, dtype, t_numpy, t_api in rows:
        print(
            f"| {n}x{n}x{n} | {dtype} | {t_numpy * 1e6:.2f} | {t_api * 1e6:.2f} | "
            f"{t_numpy / t_api:.2f} |"
        )


def main():
    if "--small" in sys.argv:
        print(f"- nncore path: {kernels.cpu_features()['kernel']}; numpy {np.__version__}")
        print_small_calls(small_calls(ROUNDS))
        return
    quick = "--quick" in sys.argv
    repeats, rounds = (3, 1) if quick else (5, ROUNDS)
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    peak = fma_peak()
    ceiling = micro_ceiling()
    before = kernels.get_num_threads()
    rows = run(repeats, rounds)
    small = small_calls(rounds)
    kernels.set_num_threads(before)

    print("# nncore GEMM vs numpy (OpenBLAS)\n")
    print(f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"- CPU: {cpu_name()}, {os.cpu_count()} logical CPUs")
    print(f"- nncore path: {kernels.cpu_features()['kernel']}; numpy {np.__version__}")
    for info in blas:
        print(
            f"- numpy BLAS: {info.get('internal_api')} {info.get('version')}, "
            f"kernel (threadpoolctl) {info.get('architecture')}"
        )
    print("- command: `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/gemm.py`")
    if peak:
        print(
            f"- measured FMA peak of one core at the width of the nncore path "
            f"(bench/fma_peak.c): float32 "
            f"{peak['float32']:.1f} GFLOP/s, float64 {peak['float64']:.1f} GFLOP/s"
        )
    if peak and ceiling:
        shares = ", ".join(
            f"{dt} {ceiling[dt]:.1f} GFLOP/s ({100 * ceiling[dt] / peak[dt]:.0f}% of peak)"
            for dt in ("float32", "float64")
        )
        print(
            "- the packed GEMM's microkernel alone, A panels in L2 and a B panel in L1, "
            f"no packing (bench/gemm_micro.c): {shares}"
        )
    print(
        "\nGFLOP/s, best of several runs. `kernel`: nncore's C GEMM through its binding "
        "(`nncore._core.gemm`); `API`: `nncore.kernels.gemm` with its Python argument checks. "
        "ratio = numpy time / kernel time (> 1: nncore faster). % peak: kernel GFLOP/s over "
        "threads x one core's measured peak.\n"
    )
    print(
        "| product (m x k x n) | dtype | threads | numpy | nncore kernel | ratio | nncore API "
        "| % peak |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, dtype, threads, flops, t_numpy, t_kernel, t_api in rows:
        pct = ""
        if dtype in peak:
            pct = f"{100 * flops / t_kernel / 1e9 / (threads * peak[dtype]):.0f}%"
        print(
            f"| {label} | {dtype} | {threads} | {flops / t_numpy / 1e9:.1f} | "
            f"{flops / t_kernel / 1e9:.1f} | {t_numpy / t_kernel:.2f} | "
            f"{flops / t_api / 1e9:.1f} | {pct} |"
        )

    print_small_calls(small)

    if platform.machine().lower() in ("x86_64", "amd64"):
        sources = ["bench/gemm_tiny.c"] + [
            f"csrc/{name}.c"
            for name in (
                "gemm",
                "gemm_generic",
                "gemm_avx2",
                "dispatch",
                "cpu_features",
                "runtime",
                "activations",
                "ref",
                "status",
            )
        ]
        flags = ["-mavx2", "-mfma", "-Icsrc", "-DNNCORE_HAVE_AVX2"]
        try:
            out = compile_and_run("gemm_tiny", sources, flags)
        except (subprocess.CalledProcessError, OSError) as exc:
            out = f"(not built: {exc})"
        print("\nC-level time per call, 1 thread, AVX2 path (bench/gemm_tiny.c), in ns:")
        print(
            "`small`: the unpacked kernel; `packed`: the packed driver; `nc_gemm`: "
            "what the dispatcher picks.\n"
        )
        print("| dtype | m | k | n | small | packed | nc_gemm |")
        print("|---|---|---|---|---|---|---|")
        for line in out.splitlines():
            if line and not line.startswith("#"):
                print("| " + " | ".join(line.split()) + " |")


if __name__ == "__main__":
    main()
