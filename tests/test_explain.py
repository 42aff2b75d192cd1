"""nncore.explain: the formula it writes, evaluated numerically, gives predict's answers."""

import math

import numpy as np
import pytest

import nncore

ERF = np.vectorize(math.erf)
FUNCTIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "softplus": lambda z: np.logaddexp(0.0, z),
    "gelu": lambda z: z / 2 * (1 + ERF(z / np.sqrt(2))),
    "leaky_relu": lambda z, a: np.where(z > 0, z, a * z),
    "elu": lambda z, a: np.where(z > 0, z, a * (np.exp(z) - 1)),
    "softmax": lambda *z: tuple(np.exp(z) / np.exp(z).sum(axis=0)),
}


def evaluate_formula(text, x):
    """Runs the formula's lines (up to 'where') as Python on the columns of x."""
    names = {f"x{i + 1}": x[:, i] for i in range(x.shape[1])}
    names.update(FUNCTIONS)
    lines = text.split("\nwhere ")[0].splitlines()
    for line in lines:
        exec(line.replace("·", "*"), {}, names)
    if "y" in names:
        return names["y"][:, None]
    count = sum(1 for name in names if name.startswith("y"))
    return np.column_stack([names[f"y{j}"] for j in range(1, count + 1)])


def random_weights(model, seed):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 1, w.shape) for w in model.get_weights()])


@pytest.mark.parametrize(
    "layers",
    [
        [nncore.Dense(1, "relu", input_dim=2), nncore.Dense(1)],
        [
            nncore.Dense(3, "tanh", input_dim=2),
            nncore.Dense(2, "leaky_relu"),
            nncore.Dense(1, "sigmoid"),
        ],
        [
            nncore.Dense(4, input_dim=3),
            nncore.Activation("elu", alpha=0.5),
            nncore.Dropout(0.3),
            nncore.Dense(3, "softmax"),
        ],
        [nncore.Dense(2, "gelu", input_dim=2, use_bias=False), nncore.Dense(2, "softplus")],
        [nncore.Dense(1, input_dim=4), nncore.Dense(1, "relu"), nncore.Dense(2, "sigmoid")],
        [
            nncore.Flatten(input_shape=(2,)),
            nncore.Dense(3, "tanh"),
            nncore.BatchNormalization(epsilon=0.01),
            nncore.BatchNormalization(center=False),
            nncore.Dense(1),
        ],
    ],
    ids=["inline", "two-hidden", "softmax", "no-bias", "chain", "batch-norm"],
)
def test_formula_computes_what_predict_does(layers):
    model = nncore.Sequential(layers, dtype="float64", seed=0)
    random_weights(model, 1)
    for layer in model.layers:
        if isinstance(layer, nncore.BatchNormalization):  # a variance is positive
            weights = layer.get_weights()
            layer.set_weights([*weights[:-1], np.abs(weights[-1]) + 0.1])
    text = nncore.explain(model, digits=17)
    x = np.random.default_rng(2).normal(0, 2, (64, model.input_shape[1]))
    np.testing.assert_allclose(evaluate_formula(text, x), model.predict(x), rtol=1e-9, atol=1e-12)


def test_the_formula_reads_like_the_textbook():
    model = nncore.Sequential([nncore.Dense(1, "relu", input_dim=2), nncore.Dense(1)], seed=0)
    model.set_weights([np.array([[0.7718], [0.7718]]), [0.0012], [[1.2957]], [-0.5]])
    assert nncore.explain(model) == (
        "y = 1.296·relu(0.7718·x1 + 0.7718·x2 + 0.0012) - 0.5\nwhere relu(z) = max(0, z)"
    )
    text = nncore.explain(model, names=["height (cm)", "age"], digits=2)
    assert text.startswith("y = 1.3·relu(0.77·[height (cm)] + 0.77·age + 0.0012)")


def test_hidden_units_get_a_line_each():
    model = nncore.Sequential([nncore.Dense(2, "relu", input_dim=2), nncore.Dense(1, "sigmoid")])
    lines = nncore.explain(model).splitlines()
    assert [line.split(" = ")[0] for line in lines[:3]] == ["h1", "h2", "y"]
    assert lines[2].startswith("y = sigmoid(") and "·h1" in lines[2] and "·h2" in lines[2]
    assert lines[3:] == ["where relu(z) = max(0, z)", "      sigmoid(z) = 1 / (1 + exp(-z))"]


def test_names_come_from_the_command_lines_metadata():
    model = nncore.Sequential([nncore.Dense(1, input_dim=2)])
    model.metadata = {"inputs": ["colour=red", "size"]}
    assert "[colour=red]" in nncore.explain(model) and "·size" in nncore.explain(model)


def test_too_big_or_unbuilt_networks_are_refused_clearly():
    big = nncore.Sequential([nncore.Dense(64, "relu", input_dim=10), nncore.Dense(1)])
    with pytest.raises(ValueError, match="the network has 769 weights: too many to read"):
        nncore.explain(big)
    assert nncore.explain(big, max_weights=1000).count("\n") > 64
    with pytest.raises(ValueError, match="built model"):
        nncore.explain(nncore.Sequential([nncore.Dense(1)]))
    with pytest.raises(TypeError, match="Sequential"):
        nncore.explain("model")
    with pytest.raises(ValueError, match="names must have 2 entries"):
        nncore.explain(nncore.Sequential([nncore.Dense(1, input_dim=2)]), names=["a"])
