"""Learning Y = X1 + X2 with one neuron whose weights may not go negative.

A single Dense unit without activation is linear regression:
    prediction = x1 * w1 + x2 * w2 + b
The right answer is w1 = w2 = 1, b = 0. kernel_constraint="non_neg" clips the
weights at zero after every update (a constraint, applied by the training loop),
which is how one encodes "more of each input never lowers the output".

Run:  python examples/sum_nonneg.py
"""

import numpy as np

import nncore

rng = np.random.default_rng(0)
X = rng.uniform(0, 1, size=(200, 2))
Y = X[:, 0] + X[:, 1]

model = nncore.Sequential(
    [nncore.Dense(1, input_dim=2, kernel_constraint="non_neg")],
    seed=0,
)
# Loss: mean squared error, mean((prediction - Y)^2).
# Optimizer: plain stochastic gradient descent, w <- w - learning_rate * dLoss/dw.
model.compile(loss="mse", optimizer=nncore.optimizers.SGD(learning_rate=0.1))

w_start, b_start = model.get_weights()
print("start: weights", w_start[:, 0].round(3), "bias", b_start.round(3))

# One step, worked out for one batch of rows x (shape (n, 2)) and targets t:
#   forward:   p = x @ w + b                   (n predictions)
#   loss:      L = mean((p - t)^2)
#   chain rule: dL/dp = 2 (p - t) / n, and since p depends on w through x @ w,
#              dL/dw = x.T @ dL/dp   and   dL/db = sum(dL/dp)
#   update:    w <- w - 0.1 * dL/dw,  b <- b - 0.1 * dL/db,  then w <- max(w, 0)
# fit() does this for every batch of 16 rows, 40 times over the data.
history = model.fit(X, Y, epochs=40, batch_size=16, verbose=0)

w, b = model.get_weights()
print(f"loss: {history.history['loss'][-1]:.2e}")
print("weights:", np.array2string(w[:, 0], precision=4), " bias:", np.round(b, 4))
print("predict([3, 4]) =", model.predict(np.array([[3.0, 4.0]]))[0, 0].round(3))
