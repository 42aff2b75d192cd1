"""Where a training step of nncore spends its time, on 1 and 2 threads (not
collected by pytest). It times the parts of one batch separately, each
through the C entry point that runs it, in a process pinned to the cores it
is given:

- step: one batch of a whole epoch in C (train_epoch, shuffled as fit does)
- forward: the forward pass (bias and activation fused into the GEMMs)
- forward + loss + backward: the gradient of one batch (loss_grad)
- optimizer: one Adam update over the flat parameter buffer
- the GEMMs alone: the batch's matrix products, each as one nc_gemm call
  on warm operands (the floor that the forward and backward passes sit on)

What the step spends beyond the gradient and the update is gathering the
shuffled rows, the metrics and the loop itself. Reaches into the model's
private attributes: a diagnostic for developers, not an API.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/train_phases.py [--net mnist]
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

import nncore
from nncore import _core
from nncore.benchmarks import NETWORKS, cpu_name, make_data, thread_environment, time_calls


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
    widths, act, batch, n = NETWORKS[net_name]
    x, y = make_data(widths, n)
    model = nncore.Sequential(seed=0)
    for i, width in enumerate(widths[1:]):
        last = i == len(widths) - 2
        out_act = ("sigmoid" if width == 1 else "softmax") if last else act
        kwargs = {"input_dim": widths[0]} if i == 0 else {}
        model.add(nncore.Dense(width, activation=out_act, **kwargs))
    loss = "binary_crossentropy" if widths[-1] == 1 else "sparse_categorical_crossentropy"
    model.compile(loss=loss, optimizer=nncore.optimizers.Adam(learning_rate=1e-3))
    model.fit(x, y, epochs=1, batch_size=batch, verbose=0)  # builds; first touch of buffers

    network = model._network()
    params, grads, state = model._params, model._grads, model._opt_state
    spec = model.optimizer._c_description()
    t = y.astype(np.float32).reshape(n, -1)
    order = np.random.default_rng(1).permutation(n).astype(np.uintp)
    xb, tb = np.ascontiguousarray(x[:batch]), np.ascontiguousarray(t[:batch])
    batches = (n + batch - 1) // batch

    def epoch():
        network.train_epoch(params, grads, state, spec, x, t, None, order, batch, 0, [])

    epoch()
    best_epoch = min(_seconds(epoch) for _ in range(5))
    times = {
        "step": best_epoch / batches,
        "forward": time_calls(lambda: network.predict(params, xb, batch_size=batch)),
        "forward + loss + backward": time_calls(lambda: network.loss_grad(params, xb, tb)),
        "optimizer": time_calls(lambda: _core.optimizer_step(spec, params, grads, state)),
    }
    rng = np.random.default_rng(2)
    gemm_total, flops = 0.0, 0.0
    for m, k, n_cols, trans_a, trans_b in gemm_shapes(widths, batch):
        a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
        b = rng.standard_normal((n_cols, k) if trans_b else (k, n_cols)).astype(np.float32)
        a, b = (a.T if trans_a else a), (b.T if trans_b else b)
        c = np.empty((m, n_cols), np.float32)
        gemm_total += time_calls(lambda a=a, b=b, c=c: _core.gemm(a, b, c, 1.0, 0.0))
        flops += 2.0 * m * k * n_cols
    times["GEMMs alone"] = gemm_total
    return {"times": times, "gemm_flops": flops, "batch": batch}


def _seconds(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def measure(net_name, threads):
    code = (
        "import json, os, sys\n"
        f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
        "from train_phases import measure_phases\n"
        f"cores = sorted(os.sched_getaffinity(0))[:{threads}]\n"
        "os.sched_setaffinity(0, cores)\n"
        f"print('RESULT', json.dumps(measure_phases({net_name!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=thread_environment(threads),
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(li for li in done.stdout.splitlines() if li.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


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
    print(f"- batch {batch}, float32, Adam")
    print("- command: `python bench/train_phases.py --net " + args.net + "`\n")
    head = "| phase | " + " | ".join(f"{t} thread{'s' * (t > 1)} (us)" for t in threads)
    print(head + (" | 2 threads / 1 |" if len(threads) > 1 else " |"))
    print("|---" * (len(threads) + 1 + (len(threads) > 1)) + "|")
    for phase in results[1]["times"]:
        values = [results[t]["times"][phase] for t in threads]
        row = f"| {phase} | " + " | ".join(f"{v * 1e6:.1f}" for v in values)
        print(row + (f" | {values[0] / values[1]:.2f}x |" if len(threads) > 1 else " |"))
    flops = results[1]["gemm_flops"]
    for t in threads:
        r = results[t]["times"]
        print(
            f"\n{t} thread{'s' * (t > 1)}: the GEMMs do {flops / 1e6:.1f} MFLOP per batch, "
            f"{flops / r['GEMMs alone'] / 1e9:.1f} GFLOP/s alone; "
            f"{r['GEMMs alone'] / r['step']:.0%} of the step is GEMM time"
        )


if __name__ == "__main__":
    main()
