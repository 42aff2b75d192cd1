"""EarlyStopping and History: the rules on scripted logs, then inside fit."""

import numpy as np
import pytest

import nncore
from nncore.callbacks import Callback, EarlyStopping, History
from nncore.layers import Dense


class ScriptedModel:
    """What EarlyStopping needs of a model; its 'weights' are the epoch number."""

    def __init__(self):
        self.stop_training = False
        self.epoch = -1
        self.restored = None

    def _params_snapshot(self):
        return np.array([self.epoch])

    def _restore_params(self, snapshot):
        self.restored = int(snapshot[0])


def run(callback, values, key="val_loss"):
    """Feeds one monitored value per epoch; returns (epochs run, model)."""
    model = ScriptedModel()
    callback.set_model(model)
    callback.on_train_begin({})
    epochs = 0
    for epoch, value in enumerate(values):
        model.epoch = epoch
        callback.on_epoch_end(epoch, {key: value})
        epochs += 1
        if model.stop_training:
            break
    callback.on_train_end({})
    return epochs, model


def test_patience_counts_epochs_without_improvement():
    values = [1.0, 0.5, 0.6, 0.7, 0.8, 0.1]
    assert run(EarlyStopping(patience=0), values)[0] == 3
    assert run(EarlyStopping(patience=2), values)[0] == 4
    assert run(EarlyStopping(patience=10), values)[0] == 6
    stopper = EarlyStopping(patience=1)
    run(stopper, values)
    assert stopper.stopped_epoch == 2 and stopper.best == 0.5 and stopper.best_epoch == 1


def test_min_delta_and_mode():
    # improvements smaller than min_delta do not count
    assert run(EarlyStopping(patience=1, min_delta=0.1), [1.0, 0.95, 0.92, 0.5])[0] == 2
    assert run(EarlyStopping(patience=1), [1.0, 0.95, 0.92, 0.5])[0] == 4
    # accuracies are maximized in mode "auto"; "min" can be forced
    rising = [0.5, 0.6, 0.7, 0.8]
    assert run(EarlyStopping("val_accuracy", patience=0), rising, "val_accuracy")[0] == 4
    assert run(EarlyStopping("val_acc", mode="min"), rising, "val_acc")[0] == 2
    assert run(EarlyStopping("loss", mode="max"), [1.0, 0.5], "loss")[0] == 2
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)


def test_baseline_and_start_from_epoch():
    # not better than the baseline: the first epoch already counts against patience
    flat = [1.0, 1.0, 1.0, 1.0, 1.0]
    assert run(EarlyStopping(patience=2, baseline=0.1), flat)[0] == 2
    assert run(EarlyStopping(patience=2), flat)[0] == 3
    assert run(EarlyStopping(patience=0, start_from_epoch=3), [1, 2, 3, 4, 5, 6])[0] == 5


def test_restore_best_weights():
    epochs, model = run(EarlyStopping(patience=2, restore_best_weights=True), [3, 1, 2, 2.5, 0])
    assert epochs == 4 and model.restored == 1
    # restored at the end of training even when patience is never exhausted
    epochs, model = run(EarlyStopping(patience=9, restore_best_weights=True), [3, 1, 2])
    assert epochs == 3 and model.restored == 1
    _, model = run(EarlyStopping(patience=9), [3, 1, 2])
    assert model.restored is None


def test_missing_monitor_warns():
    with pytest.warns(RuntimeWarning, match="val_loss"):
        epochs, _ = run(EarlyStopping(patience=0), [1.0, 2.0], key="loss")
    assert epochs == 2


def test_history_callback():
    history = History()
    history.on_train_begin()
    history.on_epoch_end(0, {"loss": 2.0, "val_loss": 3.0})
    history.on_epoch_end(1, {"loss": 1.0, "val_loss": 4.0})
    assert history.epoch == [0, 1]
    assert history.history == {"loss": [2.0, 1.0], "val_loss": [3.0, 4.0]}
    assert isinstance(history, Callback)


def test_early_stopping_in_fit_restores_the_best_epoch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 2))
    y = (x[:, 0] > 0).astype(float)
    x_val = rng.standard_normal((40, 2))
    y_val = (x_val[:, 0] < 0).astype(float)  # the opposite rule: val_loss gets worse
    model = nncore.Sequential([Dense(4, "tanh", input_dim=2), Dense(1, "sigmoid")], seed=0)
    model.compile(loss="binary_crossentropy", optimizer=nncore.optimizers.Adam(0.05))
    snapshots = []

    class Keep(Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.model.get_weights())

    stopper = EarlyStopping(patience=2, restore_best_weights=True)
    history = model.fit(
        x, y, epochs=50, verbose=0, validation_data=(x_val, y_val), callbacks=[Keep(), stopper]
    )
    val = history.history["val_loss"]
    assert len(val) < 50 and len(val) == stopper.stopped_epoch + 1
    best = int(np.argmin(val))
    assert stopper.best_epoch == best
    for got, want in zip(model.get_weights(), snapshots[best]):
        assert np.array_equal(got, want)
