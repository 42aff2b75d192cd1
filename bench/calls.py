"""Costs around the C loop that users see from Python: one-row predict,
evaluate on the mnist-shaped network, and a training epoch with and without
a callback that defines a per-batch hook. Prints one JSON line; run it with
two builds (e.g. two virtual environments) in turn to compare them:

    NNCORE_NUM_THREADS=1 python bench/calls.py
"""

import json
import os
import sys
import time

import nncore
from nncore.benchmarks import NETWORKS, make_data, nncore_model, time_calls


def best_seconds(call, rounds=5):
    call()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    figures = {"nncore": nncore.__version__, "threads": os.environ.get("NNCORE_NUM_THREADS")}
    widths, act, batch, n = NETWORKS["tiny"]
    x, y = make_data(widths, n)
    tiny = nncore_model(widths, act)
    tiny.fit(x[:64], y[:64], epochs=1, verbose=0)
    one = x[:1]
    best = min(time_calls(lambda: tiny.predict(one)) for _ in range(5))
    figures["tiny_predict_1_us"] = 1e6 * best

    widths, act, batch, n = NETWORKS["mnist"]
    x, y = make_data(widths, n)
    mnist = nncore_model(widths, act)
    mnist.compile(loss=mnist.loss, optimizer=mnist.optimizer, metrics=["accuracy"])
    mnist.fit(x[:256], y[:256], epochs=1, verbose=0)
    seconds = best_seconds(lambda: mnist.evaluate(x, y, batch_size=batch, verbose=0))
    figures["mnist_evaluate_rows_per_s"] = n / seconds

    class EveryBatch(nncore.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    widths, act, batch, n = NETWORKS["tiny"]
    x, y = make_data(widths, n)
    for name, callbacks in (("tiny_fit", []), ("tiny_fit_batch_hook", [EveryBatch()])):
        seconds = best_seconds(
            lambda cb=callbacks: tiny.fit(x, y, epochs=1, batch_size=batch, verbose=0, callbacks=cb)
        )
        figures[f"{name}_samples_per_s"] = n / seconds
    json.dump(figures, sys.stdout)
    print()


if __name__ == "__main__":
    main()
