"""Callbacks: the rules on scripted logs, then inside fit.

The expected figures are Keras 3's: the scripted sequences below were run
through keras.callbacks (Keras 3.15) and give the same learning rates, files
and stops.
"""

import math

import numpy as np
import pytest

import nncore
from nncore.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
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
    assert run(EarlyStopping("val_auc_1", patience=0), rising, "val_auc_1")[0] == 4
    errors = EarlyStopping("val_mean_squared_error", patience=0)
    assert run(errors, rising, "val_mean_squared_error")[0] == 2
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")
    # as Keras: a name whose direction is unknown needs an explicit mode
    with pytest.raises(ValueError, match="mode='min' or mode='max'"):
        EarlyStopping("val_something")
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


class Optimizer:
    def __init__(self, learning_rate):
        self.learning_rate = learning_rate


class OptimizedModel:
    def __init__(self, learning_rate=0.1):
        self.optimizer = Optimizer(learning_rate)
        self.stop_training = False


PLATEAU = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.85, 0.85, 0.85, 0.85, 0.85, 0.84999]


def plateau_rates(capsys=None, **kwargs):
    """The learning rate after each epoch of PLATEAU's val_loss."""
    callback = ReduceLROnPlateau(**kwargs)
    model = OptimizedModel(0.1)
    callback.set_model(model)
    callback.on_train_begin({})
    rates = []
    for epoch, value in enumerate(PLATEAU):
        logs = {"val_loss": value}
        callback.on_epoch_end(epoch, logs)
        assert logs["learning_rate"] == pytest.approx(rates[-1] if rates else 0.1)
        rates.append(model.optimizer.learning_rate)
    return rates


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (
            {"patience": 2, "factor": 0.5},
            [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125, 0.00625, 0.00625],
        ),
        (
            {"patience": 1, "factor": 0.5, "cooldown": 2},
            [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125, 0.00625, 0.00625, 0.003125],
        ),
        ({"patience": 0, "factor": 0.1, "min_lr": 0.02}, [0.1, 0.1] + [0.02] * 10),
        # improvements smaller than min_delta (here 0.06) do not count
        (
            {"patience": 1, "factor": 0.5, "min_delta": 0.06},
            [0.1, 0.1] + [0.1 / 2**k for k in range(1, 11)],
        ),
    ],
)
def test_reduce_lr_on_plateau_as_keras(kwargs, expected):
    assert plateau_rates(**kwargs) == pytest.approx(expected, rel=1e-12)


def test_reduce_lr_on_plateau_defaults_and_checks():
    callback = ReduceLROnPlateau()
    assert (callback.monitor, callback.factor, callback.patience, callback.min_delta) == (
        "val_loss",
        0.1,
        10,
        1e-4,
    )
    assert (callback.cooldown, callback.min_lr, callback.mode) == (0, 0.0, "auto")
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="patience"):
        ReduceLROnPlateau(patience=-1)
    callback.set_model(OptimizedModel())
    with pytest.warns(RuntimeWarning, match="val_loss"):
        callback.on_epoch_end(0, {"loss": 1.0})


def scheduled_rates(schedule, epochs=4):
    callback = LearningRateScheduler(schedule)
    model = OptimizedModel(0.1)
    callback.set_model(model)
    rates = []
    for epoch in range(epochs):
        callback.on_epoch_begin(epoch, {})
        logs = {"loss": 1.0}
        callback.on_epoch_end(epoch, logs)
        rates.append(logs["learning_rate"])
    return rates


def test_learning_rate_scheduler_as_keras():
    assert scheduled_rates(lambda epoch, lr: lr * 0.5 if epoch >= 1 else lr) == [
        0.1,
        0.05,
        0.025,
        0.0125,
    ]
    assert scheduled_rates(lambda epoch: 0.01 * (epoch + 1)) == pytest.approx(
        [0.01, 0.02, 0.03, 0.04]
    )
    with pytest.raises(ValueError, match="float"):
        scheduled_rates(lambda epoch, lr: "fast")
    with pytest.raises(ValueError, match=">= 0"):
        scheduled_rates(lambda epoch, lr: -1.0)
    with pytest.raises(TypeError, match="schedule"):
        LearningRateScheduler(0.1)


def test_terminate_on_nan(capsys):
    callback = TerminateOnNaN()
    model = OptimizedModel()
    callback.set_model(model)
    callback.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    callback.on_train_batch_end(1, {"loss": math.inf})
    assert model.stop_training
    assert capsys.readouterr().out == "Batch 1: Invalid loss, terminating training\n"
    strict = TerminateOnNaN(raise_error=True)
    strict.set_model(OptimizedModel())
    with pytest.raises(RuntimeError, match="batch 3"):
        strict.on_batch_end(3, {"loss": math.nan})


def log_csv(path, epochs, **kwargs):
    callback = CSVLogger(path, **kwargs)
    callback.on_train_begin({})
    for epoch, logs in enumerate(epochs):
        callback.on_epoch_end(epoch, dict(logs))
    callback.on_train_end({})
    return path.read_bytes()


def test_csv_logger_as_keras(tmp_path):
    path = tmp_path / "log.csv"
    epochs = [{"loss": 0.5, "accuracy": 0.25}, {"loss": 0.125, "accuracy": 1 / 3}]
    first = (
        b"epoch;accuracy;loss;val_accuracy;val_loss\r\n"
        b"0;0.25;0.5;NA;NA\r\n1;0.3333333333333333;0.125;NA;NA\r\n"
    )
    assert log_csv(path, epochs, separator=";") == first
    # append: no second header
    again = first + first.split(b"\r\n", 1)[1]
    assert log_csv(path, epochs, separator=";", append=True) == again
    assert (
        log_csv(path, [{"loss": 0.5, "val_loss": 0.75}]) == b"epoch,loss,val_loss\r\n0,0.5,0.75\r\n"
    )
    fresh = tmp_path / "fresh.csv"
    assert log_csv(fresh, [{"loss": 1.0, "val_loss": 2.0}], append=True).startswith(b"epoch,")


def test_lambda_callback():
    seen = []
    callback = LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(("epoch", epoch)),
        on_train_batch_end=lambda batch, logs: seen.append(("batch", batch)),
        on_test_begin=lambda logs: seen.append("test"),
    )
    callback.on_train_batch_end(0, {})
    callback.on_epoch_end(0, {})
    callback.on_test_begin({})
    callback.on_train_begin({})  # not given: does nothing
    assert seen == [("batch", 0), ("epoch", 0), "test"]
    with pytest.raises(TypeError, match="on_epoch_finished"):
        LambdaCallback(on_epoch_finished=print)
    with pytest.raises(TypeError, match="on_epoch_end"):
        LambdaCallback(on_epoch_end=3)


def test_batch_hooks_default_to_on_batch():
    seen = []

    class Batches(Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            seen.append(("end", batch))

    Batches().on_train_batch_begin(4)
    Batches().on_train_batch_end(4)
    assert seen == [("begin", 4), ("end", 4)]


def small_problem():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 3))
    y = x @ np.array([1.0, -2.0, 0.5])
    return x, y


def sgd_model():
    model = nncore.Sequential([Dense(1, input_dim=3)], seed=3)
    model.compile(loss="mse", optimizer=nncore.optimizers.SGD(0.1))
    return model


def test_learning_rate_scheduler_in_fit_sets_each_epochs_rate():
    x, y = small_problem()
    scheduled = sgd_model()
    rates = [0.1, 0.02, 0.005]
    scheduled.fit(
        x,
        y,
        epochs=3,
        verbose=0,
        shuffle=False,
        callbacks=[LearningRateScheduler(lambda epoch, lr: rates[epoch])],
    )
    by_hand = sgd_model()
    for rate in rates:
        by_hand.optimizer.learning_rate = rate
        by_hand.fit(x, y, epochs=1, verbose=0, shuffle=False)
    for got, want in zip(scheduled.get_weights(), by_hand.get_weights()):
        assert np.array_equal(got, want)
    assert scheduled.optimizer.learning_rate == 0.005


def test_reduce_lr_and_csv_logger_in_fit(tmp_path):
    x, y = small_problem()
    model = sgd_model()
    path = tmp_path / "train.csv"
    reduce = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=10.0)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[reduce, CSVLogger(path)])
    # no epoch improves by 10: the rate halves after every epoch but the first,
    # and each row logs the rate the epoch ran with
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,learning_rate,loss,val_learning_rate,val_loss"
    assert [line.split(",")[:2] for line in lines[1:]] == [
        ["0", "0.1"],
        ["1", "0.1"],
        ["2", "0.05"],
    ]
