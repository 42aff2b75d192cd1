"""nncore.explain(model): a small network written out as the formula it computes.

    >>> print(nncore.explain(model))
    y = 1.296·relu(0.7718·x1 + 0.7718·x2 + 0.0012)
    where relu(z) = max(0, z)

Each Dense unit is a weighted sum of its inputs plus a bias, passed through
its activation; that is all a neuron is, and the formula shows it with the
model's own weights. A hidden layer of one unit is written inline; wider
hidden layers get a line per unit (h1, h2, ...) that the next layer uses.
"""

from __future__ import annotations

import numbers

import numpy as np

from nncore._validation import describe

__all__ = ["explain"]

MAX_WEIGHTS = 100

DEFINITIONS = {
    "relu": "relu(z) = max(0, z)",
    "sigmoid": "sigmoid(z) = 1 / (1 + exp(-z))",
    "tanh": "tanh(z) = (exp(z) - exp(-z)) / (exp(z) + exp(-z))",
    "softplus": "softplus(z) = log(1 + exp(z))",
    "gelu": "gelu(z) = z/2 · (1 + erf(z / sqrt(2)))",
    "leaky_relu": "leaky_relu(z, a) = z if z > 0 else a·z",
    "elu": "elu(z, a) = z if z > 0 else a·(exp(z) - 1)",
    "softmax": "softmax(z1, ..., zk) = (exp(z1), ..., exp(zk)) / (exp(z1) + ... + exp(zk))",
}


class _Expr:
    """An expression's text and whether it needs parentheses inside a product."""

    def __init__(self, text: str, atomic: bool, name: bool = False):
        self.text, self.atomic, self.name = text, atomic, name

    def factor(self) -> str:
        return self.text if self.atomic else f"({self.text})"


class _Writer:
    def __init__(self, digits: int, grouped: bool):
        self.digits = digits
        self.grouped = grouped  # several named layers: h1_1, h2_1, ...
        self.lines = []
        self.used = []  # activation names, in order of first use
        self.groups = 0

    def number(self, value: float) -> str:
        return f"{float(value):.{self.digits}g}"

    def weighted_sum(self, inputs: list, weights, bias) -> _Expr:
        text = ""
        for expr, weight in zip(inputs, weights):
            weight = self.number(weight)
            if not text:
                text = f"{weight}·{expr.factor()}"
            elif weight.startswith("-"):
                text += f" - {weight[1:]}·{expr.factor()}"
            else:
                text += f" + {weight}·{expr.factor()}"
        if bias is not None:
            b = self.number(bias)
            text += f" - {b[1:]}" if b.startswith("-") else f" + {b}"
        return _Expr(text, atomic=len(inputs) == 1 and bias is None)

    def activate(self, name: str, alpha, expr: _Expr) -> _Expr:
        if name == "linear":
            return expr
        if name not in self.used:
            self.used.append(name)
        extra = f", {self.number(alpha)}" if name in ("leaky_relu", "elu") else ""
        return _Expr(f"{name}({expr.text}{extra})", atomic=True)

    def name_units(self, exprs: list) -> list:
        """Writes one line per unit and returns their names."""
        if all(e.name for e in exprs) or len(exprs) == 1:
            return exprs
        self.groups += 1
        prefix = f"h{self.groups}_" if self.grouped else "h"
        names = []
        for j, expr in enumerate(exprs, start=1):
            self.lines.append(f"{prefix}{j} = {expr.text}")
            names.append(_Expr(f"{prefix}{j}", atomic=True, name=True))
        return names


def _readable(name: str) -> str:
    """An input name as it reads in a formula: brackets around names like 'width (cm)'."""
    return name if name.replace("_", "a").isalnum() else f"[{name}]"


def _dense_weights(layer):
    weights = layer.get_weights()
    return weights[0], (weights[1] if len(weights) > 1 else None)


def _batch_norm_affine(layer):
    """(scale, shift) with which the layer maps x to scale * x + shift in inference."""
    weights = [w.astype(np.float64) for w in layer.get_weights()]
    mean, var = weights[-2], weights[-1]
    gamma = weights[0] if layer.scale else np.ones_like(mean)
    beta = weights[1 if layer.scale else 0] if layer.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(var + layer.epsilon)
    return scale, beta - mean * scale


def explain(model, *, names=None, digits=4, max_weights=MAX_WEIGHTS) -> str:
    """The formula a small Sequential network computes, with its weights.

    names: the inputs' names (default: the model's metadata "inputs" when the
    command line saved it, else x1, x2, ...). digits: significant digits of
    each weight. A network with more than `max_weights` parameters raises
    ValueError: its formula is too long to read.
    """
    from nncore.layers import BatchNormalization
    from nncore.models import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"model must be an nncore Sequential; got {describe(model)}")
    if not model.built:
        raise ValueError("explain needs a built model: give it an input_dim, or fit it first")
    if isinstance(digits, bool) or not isinstance(digits, numbers.Integral) or digits < 1:
        raise ValueError(f"digits must be a positive integer; got {describe(digits)}")
    n_params = model.count_params()
    if n_params > max_weights:
        raise ValueError(
            f"the network has {n_params:,} weights: too many to read as a formula "
            f"(explain writes networks of up to max_weights={max_weights}, e.g. 2-4-1 or 4-8-3; "
            "model.summary() describes bigger ones)"
        )
    n_inputs = model._input_dim
    if names is None:
        names = (model.metadata or {}).get("inputs")
        if not (isinstance(names, list) and len(names) == n_inputs):
            names = [f"x{i}" for i in range(1, n_inputs + 1)]
    elif len(names) != n_inputs:
        raise ValueError(f"names must have {n_inputs} entries (one per input); got {len(names)}")

    dense = [layer for layer in model.layers if hasattr(layer, "units")]
    hidden_named = sum(1 for layer in dense[:-1] if layer.units > 1) + sum(
        isinstance(layer, BatchNormalization) for layer in model.layers
    )
    writer = _Writer(int(digits), grouped=hidden_named > 1)
    vector = [_Expr(_readable(str(name)), atomic=True, name=True) for name in names]
    for layer in model.layers:
        if any(isinstance(e, _Softmax) for e in vector):
            raise ValueError("explain writes a softmax only as the network's last step")
        if hasattr(layer, "units"):
            vector = writer.name_units(vector)
            w, b = _dense_weights(layer)
            sums = [
                writer.weighted_sum(vector, w[:, j], None if b is None else b[j])
                for j in range(w.shape[1])
            ]
            vector = _activate(writer, layer.activation, layer.alpha, sums)
        elif isinstance(layer, BatchNormalization):
            # at inference an affine map per unit, from the moving statistics
            vector = writer.name_units(vector)
            scale, shift = _batch_norm_affine(layer)
            vector = [writer.weighted_sum([e], [scale[j]], shift[j]) for j, e in enumerate(vector)]
        elif hasattr(layer, "activation"):
            vector = _activate(writer, layer.activation, layer.alpha, vector)
        # Dropout and Flatten are the identity at inference: nothing to write.
    writer.lines += _outputs(vector)
    if writer.used:
        definitions = [DEFINITIONS[name] for name in writer.used]
        writer.lines.append("where " + definitions[0])
        writer.lines += ["      " + d for d in definitions[1:]]
    return "\n".join(writer.lines)


def _activate(writer, name, alpha, exprs):
    if name != "softmax":
        return [writer.activate(name, alpha, e) for e in exprs]
    if "softmax" not in writer.used:
        writer.used.append("softmax")
    return [_Softmax(exprs)]


class _Softmax:
    """A softmax over a layer: written as its logits z1..zk, then y = softmax(z)."""

    def __init__(self, logits):
        self.logits = logits


def _outputs(vector) -> list:
    if len(vector) == 1 and isinstance(vector[0], _Softmax):
        logits = vector[0].logits
        lines = [f"z{j} = {e.text}" for j, e in enumerate(logits, start=1)]
        zs = ", ".join(f"z{j}" for j in range(1, len(logits) + 1))
        ys = ", ".join(f"y{j}" for j in range(1, len(logits) + 1))
        return [*lines, f"({ys}) = softmax({zs})"]
    if len(vector) == 1:
        return [f"y = {vector[0].text}"]
    return [f"y{j} = {e.text}" for j, e in enumerate(vector, start=1)]
