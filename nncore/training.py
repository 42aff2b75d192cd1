"""Training and inference of a Sequential model, as Keras's Trainer holds them:
compile, fit (with its rollback and callbacks), evaluate, predict and the
*_on_batch methods. Sequential (nncore.models) holds the structure and the
weights and inherits these.

fit() validates every argument first (a refused fit leaves the model as it
was), then for each epoch makes one call to nncore._core.Network.train_epoch,
which runs the batch loop (forward pass, loss, backward pass, optimizer step,
constraints) in C with the GIL released. Python only runs between epochs
(callbacks, validation, the progress line) and, from inside the C loop, for
the batch hooks of callbacks that define them and, for the progress line and
Ctrl-C, a few times per second.
"""

from __future__ import annotations

import math
import numbers
import sys

import numpy as np

from nncore import _core, losses, names, optimizers
from nncore import metrics as metrics_module
from nncore._validation import describe, float_array, real_number
from nncore.callbacks import Callback, History, TerminateOnNaN, batch_hooks
from nncore.layers import _count
from nncore.progress import ProgressLine

__all__ = ["Trainer", "LOSSES", "METRICS"]

LOSSES = names.LOSSES
METRICS = names.METRICS

_SPARSE = "sparse_categorical_crossentropy"
# Seconds between the C loop's calls to Python when nothing is shown: the
# hook then only checks for Ctrl-C, so that fit returns within half a second.
_INTERRUPT_CHECK_SECONDS = 0.2
# The hooks fit calls; an object with none of them is not a callback.
_FIT_HOOKS = (
    "on_epoch_end",
    "on_epoch_begin",
    "on_train_begin",
    "on_train_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_batch_begin",
    "on_batch_end",
)
# Distinguishes the shuffling stream from the per-layer initialization streams.
_SHUFFLE_STREAM = 0x5348_5546


def _verbosity(verbose) -> int:
    if verbose == "auto":
        return 1
    if isinstance(verbose, numbers.Integral) and 0 <= verbose <= 2:
        return int(verbose)
    raise ValueError(f"verbose must be 'auto', 0, 1 or 2; got {describe(verbose)}")


def _check_finite(arr: np.ndarray, name: str):
    if not arr.size:
        return
    finite = _core.all_finite(arr)  # one pass in C; None: not an array it reads
    if finite is None:
        finite = bool(np.isfinite(arr).all())
    if not finite:
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = ", ".join(str(int(i)) for i in bad)
        raise ValueError(f"{name} contains NaN or infinity (first at index ({where}))")


class Trainer:
    """compile, fit, evaluate, predict and the *_on_batch methods, over the
    structure and weights a Sequential keeps (its flat parameter buffer, its
    C networks, its access guard)."""

    # -------------------------------------------------------------- compile
    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution=1,
        jit_compile="auto",
        auto_scale_loss=True,
    ) -> None:
        """Keras 3's compile: compile(optimizer, loss, metrics=...).

        optimizer: a name ("rmsprop", Keras's default, "adam", "sgd", "adamw")
        or an Optimizer. loss: a name (e.g. "mse", "binary_crossentropy") or
        an nncore.losses object; None compiles a model for predict only.
        metrics: names among "accuracy" (binary, categorical or sparse as the
        loss implies), "mse", "mae" and their long and explicit forms, or
        nncore.metrics objects. The loop runs in C, so a Python function as a
        loss or metric is refused; so are the settings it has no use for
        (loss_weights and weighted_metrics of a one-output model, run_eagerly,
        steps_per_execution other than 1). jit_compile and auto_scale_loss
        change nothing: the loop is always compiled C, in the model's dtype.
        """
        optimizer = _optimizer(optimizer)
        loss_spec = _loss_spec(loss)
        metric_specs = _metric_specs(metrics)
        _refuse_unused_compile_settings(
            loss_weights, weighted_metrics, run_eagerly, steps_per_execution
        )
        _check_logits_metrics(loss_spec, metric_specs, metrics)
        self._guard.begin_write("compile")
        try:
            same_optimizer = optimizer is self.optimizer and self._opt_state is not None
            self.loss = loss
            self._loss_spec = loss_spec
            self._c_loss = None if loss_spec is None else loss_spec.c_name
            self._net = None  # the C network carries the loss: made again when needed
            self._metric_specs = metric_specs
            self._metric_names = [name for name, _ in metric_specs]
            self._compiled_metrics = (
                list(metrics or [])
                if not isinstance(metrics, (str, metrics_module.Metric))
                else [metrics]
            )
            self.optimizer = optimizer
            if self.built and not same_optimizer:
                self._reset_optimizer_state()
        finally:
            self._guard.end_write()

    def get_compile_config(self):
        """compile's arguments as JSON data (None before compile), as Keras has it."""
        if self.optimizer is None:
            return None
        return {
            "optimizer": optimizers.serialize(self.optimizer),
            "loss": _serialize(self.loss),
            "metrics": [_serialize(metric) for metric in self._compiled_metrics],
        }

    def compile_from_config(self, config) -> None:
        """compile() with the arguments get_compile_config gave."""
        if not isinstance(config, dict):
            raise ValueError(f"the compile config must be a dict; got {describe(config)}")
        metric_list = config.get("metrics") or []
        if not isinstance(metric_list, list):
            raise ValueError(f"compile 'metrics' must be a list; got {describe(metric_list)}")
        self.compile(
            optimizer=optimizers.deserialize(config.get("optimizer")),
            loss=_deserialize(config.get("loss"), losses, losses.Loss),
            metrics=[_deserialize(m, metrics_module, metrics_module.Metric) for m in metric_list],
        )

    def _require_compiled(self, what: str):
        if self.optimizer is None:
            raise RuntimeError(f"call compile(optimizer, loss) before {what}()")
        if self._loss_spec is None:
            raise RuntimeError(
                f"{what}() needs a loss: the model was compiled without one "
                "(compile(optimizer, loss))"
            )

    def _c_metrics(self, metric_names=None) -> dict:
        """user metric name -> C metric name."""
        n_out = self._output_width()
        resolved = {}
        specs = dict(self._metric_specs)
        for name in self._metric_names if metric_names is None else metric_names:
            metric = specs[name]
            if metric == "accuracy":
                if self._c_loss == "binary_crossentropy":
                    metric = "binary_accuracy"
                elif self._c_loss == "categorical_crossentropy":
                    metric = "categorical_accuracy"
                elif self._c_loss == _SPARSE:
                    metric = "sparse_categorical_accuracy"
                else:
                    metric = "binary_accuracy" if n_out == 1 else "categorical_accuracy"
            resolved[name] = metric
        return resolved

    # ------------------------------------------------------- data checking
    def _flattened(self, x, name: str) -> np.ndarray:
        """Samples of more than one dimension as rows, for a model whose first
        layer is Flatten (a view of x when its rows are contiguous)."""
        from nncore.layers import Flatten

        if not isinstance(self._layers[0], Flatten):
            wanted = f"(samples, {self._input_dim})" if self._input_dim else "(samples, features)"
            raise ValueError(
                f"{name} must be 2-D, of shape {wanted}; got shape {x.shape}: Keras applies "
                "Dense to the last axis of such data, nncore does not (add Flatten() as the "
                "first layer to take each sample as one row of features)"
            )
        if self._sample_shape is None and not self.built:
            # the shape the model takes once this data builds it (_ensure_built)
            self._data_sample_shape = x.shape[1:]
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))

    def _features(self, X, name: str, *, allow_empty: bool = False) -> np.ndarray:
        if not self._layers:
            raise ValueError(f"model {self.name!r} has no layers yet: add() some first")
        x = float_array(X, name, allow_int=True)
        if self._sample_shape is not None and x.ndim >= 2 and x.shape[1:] != self._sample_shape:
            # as Keras, which checks each sample against the model's input shape
            raise ValueError(
                f"{name} must have samples of shape {self._sample_shape}, the model's input; "
                f"got shape {x.shape} (reshape it to {(x.shape[0], *self._sample_shape)})"
            )
        if x.ndim > 2:
            x = self._flattened(x, name)
        if x.ndim != 2:
            hint = " (reshape a single feature with X.reshape(-1, 1))" if x.ndim == 1 else ""
            raise ValueError(f"{name} must be 2-D (samples, features); got shape {x.shape}{hint}")
        if self._input_dim is not None and x.shape[1] != self._input_dim:
            raise ValueError(
                f"{name} must have {self._input_dim} features (columns), the model's input "
                f"width; got shape {x.shape}"
            )
        if x.shape[1] == 0:
            raise ValueError(f"{name} must have at least one feature; got shape {x.shape}")
        if x.shape[0] == 0 and not allow_empty:
            raise ValueError(f"{name} must have at least one sample; got shape {x.shape}")
        _check_finite(x, name)
        x = x.astype(self.dtype, copy=False)
        if x.strides[1] != x.itemsize:
            x = np.ascontiguousarray(x)
        return x

    def _targets(self, y, name: str, n: int, x_name: str) -> np.ndarray:
        n_out = self._output_width(self._input_dim)
        try:
            t = np.asarray(y)
        except Exception as exc:
            raise TypeError(f"{name} must be an array; got {describe(y)}") from exc
        if t.dtype.kind == "b":
            t = t.astype(np.float64)
        if t.dtype.kind not in "fiu":
            raise TypeError(f"{name} must hold numbers; got {describe(t)}")
        if t.ndim >= 1 and t.shape[0] != n:
            raise ValueError(
                f"{name} must have one row per sample of {x_name} ({n}); got shape {t.shape}"
            )
        if self._c_loss == _SPARSE:
            if t.ndim == 2 and t.shape[1] == 1:
                t = t[:, 0]
            if t.ndim != 1:
                raise ValueError(
                    f"{name} must hold one integer class label per sample, shape ({n},) or "
                    f"({n}, 1), for sparse_categorical_crossentropy; got shape {t.shape}"
                )
            _check_finite(t, name)
            if t.dtype.kind == "f" and not np.array_equal(t, np.round(t)):
                raise ValueError(f"{name} must hold integer class labels; got non-integers")
            if t.size and (t.min() < 0 or t.max() >= n_out):
                raise ValueError(
                    f"{name} must hold class labels in [0, {n_out}) (the model has {n_out} "
                    f"outputs); got labels from {t.min()} to {t.max()}"
                )
            return np.ascontiguousarray(t, dtype=self.dtype)
        if t.ndim == 1 and n_out == 1:
            t = t[:, np.newaxis]
        if t.ndim != 2 or t.shape[1] != n_out:
            hint = ""
            if t.ndim == 1 and self._c_loss == "categorical_crossentropy":
                hint = (
                    " (for integer class labels use loss='sparse_categorical_crossentropy', "
                    "or one-hot encode them)"
                )
            raise ValueError(
                f"{name} must have shape ({n}, {n_out}) to match the model's {n_out} outputs; "
                f"got shape {t.shape}{hint}"
            )
        _check_finite(t, name)
        if self._loss_spec is not None:
            t = self._loss_spec.smoothed(t)
        return np.ascontiguousarray(t, dtype=self.dtype)

    def _sample_weights(self, sample_weight, name: str, n: int):
        if sample_weight is None:
            return None
        w = float_array(sample_weight, name, allow_int=True)
        if w.ndim == 2 and w.shape[1] == 1:
            w = w[:, 0]
        if w.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), one weight per sample; got {w.shape}")
        _check_finite(w, name)
        if w.size and w.min() < 0:
            raise ValueError(f"{name} must be >= 0; got a minimum of {w.min()}")
        return np.ascontiguousarray(w, dtype=self.dtype)

    def _data(self, X, y, sample_weight, names=("x", "y", "sample_weight")):
        """(x, y, sample_weight) checked and converted; nothing is changed."""
        x = self._features(X, names[0])
        if self._input_dim is None:
            # Check the targets against the width this data would give the model.
            self._input_dim = x.shape[1]
            try:
                t = self._targets(y, names[1], x.shape[0], names[0])
            finally:
                self._input_dim = None
        else:
            t = self._targets(y, names[1], x.shape[0], names[0])
        w = self._sample_weights(sample_weight, names[2], x.shape[0])
        return x, t, w

    def _ensure_built(self, n_in: int):
        """Builds for inputs of width n_in if needed and checks the C network; all or nothing."""
        saved = self._build_state(), self._input_dim, self._sample_shape
        if not self.built:
            self._build(n_in)
            self._input_dim = n_in
            # samples of more than one dimension, as the data that builds it
            # has them (Flatten first): later data must have the same shape
            shape = self._data_sample_shape
            if shape is not None and math.prod(shape) == n_in:
                self._sample_shape = shape
        self._data_sample_shape = None
        try:
            self._network()
        except BaseException:
            (state, self._input_dim, self._sample_shape) = saved
            self._restore_build_state(state)
            raise

    # ------------------------------------------------------------ training
    def _snapshot_for_rollback(self):
        """(params, optimizer state, iterations) at the start of an epoch, in
        buffers kept from one epoch and one fit to the next: fresh copies would
        page-fault their whole size in every epoch (15% of the time of a
        3-million-parameter network)."""
        kept = self._rollback
        if (
            kept is None
            or kept[0].shape != self._params.shape
            or kept[1].shape != self._opt_state.shape
            or kept[0].dtype != self._params.dtype
        ):
            kept = (np.empty_like(self._params), np.empty_like(self._opt_state))
            self._rollback = kept
        np.copyto(kept[0], self._params)
        np.copyto(kept[1], self._opt_state)
        return kept[0], kept[1], self.optimizer.iterations

    def _shuffle_order(self, n: int) -> np.ndarray:
        # in C: numpy's Generator.permutation took 240 us for 32768 rows, 5%
        # of an epoch of the tiny benchmark network
        return _core.permutation(n, self.seed ^ _SHUFFLE_STREAM, self.optimizer.iterations)

    def _train_epoch(
        self, x, t, w, *, batch_size, shuffle, c_metrics, progress, interval, hooks=(None, None)
    ):
        """One call into C; keeps optimizer.iterations in step whatever happens.
        hooks: the (begin, end) batch hooks of callbacks.batch_hooks."""
        spec = self.optimizer._c_description()
        order = self._shuffle_order(x.shape[0]) if shuffle else None
        try:
            return self._network().train_epoch(
                self._params,
                self._grads,
                self._opt_state,
                spec,
                x,
                t,
                w,
                order,
                batch_size,
                self.seed,
                c_metrics,
                progress=progress,
                progress_interval=interval,
                batch_begin=hooks[0],
                batch_end=hooks[1],
            )
        finally:
            self.optimizer.iterations = int(spec["iterations"])

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ) -> History:
        """Trains for `epochs` epochs; each epoch is one call into C. Keras 3's
        arguments, in its order: fit(x, y, 32, 10) works as in Keras.

        batch_size (default 32; the last partial batch is included),
        validation_split (the LAST fraction of x, y, taken before shuffling, as
        in Keras) or validation_data=(x_val, y_val[, sample_weight_val]),
        shuffle (a permutation per epoch from the model seed), class_weight
        ({class index: weight}, each sample weighted by its class's, 1 for
        classes not given) or sample_weight (one non-negative weight per
        sample), callbacks, verbose ("auto"/1: a live progress line; 2: one
        line per epoch; 0: silent), validation_batch_size, validation_freq
        (validate every n-th epoch, or at the epochs of a list, counted from
        1). steps_per_epoch and validation_steps are for generators in Keras:
        nncore takes arrays, so they must stay None.

        Returns a History: history.history["loss"], ["val_loss"], metrics.
        Raises FloatingPointError if the loss stops being finite (the model
        keeps the weights of the last finite step) and re-raises
        KeyboardInterrupt on Ctrl-C (the model keeps the weights of the last
        completed step, ready to be fitted again). Another thread that calls
        predict, evaluate or fit on this model meanwhile gets a RuntimeError.
        """
        for value, name in (
            (steps_per_epoch, "steps_per_epoch"),
            (validation_steps, "validation_steps"),
        ):
            if value is not None:
                raise ValueError(
                    f"{name} must be None: nncore takes x and y as arrays and runs every "
                    "batch of them (slice the arrays to train on fewer)"
                )
        self._guard.begin_write("fit")
        try:
            return self._fit(
                x,
                y,
                batch_size=batch_size,
                epochs=epochs,
                verbose=verbose,
                callbacks=callbacks,
                validation_split=validation_split,
                validation_data=validation_data,
                shuffle=shuffle,
                class_weight=class_weight,
                sample_weight=sample_weight,
                initial_epoch=initial_epoch,
                validation_batch_size=validation_batch_size,
                validation_freq=validation_freq,
            )
        finally:
            self._guard.end_write()

    def _fit(
        self,
        x,
        y,
        *,
        batch_size,
        epochs,
        verbose,
        callbacks,
        validation_split,
        validation_data,
        shuffle,
        class_weight,
        sample_weight,
        initial_epoch,
        validation_batch_size,
        validation_freq,
    ) -> History:
        self._require_compiled("fit")
        # --- check everything before changing anything ---
        epochs = _count(epochs, "epochs", minimum=0)
        initial_epoch = _count(initial_epoch, "initial_epoch", minimum=0)
        batch_size = 32 if batch_size is None else _count(batch_size, "batch_size")
        if validation_batch_size is not None:
            validation_batch_size = _count(validation_batch_size, "validation_batch_size")
        validates = _validation_epochs(validation_freq)
        verbose = _verbosity(verbose)
        validation_split = real_number(validation_split, "validation_split")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1); got {validation_split}")
        X = x
        x, t, w = self._data(X, y, sample_weight)
        if class_weight is not None and sample_weight is not None:
            raise ValueError("give class_weight or sample_weight, not both (as in Keras)")
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError(
                    "validation_data must be a tuple (X_val, y_val) or (X_val, y_val, "
                    f"sample_weight_val); got {describe(validation_data)}"
                )
            saved_shapes = self._input_dim, self._sample_shape
            self._input_dim = x.shape[1]
            if self._sample_shape is None and not self.built:
                self._sample_shape = self._data_sample_shape
            try:
                validation = self._data(
                    validation_data[0],
                    validation_data[1],
                    validation_data[2] if len(validation_data) == 3 else None,
                    ("validation_data[0]", "validation_data[1]", "validation_data[2]"),
                )
            finally:
                self._input_dim, self._sample_shape = saved_shapes
        elif validation_split > 0:
            split_at = int(math.floor(x.shape[0] * (1.0 - validation_split)))
            if split_at == 0 or split_at == x.shape[0]:
                raise ValueError(
                    f"validation_split={validation_split} of {x.shape[0]} samples leaves an "
                    "empty training or validation set"
                )
            validation = (x[split_at:], t[split_at:], None if w is None else w[split_at:])
            x, t, w = x[:split_at], t[:split_at], None if w is None else w[:split_at]
        if class_weight is not None:
            # the training samples only, as Keras weighs them
            w = _class_weights(class_weight, t, self.dtype)
        callbacks = _callback_list(callbacks)
        for callback in callbacks:
            if not isinstance(callback, Callback) and not any(
                hasattr(callback, h) for h in _FIT_HOOKS
            ):
                raise TypeError(
                    f"each callback must have an on_epoch_end(epoch, logs) method or another "
                    f"of Keras's hooks; got {describe(callback)}"
                )
        # --- from here on, the model changes ---
        self._ensure_built(x.shape[1])
        c_metrics = self._c_metrics()
        unique_c_metrics = list(dict.fromkeys(c_metrics.values()))
        n_batches = -(-x.shape[0] // batch_size)
        history = History()
        self.history = history
        # History last, as in Keras: it records what the others add to the logs
        # (the learning rate of ReduceLROnPlateau and LearningRateScheduler).
        all_callbacks = [*callbacks, history]
        params = {"verbose": verbose, "epochs": epochs, "steps": n_batches}
        for callback in all_callbacks:
            if hasattr(callback, "set_params"):
                callback.set_params(params)
            if hasattr(callback, "set_model"):
                callback.set_model(self)
            else:
                callback.model = self
        self.stop_training = False
        hooks = batch_hooks(all_callbacks, "train", self, c_metrics)
        _call(all_callbacks, "on_train_begin", {})
        logs = {}
        for epoch in range(initial_epoch, epochs):
            _call(all_callbacks, "on_epoch_begin", epoch, {})
            line = None
            if verbose:
                line = ProgressLine(epoch, epochs, n_batches, live=None if verbose == 1 else False)
            progress = None
            interval = _INTERRUPT_CHECK_SECONDS
            if verbose == 1:
                interval = line.interval

                def progress(batches_done, samples_done, loss, line=line):
                    line.update(batches_done, loss)
                    return False

            before = self._snapshot_for_rollback()
            try:
                result = self._train_epoch(
                    x,
                    t,
                    w,
                    batch_size=batch_size,
                    shuffle=shuffle,
                    c_metrics=unique_c_metrics,
                    progress=progress,
                    interval=interval,
                    hooks=hooks,
                )
            except FloatingPointError as exc:
                if line is not None and line.live:
                    sys.stdout.write("\n")
                if not np.isfinite(self._params).all():
                    # A finite batch loss led to non-finite weights: go back to
                    # the start of the epoch, the last state known to be finite.
                    self._params[...], self._opt_state[...] = before[0], before[1]
                    self.optimizer.iterations = before[2]
                if _terminated_on_nan(self, callbacks, exc):
                    break
                raise FloatingPointError(
                    f"fit stopped in epoch {epoch + 1}: the loss is no longer finite ({exc}). "
                    "The model keeps the weights of its last finite step; a smaller "
                    "learning_rate or scaled inputs usually help."
                ) from exc
            except KeyboardInterrupt:
                if line is not None and line.live:
                    sys.stdout.write("\n")
                    sys.stdout.flush()
                raise
            logs = {"loss": float(result["loss"])}
            for name, c_name in c_metrics.items():
                logs[name] = float(result["metrics"][c_name])
            if validation is not None and validates(epoch + 1):
                val_logs = self._scores(
                    *validation, c_metrics, validation_batch_size or batch_size, all_callbacks
                )
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            if line is not None:
                line.finish(result["batches"], logs)
            _call(all_callbacks, "on_epoch_end", epoch, logs)
            if self.stop_training:
                break
        _call(all_callbacks, "on_train_end", logs)
        return history

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on (x, y) as one batch; returns that batch's loss
        (computed before the step, as in fit), or [loss, *metrics], or a dict
        with return_dict=True, as Keras does. Stepping through the data batch
        by batch gives the same weights as fit(shuffle=False) with that
        batch_size."""
        self._require_compiled("train_on_batch")
        if class_weight is not None and sample_weight is not None:
            raise ValueError("give class_weight or sample_weight, not both (as in Keras)")
        x, t, w = self._data(x, y, sample_weight)
        if class_weight is not None:
            w = _class_weights(class_weight, t, self.dtype)
        c_metrics = self._c_metrics()
        self._guard.begin_write("train_on_batch")
        try:
            self._ensure_built(x.shape[1])
            result = self._train_epoch(
                x,
                t,
                w,
                batch_size=x.shape[0],
                shuffle=False,
                c_metrics=list(dict.fromkeys(c_metrics.values())),
                progress=None,
                interval=_INTERRUPT_CHECK_SECONDS,
            )
        finally:
            self._guard.end_write()
        scores = {"loss": float(result["loss"])}
        scores.update({name: float(result["metrics"][c]) for name, c in c_metrics.items()})
        return self._scores_result(scores, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """evaluate() on (x, y) as one batch: the loss, or [loss, *metrics], or a dict."""
        return self.evaluate(
            x, y, batch_size=_batch_of(x), verbose=0, sample_weight=sample_weight,
            return_dict=return_dict,
        )  # fmt: skip

    def predict_on_batch(self, x) -> np.ndarray:
        """predict() on x as one batch."""
        return self.predict(x, batch_size=_batch_of(x), verbose=0)

    def _scores_result(self, scores: dict, return_dict: bool):
        """What evaluate and *_on_batch return, as Keras does."""
        if return_dict:
            return scores
        if not self._metric_names:
            return scores["loss"]
        return list(scores.values())

    # ----------------------------------------------------------- inference
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The network's outputs (probabilities for sigmoid/softmax outputs; the
        logits when compiled with a from_logits loss), shape (n, units of the
        last layer), in the model dtype. Dropout is off. The prediction is one
        C call: there is no progress to show, whatever verbose says. steps is
        for generators in Keras and must stay None.

        callbacks: their on_predict_begin/end and on_predict_batch_begin/end
        (logs {"outputs": the batch's outputs}) are called as Keras does; the
        batches then run one C call each. Safe to call from several threads at
        once."""
        X = x
        net = None if self._outputs_logits() else self._net
        if (
            net is not None
            and batch_size is None
            and (verbose == "auto" or verbose == 0)
            and steps is None
            and callbacks is None
            and type(X) is np.ndarray
            and self._sample_shape is None  # C would take rows of samples of another shape
        ):
            # The common case, checked in C (shape, dtype, layout, finiteness) so that
            # one row costs little more than the call; anything unusual, including
            # bad input, takes the full path below, which explains what is wrong.
            try:
                return net.predict(self._params, X, None, True, self._guard)
            except ValueError:
                pass
        if steps is not None:
            raise ValueError("steps must be None: nncore predicts every sample of x")
        if batch_size is not None:
            batch_size = _count(batch_size, "batch_size")
        _verbosity(verbose)
        callbacks = _callback_list(callbacks)
        x = self._features(X, "x", allow_empty=True)
        with self._guard.read("predict"):
            self._ensure_built(x.shape[1])
            if x.shape[0] == 0:
                return np.empty((0, self._output_width()), dtype=self.dtype)
            net = self._predict_network()
            begin, end = batch_hooks(callbacks, "predict")
            if begin is None and end is None:
                _call(callbacks, "on_predict_begin", {})
                out = net.predict(self._params, x, batch_size)
                _call(callbacks, "on_predict_end", {})
                return out
            step = batch_size or 32
            parts = []
            _call(callbacks, "on_predict_begin", {})
            for index, start in enumerate(range(0, x.shape[0], step)):
                if begin is not None:
                    begin(index)
                parts.append(net.predict(self._params, x[start : start + step], step))
                if end is not None:
                    end(index, {"outputs": parts[-1]})
            _call(callbacks, "on_predict_end", {})
            return np.concatenate(parts)

    def __call__(self, x, training=False):
        """model(x): the outputs, as predict(x) gives them. training=True (dropout
        on) is refused: nncore applies dropout inside its C training loop only."""
        if training:
            raise ValueError(
                "model(x, training=True) is not supported: dropout runs inside fit's C "
                "training loop only; model(x) and predict(x) run the network as in inference"
            )
        return self.predict(x, verbose=0)

    def _scores(self, x, t, w, c_metrics, batch_size, callbacks=()) -> dict:
        """Loss and metrics in one C evaluation pass (forward only), calling the
        callbacks' on_test_* hooks."""
        names = list(dict.fromkeys(c_metrics.values()))
        begin, end = batch_hooks(callbacks, "test", names=c_metrics)
        _call(callbacks, "on_test_begin", {})
        result = self._network().evaluate(
            self._params, x, t, w, batch_size, names, begin, end, self._guard
        )
        scores = {"loss": float(result["loss"])}
        scores.update({name: float(result["metrics"][c]) for name, c in c_metrics.items()})
        _call(callbacks, "on_test_end", dict(scores))
        return scores

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
    ):
        """The loss (with the l2 penalties, weighted by sample_weight) and the compiled
        metrics (unweighted, as Keras's `metrics`) on (X, y), dropout off, in one C
        pass with no backward pass. Returns the loss alone when no metrics were
        compiled, else [loss, *metrics] (or a dict with return_dict=True).
        callbacks: their on_test_* hooks are called as Keras does. verbose
        ("auto" or 1) prints the scores. steps is for generators in Keras and
        must stay None."""
        self._require_compiled("evaluate")
        if steps is not None:
            raise ValueError("steps must be None: nncore evaluates every sample of x")
        if batch_size is not None:
            batch_size = _count(batch_size, "batch_size")
        verbose = _verbosity(verbose)
        callbacks = _callback_list(callbacks)
        x, t, w = self._data(x, y, sample_weight)
        self._ensure_built(x.shape[1])
        scores = self._scores(x, t, w, self._c_metrics(), batch_size, callbacks)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in scores.items()), file=sys.stdout)
        return self._scores_result(scores, return_dict)


def _serialize(value):
    """A loss or metric as compile took it: its name, or its class and config."""
    if value is None or isinstance(value, str):
        return value
    return {"class_name": type(value).__name__, "config": value.get_config()}


def _deserialize(spec, module, base):
    if spec is None or isinstance(spec, str):
        return spec
    if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
        raise ValueError(f"unknown loss or metric description {describe(spec)}")
    cls = (
        getattr(module, str(spec.get("class_name")), None)
        if spec.get("class_name") in module.__all__
        else None
    )
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f"unknown loss or metric class {spec.get('class_name')!r}")
    return cls(**spec["config"])


# The C loss of each loss name -> the nncore.losses class compile makes for it.
_LOSS_OBJECTS = {
    cls.c_name: cls
    for cls in (getattr(losses, name) for name in losses.__all__)
    if isinstance(cls, type) and issubclass(cls, losses.Loss) and cls.c_name
}
if set(_LOSS_OBJECTS) != set(names.C_LOSSES):
    raise RuntimeError(
        f"internal error: nncore.losses has classes for {sorted(_LOSS_OBJECTS)}; the C code "
        f"runs {sorted(names.C_LOSSES)}"
    )
_ORDER_HINT = "the order is compile(optimizer, loss), as in Keras"


def _optimizer(optimizer) -> optimizers.Optimizer:
    try:
        return optimizers.get(optimizer)
    except ValueError as exc:
        if isinstance(optimizer, (str, losses.Loss)) and (
            isinstance(optimizer, losses.Loss) or optimizer in LOSSES
        ):
            raise ValueError(f"{exc} (looks like a loss: {_ORDER_HINT})") from None
        raise


def _loss_spec(loss):
    """The nncore.losses object for compile's loss (None for none)."""
    if loss is None or isinstance(loss, losses.Loss):
        return loss
    if isinstance(loss, str) and loss in LOSSES:
        return _LOSS_OBJECTS[LOSSES[loss]]()
    names = ", ".join(repr(n) for n in LOSSES)
    hint = ""
    if isinstance(loss, optimizers.Optimizer) or (
        isinstance(loss, str) and loss.lower() in optimizers._BY_NAME
    ):
        hint = f" (looks like an optimizer: {_ORDER_HINT})"
    elif callable(loss):
        hint = (
            " (nncore computes the loss inside its C training loop, so a Python function "
            "cannot be the loss: use a name or an nncore.losses object)"
        )
    raise ValueError(f"loss must be one of {names} or an nncore.losses object; got "
                     f"{describe(loss)}{hint}")  # fmt: skip


def _metric_specs(metric_list) -> list:
    """[(name in the logs, C metric or "accuracy")] for compile's metrics."""
    if metric_list is None:
        return []
    if isinstance(metric_list, (str, metrics_module.Metric)):
        metric_list = [metric_list]
    if not isinstance(metric_list, (list, tuple)):
        raise TypeError(f"metrics must be a list of names; got {describe(metric_list)}")
    specs = []
    for metric in metric_list:
        if isinstance(metric, metrics_module.Metric):
            specs.append((metric.name, metric.c_metric))
        elif isinstance(metric, str) and metric in METRICS:
            specs.append((metric, METRICS[metric]))
        else:
            names = ", ".join(repr(n) for n in METRICS)
            hint = (
                " (the metrics are computed inside the C training loop, so a Python "
                "function cannot be one)"
                if callable(metric)
                else ""
            )
            raise ValueError(
                f"metrics must be among {names} or nncore.metrics objects; got "
                f"{describe(metric)}{hint}"
            )
    names = [name for name, _ in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"metrics has duplicates: {names}")
    return specs


def _refuse_unused_compile_settings(loss_weights, weighted_metrics, run_eagerly, steps):
    if loss_weights is not None:
        raise ValueError(
            "loss_weights must be None: a Sequential model has one output and one loss "
            "(scale the loss with sample_weight in fit if needed)"
        )
    if weighted_metrics:
        raise ValueError(
            "weighted_metrics is not supported: nncore's metrics are unweighted, as Keras's "
            "`metrics` (the loss is weighted by sample_weight)"
        )
    if run_eagerly:
        raise ValueError("run_eagerly=True is not possible: nncore's training loop is C")
    if steps != 1:
        raise ValueError(
            f"steps_per_execution must be 1; got {describe(steps)} (each epoch already runs "
            "in one C call)"
        )


def _check_logits_metrics(loss_spec, metric_specs, metric_list):
    """Refuses the metrics that would not mean what they mean in Keras with a
    from_logits or label_smoothing loss (the C loop computes metrics on the
    probabilities and the targets the loss sees). An AUC(from_logits=True)
    reads the probabilities of a from_logits loss: the sigmoid Keras's AUC
    applies to the logits."""
    if isinstance(metric_list, metrics_module.Metric):
        metric_list = [metric_list]
    from_logits = {m.name for m in metric_list or [] if getattr(m, "from_logits", False) is True}
    logits_loss = loss_spec is not None and loss_spec.from_logits
    for name in from_logits:
        if not (logits_loss and loss_spec.c_name == "binary_crossentropy"):
            raise ValueError(
                f"metric {name!r} with from_logits=True needs a "
                "BinaryCrossentropy(from_logits=True) loss: nncore's network turns those "
                "logits into the probabilities the metric reads"
            )
    if loss_spec is None or not (loss_spec.from_logits or loss_spec.label_smoothing):
        return
    setting = "from_logits=True" if loss_spec.from_logits else "label_smoothing"
    for name, metric in metric_specs:
        if metric == "accuracy" and loss_spec.c_name != "binary_crossentropy":
            continue
        if metric in ("categorical_accuracy", "sparse_categorical_accuracy"):
            continue
        if name in from_logits and not loss_spec.label_smoothing:
            continue
        raise ValueError(
            f"metric {name!r} with a {setting} loss is not supported: the C loop would "
            "compute it on the probabilities and targets the loss sees, Keras on the raw "
            "outputs and targets. Use a sigmoid/softmax last layer and a loss without "
            f"{setting}, or compute {name!r} after fit from model.predict(x)"
        )


def _with_output_activation(descriptions, activation) -> list:
    """The layer descriptions with `activation` on the (linear) last layer."""
    last = descriptions[-1]
    if last.get("activation") != "linear":
        raise ValueError(
            "a from_logits=True loss takes the logits of a linear last layer; the last "
            f"layer's activation is {last.get('activation', last['kind'])!r} (use "
            "from_logits=False with a sigmoid/softmax last layer: nncore then computes "
            "the cross-entropy from its logits)"
        )
    return [*descriptions[:-1], {**last, "activation": activation}]


def _validation_epochs(validation_freq):
    """A function telling whether fit validates after epoch n (counted from 1)."""
    if isinstance(validation_freq, numbers.Integral) and not isinstance(validation_freq, bool):
        frequency = _count(validation_freq, "validation_freq")
        return lambda epoch: epoch % frequency == 0
    if isinstance(validation_freq, (list, tuple, set, range)) and all(
        isinstance(e, numbers.Integral) and not isinstance(e, bool) for e in validation_freq
    ):
        epochs = set(validation_freq)
        return lambda epoch: epoch in epochs
    raise ValueError(
        f"validation_freq must be an integer or a list of epochs; got {describe(validation_freq)}"
    )


def _class_weights(class_weight, t: np.ndarray, dtype) -> np.ndarray:
    """One weight per sample: that of its class (argmax of a one-hot row, the
    rounded value of a single column), 1 for classes class_weight leaves out."""
    if not isinstance(class_weight, dict):
        raise TypeError(
            f"class_weight must be a dict {{class index: weight}}; got {describe(class_weight)}"
        )
    table = {}
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral) or key < 0:
            raise ValueError(f"class_weight keys must be class indices >= 0; got {key!r}")
        value = real_number(value, f"class_weight[{key}]")
        if value < 0:
            raise ValueError(f"class_weight[{key}] must be >= 0; got {value}")
        table[int(key)] = value
    if t.ndim == 2 and t.shape[1] > 1:
        classes = t.argmax(axis=1)
    else:
        classes = np.round(t.reshape(t.shape[0])).astype(np.int64)
    lookup = np.ones(max([*table, int(classes.max(initial=0))]) + 1)
    for key, value in table.items():
        lookup[key] = value
    return np.ascontiguousarray(lookup[classes], dtype=dtype)


def _terminated_on_nan(model, callbacks, error) -> bool:
    """Gives the non-finite loss to the TerminateOnNaN callbacks, as Keras's
    batch logs would; True when one of them ended training."""
    watchers = [c for c in callbacks if isinstance(c, TerminateOnNaN)]
    for watcher in watchers:
        watcher.on_batch_end(getattr(error, "batch", 0), {"loss": getattr(error, "loss", math.nan)})
    return bool(watchers) and model.stop_training


def _batch_of(x) -> int:
    """The number of samples of x (at least 1), the batch size of *_on_batch."""
    return max(1, int(np.shape(x)[0])) if np.ndim(x) else 1


def _callback_list(callbacks) -> list:
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list; got {describe(callbacks)}")
    return list(callbacks)


def _call(callbacks, hook: str, *args):
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(*args)
