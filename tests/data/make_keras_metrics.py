"""Makes keras_metrics.npz: outputs, targets, and the values Keras 3's own
metric classes compute on them, which tests/test_metrics_keras.py compares
with the metrics nncore computes inside its C loop.

Run once with Keras 3 on the JAX backend (pip install keras jax):
    KERAS_BACKEND=jax python tests/data/make_keras_metrics.py
The outputs include values outside [0, 1], exactly 0 and 1, and the AUC's
bucket edges; the targets include a soft label (0.5), which Keras's
confusion-matrix metrics count as positive.
"""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
M = keras.metrics

# (nncore class name, its keyword arguments): each is built the same way in Keras.
CONFIGS = [
    ("BinaryAccuracy", {}),
    ("BinaryAccuracy", {"threshold": 0.7}),
    ("Precision", {}),
    ("Precision", {"thresholds": 0.3}),
    ("Recall", {}),
    ("Recall", {"thresholds": [0.7]}),
    ("TruePositives", {}),
    ("FalsePositives", {}),
    ("TrueNegatives", {}),
    ("FalseNegatives", {}),
    ("TruePositives", {"thresholds": 0.2}),
    ("FalseNegatives", {"thresholds": 0.9}),
    ("AUC", {}),
    ("AUC", {"curve": "PR"}),
    ("AUC", {"num_thresholds": 7}),
    ("AUC", {"num_thresholds": 2}),
    ("AUC", {"summation_method": "minoring"}),
    ("AUC", {"summation_method": "majoring"}),
    ("AUC", {"curve": "PR", "summation_method": "majoring"}),
    ("AUC", {"curve": "PR", "summation_method": "minoring"}),
    ("AUC", {"curve": "PR", "num_thresholds": 3}),
    ("RootMeanSquaredError", {}),
    ("MeanSquaredError", {}),
    ("MeanAbsoluteError", {}),
]


def data(seed, n, width):
    rng = np.random.default_rng(seed)
    t = (rng.random((n, width)) < 0.4).astype(np.float32)
    t[rng.random((n, width)) < 0.05] = 0.5
    p = np.clip(0.6 * t + 0.6 * rng.random((n, width)) - 0.05, -0.2, 1.2).astype(np.float32)
    edges = np.array([0.0, 1.0, -0.2, 1.2, 1 / 199, 100 / 199, 198 / 199, 0.5, 1 / 6, 1 / 3])
    p.flat[: edges.size] = edges.astype(np.float32)
    return p, t


def main():
    out = {}
    cases = {"single": data(1, 157, 1), "multi": data(2, 64, 3)}
    for case, (p, t) in cases.items():
        out[f"{case}_p"] = p
        out[f"{case}_t"] = t
        values = []
        for class_name, kwargs in CONFIGS:
            metric = getattr(M, class_name)(**kwargs)
            # two updates: the state carries over batches, as in a fit epoch
            half = p.shape[0] // 2
            metric.update_state(t[:half], p[:half])
            metric.update_state(t[half:], p[half:])
            values.append(float(np.asarray(metric.result())))
        out[f"{case}_values"] = np.array(values)
    out["configs"] = np.array(json.dumps(CONFIGS))
    out["keras_version"] = np.array(keras.__version__)
    np.savez(os.path.join(HERE, "keras_metrics.npz"), **out)
    print("wrote keras_metrics.npz with Keras", keras.__version__)


if __name__ == "__main__":
    main()
