"""Makes the nncore model files (format version 1) that tests/test_io.py
loads to check that files written by earlier versions of nncore still load
bit for bit: a few small models, trained a little so that their weights and
optimizer state are not the initial ones, saved to <name>.nnc, and beside
them (nncore_files.npz) each model's weights, optimizer state, step count
and predictions on fixed inputs, as the writing nncore had them.

Run from the repository with the nncore whose files should stay readable:
    python tests/data/make_nncore_files.py
"""

import os

import numpy as np

import nncore
from nncore import optimizers
from nncore.layers import Activation, Dense, Dropout, Input

HERE = os.path.dirname(os.path.abspath(__file__))


def adam_classifier():
    model = nncore.Sequential(
        [
            Input((4,)),
            Dense(6, "relu", kernel_constraint="max_norm"),
            Dropout(0.2),
            Dense(5, kernel_regularizer=nncore.regularizers.l2(1e-3), use_bias=False),
            Activation("leaky_relu", alpha=0.1),
            Dense(3, "softmax", kernel_initializer="he_normal"),
        ],
        seed=3,
        name="adam_classifier",
    )
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=optimizers.Adam(0.01),
        metrics=["accuracy"],
    )
    return model, "classes"


def sgd_momentum_float64():
    model = nncore.Sequential(
        [Dense(5, "tanh", input_dim=4), Dense(1)],
        seed=4,
        dtype="float64",
        name="sgd_momentum_float64",
    )
    model.compile(loss="mse", optimizer=optimizers.SGD(0.05, momentum=0.9, nesterov=True))
    return model, "values"


def frozen_rmsprop():
    model = nncore.Sequential(
        [Dense(5, "elu", input_dim=4, trainable=False), Dense(1, "sigmoid")],
        seed=5,
        name="frozen_rmsprop",
    )
    model.compile(loss="binary_crossentropy", optimizer=optimizers.RMSprop(0.01, momentum=0.5))
    return model, "labels"


def uncompiled():
    model = nncore.Sequential([Dense(3, "sigmoid", input_dim=4), Dense(2)], seed=6)
    model.metadata = {"features": ["a", "b", "c", "d"]}
    return model, None


def main():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 4))
    targets = {
        "classes": (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5).astype(int),
        "values": x @ [0.5, -1.0, 0.25, 2.0],
        "labels": (x[:, 2] > 0).astype(float),
    }
    expected = {"x": x[:7]}
    for make in (adam_classifier, sgd_momentum_float64, frozen_rmsprop, uncompiled):
        name = make.__name__
        model, target = make()
        if target is not None:
            model.fit(x, targets[target], epochs=2, batch_size=8, verbose=0)
            expected[f"{name}_optimizer_state"] = model._opt_state
            expected[f"{name}_iterations"] = np.array(model.optimizer.iterations)
        for i, weights in enumerate(model.get_weights()):
            expected[f"{name}_weights_{i}"] = weights
        expected[f"{name}_predictions"] = model.predict(x[:7], verbose=0)
        model.save(os.path.join(HERE, f"{name}.nnc"))
    np.savez(os.path.join(HERE, "nncore_files.npz"), **expected)


if __name__ == "__main__":
    main()
