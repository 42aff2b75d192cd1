"""nncore.sklearn vs scikit-learn's own MLPs: fit time and test score on data
sets that ship with scikit-learn, one thread each, side by side in one run
(not collected by pytest).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/sklearn.py [--splits 5] [--rounds 2]

Both estimators get the same parameters and, per split, the same
random_state (so the same initial weights and batches); features are
standardized. Each fit is timed --rounds times, the two implementations taking
turns, and the fastest kept; the table gives per data set the mean over the
splits of the test score and of that fit time, and the speed-up (the ratio of
the summed times). Everything runs in this process on one core: numpy's BLAS
held to one thread with threadpoolctl, nncore with NNCORE_NUM_THREADS=1.
"""

import os
import sys

# This file is named like the package it measures: its folder must not shadow
# scikit-learn when it runs as a script.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
os.environ["NNCORE_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import sklearn.neural_network  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import nncore  # noqa: E402
import nncore.sklearn  # noqa: E402
from nncore.benchmarks import cpu_name  # noqa: E402

# name: (loader, estimator, parameters)
CASES = {
    "breast_cancer (16,) adam": (
        load_breast_cancer,
        "MLPClassifier",
        {"hidden_layer_sizes": (16,)},
    ),
    "breast_cancer (16,) adam, batch 32": (
        load_breast_cancer,
        "MLPClassifier",
        {"hidden_layer_sizes": (16,), "batch_size": 32},
    ),
    "breast_cancer (16,) lbfgs": (
        load_breast_cancer,
        "MLPClassifier",
        {"hidden_layer_sizes": (16,), "solver": "lbfgs", "max_iter": 500},
    ),
    "digits (128, 64) adam": (load_digits, "MLPClassifier", {"hidden_layer_sizes": (128, 64)}),
    "diabetes (64,) adam": (
        load_diabetes,
        "MLPRegressor",
        {"hidden_layer_sizes": (64,), "learning_rate_init": 0.01, "max_iter": 500},
    ),
}


def split(loader, estimator, seed):
    X, y = loader(return_X_y=True)
    stratify = y if estimator == "MLPClassifier" else None
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=stratify
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def timed_fit(module, estimator, params, seed, X, y):
    model = getattr(module, estimator)(random_state=seed, **params)
    start = time.process_time()
    model.fit(X, y)
    return time.process_time() - start, model


def measure(name, splits, rounds):
    loader, estimator, params = CASES[name]
    modules = {"scikit-learn": sklearn.neural_network, "nncore": nncore.sklearn}
    times = {key: [] for key in modules}
    scores = {key: [] for key in modules}
    for seed in range(splits):
        X_train, X_test, y_train, y_test = split(loader, estimator, seed)
        best = dict.fromkeys(modules, float("inf"))
        fitted = {}
        for _ in range(rounds):
            for key, module in modules.items():
                seconds, fitted[key] = timed_fit(module, estimator, params, seed, X_train, y_train)
                best[key] = min(best[key], seconds)
        for key in modules:
            times[key].append(best[key])
            scores[key].append(fitted[key].score(X_test, y_test))
    return {
        "score": {key: float(np.mean(values)) for key, values in scores.items()},
        "time": {key: float(np.mean(values)) for key, values in times.items()},
        "speedup": sum(times["scikit-learn"]) / sum(times["nncore"]),
        "metric": "accuracy" if estimator == "MLPClassifier" else "R^2",
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--case", action="append", choices=list(CASES))
    args = parser.parse_args(argv)
    if args.splits < 1 or args.rounds < 1:
        parser.error("--splits and --rounds must be >= 1")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1])
    print(f"CPU: {cpu_name()} ({platform.machine()}), one thread each")
    print(
        f"nncore {nncore.__version__} ({nncore.kernels.cpu_features()['kernel']} kernels), "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, float64, "
        f"{args.splits} splits (75/25), best of {args.rounds} fits per split"
    )
    print()
    print("| data set, hidden layers, solver | metric | scikit-learn | nncore | "
          "fit s, scikit-learn | fit s, nncore | speed-up |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name in args.case or CASES:
            r = measure(name, args.splits, args.rounds)
            print(
                f"| {name} | {r['metric']} | {r['score']['scikit-learn']:.4f} | "
                f"{r['score']['nncore']:.4f} | {r['time']['scikit-learn']:.3f} | "
                f"{r['time']['nncore']:.4f} | {r['speedup']:.1f}x |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
