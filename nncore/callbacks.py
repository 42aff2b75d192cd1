"""Callbacks, called by Sequential.fit, evaluate and predict, with Keras's
hooks and meaning.

fit calls, when the object has them: set_model(model) (or sets .model),
set_params(params), on_train_begin(logs), on_epoch_begin(epoch, logs),
on_epoch_end(epoch, logs) and on_train_end(logs); the validation pass calls
on_test_begin/on_test_end. Any object with an on_epoch_end(epoch, logs)
method works; setting model.stop_training = True ends fit after the current
epoch, or after the current batch when set in a batch hook.

Batch hooks (on_train_batch_begin/end, whose defaults call on_batch_begin/
end; on_test_batch_*; on_predict_batch_*) are called from inside the C batch
loop, with the running loss and metrics of the epoch in `logs` as Keras gives
them. Only callbacks that define one pay for it: without any, an epoch stays
one uninterrupted call into C.
"""

from __future__ import annotations

import collections.abc
import csv
import inspect
import math
import numbers
import os
import re
import sys
import warnings

import numpy as np

from nncore._validation import describe, real_number

__all__ = [
    "Callback",
    "History",
    "EarlyStopping",
    "ReduceLROnPlateau",
    "LearningRateScheduler",
    "TerminateOnNaN",
    "CSVLogger",
    "LambdaCallback",
    "ModelCheckpoint",
]


class Callback:
    """Base class with Keras 3's hooks, all doing nothing.

    on_train_batch_begin/end call on_batch_begin/end, as in Keras, so a
    callback written against either name sees the training batches.
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass


# Hooks of each kind of batch loop, and the base-class methods they resolve
# to when a callback does not define them (the train hooks call on_batch_*).
_BATCH_HOOKS = {
    "train": (("on_train_batch_begin", "on_batch_begin"), ("on_train_batch_end", "on_batch_end")),
    "test": (("on_test_batch_begin",), ("on_test_batch_end",)),
    "predict": (("on_predict_batch_begin",), ("on_predict_batch_end",)),
}


def _defines(callback, names) -> bool:
    """Whether the callback has one of the hooks `names` of its own (not the
    empty ones of Callback)."""
    for name in names:
        if name in getattr(callback, "__dict__", {}):
            return True  # set on the instance (LambdaCallback, ModelCheckpoint)
        method = getattr(type(callback), name, None)
        if method is not None and method is not getattr(Callback, name, None):
            return True
    return False


def batch_hooks(callbacks, kind: str, model=None, names=None):
    """(begin, end) callables for the C loop of `kind` ("train", "test",
    "predict"), each None when no callback defines that hook. begin(batch)
    and end(batch, logs) call every callback in order and, in training,
    return True when model.stop_training asks the loop to stop. names maps
    the metric names users wrote to the keys of the loop's logs."""
    begin_names, end_names = _BATCH_HOOKS[kind]
    begin_hook, end_hook = begin_names[0], end_names[0]
    starting = [c for c in callbacks if _defines(c, begin_names)]
    ending = [c for c in callbacks if _defines(c, end_names)]

    def stop_requested() -> bool:
        return kind == "train" and model is not None and bool(model.stop_training)

    def begin(batch):
        for c in starting:
            _hook(c, begin_hook, begin_names)(batch, {})
        return stop_requested()

    def end(batch, logs):
        if names is not None:
            logs = {"loss": logs["loss"], **{name: logs[key] for name, key in names.items()}}
        for c in ending:
            _hook(c, end_hook, end_names)(batch, dict(logs))
        return stop_requested()

    return (begin if starting else None), (end if ending else None)


def _hook(callback, name, fallbacks):
    """The callback's method `name`, or, for an object that is not a Callback,
    the first of the fallbacks it has (on_batch_end for on_train_batch_end)."""
    for candidate in (name, *fallbacks):
        method = getattr(callback, candidate, None)
        if method is not None:
            return method
    raise AttributeError(name)


class History(Callback):
    """What fit returns: history = {"loss": [...], "val_loss": [...], ...},
    epoch = [0, 1, ...] (epoch indices), params = {"epochs", "steps", "verbose"}."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


# Quantities that get better as they grow; every loss and error gets better as
# it shrinks. Keras's mode="auto" asks the same of the monitored name.
_MAXIMIZED = ("accuracy", "acc", "auc", "precision", "recall", "true_positives", "true_negatives")
_MINIMIZED_SUFFIXES = (
    "loss",
    "crossentropy",
    "error",
    "mse",
    "mae",
    "huber",
    "poisson",
    "false_positives",
    "false_negatives",
)


def _minimizing(monitor: str, mode: str, owner: str) -> bool:
    """Whether `monitor` improves by going down, as Keras's MonitorCallback decides."""
    if mode != "auto":
        return mode == "min"
    # "val_" is the validation twin; "_1", "_2"... tell apart metrics of one kind
    name = re.sub(r"_\d+$", "", monitor.removeprefix("val_"))
    if name in _MAXIMIZED or name.endswith("accuracy"):
        return False
    if name.endswith(_MINIMIZED_SUFFIXES):
        return True
    raise ValueError(
        f"{owner}: cannot tell whether monitor={monitor!r} should be minimized or "
        "maximized; pass mode='min' or mode='max'"
    )


def _check_mode(mode):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'; got {describe(mode)}")


def _count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0; got {describe(value)}")
    return int(value)


def _missing_monitor(owner: str, monitor: str, logs: dict, consequence: str):
    available = ", ".join(sorted(logs))
    warnings.warn(
        f"{owner}: monitor {monitor!r} is not in the logs (available: {available}); {consequence}",
        RuntimeWarning,
        stacklevel=3,
    )


class _MonitorCallback(Callback):
    """A callback watching one logged quantity: improvement is a change by
    more than min_delta in the direction `mode` says."""

    def __init__(self, monitor, mode, min_delta):
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a string; got {describe(monitor)}")
        _check_mode(mode)
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(real_number(min_delta, "min_delta"))
        self._minimize = _minimizing(monitor, mode, type(self).__name__)

    def _is_improvement(self, value, reference) -> bool:
        if reference is None:
            return True
        if self._minimize:
            return value + self.min_delta < reference
        return value - self.min_delta > reference


class EarlyStopping(_MonitorCallback):
    """Stops fit when `monitor` has not improved by more than min_delta for
    `patience` epochs. mode "min", "max" or "auto" (accuracies, AUC,
    precision and recall go up; losses and errors go down). With
    restore_best_weights, the weights of the best epoch are put back when
    training ends (a copy of the model's flat parameter buffer is kept for
    the best epoch). baseline: training stops unless the monitored value gets
    better than it within `patience` epochs. start_from_epoch: epochs to wait
    before watching at all."""

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta)
        self.patience = _count(patience, "patience")
        self.start_from_epoch = _count(start_from_epoch, "start_from_epoch")
        self.verbose = verbose
        self.baseline = None if baseline is None else real_number(baseline, "baseline")
        self.restore_best_weights = bool(restore_best_weights)
        self._reset()

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights = None
        self.best = math.inf if self._minimize else -math.inf

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            _missing_monitor("EarlyStopping", self.monitor, logs or {}, "not stopping")
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Until something is better, the first watched epoch is the best.
            self.best_weights = self.model._params_snapshot()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model._params_snapshot()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", file=sys.stdout)
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}.",
                    file=sys.stdout,
                )
            self.model._restore_params(self.best_weights)


def _learning_rate(optimizer) -> float:
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError("the model's optimizer must have a learning_rate: compile() the model")
    return float(optimizer.learning_rate)


class ReduceLROnPlateau(_MonitorCallback):
    """Multiplies the optimizer's learning rate by `factor` (down to min_lr)
    when `monitor` has not improved by more than min_delta for `patience`
    epochs, then waits `cooldown` epochs before counting again. Adds
    "learning_rate" to each epoch's logs."""

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__(monitor, mode, min_delta)
        self.factor = real_number(factor, "factor")
        if not 0.0 <= self.factor < 1.0:
            raise ValueError(f"factor must be in [0, 1) (new_lr = lr * factor); got {factor}")
        self.min_lr = real_number(min_lr, "min_lr")
        if self.min_lr < 0:
            raise ValueError(f"min_lr must be >= 0; got {min_lr}")
        self.patience = _count(patience, "patience")
        self.cooldown = _count(cooldown, "cooldown")
        self.verbose = verbose
        self._reset()

    def _reset(self):
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = {} if logs is None else logs
        optimizer = self.model.optimizer
        logs["learning_rate"] = _learning_rate(optimizer)
        current = logs.get(self.monitor)
        if current is None:
            _missing_monitor("ReduceLROnPlateau", self.monitor, logs, "learning rate unchanged")
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
            return
        if self.in_cooldown():
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        old_lr = logs["learning_rate"]
        # Keras compares with the float32 of min_lr, as its learning rate is a float32
        if old_lr > np.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            optimizer.learning_rate = new_lr
            if self.verbose > 0:
                print(
                    f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.",
                    file=sys.stdout,
                )
            self.cooldown_counter = self.cooldown
            self.wait = 0


def _positional_arity(function) -> int | None:
    """How many positional arguments `function` takes (None: any number or unknown)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = [p.kind for p in parameters]
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(kind in positional for kind in kinds)


class LearningRateScheduler(Callback):
    """At the start of each epoch sets the optimizer's learning rate to
    schedule(epoch, lr) (or schedule(epoch) for a one-argument function), the
    epoch counted from 0. Adds "learning_rate" to each epoch's logs."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"schedule must be a function of (epoch, lr); got {describe(schedule)}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        current = _learning_rate(optimizer)
        if _positional_arity(self.schedule) == 1:
            value = self.schedule(epoch)
        else:
            value = self.schedule(epoch, current)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise ValueError(f"the schedule must return a float; it returned {describe(value)}")
        value = float(value)
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"the schedule returned learning rate {value}; expected >= 0")
        optimizer.learning_rate = value
        if self.verbose > 0:
            print(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {value}.",
                file=sys.stdout,
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _learning_rate(self.model.optimizer)


class TerminateOnNaN(Callback):
    """Ends training after a batch whose loss is NaN or infinite (or, with
    raise_error=True, raises RuntimeError there)."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = bool(raise_error)

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(loss):
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                "Terminating training immediately."
            )
        print(f"Batch {batch}: Invalid loss, terminating training", file=sys.stdout)
        self.model.stop_training = True


class CSVLogger(Callback):
    """Writes one CSV row per epoch: the epoch index, then every logged
    quantity in alphabetical order (with val_ columns, "NA" until validation
    values appear, when the first epoch has none). append=True adds rows to
    an existing file, writing the header only if the file is empty."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"separator must be one character; got {describe(separator)}")
        self.sep = separator
        self.append = bool(append)
        self.keys = None
        self.writer = None
        self.csv_file = None
        self.append_header = True

    def on_train_begin(self, logs=None):
        mode = "w"
        self.append_header = True
        if self.append:
            mode = "a"
            if os.path.exists(self.filename):
                with open(self.filename, encoding="utf-8") as existing:
                    self.append_header = not existing.readline()
        self._close()
        self.csv_file = open(self.filename, mode, newline="", encoding="utf-8")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys += [f"val_{key}" for key in self.keys]
        if self.writer is None:
            self.writer = csv.writer(self.csv_file, delimiter=self.sep, lineterminator="\r\n")
            if self.append_header:
                self.writer.writerow(["epoch", *self.keys])
        self.writer.writerow([epoch, *(_csv_value(logs.get(key, "NA")) for key in self.keys)])
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        self._close()
        self.writer = None

    def _close(self):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()


def _csv_value(value):
    """Sequences as "[a, b]" (as Keras writes them); everything else as it is."""
    if isinstance(value, str):
        return value
    if isinstance(value, collections.abc.Iterable) and np.ndim(value) > 0:
        return f"[{', '.join(map(str, value))}]"
    return value


class LambdaCallback(Callback):
    """A callback made of functions: LambdaCallback(on_epoch_end=lambda epoch,
    logs: ...). Keyword arguments name hooks (on_epoch_begin, on_epoch_end,
    on_train_begin, on_train_end, on_train_batch_begin, on_train_batch_end,
    or any other hook of Callback)."""

    _HOOKS = (
        "on_epoch_begin",
        "on_epoch_end",
        "on_train_begin",
        "on_train_end",
        "on_train_batch_begin",
        "on_train_batch_end",
    )

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        given = dict(
            zip(
                self._HOOKS,
                (
                    on_epoch_begin,
                    on_epoch_end,
                    on_train_begin,
                    on_train_end,
                    on_train_batch_begin,
                    on_train_batch_end,
                ),
            )
        )
        for name, function in kwargs.items():
            if not (name.startswith("on_") and callable(getattr(Callback, name, None))):
                raise TypeError(f"LambdaCallback: {name!r} is not a callback hook")
            given[name] = function
        for name, function in given.items():
            if function is None:
                continue
            if not callable(function):
                raise TypeError(f"{name} must be a function; got {describe(function)}")
            setattr(self, name, function)


class ModelCheckpoint(_MonitorCallback):
    """Saves the model (or, with save_weights_only, its weights) at the end of
    every epoch, or every `save_freq` batches when save_freq is an integer.

    filepath may hold format fields filled from the epoch (counted from 1),
    the batch and the logs: "model-{epoch:02d}-{val_loss:.2f}.keras". It ends
    in .keras (a Keras 3 file, which needs h5py) or .nnc (nncore's own file),
    or in .weights.h5 with save_weights_only. save_best_only: save only when
    `monitor` improves on the best value so far (initial_value_threshold, if
    given, is the value to beat first).
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__(monitor, mode, 0)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, numbers.Integral)
        ):
            raise ValueError(f"save_freq must be 'epoch' or an integer; got {describe(save_freq)}")
        if save_freq != "epoch" and save_freq < 1:
            raise ValueError(f"save_freq must be >= 1 batches; got {save_freq}")
        self.save_freq = save_freq
        if self.save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError(
                "with save_weights_only=True the filepath must end in .weights.h5 (Keras's "
                f"weights format); got filepath={self.filepath!r}"
            )
        if not self.save_weights_only and not self.filepath.endswith((".keras", ".nnc")):
            raise ValueError(
                "the filepath must end in .keras (a Keras 3 model file) or .nnc (nncore's "
                f"model file); got filepath={self.filepath!r}"
            )
        self.best = (
            None
            if initial_value_threshold is None
            else real_number(initial_value_threshold, "initial_value_threshold")
        )
        self._current_epoch = 0
        self._batches_since_saving = 0
        if save_freq != "epoch":
            # Only then does fit call back from its batch loop for this callback.
            self.on_train_batch_end = self._count_batch

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _count_batch(self, batch, logs=None):
        self._batches_since_saving += 1
        if self._batches_since_saving >= self.save_freq:
            self._batches_since_saving = 0
            self._save(self._current_epoch, batch, logs or {})

    def _filepath(self, epoch, batch, logs) -> str:
        fields = {**logs, "epoch": epoch + 1}
        if batch is not None:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except (KeyError, IndexError) as exc:
            raise KeyError(
                f"ModelCheckpoint cannot fill filepath {self.filepath!r}: no {exc} in the logs "
                f"(they hold {', '.join(sorted(logs))})"
            ) from None

    def _should_save(self, epoch, logs, filepath) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}", file=sys.stdout)
            return True
        current = logs.get(self.monitor)
        if current is None:
            _missing_monitor("ModelCheckpoint", self.monitor, logs, "saving anyway")
            return True
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                    f"{current:.5f}, saving model to {filepath}",
                    file=sys.stdout,
                )
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save(self, epoch, batch, logs):
        filepath = self._filepath(epoch, batch, logs)
        if not self._should_save(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                f"ModelCheckpoint: filepath {filepath!r} is a folder; give a file name"
            )
        folder = os.path.dirname(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)
