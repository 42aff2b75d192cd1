"""Layers of a Sequential model: Dense, Activation (and its Keras forms ReLU,
LeakyReLU, ELU, Softmax), Dropout, BatchNormalization, Flatten and Input.

A layer is a description (units, activation, initializers, ...). Its weights
live in the model's ONE flat parameter buffer, which the C training loop
updates in place; layer.get_weights() returns copies of its slices and
layer.set_weights() writes into them.
"""

from __future__ import annotations

import itertools
import numbers
from collections import defaultdict

import numpy as np

from nncore import constraints, initializers, names, regularizers
from nncore._validation import describe, real_number

__all__ = [
    "Layer",
    "Dense",
    "Activation",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Softmax",
    "Dropout",
    "BatchNormalization",
    "Flatten",
    "Input",
    "ACTIVATIONS",
]

# Activation name -> default alpha (the parameter of leaky_relu and elu, 0
# for the others), as keras.activations has them: Keras 3's leaky_relu has
# slope 0.2 (nncore.kernels keeps the kernel's own default, 0.01).
ACTIVATIONS = {name: names.LAYER_ALPHA.get(name, 0.0) for name in names.ACTIVATIONS}
_WITH_ALPHA = tuple(names.LAYER_ALPHA)
# What a Dense leaky_relu meant in model files that did not record its slope.
_DENSE_LEAKY_SLOPE_UNRECORDED = 0.01

_name_counters = defaultdict(itertools.count)


def unique_name(prefix: str) -> str:
    """dense, dense_1, dense_2, ... as Keras names layers and models."""
    index = next(_name_counters[prefix])
    return prefix if index == 0 else f"{prefix}_{index}"


def _check_name(name, prefix):
    if name is None:
        return unique_name(prefix)
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string; got {describe(name)}")
    return name


def _flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {describe(value)}")
    return bool(value)


def _count(value, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def _feature_count(shape, argument: str) -> int:
    """The number of input features from an int or a 1-tuple (Keras: (n_features,))."""
    if isinstance(shape, (tuple, list)):
        if len(shape) != 1:
            raise ValueError(
                f"{argument} must be (n_features,): nncore models take 2-D data (samples, "
                f"features); got {shape!r}"
            )
        shape = shape[0]
    return _count(shape, argument)


def resolve_activation(name, alpha=None, *, argument="activation"):
    """(name, alpha) for the C layer description; alpha None -> the default."""
    if name is None:
        name = "linear"
    if not isinstance(name, str) or name not in ACTIVATIONS:
        names = ", ".join(repr(n) for n in ACTIVATIONS)
        hint = (
            " (nncore runs activations in C, so Python callables cannot be used)"
            if callable(name)
            else ""
        )
        raise ValueError(f"{argument} must be None or one of {names}{hint}; got {describe(name)}")
    if alpha is None:
        alpha = ACTIVATIONS[name]
    else:
        if name not in _WITH_ALPHA:
            raise ValueError(
                f"alpha is a parameter of leaky_relu and elu only; got it for {name!r}"
            )
        alpha = real_number(alpha, "alpha")
    return name, alpha


class Layer:
    """Base class: a name, the model it belongs to, and weights in that model."""

    _prefix = "layer"

    def __init__(self, name=None, trainable=True):
        self.name = _check_name(name, self._prefix)
        self._model = None
        self._input_dim = None  # set when the layer fixes the model's input width
        self._trainable = _flag(trainable, "trainable")

    @property
    def trainable(self) -> bool:
        """False freezes the layer (Keras): fit neither updates its weights nor
        applies their weight decay, regularizer or constraint; gradients still
        flow through it. Takes effect from the next epoch or call."""
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = _flag(value, "trainable")
        if self._model is not None:
            self._model._layers_changed()

    # --- what the model asks of a layer -----------------------------------
    def _output_dim(self, n_in: int) -> int:
        return n_in

    def _c_description(self, n_in: int) -> dict:
        raise NotImplementedError

    def _weight_shapes(self, n_in: int) -> list:
        return []

    def _weight_names(self) -> list:
        """The name of each weight (in set_weights' messages)."""
        return []

    def _weight_initializers(self) -> list:
        """The initializer of each weight of _weight_shapes, in order."""
        return []

    def _weight_trainable(self, n_in: int) -> list:
        """Per weight: whether fit updates it (Keras's trainable weights)."""
        return [self._trainable] * len(self._weight_shapes(n_in))

    def count_params(self) -> int:
        """Number of weights (0 before the model knows its input width)."""
        model = self._model
        if model is None or not model.built:
            return 0
        return sum(int(np_prod(s)) for s in self._weight_shapes(model._layer_inputs()[self]))

    # --- weights ------------------------------------------------------------
    def get_weights(self) -> list:
        """Copies of this layer's weights ([] for layers without, or before build)."""
        if self._model is None or not self._model.built:
            return []
        return self._model._layer_weights(self)

    def set_weights(self, weights) -> None:
        """Writes this layer's weights (same shapes as get_weights()); all or nothing."""
        if self._model is None or not self._model.built:
            raise ValueError(
                f"layer {self.name!r} has no weights yet: add it to a model whose input width "
                f"is known (input_dim/input_shape/Input, or after the first fit/predict/build)"
            )
        self._model._set_layer_weights(self, weights)

    @property
    def weights(self) -> list:
        return self.get_weights()

    # --- serialization -------------------------------------------------------
    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self._trainable}
        if self._input_dim is not None:
            config["input_dim"] = self._input_dim
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def np_prod(shape) -> int:
    result = 1
    for s in shape:
        result *= s
    return result


class Dense(Layer):
    """y = activation(x @ W + b), W of shape (input width, units).

    activation: a name among ACTIVATIONS or None (linear); "leaky_relu" uses
    slope 0.2 and "elu" alpha 1, as Keras 3 does (LeakyReLU, ELU or
    Activation layers take other values).
    kernel_regularizer: regularizers.l2(f) adds f * sum(W**2) to the loss.
    kernel_constraint: "non_neg" or "max_norm" (or the objects), applied
    after each optimizer step. input_dim / input_shape=(n,) fix the input
    width when this is the first layer.
    """

    _prefix = "dense"

    def __init__(
        self,
        units,
        activation=None,
        *,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        kernel_constraint=None,
        input_dim=None,
        input_shape=None,
        name=None,
        trainable=True,
    ):
        super().__init__(name, trainable)
        self.units = _count(units, "units")
        self.activation, self.alpha = resolve_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        if input_dim is not None and input_shape is not None:
            raise ValueError("give input_dim or input_shape, not both")
        if input_dim is not None:
            self._input_dim = _count(input_dim, "input_dim")
        elif input_shape is not None:
            self._input_dim = _feature_count(input_shape, "input_shape")

    def _output_dim(self, n_in):
        return self.units

    def _weight_shapes(self, n_in):
        return [(n_in, self.units), (self.units,)] if self.use_bias else [(n_in, self.units)]

    def _weight_names(self):
        return ["kernel", "bias"] if self.use_bias else ["kernel"]

    def _weight_initializers(self):
        return [self.kernel_initializer, self.bias_initializer][: 2 if self.use_bias else 1]

    def _c_description(self, n_in):
        constraint = self.kernel_constraint
        return {
            "kind": "dense",
            "n_in": n_in,
            "n_out": self.units,
            "activation": self.activation,
            "alpha": self.alpha,
            "use_bias": self.use_bias,
            "l2": 0.0 if self.kernel_regularizer is None else self.kernel_regularizer.l2,
            "constraint": "none" if constraint is None else constraint.name,
            "max_norm": constraint.max_value
            if isinstance(constraint, constraints.MaxNorm)
            else 0.0,
            "trainable": self._trainable,
        }

    def get_config(self):
        regularizer = self.kernel_regularizer
        constraint = self.kernel_constraint
        alpha = {"alpha": self.alpha} if self.activation in _WITH_ALPHA else {}
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation,
            **alpha,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": None if regularizer is None else regularizer.get_config(),
            "kernel_constraint": None
            if constraint is None
            else {"name": constraint.name, "config": constraint.get_config()},
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        alpha = config.pop("alpha", None)
        if alpha is None and config.get("activation") == "leaky_relu":
            alpha = _DENSE_LEAKY_SLOPE_UNRECORDED
        for key in ("kernel_initializer", "bias_initializer"):
            if key in config:
                config[key] = initializers.deserialize(config[key])
        regularizer = config.get("kernel_regularizer")
        if regularizer is not None:
            if not isinstance(regularizer, dict):
                raise ValueError(f"kernel_regularizer must be a dict; got {describe(regularizer)}")
            config["kernel_regularizer"] = regularizers.L2(**regularizer)
        constraint = config.get("kernel_constraint")
        if constraint is not None:
            if not isinstance(constraint, dict) or not isinstance(constraint.get("config"), dict):
                raise ValueError(f"kernel_constraint must be a dict; got {describe(constraint)}")
            cls_ = constraints.get(constraint.get("name"))
            config["kernel_constraint"] = type(cls_)(**constraint["config"])
        layer = cls(**config)
        if alpha is not None:
            layer.activation, layer.alpha = resolve_activation(layer.activation, alpha)
        return layer

    def __repr__(self):
        return f"<Dense name={self.name!r} units={self.units} activation={self.activation!r}>"


class Activation(Layer):
    """y = activation(x), e.g. Activation("leaky_relu", alpha=0.1).

    Parameters: alpha for leaky_relu (default 0.2, as in Keras 3; Keras 3's name
    negative_slope is accepted too) and elu (default 1).
    """

    _prefix = "activation"

    def __init__(self, activation, *, name=None, trainable=True, **params):
        super().__init__(name, trainable)
        alpha = params.pop("alpha", None)
        if "negative_slope" in params:
            if alpha is not None:
                raise ValueError("give alpha or negative_slope, not both")
            alpha = params.pop("negative_slope")
        if params:
            raise TypeError(f"Activation got unexpected parameters {sorted(params)}")
        self.activation, self.alpha = resolve_activation(activation, alpha)

    def _c_description(self, n_in):
        return {"kind": "activation", "n": n_in, "activation": self.activation, "alpha": self.alpha}

    def get_config(self):
        config = {**super().get_config(), "activation": self.activation}
        if self.activation in _WITH_ALPHA:
            config["alpha"] = self.alpha
        return config

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} activation={self.activation!r}>"


class ReLU(Activation):
    """keras.layers.ReLU: max(x, 0), or negative_slope * x below 0 (a leaky
    ReLU). The C network's ReLU has no ceiling and no threshold, so
    max_value and threshold other than their defaults are refused."""

    _prefix = "re_lu"

    def __init__(
        self, max_value=None, negative_slope=0.0, threshold=0.0, *, name=None, trainable=True
    ):
        if max_value is not None:
            raise ValueError(
                "ReLU(max_value=...) is not supported: the C network's ReLU has no ceiling "
                "(use ReLU() or Activation('relu'))"
            )
        if real_number(threshold, "threshold") != 0.0:
            raise ValueError(
                f"ReLU(threshold={threshold}) is not supported: the C network's ReLU switches at 0"
            )
        negative_slope = real_number(negative_slope, "negative_slope")
        if negative_slope < 0:
            raise ValueError(f"negative_slope must be >= 0; got {negative_slope}")
        if negative_slope:
            super().__init__("leaky_relu", alpha=negative_slope, name=name, trainable=trainable)
        else:
            super().__init__("relu", name=name, trainable=trainable)

    def get_config(self):
        slope = self.alpha if self.activation == "leaky_relu" else 0.0
        return {**Layer.get_config(self), "negative_slope": slope}


class LeakyReLU(Activation):
    """keras.layers.LeakyReLU: x above 0, negative_slope * x below (Keras 3's
    default slope 0.3; Keras 2's name alpha is accepted too)."""

    _prefix = "leaky_re_lu"

    def __init__(self, negative_slope=0.3, *, name=None, trainable=True, **params):
        if "alpha" in params:
            negative_slope = params.pop("alpha")
        if params:
            raise TypeError(f"LeakyReLU got unexpected parameters {sorted(params)}")
        if real_number(negative_slope, "negative_slope") < 0:
            raise ValueError(f"negative_slope must be >= 0; got {negative_slope}")
        super().__init__("leaky_relu", alpha=negative_slope, name=name, trainable=trainable)

    def get_config(self):
        return {**Layer.get_config(self), "negative_slope": self.alpha}


class ELU(Activation):
    """keras.layers.ELU: x above 0, alpha * (exp(x) - 1) below."""

    _prefix = "elu"

    def __init__(self, alpha=1.0, *, name=None, trainable=True):
        super().__init__("elu", alpha=alpha, name=name, trainable=trainable)

    def get_config(self):
        return {**Layer.get_config(self), "alpha": self.alpha}


class Softmax(Activation):
    """keras.layers.Softmax over the features of each sample (axis -1, the
    only axis of nncore's 2-D data besides the samples)."""

    _prefix = "softmax"

    def __init__(self, axis=-1, *, name=None, trainable=True):
        if axis not in (-1, 1) or isinstance(axis, bool):
            raise ValueError(
                f"axis must be -1 (the features of each sample): nncore models take 2-D data; "
                f"got {describe(axis)}"
            )
        super().__init__("softmax", name=name, trainable=trainable)

    def get_config(self):
        return {**Layer.get_config(self), "axis": -1}


class Dropout(Layer):
    """During training, zeroes each input with probability `rate` and scales the
    rest by 1 / (1 - rate); does nothing in predict/evaluate. The masks come
    from the model seed and the optimizer step, so training is reproducible."""

    _prefix = "dropout"

    def __init__(self, rate, *, name=None, trainable=True):
        super().__init__(name, trainable)
        rate = real_number(rate, "rate")
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be in [0, 1); got {rate}")
        self.rate = rate

    def _c_description(self, n_in):
        return {"kind": "dropout", "n": n_in, "rate": self.rate}

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}

    def __repr__(self):
        return f"<Dropout name={self.name!r} rate={self.rate}>"


class BatchNormalization(Layer):
    """keras.layers.BatchNormalization over the features (axis -1): in
    training, y = gamma * (x - mean) / sqrt(var + epsilon) + beta with the
    batch's mean and biased variance, and after each batch
    moving = moving * momentum + batch statistic * (1 - momentum); in
    predict and evaluate, the moving mean and variance. Weights, in Keras's
    order: gamma (scale=True), beta (center=True), moving_mean,
    moving_variance; fit never changes the last two but by that update.
    trainable=False freezes gamma and beta and makes the layer use its moving
    statistics in fit too (Keras 3). Sample weights do not enter the
    statistics. Regularizers and constraints on gamma and beta, synchronized
    and Keras 2's renormalization options are not supported (refused).
    """

    _prefix = "batch_normalization"

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        synchronized=False,
        *,
        input_dim=None,
        input_shape=None,
        name=None,
        trainable=True,
        **kwargs,
    ):
        super().__init__(name, trainable)
        if kwargs:
            raise TypeError(
                f"BatchNormalization got unexpected parameters {sorted(kwargs)} (Keras 2's "
                "renorm, fused, virtual_batch_size and adjustment are not supported)"
            )
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = axis[0]
        if isinstance(axis, bool) or axis not in (-1, 1):
            raise ValueError(
                "axis must be -1 (the features of each sample): nncore normalizes each feature "
                f"over the batch; got {describe(axis)}"
            )
        self.axis = -1
        self.momentum = real_number(momentum, "momentum")
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1]; got {momentum}")
        self.epsilon = real_number(epsilon, "epsilon")
        if not 0.0 < self.epsilon < float("inf"):
            raise ValueError(f"epsilon must be a finite number > 0; got {epsilon}")
        self.center = _flag(center, "center")
        self.scale = _flag(scale, "scale")
        self.beta_initializer = initializers.get(beta_initializer, "beta_initializer")
        self.gamma_initializer = initializers.get(gamma_initializer, "gamma_initializer")
        self.moving_mean_initializer = initializers.get(
            moving_mean_initializer, "moving_mean_initializer"
        )
        self.moving_variance_initializer = initializers.get(
            moving_variance_initializer, "moving_variance_initializer"
        )
        for key, value in (
            ("beta_regularizer", beta_regularizer),
            ("gamma_regularizer", gamma_regularizer),
            ("beta_constraint", beta_constraint),
            ("gamma_constraint", gamma_constraint),
        ):
            if value is not None:
                raise ValueError(
                    f"{key} must be None: nncore's BatchNormalization has no regularizers or "
                    f"constraints; got {describe(value)}"
                )
        if _flag(synchronized, "synchronized"):
            raise ValueError(
                "synchronized=True is not supported: nncore trains on one process, whose batch "
                "statistics are the whole batch's already"
            )
        if input_dim is not None and input_shape is not None:
            raise ValueError("give input_dim or input_shape, not both")
        if input_dim is not None:
            self._input_dim = _count(input_dim, "input_dim")
        elif input_shape is not None:
            self._input_dim = _feature_count(input_shape, "input_shape")

    def _weight_shapes(self, n_in):
        return [(n_in,)] * (int(self.scale) + int(self.center) + 2)

    def _weight_names(self):
        return [*(["gamma"] if self.scale else []), *(["beta"] if self.center else []),
                "moving_mean", "moving_variance"]  # fmt: skip

    def _weight_initializers(self):
        return [
            *([self.gamma_initializer] if self.scale else []),
            *([self.beta_initializer] if self.center else []),
            self.moving_mean_initializer,
            self.moving_variance_initializer,
        ]

    def _weight_trainable(self, n_in):
        return [self._trainable] * (int(self.scale) + int(self.center)) + [False, False]

    def _c_description(self, n_in):
        return {
            "kind": "batch_norm",
            "n": n_in,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "trainable": self._trainable,
        }

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": None,
            "gamma_regularizer": None,
            "beta_constraint": None,
            "gamma_constraint": None,
            "synchronized": False,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in (
            "beta_initializer",
            "gamma_initializer",
            "moving_mean_initializer",
            "moving_variance_initializer",
        ):
            if key in config:
                config[key] = initializers.deserialize(config[key])
        return cls(**config)

    def __repr__(self):
        return f"<BatchNormalization name={self.name!r} momentum={self.momentum}>"


class Flatten(Layer):
    """keras.layers.Flatten: each sample's features in one row. nncore's data
    reach the C network as rows already, so the layer costs nothing; as a
    model's first layer it lets the model take samples of any shape (Input((28,
    28)) then Flatten()), whose rows are reshaped without a copy when they are
    contiguous. Only Keras's data_format "channels_last" (the default)."""

    _prefix = "flatten"

    def __init__(self, data_format=None, *, input_shape=None, name=None, trainable=True):
        super().__init__(name, trainable)
        if data_format not in (None, "channels_last"):
            raise ValueError(
                "data_format must be None or 'channels_last': nncore flattens each sample in "
                f"its own (C) order; got {describe(data_format)}"
            )
        self.data_format = "channels_last"
        self._input_shape = None
        if input_shape is not None:
            self._input_shape = _sample_shape(input_shape, "input_shape")
            self._input_dim = int(np_prod(self._input_shape))

    def _c_description(self, n_in):
        return {"kind": "flatten", "n": n_in}

    def get_config(self):
        config = {**super().get_config(), "data_format": self.data_format}
        if self._input_shape is not None:
            config.pop("input_dim", None)
            config["input_shape"] = list(self._input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        input_dim = config.pop("input_dim", None)
        if input_dim is not None and config.get("input_shape") is None:
            config["input_shape"] = (input_dim,)
        return cls(**config)


def _sample_shape(shape, argument: str) -> tuple:
    """The shape of one sample: a tuple of integers >= 1 (an int n means (n,))."""
    if not isinstance(shape, (tuple, list)):
        shape = (shape,)
    if not shape:
        raise ValueError(f"{argument} must have at least one dimension; got {shape!r}")
    return tuple(_count(n, argument) for n in shape)


class Input:
    """Input(shape=(n_features,)): declares the input width of a Sequential
    model, as its first element: Sequential([Input((2,)), Dense(1)]).
    Samples of more dimensions (Input((28, 28))) need Flatten() as the first
    layer. It is not a layer of model.layers (as in Keras)."""

    def __init__(self, shape, *, name=None):
        self.shape = _sample_shape(shape, "shape")
        self.name = _check_name(name, "input_layer")

    def __repr__(self):
        return f"<Input shape={(None, *self.shape)}>"


LAYER_CLASSES = {
    cls.__name__: cls
    for cls in (
        Dense,
        Activation,
        ReLU,
        LeakyReLU,
        ELU,
        Softmax,
        Dropout,
        BatchNormalization,
        Flatten,
    )
}
