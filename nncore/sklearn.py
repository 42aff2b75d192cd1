"""scikit-learn drop-ins: MLPClassifier and MLPRegressor.

Same parameters, defaults, fitted attributes, methods, warnings and errors as
``sklearn.neural_network``'s, and scikit-learn's arithmetic (its loss with the
1/2 and the alpha / n penalty, Glorot initialization, Adam and SGD updates,
learning-rate schedules and stopping rules), computed by nncore's C training
loop: each epoch is one call into C, and lbfgs takes the loss and gradient of
each evaluation from one C call. Swapping the import is all a user changes::

    from nncore.sklearn import MLPClassifier, MLPRegressor

Importing this module imports scikit-learn and scipy (the ``nncore-kernels[sklearn]``
extra); ``import nncore`` imports neither.
"""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.optimize
import scipy.sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from nncore import _core

__all__ = ["MLPClassifier", "MLPRegressor"]

_STOCHASTIC_SOLVERS = ("sgd", "adam")
# scikit-learn's activation names -> the C network's
_ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
# output activation -> (C activation, C loss); the C loss is scaled as scikit-learn's
_OUTPUTS = {
    "identity": ("linear", "mse"),
    "logistic": ("sigmoid", "binary_crossentropy"),
    "softmax": ("softmax", "categorical_crossentropy"),
    # the C network's output is the log of the mean (its log link); exp is
    # applied to what it predicts
    "exp": ("linear", "poisson"),
}
_DIVERGED = (
    "Solver produced non-finite parameter weights. The input data may contain large values"
    " and need to be preprocessed."
)


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: the network, both solvers,
    the stopping rules. Fitted state: coefs_ and intercepts_ (what a user may
    read or set), the optimizer's state as one flat buffer."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_ACTIVATIONS))],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
    }

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_network", None)  # compiled; rebuilt from coefs_ on demand
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------ network
    def _network_for(self, dtype):
        """The C network of coefs_' shapes, activation, out_activation_ and
        alpha: each layer's l2 is alpha / 2, scikit-learn's 0.5 * alpha *
        ||W||^2, which the sklearn scaling divides by the batch's weight sum."""
        shapes = tuple(np.shape(c) for c in self.coefs_)
        key = (shapes, self.activation, self.out_activation_, self.alpha, np.dtype(dtype))
        cached = getattr(self, "_network", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        out_act, loss = _OUTPUTS[self.out_activation_]
        layers = [
            {
                "kind": "dense",
                "n_in": n_in,
                "n_out": n_out,
                "activation": out_act if i == len(shapes) - 1 else _ACTIVATIONS[self.activation],
                "l2": self.alpha / 2,
            }
            for i, (n_in, n_out) in enumerate(shapes)
        ]
        network = _core.Network(layers, loss, dtype, scaling="sklearn")
        self._network = (key, network)
        return network

    def _output(self, network, params, X):
        """The estimator's output activations for the rows of X."""
        output = network.predict(params, X)
        if self.out_activation_ == "exp":
            np.exp(output, out=output)
        return output

    def _packed(self, network):
        """coefs_ and intercepts_ as the network's flat parameter buffer."""
        params = np.empty(network.n_params, network.dtype)
        for (offset, (n_in, n_out), bias), coef, intercept in zip(
            network.dense_slices(), self.coefs_, self.intercepts_
        ):
            params[offset : offset + n_in * n_out] = np.asarray(coef).reshape(-1)
            params[bias : bias + n_out] = intercept
        return params

    def _unpack(self, network, params):
        self.coefs_, self.intercepts_ = [], []
        for offset, (n_in, n_out), bias in network.dense_slices():
            self.coefs_.append(params[offset : offset + n_in * n_out].reshape(n_in, n_out).copy())
            self.intercepts_.append(params[bias : bias + n_out].copy())

    def _initialize(self, y, layer_units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()
        # Glorot & Bengio (2010) uniform, scikit-learn's factor (2 for the
        # logistic, 6 otherwise) and its order of draws: weights then biases
        # per layer, so a random_state gives scikit-learn's starting point.
        factor = 2.0 if self.activation == "logistic" else 6.0
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            self.coefs_.append(
                self._random_state.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype)
            )
            self.intercepts_.append(
                self._random_state.uniform(-bound, bound, fan_out).astype(dtype)
            )
        self._optimizer_state = None
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    # ---------------------------------------------------------------- fit
    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden_layer_sizes = self.hidden_layer_sizes
        if not hasattr(hidden_layer_sizes, "__iter__"):
            hidden_layer_sizes = [hidden_layer_sizes]
        hidden_layer_sizes = list(hidden_layer_sizes)
        if np.any(np.array(hidden_layer_sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden_layer_sizes}.")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(
                _check_sample_weight(sample_weight, X, dtype=X.dtype)
            )
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        self.n_outputs_ = y.shape[1]
        layer_units = [X.shape[1], *hidden_layer_sizes, self.n_outputs_]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, X.dtype)
        X = _dense_rows(X)
        y = np.ascontiguousarray(y, dtype=X.dtype)
        network = self._network_for(X.dtype)
        params = self._packed(network)
        if self.solver in _STOCHASTIC_SOLVERS:
            params = self._fit_stochastic(network, params, X, y, sample_weight, incremental)
        else:
            params = self._fit_lbfgs(network, params, X, y, sample_weight)
        self._unpack(network, params)
        if not np.isfinite(params).all():
            raise ValueError(_DIVERGED)
        return self

    def _fit_lbfgs(self, network, params, X, y, sample_weight):
        def loss_grad(theta):
            loss, grad = network.loss_grad(theta.astype(X.dtype), X, y, sample_weight)
            return loss, grad.astype(np.float64)

        options = {"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol}
        result = scipy.optimize.minimize(
            loss_grad, params.astype(np.float64), method="L-BFGS-B", jac=True, options=options
        )
        self.n_iter_ = min(result.nit, self.max_iter)
        if result.status != 0:
            message = (
                f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                f"(status={result.status}):\n{result.message}\n"
            )
            if self.n_iter_ == self.max_iter:
                message += "\nIncrease the number of iterations to improve the convergence."
            warnings.warn(message, ConvergenceWarning, stacklevel=3)
        self.loss_ = float(result.fun)
        return result.x.astype(X.dtype)

    def _fit_stochastic(self, network, params, X, y, sample_weight, incremental):
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not incremental or getattr(self, "_optimizer_state", None) is None:
            slots = _core.optimizer_state_slots(self.solver)
            self._optimizer_state = np.zeros(slots * network.n_params, X.dtype)
            self._optimizer = _Optimizer(
                kind=self.solver,
                learning_rate=float(self.learning_rate_init),
                momentum=float(self.momentum) if self.solver == "sgd" else 0.0,
                nesterov=bool(self.nesterovs_momentum and self.solver == "sgd"),
                beta_1=float(self.beta_1),
                beta_2=float(self.beta_2),
                epsilon=float(self.epsilon),
                rho=0.0,
                weight_decay=0.0,
                iterations=0,
            )
        state = self._optimizer_state.astype(X.dtype, copy=False)
        X_train, y_train, w_train = X, y, sample_weight
        X_val = y_val = w_val = None
        if self.early_stopping:
            X_train, X_val, y_train, y_val, w_train, w_val = self._validation_split(
                X, y, sample_weight
            )
        n_samples = X_train.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. It is going to be"
                    " clipped",
                    stacklevel=3,
                )
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        sample_idx = np.arange(n_samples, dtype=np.uintp)
        grads = np.empty_like(params)
        best_params = params.copy()
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                order = None
                if self.shuffle:
                    # sklearn.utils.shuffle's draw (without its input checks,
                    # which cost more than a small epoch): scikit-learn's batches
                    draw = np.arange(n_samples)
                    self._random_state.shuffle(draw)
                    sample_idx = sample_idx[draw]
                    order = sample_idx
                try:
                    epoch = network.train_epoch(
                        params, grads, state, self._optimizer.settings, X_train, y_train, w_train,
                        order, batch_size, 0, [],
                    )  # fmt: skip
                    self.loss_ = epoch["loss"]
                except FloatingPointError:
                    self.loss_ = np.nan  # the weights before the diverging batch are kept
                self.n_iter_ += 1
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                if self._update_no_improvement_count(
                    network, params, best_params, X_val, y_val, w_val
                ):
                    best_params = params.copy()
                if not np.isfinite(self.loss_):
                    if not self.early_stopping:
                        raise ValueError(_DIVERGED)
                    break  # training cannot recover from here
                if self.learning_rate == "invscaling" and self.solver == "sgd":
                    self._optimizer.learning_rate = (
                        self.learning_rate_init / (self.t_ + 1) ** self.power_t
                    )
                if self._no_improvement_count > self.n_iter_no_change:
                    if self._stop_or_slow_down():
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and"
                        " the optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=3,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=3)
        self._optimizer_state = state
        if self.early_stopping:
            return best_params
        return params

    def _validation_split(self, X, y, sample_weight):
        # stratified for single-output classification, as scikit-learn splits
        stratify = y.astype(bool) if self._is_classifier() and self.n_outputs_ == 1 else None
        arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
        parts = train_test_split(
            *arrays,
            random_state=self._random_state,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        X_train, X_val, y_train, y_val = parts[:4]
        w_train, w_val = parts[4:] if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size of"
                " your dataset."
            )
        if self._is_classifier():
            y_val = self._label_binarizer.inverse_transform(y_val)
        X_train, y_train = np.ascontiguousarray(X_train), np.ascontiguousarray(y_train)
        if w_train is not None:
            w_train = np.ascontiguousarray(w_train)
        return X_train, X_val, y_train, y_val, w_train, w_val

    def _update_no_improvement_count(self, network, params, best_params, X_val, y_val, w_val):
        """scikit-learn's stopping bookkeeping after an epoch; True when the
        current parameters are the best seen (early stopping keeps them)."""
        if not self.early_stopping:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]
            return False
        output = self._output(network, params, np.ascontiguousarray(X_val))
        if np.isfinite(self.loss_) and np.isfinite(output).all():
            score = self._score_predictions(y_val, self._decode(output), w_val)
        else:
            score = np.nan
        self.validation_scores_.append(float(score))
        if self.verbose:
            print(f"Validation score: {self.validation_scores_[-1]:f}")
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            return True
        return False

    def _stop_or_slow_down(self):
        """After n_iter_no_change epochs without progress: True to stop; the
        adaptive schedule divides the SGD learning rate by 5 instead while it
        is above 1e-6."""
        if self.early_stopping:
            message = (
                f"Validation score did not improve more than tol={self.tol:f} for"
                f" {self.n_iter_no_change} consecutive epochs."
            )
        else:
            message = (
                f"Training loss did not improve more than tol={self.tol:f} for"
                f" {self.n_iter_no_change} consecutive epochs."
            )
        if self.solver != "sgd" or self.learning_rate != "adaptive":
            if self.verbose:
                print(message + " Stopping.")
            return True
        if self._optimizer.learning_rate <= 1e-6:
            if self.verbose:
                print(message + " Learning rate too small. Stopping.")
            return True
        self._optimizer.learning_rate /= 5.0
        if self.verbose:
            print(message + f" Setting learning rate to {self._optimizer.learning_rate:f}")
        return False

    def _loss_grad_lbfgs(self, packed_coef_inter, X, y, sample_weight=None, *_scratch):
        """Loss and gradient at scikit-learn's packed parameters (all weight
        matrices, then all intercepts), under scikit-learn's private name and
        argument order (the trailing scratch lists are not needed)."""
        X = _dense_rows(np.asarray(X) if not scipy.sparse.issparse(X) else X)
        dtype = self.coefs_[0].dtype
        network = self._network_for(dtype)
        sizes = [c.size for c in self.coefs_] + [b.size for b in self.intercepts_]
        pieces = np.split(np.asarray(packed_coef_inter, dtype), np.cumsum(sizes)[:-1])
        n = len(self.coefs_)
        self.coefs_ = [p.reshape(c.shape) for p, c in zip(pieces[:n], self.coefs_)]
        self.intercepts_ = pieces[n:]
        y = np.ascontiguousarray(np.asarray(y).reshape(len(X), -1), dtype=dtype)
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(sample_weight, dtype)
        loss, grad = network.loss_grad(self._packed(network), X.astype(dtype), y, sample_weight)
        slices = network.dense_slices()
        coef_grads = [grad[o : o + a * b] for o, (a, b), _ in slices]
        intercept_grads = [grad[bias : bias + shape[1]] for _, shape, bias in slices]
        return loss, np.concatenate(coef_grads + intercept_grads)

    # ------------------------------------------------------------ predict
    def _forward(self, X, check_input=True):
        """The network's output for X (n_samples x n_outputs)."""
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        dtype = np.result_type(self.coefs_[0].dtype, np.float32)
        network = self._network_for(dtype)
        X = _dense_rows(X).astype(dtype, copy=False)
        return self._output(network, self._packed(network), X)

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is not"
                " stochastic."
            )
        return True

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : ndarray or sparse matrix of shape (n_samples, n_features)
            The input data.
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in
            regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            Returns a trained MLP model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)


class _Optimizer:
    """The C optimizer's settings (the dict Network.train_epoch takes and
    updates), with the learning rate as an attribute, as scikit-learn's
    optimizers have it."""

    def __init__(self, **settings):
        self.settings = settings

    @property
    def learning_rate(self):
        return self.settings["learning_rate"]

    @learning_rate.setter
    def learning_rate(self, value):
        self.settings["learning_rate"] = value


def _dense_rows(X):
    """X as a C-ordered dense array (the C loop reads rows; a sparse X is
    densified)."""
    if scipy.sparse.issparse(X):
        return X.toarray(order="C")
    return np.ascontiguousarray(X)


_PARAMETERS_DOC = """
    Parameters, attributes and methods are scikit-learn's
    ``sklearn.neural_network.{name}``'s (see its documentation); the
    arithmetic is scikit-learn's, computed by nncore's C training loop (one C
    call per epoch; for lbfgs one C call per loss-and-gradient evaluation).

    Differences: a sparse ``X`` is densified before training. The first
    non-finite batch loss ends training (scikit-learn trains on with non-finite
    weights): without early stopping ``fit`` raises ValueError, with it the
    best weights seen are kept. ``verbose`` prints what scikit-learn prints
    (nothing for lbfgs, as scikit-learn with scipy >= 1.15).
"""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = (
        "Multi-layer perceptron classifier: scikit-learn's, trained by nncore.\n"
        + _PARAMETERS_DOC.format(name="MLPClassifier")
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from nncore.sklearn import MLPClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=300,
    ...                                                       random_state=0))
    >>> model.fit(X, y).score(X, y) > 0.97
    True
"""
    )

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _is_classifier(self):
        return True

    def _output_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the"
                        f" previous call to fit. Previously got {self.classes_}, `y` has"
                        f" {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has"
                    f" {self.classes_}. 'y' has {classes}."
                )
        return X, self._label_binarizer.transform(y).astype(X.dtype)

    def _decode(self, output):
        if self.n_outputs_ == 1:
            output = output.ravel()
        return self._label_binarizer.inverse_transform(output)

    def _score_predictions(self, y, y_pred, sample_weight):
        return accuracy_score(y, y_pred, sample_weight=sample_weight)

    def _predict(self, X, check_input=True):
        return self._decode(self._forward(X, check_input))

    def predict(self, X):
        """Predict using the multi-layer perceptron classifier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray, shape (n_samples,) or (n_samples, n_classes)
            The predicted classes.
        """
        check_is_fitted(self)
        return self._predict(X)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with a single iteration over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        classes : array of shape (n_classes,), default=None
            Classes across all calls to partial_fit; required for the first
            call, and may be omitted in the subsequent calls.

        Returns
        -------
        self : object
            Trained MLP model.
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_log_proba(self, X):
        """Return the log of probability estimates.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            The log of predict_proba(X).
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            The probability of each class, in the order of ``classes_``.
        """
        check_is_fitted(self)
        y_pred = self._forward(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = (
        "Multi-layer perceptron regressor: scikit-learn's, trained by nncore.\n"
        + _PARAMETERS_DOC.format(name="MLPRegressor")
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from nncore.sklearn import MLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> model = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.05,
    ...                      random_state=0).fit(X, y)
    >>> model.score(X, y) > 0.5
    True
"""
    )

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    def _is_classifier(self):
        return False

    def _output_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for Poisson regression."
            )
        return X, y

    def _decode(self, output):
        return output.ravel() if output.shape[1] == 1 else output

    def _score_predictions(self, y, y_pred, sample_weight):
        return r2_score(y, y_pred, sample_weight=sample_weight)

    def _predict(self, X, check_input=True):
        return self._decode(self._forward(X, check_input))

    def predict(self, X):
        """Predict using the multi-layer perceptron model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples, n_outputs)
            The predicted values.
        """
        check_is_fitted(self)
        return self._predict(X)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, r2_score)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with a single iteration over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : ndarray of shape (n_samples,)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            Trained MLP model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
