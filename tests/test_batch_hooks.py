"""Per-batch callback hooks, called from inside the C loop as Keras calls
them: on_train_batch_begin/end (defaults: on_batch_begin/end) with the
running loss and metrics of the epoch, on_test_batch_* in evaluate and in
the validation pass, on_predict_batch_* in predict."""

import numpy as np
import pytest

import nncore
from nncore.callbacks import Callback


def setup(n=100):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    m = nncore.Sequential(
        [nncore.Dense(4, "relu", input_dim=3), nncore.Dense(1, "sigmoid")], seed=2
    )
    m.compile(loss="binary_crossentropy", optimizer="sgd", metrics=["accuracy"])
    return m, x, y


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(("begin", batch, dict(logs or {})))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("end", batch, dict(logs or {})))


def test_train_batch_hooks_see_every_batch_with_running_logs():
    m, x, y = setup()
    rec = Recorder()
    history = m.fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=False, callbacks=[rec])
    kinds = [(kind, batch) for kind, batch, _ in rec.calls]
    per_epoch = [(k, b) for b in range(4) for k in ("begin", "end")]
    assert kinds == per_epoch * 2
    ends = [logs for kind, _, logs in rec.calls if kind == "end"]
    assert set(ends[0]) == {"loss", "accuracy"}
    # the last batch's logs are the epoch's: running means over the samples seen
    assert ends[3]["loss"] == pytest.approx(history.history["loss"][0], rel=1e-12)
    assert ends[7]["accuracy"] == pytest.approx(history.history["accuracy"][1], rel=1e-12)


def test_running_loss_is_the_sample_weighted_mean_of_the_batch_losses():
    m, x, y = setup(70)
    batch_losses = []
    clone = setup(70)[0]
    for start in range(0, 70, 32):  # batch by batch: the loss before each step
        batch = clone.train_on_batch(x[start : start + 32], y[start : start + 32], return_dict=True)
        batch_losses.append(batch["loss"])
    rec = Recorder()
    m.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False, callbacks=[rec])
    ends = [logs["loss"] for kind, _, logs in rec.calls if kind == "end"]
    sizes = np.array([32, 32, 6])
    for k in range(3):
        want = np.dot(batch_losses[: k + 1], sizes[: k + 1]) / sizes[: k + 1].sum()
        assert ends[k] == pytest.approx(want, rel=1e-6)


def test_on_batch_end_is_the_default_of_on_train_batch_end():
    m, x, y = setup()
    seen = []

    class Old(Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(batch)

    m.fit(x, y, batch_size=25, epochs=1, verbose=0, callbacks=[Old()])
    assert seen == [0, 1, 2, 3]


def test_duck_typed_callbacks_with_only_batch_hooks_work():
    m, x, y = setup()
    seen = []

    class Duck:
        def on_train_batch_end(self, batch, logs=None):
            seen.append(round(logs["loss"], 12))

    m.fit(x, y, batch_size=50, epochs=1, verbose=0, callbacks=[Duck()])
    assert len(seen) == 2


def test_stop_training_in_a_batch_hook_stops_after_that_batch():
    m, x, y = setup()

    class StopAtTwo(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True

    rec = Recorder()
    history = m.fit(x, y, batch_size=10, epochs=5, verbose=0, callbacks=[StopAtTwo(), rec])
    assert m.optimizer.iterations == 2
    assert len(history.history["loss"]) == 1  # the epoch ends, with its logs
    assert [b for kind, b, _ in rec.calls if kind == "end"] == [0, 1]


def test_an_error_in_a_batch_hook_propagates_and_keeps_the_steps_done():
    m, x, y = setup()

    class Boom(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 2:
                raise ZeroDivisionError("boom")

    with pytest.raises(ZeroDivisionError):
        m.fit(x, y, batch_size=10, epochs=1, verbose=0, callbacks=[Boom()])
    assert m.optimizer.iterations == 2


def test_test_batch_hooks_in_evaluate_and_validation():
    m, x, y = setup()
    events = []

    class Test(Callback):
        def on_test_begin(self, logs=None):
            events.append("begin")

        def on_test_batch_end(self, batch, logs=None):
            events.append((batch, sorted(logs)))

        def on_test_end(self, logs=None):
            events.append(("end", sorted(logs)))

    result = m.evaluate(x, y, batch_size=40, callbacks=[Test()], return_dict=True)
    assert events == [
        "begin",
        (0, ["accuracy", "loss"]),
        (1, ["accuracy", "loss"]),
        (2, ["accuracy", "loss"]),
        ("end", ["accuracy", "loss"]),
    ]
    assert set(result) == {"loss", "accuracy"}
    events.clear()
    m.fit(x, y, batch_size=40, epochs=1, verbose=0, validation_split=0.2, callbacks=[Test()])
    assert events[0] == "begin" and events[-1][0] == "end" and len(events) == 3  # 20 rows


def test_predict_batch_hooks_get_the_outputs():
    m, x, _ = setup()
    outputs = []

    class Pred(Callback):
        def on_predict_batch_end(self, batch, logs=None):
            outputs.append((batch, logs["outputs"]))

    got = m.predict(x, batch_size=30, callbacks=[Pred()])
    assert [b for b, _ in outputs] == [0, 1, 2, 3]
    np.testing.assert_array_equal(np.concatenate([o for _, o in outputs]), got)
    np.testing.assert_array_equal(got, m.predict(x))
