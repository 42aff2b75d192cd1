"""Two concentric circles: points on an inner ring are class 0, on an outer ring
class 1. The boundary between them is a circle, which a deeper network of
ReLU units (2-4-6-6-4-1) learns by combining many straight cuts.

Run:  python examples/circles.py
"""

import numpy as np

import nncore


def rings(n, rng):
    """n points per ring, radius 1 (class 0) and 2 (class 1), with some noise."""
    angle = rng.uniform(0, 2 * np.pi, 2 * n)
    radius = np.r_[np.full(n, 1.0), np.full(n, 2.0)] + rng.normal(0, 0.15, 2 * n)
    X = np.c_[radius * np.cos(angle), radius * np.sin(angle)]
    y = np.r_[np.zeros(n), np.ones(n)]
    return X, y


rng = np.random.default_rng(0)
X_train, y_train = rings(500, rng)
X_test, y_test = rings(200, rng)

# Each hidden layer: relu(x @ W + b), relu(z) = max(z, 0). A ReLU unit is a
# "half-plane detector"; layers of them combine half-planes into a ring shape.
# The output: sigmoid(h @ W + b) = P(outer ring).
model = nncore.Sequential(
    [
        nncore.Input((2,)),
        nncore.Dense(4, activation="relu"),
        nncore.Dense(6, activation="relu"),
        nncore.Dense(6, activation="relu"),
        nncore.Dense(4, activation="relu"),
        nncore.Dense(1, activation="sigmoid"),
    ],
    seed=0,
)
model.summary()

# Binary cross-entropy loss and Adam. In each step the backward pass applies the
# chain rule layer by layer from the output: the gradient reaching a ReLU layer
# passes through where z > 0 and stops where z <= 0 (relu'(z) is 1 or 0), then
# dLoss/dW = input.T @ dLoss/dz for that layer, and the optimizer moves W
# against it.
model.compile(
    loss="binary_crossentropy",
    optimizer=nncore.optimizers.Adam(learning_rate=0.01),
    metrics=["accuracy"],
)
history = model.fit(X_train, y_train, epochs=60, batch_size=32, validation_split=0.2, verbose=0)
print(f"training accuracy after 60 epochs: {history.history['accuracy'][-1]:.3f}")

loss, accuracy = model.evaluate(X_test, y_test)
print(f"test loss: {loss:.4f}")
print(f"test accuracy: {accuracy:.3f}")
