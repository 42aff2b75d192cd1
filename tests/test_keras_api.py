"""Keras 3's model API: signatures, argument order and defaults, so that a
Keras script runs with nncore by changing its import."""

import json
import math
import zipfile

import numpy as np
import pytest

import nncore
from nncore import callbacks, losses, metrics, optimizers
from nncore.layers import Dense, Dropout, Input


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(float)
    return x, y


def model(last="sigmoid", seed=1, **compile_kwargs):
    m = nncore.Sequential([Input((3,)), Dense(6, "tanh"), Dense(1, last)], seed=seed)
    if compile_kwargs:
        m.compile(**compile_kwargs)
    return m


def same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights()))


def test_compile_takes_keras_order_and_defaults():
    m = model()
    m.compile()
    assert isinstance(m.optimizer, optimizers.RMSprop)  # Keras 3's default
    with pytest.raises(RuntimeError, match="needs a loss"):
        m.fit(*data(), verbose=0)
    assert m.predict(data()[0][:2]).shape == (2, 1)  # compiled without a loss: predict works
    m.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    assert isinstance(m.optimizer, optimizers.Adam) and m.loss == "binary_crossentropy"
    with pytest.raises(ValueError, match="Python function"):
        m.compile("adam", lambda t, p: 0.0)
    with pytest.raises(ValueError, match="run_eagerly"):
        m.compile("adam", "mse", run_eagerly=True)
    with pytest.raises(ValueError, match="loss_weights"):
        m.compile("adam", "mse", loss_weights=[1.0])
    with pytest.raises(ValueError, match="weighted_metrics"):
        m.compile("adam", "mse", weighted_metrics=["mae"])
    with pytest.raises(ValueError, match="steps_per_execution"):
        m.compile("adam", "mse", steps_per_execution=4)


def test_fit_is_positional_as_in_keras():
    x, y = data()
    by_position = model(optimizer="sgd", loss="mse")
    by_name = model(optimizer="sgd", loss="mse")
    by_position.fit(x, y, 16, 3, 0)
    by_name.fit(x=x, y=y, batch_size=16, epochs=3, verbose=0)
    assert same_weights(by_position, by_name)
    loss = by_position.evaluate(x, y, 16, 0)
    assert loss == by_name.evaluate(x=x, y=y, batch_size=16, verbose=0)
    for argument in ("steps_per_epoch", "validation_steps"):
        with pytest.raises(ValueError, match=argument):
            by_position.fit(x, y, verbose=0, **{argument: 2})


def test_class_weight_weighs_each_sample_by_its_class():
    x, y = data()
    weighted = model(optimizer="sgd", loss="binary_crossentropy")
    history = weighted.fit(
        x, y, epochs=2, verbose=0, shuffle=False, class_weight={0: 0.25}, validation_split=0.25
    )
    by_hand = model(optimizer="sgd", loss="binary_crossentropy")
    train = slice(0, 72)  # the first 75%: class weights apply to the training samples only
    by_hand.fit(
        x[train],
        y[train],
        epochs=2,
        verbose=0,
        shuffle=False,
        sample_weight=np.where(y[train] == 0, 0.25, 1.0),  # class 1 not given: weight 1
    )
    assert same_weights(weighted, by_hand)
    assert history.history["val_loss"][-1] == pytest.approx(
        weighted.evaluate(x[72:], y[72:], verbose=0), rel=1e-6
    )
    one_hot = nncore.Sequential([Dense(2, "softmax", input_dim=3)], seed=2)
    one_hot.compile("sgd", "categorical_crossentropy")
    targets = nncore.utils.to_categorical(y.astype(int), 2)
    one_hot.fit(x, targets, verbose=0, shuffle=False, class_weight={1: 3.0})
    twin = nncore.Sequential([Dense(2, "softmax", input_dim=3)], seed=2)
    twin.compile("sgd", "categorical_crossentropy")
    twin.fit(x, targets, verbose=0, shuffle=False, sample_weight=np.where(y == 1, 3.0, 1.0))
    assert same_weights(one_hot, twin)
    with pytest.raises(ValueError, match="not both"):
        weighted.fit(x, y, verbose=0, class_weight={0: 1.0}, sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="class_weight"):
        weighted.fit(x, y, verbose=0, class_weight={-1: 1.0})


def test_validation_freq_and_batch_size():
    x, y = data()
    m = model(optimizer="adam", loss="binary_crossentropy")
    history = m.fit(x, y, epochs=4, verbose=0, validation_data=(x, y), validation_freq=2)
    assert len(history.history["loss"]) == 4 and len(history.history["val_loss"]) == 2
    history = m.fit(x, y, epochs=3, verbose=0, validation_data=(x, y), validation_freq=[1, 3])
    assert len(history.history["val_loss"]) == 2
    m.fit(x, y, epochs=1, verbose=0, validation_data=(x, y), validation_batch_size=7)
    with pytest.raises(ValueError, match="validation_freq"):
        m.fit(x, y, verbose=0, validation_freq="often")


def test_on_batch_methods_and_call():
    x, y = data()
    m = model(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    logs = m.train_on_batch(x[:8], y[:8])
    assert isinstance(logs, list) and len(logs) == 2
    assert set(m.train_on_batch(x[:8], y[:8], return_dict=True)) == {"loss", "accuracy"}
    assert m.test_on_batch(x, y) == m.evaluate(x, y, batch_size=len(x), verbose=0)
    assert np.array_equal(m.predict_on_batch(x), m.predict(x))
    assert np.array_equal(m(x), m.predict(x))
    assert np.array_equal(m(x, training=False), m.predict(x))
    with pytest.raises(ValueError, match="training=True"):
        m(x, training=True)


def test_from_logits_trains_as_the_sigmoid_output_and_predicts_logits():
    x, y = data()
    logits = model(last=None, optimizer="sgd", loss=losses.BinaryCrossentropy(from_logits=True))
    probabilities = model(last="sigmoid", optimizer="sgd", loss="binary_crossentropy")
    logits.fit(x, y, epochs=3, verbose=0)
    probabilities.fit(x, y, epochs=3, verbose=0)
    assert same_weights(logits, probabilities)
    z = logits.predict(x)
    np.testing.assert_allclose(1 / (1 + np.exp(-z)), probabilities.predict(x), rtol=1e-5)
    assert logits.evaluate(x, y, verbose=0) == pytest.approx(
        probabilities.evaluate(x, y, verbose=0), rel=1e-6
    )
    with pytest.raises(ValueError, match="linear last layer"):
        model(
            last="sigmoid", optimizer="sgd", loss=losses.BinaryCrossentropy(from_logits=True)
        ).fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="metric 'accuracy'"):
        model(last=None).compile(
            "sgd", losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"]
        )


def test_label_smoothing_is_the_loss_on_smoothed_targets():
    x, y = data()
    smoothed = model(optimizer="sgd", loss=losses.BinaryCrossentropy(label_smoothing=0.2))
    by_hand = model(optimizer="sgd", loss="binary_crossentropy")
    smoothed.fit(x, y, epochs=2, verbose=0)
    by_hand.fit(x, y * 0.8 + 0.1, epochs=2, verbose=0)
    assert same_weights(smoothed, by_hand)


def test_metric_objects_log_under_their_names():
    x, y = data()
    m = model(
        optimizer="adam",
        loss=losses.BinaryCrossentropy(),
        metrics=[metrics.BinaryAccuracy(name="acc"), metrics.MeanSquaredError()],
    )
    history = m.fit(x, y, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "acc", "mean_squared_error"}
    twin = model(optimizer="adam", loss="binary_crossentropy", metrics=["binary_accuracy", "mse"])
    logs = twin.fit(x, y, epochs=1, verbose=0).history
    assert history.history["acc"] == logs["binary_accuracy"]


@pytest.mark.parametrize("suffix", [".keras", ".nnc"])
def test_save_and_load_model_by_name(tmp_path, suffix):
    x, y = data()
    m = model(
        optimizer=optimizers.Adam(0.01),
        loss=losses.Huber(),
        metrics=[metrics.MeanAbsoluteError(name="err")],
    )
    m.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / f"model{suffix}"
    m.save(path)
    assert zipfile.is_zipfile(path) == (suffix == ".keras")
    loaded = nncore.models.load_model(path)
    assert np.array_equal(loaded.predict(x), m.predict(x))
    assert isinstance(loaded.loss, losses.Huber) and loaded.metrics_names == ["loss", "err"]
    assert nncore.load_model(path, compile=False).optimizer is None
    with pytest.raises(FileExistsError):
        m.save(path, overwrite=False)


def test_keras_2_h5_names_are_refused(tmp_path):
    m = model(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="HDF5"):
        m.save(tmp_path / "model.h5")
    assert not (tmp_path / "model.h5").exists()


def test_weights_json_clone_and_pop(tmp_path):
    x, y = data()
    m = nncore.Sequential(
        [Input((3,)), Dense(6, "relu"), Dropout(0.2), Dense(4, "tanh"), Dense(1, "sigmoid")],
        seed=3,
    )
    m.compile("adam", "binary_crossentropy")
    m.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "m.weights.h5"
    m.save_weights(path)
    rebuilt = nncore.models.model_from_json(m.to_json())
    assert json.loads(m.to_json())["class_name"] == "Sequential"
    assert [type(a) for a in rebuilt.layers] == [type(b) for b in m.layers]
    assert not rebuilt.compiled
    rebuilt.load_weights(path)
    assert np.array_equal(rebuilt.predict(x), m.predict(x))
    clone = nncore.models.clone_model(m)
    assert [layer.name for layer in clone.layers] == [layer.name for layer in m.layers]
    assert not same_weights(clone, m) and not clone.compiled
    kept = m.get_weights()[:4]
    popped = m.pop()
    assert popped.units == 1 and len(m.layers) == 3 and m.output_shape == (None, 4)
    assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), kept))
    m.fit(x, np.c_[y, y, y, y], epochs=1, verbose=0)  # trains with the layers left
    with pytest.raises(ValueError, match="max_shard_size"):
        m.save_weights(path, max_shard_size="1GB")
    with pytest.raises(TypeError, match="no layers"):
        nncore.Sequential().pop()


def test_set_random_seed_makes_unseeded_models_repeat():
    nncore.utils.set_random_seed(7)
    first = [model(seed=None) for _ in range(2)]
    nncore.utils.set_random_seed(7)
    second = [model(seed=None) for _ in range(2)]
    assert first[0].seed == second[0].seed and first[1].seed == second[1].seed
    assert first[0].seed != first[1].seed
    assert same_weights(first[1], second[1])


def test_terminate_on_nan_ends_fit_with_the_last_finite_weights(capsys):
    x, y = data()
    y = y * 1e30
    exploding = model(last=None, optimizer=optimizers.SGD(10.0), loss="mse")
    with pytest.raises(FloatingPointError):
        exploding.fit(x, y, epochs=3, verbose=0)
    stopped = model(last=None, optimizer=optimizers.SGD(10.0), loss="mse")
    history = stopped.fit(x, y, epochs=3, verbose=0, callbacks=[callbacks.TerminateOnNaN()])
    assert "Invalid loss, terminating training" in capsys.readouterr().out
    assert len(history.history.get("loss", [])) < 3
    assert all(np.isfinite(w).all() for w in stopped.get_weights())


def test_history_sees_what_callbacks_add_to_the_logs():
    x, y = data()
    m = model(optimizer="sgd", loss="mse")
    history = m.fit(
        x, y, epochs=3, verbose=0,
        callbacks=[callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))],
    )  # fmt: skip
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])


def test_model_checkpoint(tmp_path):
    x, y = data()
    m = model(optimizer="adam", loss="binary_crossentropy")
    best = callbacks.ModelCheckpoint(
        tmp_path / "best.keras", monitor="loss", save_best_only=True, verbose=0
    )
    every = callbacks.ModelCheckpoint(str(tmp_path / "epoch-{epoch:02d}.nnc"), monitor="loss")
    weights = callbacks.ModelCheckpoint(
        tmp_path / "w.weights.h5", save_weights_only=True, monitor="loss"
    )
    m.fit(x, y, epochs=3, verbose=0, callbacks=[best, every, weights])
    assert sorted(p.name for p in tmp_path.glob("epoch-*.nnc")) == [
        "epoch-01.nnc",
        "epoch-02.nnc",
        "epoch-03.nnc",
    ]
    assert np.array_equal(nncore.load_model(tmp_path / "epoch-03.nnc").predict(x), m.predict(x))
    assert np.array_equal(nncore.load_model(tmp_path / "best.keras").predict(x), m.predict(x))
    twin = model()
    twin.load_weights(tmp_path / "w.weights.h5")
    assert same_weights(twin, m)
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        callbacks.ModelCheckpoint(tmp_path / "w.h5", save_weights_only=True)
    with pytest.raises(ValueError, match=r"\.keras"):
        callbacks.ModelCheckpoint(tmp_path / "model.h5")


def test_model_checkpoint_every_n_batches(tmp_path):
    x, y = data()
    m = model(optimizer="adam", loss="binary_crossentropy")
    checkpoint = callbacks.ModelCheckpoint(
        str(tmp_path / "e{epoch}-b{batch}.nnc"), monitor="loss", save_freq=2
    )
    m.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[checkpoint])  # 3 batches/epoch
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e1-b2.nnc", "e2-b1.nnc", "e2-b3.nnc"]
    assert not math.isnan(nncore.load_model(tmp_path / "e2-b3.nnc").predict(x).sum())


def test_lambda_callback_batch_hooks_run_in_fit():
    x, y = data()
    m = model(optimizer="sgd", loss="mse")
    seen = []
    hook = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    m.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[hook])
    assert seen == [0, 1, 2, 0, 1, 2]
