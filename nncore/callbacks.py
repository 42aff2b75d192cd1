"""Callbacks, called by Sequential.fit between epochs (never per batch: the
batch loop runs in C).

fit calls, when the object has them: set_model(model) (or sets .model),
on_train_begin(logs), on_epoch_begin(epoch, logs), on_epoch_end(epoch, logs)
and on_train_end(logs). Any object with an on_epoch_end(epoch, logs) method
works; setting model.stop_training = True ends fit after the current epoch.
"""

from __future__ import annotations

import math
import numbers
import sys
import warnings

from nncore._validation import describe, real_number

__all__ = ["Callback", "History", "EarlyStopping"]


class Callback:
    """Base class with empty hooks."""

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


class EarlyStopping(Callback):
    """Stops fit when `monitor` has not improved by more than min_delta for
    `patience` epochs. mode "min", "max" or "auto" (max for accuracies, min
    otherwise). With restore_best_weights, the weights of the best epoch are
    put back when training ends (a copy of the model's flat parameter buffer
    is kept for the best epoch). baseline: training stops unless the
    monitored value gets better than it within `patience` epochs.
    start_from_epoch: epochs to wait before watching at all."""

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
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a string; got {describe(monitor)}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max'; got {describe(mode)}")
        for value, name in ((patience, "patience"), (start_from_epoch, "start_from_epoch")):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0; got {describe(value)}")
        self.monitor = monitor
        self.min_delta = abs(real_number(min_delta, "min_delta"))
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = mode
        self.baseline = None if baseline is None else real_number(baseline, "baseline")
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self._reset()

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights = None
        self.best = math.inf if self._minimizing() else -math.inf

    def _minimizing(self) -> bool:
        if self.mode != "auto":
            return self.mode == "min"
        name = self.monitor.removeprefix("val_")
        return not (name in ("acc", "accuracy", "auc") or name.endswith("accuracy"))

    def _is_improvement(self, value, reference) -> bool:
        if self._minimizing():
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            available = ", ".join(sorted(logs or {}))
            warnings.warn(
                f"EarlyStopping: monitor {self.monitor!r} is not in the logs "
                f"(available: {available}); not stopping",
                RuntimeWarning,
                stacklevel=2,
            )
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
