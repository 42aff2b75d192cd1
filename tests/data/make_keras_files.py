"""Makes the Keras 3 files that tests/test_keras_files.py reads, and the
predictions Keras makes with them (keras_predictions.npz), plus the
classifier's weights alone as save_weights writes them.

Run once with Keras 3 on the JAX backend (pip install keras jax h5py):
    KERAS_BACKEND=jax python tests/data/make_keras_files.py
Each network is trained a few epochs on random data, so that its weights (and
batch-normalization statistics) are not the initial ones.

    KERAS_BACKEND=jax python tests/data/make_keras_files.py resume
makes only the resume_*.keras files (made with Keras 3.15): one network per
optimizer, trained, saved with its optimizer state, then trained on ONE more
fixed batch (train_on_batch); keras_resume.npz holds that batch and the
predictions after it, which nncore must reproduce from the file.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
layers = keras.layers


def classifier():
    model = keras.Sequential(
        [
            keras.Input((5,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(6, activation="leaky_relu"),
            layers.Activation("tanh"),
            layers.Dense(3, activation="softmax"),
        ],
        name="classifier",
    )
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    return model, 5, 3


def regression():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            layers.Dense(
                7,
                activation="elu",
                kernel_regularizer=keras.regularizers.L2(0.01),
                kernel_constraint=keras.constraints.NonNeg(),
            ),
            layers.LeakyReLU(0.1),
            layers.Flatten(),
            layers.Dense(5, activation="gelu", use_bias=False),
            layers.ReLU(negative_slope=0.05),
            layers.Dense(1),
        ],
        name="regression",
    )
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "mse")
    return model, 4, 1


def activations():
    model = keras.Sequential(
        [
            layers.Dense(6, activation="softplus", input_shape=(3,)),
            layers.ELU(0.5),
            layers.Dense(6, activation="sigmoid"),
            layers.ReLU(),
            layers.Dense(4),
            layers.Softmax(),
        ],
        name="activations",
    )
    return model, 3, 4


def batch_normalization():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            layers.Dense(6, activation="relu"),
            layers.BatchNormalization(),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="batch_normalization",
    )
    model.compile("rmsprop", "binary_crossentropy")
    return model, 4, 1


def unsupported():
    model = keras.Sequential(
        [keras.Input((4,)), layers.Dense(3), layers.LayerNormalization(), layers.Dense(1)]
    )
    return model, 4, 1


def resume_networks():
    """(name, model, inputs, outputs, loss): small networks, one per optimizer
    whose state nncore and Keras share, with steps large enough that the
    moments change the next step measurably."""
    dense = layers.Dense
    return [
        ("resume_adam", [dense(8, activation="relu"), dense(3, activation="softmax")],
         keras.optimizers.Adam(0.01), "categorical_crossentropy", 4, 3),
        ("resume_sgd", [dense(6, activation="tanh"), dense(1)],
         keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True), "mse", 3, 1),
        ("resume_rmsprop", [dense(6, activation="relu"), dense(1, activation="sigmoid")],
         keras.optimizers.RMSprop(0.01, momentum=0.5), "binary_crossentropy", 5, 1),
        ("resume_adamw", [dense(5, activation="elu"), dense(2)],
         keras.optimizers.AdamW(0.01, weight_decay=0.05), "mse", 3, 2),
    ]  # fmt: skip


def resume():
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    expected = {}
    for name, stack, optimizer, loss, n_in, n_out in resume_networks():
        model = keras.Sequential([keras.Input((n_in,)), *stack], name=name)
        model.compile(optimizer, loss)
        x = rng.standard_normal((48, n_in)).astype("float32")
        if loss == "categorical_crossentropy":
            y = keras.utils.to_categorical(rng.integers(0, n_out, 48), n_out)
        elif loss == "binary_crossentropy":
            y = (rng.random((48, n_out)) > 0.5).astype("float32")
        else:
            y = rng.standard_normal((48, n_out)).astype("float32")
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        model.save(os.path.join(HERE, f"{name}.keras"))
        batch_x, batch_y = x[:8] + 0.5, y[8:16]
        model.train_on_batch(batch_x, batch_y)
        expected[f"{name}_batch_x"] = batch_x
        expected[f"{name}_batch_y"] = batch_y
        expected[f"{name}_x"] = x[:9]
        expected[f"{name}_y"] = np.asarray(model.predict(x[:9], verbose=0))
        expected[f"{name}_iterations"] = np.asarray(model.optimizer.iterations)
    np.savez(os.path.join(HERE, "keras_resume.npz"), **expected)


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    expected = {}
    for make in (classifier, regression, activations, batch_normalization, unsupported):
        name = make.__name__
        model, n_in, n_out = make()
        x = rng.standard_normal((64, n_in)).astype("float32")
        if model.compiled:
            y = rng.random((64, n_out)).astype("float32")
            if n_out > 1:
                y = keras.utils.to_categorical(y.argmax(axis=1), n_out)
            else:
                y = (y > 0.5).astype("float32")
            model.fit(x, y, epochs=3, batch_size=16, verbose=0)
        model.save(os.path.join(HERE, f"{name}.keras"))
        if name == "classifier":
            model.save_weights(os.path.join(HERE, f"{name}.weights.h5"))
        expected[f"{name}_x"] = x[:9]
        expected[f"{name}_y"] = np.asarray(model.predict(x[:9], verbose=0))
    np.savez(os.path.join(HERE, "keras_predictions.npz"), **expected)


if __name__ == "__main__":
    if sys.argv[1:] == ["resume"]:
        resume()
    else:
        main()
