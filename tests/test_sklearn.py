"""nncore.sklearn against scikit-learn itself: its estimator checks, and the
same fitted model as sklearn.neural_network's given the same random_state."""

import doctest
import inspect
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("scipy")

import scipy.sparse  # noqa: E402
import sklearn.neural_network as reference  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits, make_multilabel_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from nncore.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X)[:600], y[:600]


def fitted_pair(name, X, y, sample_weight=None, **params):
    models = []
    for module in (reference, sys.modules[MLPClassifier.__module__]):
        model = getattr(module, name)(random_state=0, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            models.append(model.fit(X, y, sample_weight=sample_weight))
    return models


def assert_same_model(theirs, ours, rtol=1e-9, atol=1e-11):
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    for name in ("coefs_", "intercepts_"):
        for a, b in zip(getattr(theirs, name), getattr(ours, name)):
            assert b.dtype == a.dtype
            np.testing.assert_allclose(b, a, rtol=rtol, atol=atol)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-9)
    for name in ("loss_curve_", "validation_scores_"):
        if getattr(theirs, name, None) is not None:
            np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-9)


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "adam", "max_iter": 6},
        {"solver": "sgd", "max_iter": 6, "momentum": 0.5, "nesterovs_momentum": False},
        {"solver": "sgd", "max_iter": 6, "learning_rate": "invscaling", "batch_size": 64},
        {"solver": "sgd", "max_iter": 25, "learning_rate": "adaptive", "n_iter_no_change": 2,
         "tol": 0.5, "learning_rate_init": 0.01},
        {"solver": "adam", "max_iter": 8, "early_stopping": True, "validation_fraction": 0.2},
        {"solver": "lbfgs", "max_iter": 15, "activation": "tanh", "alpha": 0.01},
        {"solver": "adam", "max_iter": 4, "activation": "logistic", "shuffle": False},
    ],
)  # fmt: skip
def test_classifier_fits_scikit_learns_model(digits, params):
    X, y = digits
    theirs, ours = fitted_pair("MLPClassifier", X, y, hidden_layer_sizes=(20, 10), **params)
    # lbfgs' line searches amplify last-bit differences of the sums a little
    tolerance = {"rtol": 1e-6, "atol": 1e-8} if params["solver"] == "lbfgs" else {}
    assert_same_model(theirs, ours, **tolerance)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)
    for name in ("best_loss_", "best_validation_score_"):
        assert getattr(ours, name, None) == pytest.approx(getattr(theirs, name, None))


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_weighted_multi_output_regression_is_scikit_learns(solver):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 6))
    y = np.column_stack([X[:, 0] * X[:, 1], np.sin(X[:, 2]), X[:, 3]])
    weights = rng.uniform(0.1, 2.0, len(X))
    theirs, ours = fitted_pair(
        "MLPRegressor", X, y, weights, solver=solver, hidden_layer_sizes=(12,), max_iter=10,
        alpha=0.1,
    )  # fmt: skip
    assert_same_model(theirs, ours, **({"rtol": 1e-6, "atol": 1e-8} if solver == "lbfgs" else {}))
    assert ours.predict(X).shape == (150, 3)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_poisson_regression_is_scikit_learns(solver):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 4))
    y = np.column_stack([rng.poisson(np.exp(0.5 * X[:, 0])), rng.poisson(np.exp(X[:, 1] / 3))])
    theirs, ours = fitted_pair(
        "MLPRegressor", X, y, loss="poisson", solver=solver, hidden_layer_sizes=(8,), max_iter=12
    )
    assert ours.out_activation_ == "exp"
    assert_same_model(theirs, ours, **({"rtol": 1e-6, "atol": 1e-8} if solver == "lbfgs" else {}))
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-6)
    with pytest.raises(ValueError, match="negative"):
        MLPRegressor(loss="poisson").fit(X, -y)


def test_multilabel_sparse_float32_and_string_labels():
    X, Y = make_multilabel_classification(n_samples=120, n_classes=4, random_state=0)
    X = X.astype(np.float32)
    theirs, ours = fitted_pair("MLPClassifier", X, Y, hidden_layer_sizes=(16,), max_iter=5)
    assert ours.out_activation_ == "logistic" and ours.n_outputs_ == 4
    assert ours.coefs_[0].dtype == np.float32
    assert ours.predict_proba(X).dtype == np.float32
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(ours.predict(scipy.sparse.csr_matrix(X)), ours.predict(X))
    labels = np.array(["cat", "dog", "emu"])[Y[:, :3].argmax(axis=1)]
    model = MLPClassifier((8,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(scipy.sparse.csr_matrix(X), labels)
    assert set(model.predict(X)) <= {"cat", "dog", "emu"}
    assert list(model.classes_) == ["cat", "dog", "emu"]


def test_partial_fit_streams_chunks_like_scikit_learn(digits):
    X, y = digits
    classes = np.unique(y)
    models = [
        estimator((24,), learning_rate_init=0.01, random_state=0)
        for estimator in (reference.MLPClassifier, MLPClassifier)
    ]
    for _ in range(5):
        for start in range(0, len(X), 150):
            for model in models:
                model.partial_fit(X[start : start + 150], y[start : start + 150], classes=classes)
    assert_same_model(*models)
    assert models[1].score(X, y) > 0.9
    with pytest.raises(AttributeError, match="partial_fit"):
        MLPClassifier(solver="lbfgs").partial_fit(X, y, classes=classes)


def test_verbose_prints_what_scikit_learn_prints(digits, capsys):
    X, y = digits
    fitted_pair("MLPClassifier", X, y, solver="sgd", max_iter=3, verbose=True,
                early_stopping=True, hidden_layer_sizes=(8,))  # fmt: skip
    theirs, ours = capsys.readouterr().out.split("Iteration 1,")[1:]
    assert ours == theirs


def test_convergence_warning_and_errors_are_scikit_learns(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier((4,), max_iter=2).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'solver' parameter"):
        MLPClassifier(solver="newton").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'loss' parameter"):
        MLPRegressor(loss="huber").fit(X, y)
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            MLPRegressor().fit(np.full((10, 2), 1e308), np.arange(10.0))


def test_pickle_clone_pipeline_and_parallel_grid_search(digits):
    X, y = digits
    model = MLPClassifier((16,), learning_rate_init=0.01, max_iter=100, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
        restored = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
        assert not hasattr(clone(model), "coefs_")
        pipeline = make_pipeline(
            StandardScaler(),
            MLPClassifier((16,), learning_rate_init=0.01, max_iter=100, random_state=0),
        )
        assert cross_val_score(pipeline, X, y, cv=3).mean() > 0.8
        search = GridSearchCV(
            MLPClassifier(learning_rate_init=0.01, max_iter=50, random_state=0),
            {"hidden_layer_sizes": [(8,), (16,)]},
            cv=2,
            n_jobs=2,
        ).fit(X, y)
    assert search.best_score_ > 0.8


@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
def test_signature_is_scikit_learns(name):
    ours = getattr(sys.modules[MLPClassifier.__module__], name)
    assert inspect.signature(ours) == inspect.signature(getattr(reference, name))


def test_docstring_examples_run():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = doctest.testmod(sys.modules[MLPClassifier.__module__])
    assert result.attempted >= 8 and result.failed == 0


def test_import_nncore_does_not_import_scikit_learn(tmp_path):
    code = "import sys, nncore; print('sklearn' in sys.modules or 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.strip() == "False", out.stderr
