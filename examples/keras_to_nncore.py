"""A Keras 3 script and its nncore twin: the same lines, but for the import.

    python examples/keras_to_nncore.py           # the nncore twin
    python examples/keras_to_nncore.py --keras   # the same script on Keras 3

Everything below the import is ordinary Keras code: positional compile and
fit arguments, keras.utils.to_categorical, Keras's callbacks and activation
layers, a .keras file saved and loaded back. nncore runs each epoch as one
call into C; the .keras file it writes is a real Keras file, which Keras
loads too (and nncore.load_keras reads the files Keras writes).
"""

import os
import sys
import tempfile

import numpy as np

if "--keras" in sys.argv:
    import keras
else:
    import nncore as keras

# ----------------------------------------------------------------------------
# From here on, the script is the same for both libraries.

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.standard_normal((3000, 8)).astype("float32")
# three classes: the sign of x0 * x1 + x2, and a third for large x3
labels = (x[:, 0] * x[:, 1] + x[:, 2] > 0).astype("int64")
labels[x[:, 3] > 1.0] = 2
y = keras.utils.to_categorical(labels, 3)
x_train, y_train, x_test, y_test = x[:2400], y[:2400], x[2400:], y[2400:]

model = keras.Sequential(
    [
        keras.Input((8,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dropout(0.1),
        keras.layers.Dense(32),
        keras.layers.LeakyReLU(),
        keras.layers.Dense(3, activation="softmax"),
    ]
)
model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
model.summary()

callbacks = [
    keras.callbacks.EarlyStopping(patience=6, restore_best_weights=True),
    keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=3),
]
history = model.fit(x_train, y_train, 64, 60, verbose=0, validation_split=0.2, callbacks=callbacks)
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"{len(history.history['loss'])} epochs, test loss {loss:.4f}, accuracy {accuracy:.3f}")

path = os.path.join(tempfile.mkdtemp(), "three_classes.keras")
model.save(path)
restored = keras.models.load_model(path)
same = np.allclose(restored.predict(x_test, verbose=0), model.predict(x_test, verbose=0))
print(f"saved to {path} and loaded back: same predictions: {same}")
