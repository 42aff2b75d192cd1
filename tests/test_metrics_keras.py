"""The metrics nncore computes inside its C loop against Keras 3's own metric
classes (values stored by tests/data/make_keras_metrics.py) and against numpy
written from Keras's documented formulas: the confusion-matrix metrics,
AUC in every curve and summation, RMSE, and the accuracies' threshold."""

import json
import os

import numpy as np
import pytest

import nncore
from nncore import losses, metrics

DATA = np.load(os.path.join(os.path.dirname(__file__), "data", "keras_metrics.npz"))
CONFIGS = [tuple(c) for c in json.loads(str(DATA["configs"]))]
CASES = ["single", "multi"]


def identity_model(width, dtype, metric_list, loss="mse"):
    """A model whose predictions are its inputs, so evaluate(p, t) scores p."""
    model = nncore.Sequential(
        [nncore.Input((width,)), nncore.Dense(width, use_bias=False)], dtype=dtype
    )
    model.set_weights([np.eye(width)])
    model.compile(nncore.optimizers.SGD(learning_rate=0.0), loss, metrics=metric_list)
    return model


def build(class_name, kwargs, name):
    return getattr(metrics, class_name)(**kwargs, name=name)


def keras_auc(p, t, num_thresholds=200, curve="ROC", summation_method="interpolation"):
    """Keras's AUC as its documentation and source describe it, in p's dtype."""
    dtype = p.dtype.type
    p = np.clip(p.ravel(), 0, 1)
    positive = t.ravel() != 0
    bucket = np.maximum(np.ceil(p * dtype(num_thresholds - 1)) - 1, 0).astype(int)
    tp = np.cumsum(np.bincount(bucket[positive], minlength=num_thresholds)[::-1])[::-1]
    fp = np.cumsum(np.bincount(bucket[~positive], minlength=num_thresholds)[::-1])[::-1]
    tp, fp = tp.astype(float), fp.astype(float)
    fn, tn = tp[0] - tp, fp[0] - fp

    def div(a, b):
        return np.divide(a, b, out=np.zeros_like(a), where=b != 0)

    if curve == "PR" and summation_method == "interpolation":
        p_all = tp + fp
        dtp = tp[:-1] - tp[1:]
        slope = div(dtp, np.maximum(p_all[:-1] - p_all[1:], 0))
        intercept = tp[1:] - slope * p_all[1:]
        both = (p_all[:-1] > 0) & (p_all[1:] > 0)
        ratio = np.where(both, div(p_all[:-1], np.maximum(p_all[1:], 0)), 1.0)
        return float(np.sum(div(slope * (dtp + intercept * np.log(ratio)), tp[1:] + fn[1:])))
    recall = div(tp, tp + fn)
    if curve == "ROC":
        x, y = div(fp, fp + tn), recall
    else:
        x, y = recall, div(tp, tp + fp)
    heights = {
        "interpolation": (y[:-1] + y[1:]) / 2,
        "minoring": np.minimum(y[:-1], y[1:]),
        "majoring": np.maximum(y[:-1], y[1:]),
    }[summation_method]
    return float(np.sum((x[:-1] - x[1:]) * heights))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("batch_size", [1, 7, None])
def test_every_metric_matches_keras_on_float32(case, batch_size):
    p, t = DATA[f"{case}_p"], DATA[f"{case}_t"]
    names = [f"m{i}" for i in range(len(CONFIGS))]
    got = {}
    for start in range(0, len(CONFIGS), 8):  # at most 8 metrics per model
        chunk = list(zip(CONFIGS, names))[start : start + 8]
        model = identity_model(p.shape[1], "float32", [build(c, k, n) for (c, k), n in chunk])
        got.update(model.evaluate(p, t, batch_size=batch_size, verbose=0, return_dict=True))
    for (class_name, kwargs), name, want in zip(CONFIGS, names, DATA[f"{case}_values"]):
        assert got[name] == pytest.approx(want, rel=2e-6, abs=1e-6), (class_name, kwargs)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"curve": "PR"},
        {"num_thresholds": 2},
        {"num_thresholds": 13, "summation_method": "minoring"},
        {"curve": "PR", "summation_method": "majoring", "num_thresholds": 50},
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_auc_matches_the_documented_formula_in_both_dtypes(case, settings, dtype):
    rng = np.random.default_rng(3)
    p = np.concatenate([DATA[f"{case}_p"], rng.random(DATA[f"{case}_p"].shape)]).astype(dtype)
    t = np.concatenate([DATA[f"{case}_t"], rng.random(DATA[f"{case}_t"].shape) < 0.3])
    model = identity_model(p.shape[1], dtype, [metrics.AUC(**settings)])
    got = model.evaluate(p, t.astype(dtype), batch_size=5, verbose=0, return_dict=True)["auc"]
    assert got == pytest.approx(keras_auc(p, t, **settings), rel=1e-9, abs=1e-12)


def test_formula_reference_agrees_with_keras():
    """The numpy reference above is itself checked against Keras's figures."""
    for case in CASES:
        p, t = DATA[f"{case}_p"], DATA[f"{case}_t"]
        for (class_name, kwargs), want in zip(CONFIGS, DATA[f"{case}_values"]):
            if class_name == "AUC":
                assert keras_auc(p, t, **kwargs) == pytest.approx(want, rel=2e-6, abs=1e-6)


def test_auc_tends_to_the_exact_area():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    t = (rng.random((4000, 1)) < 0.3).astype(np.float64)
    p = np.clip(0.3 * t + 0.7 * rng.random((4000, 1)), 0, 1)
    model = identity_model(1, np.float64, [metrics.AUC(num_thresholds=20000)])
    got = model.evaluate(p, t, verbose=0, return_dict=True)["auc"]
    assert got == pytest.approx(roc_auc_score(t, p), abs=2e-4)


def test_fit_logs_the_running_metrics_as_keras():
    """With a learning rate of 0 the outputs stay p, so each epoch's logs are
    Keras's values; the batch logs are the values so far."""
    p, t = DATA["single_p"], DATA["single_t"]
    wanted = {
        "precision": ("Precision", {}),
        "auc": ("AUC", {}),
        "rmse": ("RootMeanSquaredError", {}),
    }
    model = identity_model(1, "float32", [build(c, k, n) for n, (c, k) in wanted.items()])
    seen = []
    callback = nncore.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(logs))
    history = model.fit(
        p, t, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[callback]
    )
    for name, config in wanted.items():
        want = DATA["single_values"][CONFIGS.index(config)]
        assert history.history[name] == pytest.approx([want, want], rel=2e-6)
        assert seen[-1][name] == pytest.approx(want, rel=2e-6)
    # the first batch's logs are that batch's own precision
    first = p[:16] > 0.5
    tp = np.sum(first & (t[:16] != 0))
    assert seen[0]["precision"] == pytest.approx(tp / max(first.sum(), 1))


def test_metric_names_as_strings_and_their_defaults():
    p, t = DATA["multi_p"], DATA["multi_t"]
    names = ["precision", "recall", "auc", "true_positives", "root_mean_squared_error"]
    got = identity_model(3, "float32", names).evaluate(p, t, verbose=0, return_dict=True)
    for name, class_name in zip(
        names, ["Precision", "Recall", "AUC", "TruePositives", "RootMeanSquaredError"]
    ):
        assert got[name] == pytest.approx(DATA["multi_values"][CONFIGS.index((class_name, {}))])


def test_empty_confusion_gives_zero_as_keras():
    t = np.zeros((5, 1))
    p = np.full((5, 1), 0.1)
    got = identity_model(1, "float64", ["precision", "recall", "auc"]).evaluate(
        p, t, verbose=0, return_dict=True
    )
    assert got["precision"] == 0 and got["recall"] == 0 and got["auc"] == 0


def test_auc_from_logits_reads_the_probabilities_of_a_logits_loss():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 3))
    y = (x[:, :1] + 0.5 * rng.standard_normal((200, 1)) > 0).astype(np.float64)
    model = nncore.Sequential([nncore.Input((3,)), nncore.Dense(1)], dtype="float64", seed=0)
    model.compile(
        "sgd", losses.BinaryCrossentropy(from_logits=True), metrics=[metrics.AUC(from_logits=True)]
    )
    got = model.evaluate(x, y, verbose=0, return_dict=True)["auc"]
    logits = x @ model.get_weights()[0] + model.get_weights()[1]
    assert got == pytest.approx(keras_auc(1 / (1 + np.exp(-logits)), y), rel=1e-9)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: metrics.Precision(top_k=1), "top_k must be None"),
        (lambda: metrics.Recall(class_id=0), "class_id must be None"),
        (lambda: metrics.Precision(thresholds=[0.2, 0.5]), "one threshold per metric"),
        (lambda: metrics.TruePositives(thresholds=1.5), "thresholds must be in [0, 1]"),
        (lambda: metrics.AUC(num_thresholds=1), "num_thresholds must be >= 2"),
        (lambda: metrics.AUC(curve="PRGAIN"), "no PRGAIN curve"),
        (lambda: metrics.AUC(summation_method="trapezoidal"), "summation_method must be one of"),
        (lambda: metrics.AUC(multi_label=True), "multi_label must be False"),
        (lambda: metrics.AUC(thresholds=[0.1, 0.5]), "thresholds must be None"),
        (lambda: metrics.AUC(label_weights=[1.0]), "label_weights must be None"),
        (lambda: metrics.BinaryAccuracy(threshold=float("nan")), "finite"),
    ],
)
def test_settings_nncore_does_not_compute_are_refused(make, words):
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        make()


def test_refusals_that_depend_on_the_loss():
    model = nncore.Sequential([nncore.Input((3,)), nncore.Dense(4, activation="softmax")])
    with pytest.raises(ValueError, match="needs one target per output"):
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["auc"])
        model.evaluate(np.zeros((2, 3)), np.zeros(2), verbose=0)
    model = nncore.Sequential([nncore.Input((3,)), nncore.Dense(1)])
    with pytest.raises(ValueError, match="from_logits=True needs a"):
        model.compile("adam", "mse", metrics=[metrics.AUC(from_logits=True)])
    with pytest.raises(AttributeError, match="F1Score"):
        metrics.F1Score  # noqa: B018


def test_compiled_metrics_survive_save_and_load(tmp_path):
    p, t = DATA["multi_p"], DATA["multi_t"]
    metric_list = [
        metrics.AUC(curve="PR", num_thresholds=7, name="pr"),
        metrics.Precision(thresholds=0.3),
        metrics.BinaryAccuracy(threshold=0.7),
    ]
    model = identity_model(3, "float32", metric_list)
    before = model.evaluate(p, t, verbose=0, return_dict=True)
    model.save(tmp_path / "m.nnc")
    again = nncore.load_model(tmp_path / "m.nnc")
    assert again.evaluate(p, t, verbose=0, return_dict=True) == before
    clone = nncore.models.model_from_json(model.to_json())
    clone.set_weights(model.get_weights())
    clone.compile_from_config(model.get_compile_config())
    assert clone.evaluate(p, t, verbose=0, return_dict=True) == before
