"""Training and inference speed of nncore against the peers installed here.

Used by `nncore bench` and bench/train.py. Each measurement runs in a fresh
subprocess pinned to the requested number of cores (so every peer's thread
pools see the same machine), trains with Adam in float32 on random data, and
reports samples per second (forward + backward + update). Peers that are not
installed are skipped. Nothing here is imported by `import nncore`.

    python -m nncore.benchmarks --net tiny --peer torch --threads 1   # one measurement (JSON)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

# name: (layer widths, hidden activation, batch size, samples per epoch)
NETWORKS = {
    "tiny": ((2, 4, 6, 6, 4, 1), "relu", 32, 32768),
    "mnist": ((784, 256, 128, 10), "relu", 128, 8192),
    "wide": ((1024, 1024, 1024, 1024, 10), "relu", 256, 2048),
}
PEERS = ("nncore", "torch", "keras-jax", "sklearn", "numpy")
MIN_SECONDS = 1.0  # each timing repeats epochs until it has run at least this long


def make_data(widths, n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, widths[0])).astype(np.float32)
    if widths[-1] == 1:
        y = (x.sum(axis=1) > 0).astype(np.float32)
    else:
        y = rng.integers(0, widths[-1], size=n)
    return x, y


def time_epochs(run_epoch, n_samples):
    """Best samples/s over repeated timed runs, after one warm-up epoch."""
    run_epoch()
    best, total, start_all = 0.0, 0.0, time.perf_counter()
    while total < MIN_SECONDS or time.perf_counter() - start_all < MIN_SECONDS:
        start = time.perf_counter()
        run_epoch()
        elapsed = time.perf_counter() - start
        total += elapsed
        best = max(best, n_samples / elapsed)
    return best


def time_calls(call, min_seconds=0.5):
    """Best seconds per call of a short function."""
    call()
    best, start_all = float("inf"), time.perf_counter()
    while time.perf_counter() - start_all < min_seconds:
        reps = 100
        start = time.perf_counter()
        for _ in range(reps):
            call()
        best = min(best, (time.perf_counter() - start) / reps)
    return best


# --------------------------------------------------------------- the peers
# Each returns {"train": samples/s, "predict_1": seconds, "predict_4096": rows/s}.


def nncore_model(widths, act):
    """The benchmark network as a compiled nncore model: hidden layers with
    `act`, a sigmoid or softmax output with its cross-entropy, Adam."""
    import nncore

    model = nncore.Sequential(seed=0)
    for i, width in enumerate(widths[1:]):
        last = i == len(widths) - 2
        out_act = ("sigmoid" if width == 1 else "softmax") if last else act
        kwargs = {"input_dim": widths[0]} if i == 0 else {}
        model.add(nncore.Dense(width, activation=out_act, **kwargs))
    loss = "binary_crossentropy" if widths[-1] == 1 else "sparse_categorical_crossentropy"
    model.compile(loss=loss, optimizer=nncore.optimizers.Adam(learning_rate=1e-3))
    return model


def bench_nncore(widths, act, batch, n, x, y):
    model = nncore_model(widths, act)
    train = time_epochs(lambda: model.fit(x, y, epochs=1, batch_size=batch, verbose=0), n)
    one, many = x[:1], np.resize(x, (4096, widths[0]))
    return {
        "train": train,
        "predict_1": time_calls(lambda: model.predict(one)),
        "predict_4096": 4096 / time_calls(lambda: model.predict(many)),
    }


def bench_torch(widths, act, batch, n, x, y):
    import torch

    torch.set_num_threads(int(os.environ.get("NNCORE_BENCH_THREADS", "1")))
    torch.manual_seed(0)
    layers = []
    for i in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    binary = widths[-1] == 1
    loss_fn = torch.nn.BCEWithLogitsLoss() if binary else torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y).reshape(-1, 1) if binary else torch.from_numpy(y)
    gen = np.random.default_rng(0)

    def epoch():
        perm = torch.from_numpy(gen.permutation(n))
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    train = time_epochs(epoch, n)
    final = torch.sigmoid if binary else (lambda z: torch.softmax(z, dim=1))

    def predict(rows):
        with torch.no_grad():
            return final(model(torch.from_numpy(rows))).numpy()

    one, many = x[:1], np.resize(x, (4096, widths[0]))
    return {
        "train": train,
        "predict_1": time_calls(lambda: predict(one)),
        "predict_4096": 4096 / time_calls(lambda: predict(many)),
    }


def bench_keras_jax(widths, act, batch, n, x, y):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((widths[0],))])
    for i, width in enumerate(widths[1:]):
        last = i == len(widths) - 2
        model.add(
            keras.layers.Dense(
                width, activation=("sigmoid" if width == 1 else "softmax") if last else act
            )
        )
    loss = "binary_crossentropy" if widths[-1] == 1 else "sparse_categorical_crossentropy"
    model.compile(loss=loss, optimizer=keras.optimizers.Adam(1e-3))
    train = time_epochs(lambda: model.fit(x, y, epochs=1, batch_size=batch, verbose=0), n)
    one, many = x[:1], np.resize(x, (4096, widths[0]))
    return {
        "train": train,
        # predict() is what users call; the compiled model call is the floor
        "predict_1": time_calls(lambda: model.predict(one, verbose=0), 1.0),
        "predict_4096": 4096 / time_calls(lambda: model.predict(many, verbose=0), 1.0),
    }


def bench_sklearn(widths, act, batch, n, x, y):
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        hidden_layer_sizes=widths[1:-1], batch_size=batch, solver="adam", random_state=0
    )
    classes = np.unique(y)
    train = time_epochs(lambda: model.partial_fit(x, y, classes=classes), n)
    one, many = x[:1], np.resize(x, (4096, widths[0]))
    return {
        "train": train,
        "predict_1": time_calls(lambda: model.predict_proba(one)),
        "predict_4096": 4096 / time_calls(lambda: model.predict_proba(many)),
    }


def bench_numpy(widths, act, batch, n, x, y):
    """A plain numpy MLP: what a careful person writes without a framework."""
    rng = np.random.default_rng(0)
    params = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        limit = np.sqrt(6 / (fan_in + fan_out))
        params += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)]
        params += [np.zeros(fan_out, np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    binary = widths[-1] == 1
    targets = y.reshape(-1, 1) if binary else np.eye(widths[-1], dtype=np.float32)[y]
    state = {"t": 0}

    def forward(xb):
        acts = [xb]
        for i in range(0, len(params), 2):
            z = acts[-1] @ params[i] + params[i + 1]
            if i < len(params) - 2:
                z = np.maximum(z, 0)
            acts.append(z)
        return acts

    def step(xb, tb):
        acts = forward(xb)
        z = acts[-1]
        if binary:
            p = 1 / (1 + np.exp(-z))
        else:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
        delta = (p - tb) / len(xb)
        grads = [None] * len(params)
        for i in range(len(params) - 2, -1, -2):
            grads[i] = acts[i // 2].T @ delta
            grads[i + 1] = delta.sum(axis=0)
            if i:
                delta = (delta @ params[i].T) * (acts[i // 2] > 0)
        state["t"] += 1
        t = state["t"]
        lr = 1e-3 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        for p_, g, m_, v_ in zip(params, grads, m, v):
            m_ *= 0.9
            m_ += 0.1 * g
            v_ *= 0.999
            v_ += 0.001 * g * g
            p_ -= lr * m_ / (np.sqrt(v_) + 1e-7)

    gen = np.random.default_rng(0)

    def epoch():
        perm = gen.permutation(n)
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            step(x[idx], targets[idx])

    train = time_epochs(epoch, n)
    one, many = x[:1], np.resize(x, (4096, widths[0]))
    return {
        "train": train,
        "predict_1": time_calls(lambda: forward(one)),
        "predict_4096": 4096 / time_calls(lambda: forward(many)),
    }


RUNNERS = {
    "nncore": bench_nncore,
    "torch": bench_torch,
    "keras-jax": bench_keras_jax,
    "sklearn": bench_sklearn,
    "numpy": bench_numpy,
}
PEER_MODULES = {"torch": "torch", "keras-jax": "keras", "sklearn": "sklearn"}


def measure_here(net, peer):
    widths, act, batch, n = NETWORKS[net]
    x, y = make_data(widths, n)
    return RUNNERS[peer](widths, act, batch, n, x, y)


def thread_environment(threads):
    """Environment that holds every thread pool we know of to `threads`."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    env["NNCORE_NUM_THREADS"] = env["NNCORE_BENCH_THREADS"] = str(threads)
    env["XLA_FLAGS"] = (
        f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
        f"intra_op_parallelism_threads={threads}"
    )
    env["KERAS_BACKEND"] = "jax"
    # current OpenBLAS is slower with these set (see PACKAGING-NOTES); benchmarks only
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    return env


def run_pinned(call, threads, *, setup="", timeout=None):
    """The JSON value of the Python expression `call` (after the statements
    `setup`), evaluated in a fresh process pinned to `threads` cores with every
    thread pool held to that count. RuntimeError with the child's stderr if it
    fails; subprocess.TimeoutExpired after `timeout` seconds."""
    code = (
        "import json, os, sys\n" + setup + f"cores = sorted(os.sched_getaffinity(0))[:{threads}] "
        "if hasattr(os, 'sched_setaffinity') else None\n"
        "if cores: os.sched_setaffinity(0, cores)\n"
        f"print('RESULT', json.dumps({call}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=thread_environment(threads),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tempfile.gettempdir(),  # not a source tree: `import nncore` is the installed one
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(done.stderr[-2000:])


def measure(net, peer, threads, timeout=900):
    """One measurement in a subprocess pinned to `threads` cores; None if it failed."""
    try:
        return run_pinned(
            f"measure_here({net!r}, {peer!r})",
            threads,
            setup="from nncore.benchmarks import measure_here\n",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None
    except RuntimeError as exc:
        sys.stderr.write(f"[{peer} on {net}] failed:\n{exc}\n")
        return None


def installed_peers():
    import importlib.util

    return [p for p in PEERS if p not in PEER_MODULES or importlib.util.find_spec(PEER_MODULES[p])]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def format_rate(x):
    return f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.1f}k"


def best_of(old, new):
    """Merges two measurements of one (net, peer, threads): the best of each figure."""
    if not old or not new:
        return old or new
    return {
        "train": max(old["train"], new["train"]),
        "predict_1": min(old["predict_1"], new["predict_1"]),
        "predict_4096": max(old["predict_4096"], new["predict_4096"]),
    }


def run(nets, peers, threads_list, rounds=1, out=sys.stdout):
    """Measures every (net, peer, threads) `rounds` times over (the peers take
    turns, so a slow spell of a shared machine cannot fall on one peer's only
    measurement), keeps the best of each, and prints markdown tables with ratios."""
    import nncore

    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", file=out)
    print(f"cpu: {cpu_name()}; nncore {nncore.__version__}", file=out)
    print(f"kernel: {nncore.kernels.cpu_features()['kernel']}", file=out)
    print(f"command: {' '.join(sys.argv)}", file=out)
    print(f"rounds: {rounds} (best of each)", file=out)
    results = {}
    for _ in range(rounds):
        for net in nets:
            for threads in threads_list:
                for peer in peers:
                    key = net, peer, threads
                    results[key] = best_of(results.get(key), measure(net, peer, threads))

    def ratio(ours, theirs, key, invert=False):
        if not ours or not theirs:
            return "-"
        value = theirs[key] / ours[key] if invert else ours[key] / theirs[key]
        return f"{value:.2f}x"

    print("\n### Training samples/s (forward + backward + Adam, float32)\n", file=out)
    print(
        "| network | threads | " + " | ".join(peers) + " | nncore / torch | nncore / best peer |",
        file=out,
    )
    print("|" + "---|" * (len(peers) + 4), file=out)
    for net in nets:
        for threads in threads_list:
            row = {p: results[net, p, threads] for p in peers}
            cells = [format_rate(r["train"]) if r else "-" for r in row.values()]
            ours = row.get("nncore")
            others = [r for p, r in row.items() if r and p != "nncore"]
            best = max(others, key=lambda r: r["train"]) if others else None
            print(
                f"| {net} | {threads} | "
                + " | ".join(cells)
                + f" | {ratio(ours, row.get('torch'), 'train')} | {ratio(ours, best, 'train')} |",
                file=out,
            )
    threads = threads_list[0]
    print(f"\n### Predict, {threads} thread(s): one row (us) / 4096 rows (rows/s)\n", file=out)
    print("| network | " + " | ".join(peers) + " | one row: torch / nncore |", file=out)
    print("|" + "---|" * (len(peers) + 2), file=out)
    for net in nets:
        row = {p: results.get((net, p, threads)) for p in peers}
        cells = [
            f"{r['predict_1'] * 1e6:.1f} us / {format_rate(r['predict_4096'])}" if r else "-"
            for r in row.values()
        ]
        speedup = ratio(row.get("nncore"), row.get("torch"), "predict_1", invert=True)
        print(f"| {net} | " + " | ".join(cells) + f" | {speedup} |", file=out)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="nncore bench", description=__doc__.split("\n")[0])
    parser.add_argument("--net", action="append", choices=sorted(NETWORKS))
    parser.add_argument("--peer", action="append", choices=PEERS)
    parser.add_argument("--threads", action="append", type=int)
    parser.add_argument("--rounds", type=int, default=1, help="measure everything this many times")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.net and args.peer and len(args.net) == len(args.peer) == 1:
        # one measurement, in this process: for looking at one peer closely
        print(json.dumps(measure_here(args.net[0], args.peer[0])))
        return 0
    peers = args.peer or installed_peers()
    if "nncore" not in peers:
        peers = ["nncore", *peers]
    run(args.net or list(NETWORKS), peers, args.threads or [1, 2], args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
