"""XOR: the smallest problem a straight line cannot solve, learned by a 2-4-1 network.

    x1 x2 | XOR
     0  0 |  0
     0  1 |  1
     1  0 |  1
     1  1 |  0

No single line separates the 1s from the 0s, so a model without a hidden layer
(logistic regression) cannot fit this table. One hidden layer of 4 units can.

Run:  python examples/xor.py
"""

import numpy as np

import nncore

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
y = np.array([0, 1, 1, 0], dtype=np.float32)

# The network, layer by layer. Each Dense layer computes  activation(x @ W + b):
#   hidden = tanh(x @ W1 + b1)          W1: (2, 4), b1: (4,)
#   p      = sigmoid(hidden @ W2 + b2)  W2: (4, 1), b2: (1,)   -> p = P(XOR = 1)
# W1 and W2 start as small random numbers (Glorot uniform) drawn from the seed;
# the biases start at zero.
model = nncore.Sequential(
    [
        nncore.Input((2,)),
        nncore.Dense(4, activation="tanh"),
        nncore.Dense(1, activation="sigmoid"),
    ],
    seed=1,
)

# The loss says how wrong p is: binary cross-entropy, -[y log p + (1-y) log(1-p)],
# averaged over the samples. It is 0 when p == y and grows without bound as p
# moves towards the wrong answer.
# The optimizer says how to change the weights: Adam, a form of gradient descent
# that scales each weight's step by running averages of its gradient.
model.compile(
    loss="binary_crossentropy",
    optimizer=nncore.optimizers.Adam(learning_rate=0.05),
    metrics=["accuracy"],
)

# fit() repeats, for each batch (here the whole table of 4 rows) and each epoch:
#   1. forward pass: compute hidden and p for every row, as above;
#   2. loss: compare p with y;
#   3. backward pass (the chain rule): the gradient of the loss with respect to
#      every weight, from the output back to the input. For a sigmoid output with
#      cross-entropy it starts simply as dLoss/dz2 = (p - y) / n, with z2 the
#      pre-activation of the output; then dLoss/dW2 = hidden.T @ dLoss/dz2,
#      dLoss/dhidden = dLoss/dz2 @ W2.T, and through tanh (tanh' = 1 - tanh^2)
#      dLoss/dz1 = dLoss/dhidden * (1 - hidden^2), dLoss/dW1 = x.T @ dLoss/dz1;
#   4. gradient descent: move every weight a small step against its gradient.
# All four steps run in compiled C code, one call per epoch.
history = model.fit(X, y, epochs=300, batch_size=4, verbose=0)
print(
    f"loss: {history.history['loss'][0]:.4f} after epoch 1, "
    f"{history.history['loss'][-1]:.4f} after epoch 300"
)

# The forward pass once more, by hand with numpy, using the learned weights:
W1, b1, W2, b2 = model.get_weights()
hidden = np.tanh(X @ W1 + b1)
p_by_hand = 1 / (1 + np.exp(-(hidden @ W2 + b2)))
p = model.predict(X)
assert np.allclose(p, p_by_hand, atol=1e-5)

for row, prob in zip(X.astype(int), p[:, 0]):
    print(f"  {row[0]} XOR {row[1]} -> p = {prob:.3f}")
print("XOR predictions:", (p[:, 0] > 0.5).astype(int))
