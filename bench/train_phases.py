"""Where a training step of nncore spends its time, on 1 and 2 threads (not
collected by pytest). In a process pinned to the cores it is given, it trains
a benchmark network with fit's shuffled batches and reads the training loop's
own profile (nncore._core.train_profile_*, timed inside the C loop): the
gather of the batch's rows, each layer's forward and backward pass, the loss,
the optimizer. For reference it also times, on warm caches, the batch's
matrix products alone (each one nc_gemm call) and the optimizer alone: what
a phase costs inside the loop beyond those is the price of data that the
previous phase left in another cache, or another core's.

Reaches into the model's private attributes: a diagnostic for developers,
not an API.

    python bench/train_phases.py [--net mnist]
"""

import argparse
import os
import time

import numpy as np

import nncore
from nncore import _core
from nncore.benchmarks import (
    NETWORKS,
    cpu_name,
    make_data,
    nncore_model,
    run_pinned,
    time_calls,
)

EPOCHS = 5


def gemm_shapes(widths, batch):
    """(m, k, n, trans_a, trans_b) of every product in one training step."""
    shapes = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        shapes.append((batch, n_in, n_out, False, False))  # forward: in W
        shapes.append((n_in, batch, n_out, True, False))  # dW = in^T dz
        if i:  # the input layer needs no input gradient
            shapes.append((batch, n_out, n_in, False, True))  # d_in = dz W^T
    return shapes


def measure_phases(net_name):
    """Seconds per batch of each phase, as a dict of row label -> seconds."""
    widths, act, batch, n = NETWORKS[net_name]
    x, y = make_data(widths, n)
    model = nncore_model(widths, act)

    def epoch():
        model.fit(x, y, epochs=1, batch_size=batch, verbose=0)

    epoch()  # builds the model, first touch of every buffer
    batches = (n + batch - 1) // batch
    step = []
    for _ in range(EPOCHS):
        start = time.perf_counter()
        epoch()
        step.append((time.perf_counter() - start) / batches)
    _core.train_profile_start()
    for _ in range(EPOCHS):
        epoch()
    prof = _core.train_profile_stop()
    per = 1.0 / prof["batches"]

    rows = {"gather rows and targets": prof["gather"] * per}
    for i, t in enumerate(prof["layer_forward"]):
        rows[f"forward, layer {i + 1} ({widths[i]} -> {widths[i + 1]})"] = t * per
    rows["loss and its gradient"] = prof["loss"] * per
    for i in reversed(range(len(prof["layer_backward"]))):
        t = prof["layer_backward"][i]
        rows[f"backward, layer {i + 1} ({widths[i + 1]} -> {widths[i]})"] = t * per
    rows["optimizer (Adam)"] = prof["optimizer"] * per
    rows["constraints, metrics, hook"] = prof["rest"] * per
    rows["**step** (fit, whole epochs)"] = min(step)

    rng = np.random.default_rng(2)
    gemm_total, flops = 0.0, 0.0
    for m, k, n_cols, trans_a, trans_b in gemm_shapes(widths, batch):
        a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
        b = rng.standard_normal((n_cols, k) if trans_b else (k, n_cols)).astype(np.float32)
        a, b = (a.T if trans_a else a), (b.T if trans_b else b)
        c = np.empty((m, n_cols), np.float32)
        gemm_total += time_calls(lambda a=a, b=b, c=c: _core.gemm(a, b, c, 1.0, 0.0))
        flops += 2.0 * m * k * n_cols
    rows[f"the {len(gemm_shapes(widths, batch))} products alone, warm"] = gemm_total
    params, grads, state = model._params, model._grads, model._opt_state
    spec = model.optimizer._c_description()
    rows["the optimizer alone, warm"] = time_calls(
        lambda: _core.optimizer_step(spec, params, grads, state)
    )
    return {"rows": rows, "gemm_flops": flops}


def measure(net_name, threads):
    here = os.path.dirname(os.path.abspath(__file__))
    return run_pinned(
        f"measure_phases({net_name!r})",
        threads,
        setup=f"sys.path.insert(0, {here!r})\nfrom train_phases import measure_phases\n",
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", default="mnist", choices=sorted(NETWORKS))
    args = parser.parse_args()
    threads = [1, 2] if len(os.sched_getaffinity(0)) >= 2 else [1]
    results = {t: measure(args.net, t) for t in threads}
    widths, _, batch, _ = NETWORKS[args.net]
    print(f"# Time per batch of one training step, {args.net} {'-'.join(map(str, widths))}")
    print(f"\n- date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC")
    print(f"- cpu: {cpu_name()}; nncore path {nncore.kernels.cpu_features()['kernel']}")
    print(f"- batch {batch}, float32, Adam; fit with shuffling, {EPOCHS} epochs per figure")
    print(f"- command: `python bench/train_phases.py --net {args.net}`\n")
    two = len(threads) > 1
    head = "| phase | " + " | ".join(f"{t} thread{'s' * (t > 1)} (us)" for t in threads)
    print(head + (" | 2 threads / 1 |" if two else " |"))
    print("|---" * (len(threads) + 1 + two) + "|")
    for label in results[1]["rows"]:
        values = [results[t]["rows"][label] for t in threads]
        row = f"| {label} | " + " | ".join(f"{v * 1e6:.1f}" for v in values)
        print(row + (f" | {values[0] / values[1]:.2f}x |" if two and values[1] else " |"))
    flops = results[1]["gemm_flops"]
    products = next(k for k in results[1]["rows"] if k.startswith("the ") and "products" in k)
    for t in threads:
        rows = results[t]["rows"]
        print(
            f"\n{t} thread{'s' * (t > 1)}: the products do {flops / 1e6:.3g} MFLOP per batch, "
            f"{flops / rows[products] / 1e9:.1f} GFLOP/s alone"
        )


if __name__ == "__main__":
    main()
