"""Keras-style models: Sequential, whose whole training epoch is ONE call into C.

A Sequential model is a list of layer descriptions plus a few numpy buffers:

    params      every weight of every layer, in ONE flat array (layer by layer:
                W (n_in, n_out) row-major, then b), which the C loop updates in
                place. get_weights()/set_weights() copy slices of it.
    opt_state   the optimizer's moment buffers, same layout, slot after slot.
    grads       scratch for the gradient of one batch.

fit() validates every argument first (a refused fit leaves the model as it
was), then for each epoch makes one call to nncore._core.Network.train_epoch,
which runs the batch loop (forward pass, loss, backward pass, optimizer step,
constraints) in C with the GIL released. Python only runs between epochs
(callbacks, validation, the progress line) and, for the progress line and
Ctrl-C, from a hook the C loop calls a few times per second.

Reproducibility: the model `seed` fixes the initial weights (layer i draws
from a numpy Generator seeded with (seed, i)), the shuffling (the permutation
of an epoch is a function of the seed and the optimizer step at the start of
the epoch, drawn in C) and the dropout masks (a function of seed, step,
layer and element, computed in C). As the shuffling depends on no hidden
generator state, a model saved and loaded again continues exactly as if it
had never stopped.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import sys

import numpy as np

from nncore import _core, io, keras_files, losses, names, optimizers, utils
from nncore import metrics as metrics_module
from nncore._validation import describe, float_array, real_number
from nncore.callbacks import Callback, History, TerminateOnNaN, batch_hooks
from nncore.layers import LAYER_CLASSES, Input, Layer, _count, _feature_count, unique_name
from nncore.progress import ProgressLine

__all__ = [
    "Sequential",
    "load_model",
    "model_from_json",
    "clone_model",
    "LOSSES",
    "METRICS",
]

LOSSES = names.LOSSES
METRICS = names.METRICS

_SPARSE = "sparse_categorical_crossentropy"
_DTYPES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}
# Seconds between the C loop's calls to Python when nothing is shown: the
# hook then only checks for Ctrl-C, so that fit returns within half a second.
_INTERRUPT_CHECK_SECONDS = 0.2
# The hooks fit calls; an object with none of them is not a callback.
_FIT_HOOKS = (
    "on_epoch_end",
    "on_epoch_begin",
    "on_train_begin",
    "on_train_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_batch_begin",
    "on_batch_end",
)
# Distinguishes the shuffling stream from the per-layer initialization streams.
_SHUFFLE_STREAM = 0x5348_5546


_ZIP_MAGIC = b"PK\x03\x04"


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True) -> Sequential:
    """Loads a model written by Sequential.save: nncore's own file (see
    docs/file-format.md), or a Keras 3 .keras file (keras_files.load_keras).
    compile=False gives the model uncompiled. Nothing a file holds is ever
    run as code, so safe_mode changes nothing; custom_objects must be None
    (nncore's layers, losses and metrics are all built in)."""
    if custom_objects:
        raise ValueError("custom_objects must be None: nncore models have no custom objects")
    if hasattr(filepath, "read"):
        model = io.load_model(filepath)
    else:
        with open(os.fspath(filepath), "rb") as f:
            is_zip = f.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC
        model = keras_files.load_keras(filepath) if is_zip else io.load_model(filepath)
    if not compile:
        model._uncompile()
    return model


def _verbosity(verbose) -> int:
    if verbose == "auto":
        return 1
    if isinstance(verbose, numbers.Integral) and 0 <= verbose <= 2:
        return int(verbose)
    raise ValueError(f"verbose must be 'auto', 0, 1 or 2; got {describe(verbose)}")


def _check_finite(arr: np.ndarray, name: str):
    if not arr.size:
        return
    finite = _core.all_finite(arr)  # one pass in C; None: not an array it reads
    if finite is None:
        finite = bool(np.isfinite(arr).all())
    if not finite:
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = ", ".join(str(int(i)) for i in bad)
        raise ValueError(f"{name} contains NaN or infinity (first at index ({where}))")


class Sequential:
    """A stack of layers: Sequential([Dense(4, "relu", input_dim=2), Dense(1, "sigmoid")]).

    dtype: "float32" (default) or "float64", for the weights and all the math.
    seed: an integer >= 0 that fixes initialization, shuffling and dropout, so
    that two models built and trained the same way have identical weights
    bit for bit. Without a seed one is drawn at random (and kept in
    `model.seed`, and in saved files).

    >>> import numpy as np, nncore
    >>> model = nncore.Sequential([nncore.Dense(1, input_dim=2)], seed=0)
    >>> model.compile(loss="mse", optimizer=nncore.optimizers.SGD(0.1))
    >>> X = np.array([[0, 1], [1, 0], [1, 1]], dtype=np.float32)
    >>> history = model.fit(X, X.sum(axis=1), epochs=200, verbose=0)
    >>> bool(np.allclose(model.predict(X)[:, 0], [1, 1, 2], atol=0.05))
    True
    """

    def __init__(self, layers=None, *, dtype="float32", seed=None, name=None):
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            dtype = None
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be 'float32' or 'float64'; got {describe(dtype)}")
        if seed is None:
            seed = utils.model_seed()
        elif isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"seed must be None or an integer; got {describe(seed)}")
        elif not 0 <= seed < 2**63:
            raise ValueError(f"seed must be in [0, 2**63); got {seed}")
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"name must be a non-empty string; got {describe(name)}")
        self.dtype = dtype
        self.seed = int(seed)
        self.name = name if name is not None else unique_name("sequential")
        self._layers = []
        self._input_dim = None
        # Set by _build when the input width is known:
        self._params = None
        self._grads = None
        self._slices = {}  # layer -> [(offset, shape), ...]
        self._descriptions = None  # the layer dicts of nncore._core.Network
        self._net = None  # the C network, made from them when first needed
        self._logits_net = None  # (training network, predict network) for from_logits
        # Set by compile:
        self.optimizer = None
        self.loss = None  # as the user gave it: a name or an nncore.losses object
        self._loss_spec = None  # an nncore.losses object
        self._c_loss = None
        self._metric_specs = []  # [(name in the logs, C metric or "accuracy")]
        self._metric_names = []  # the names in the logs
        self._compiled_metrics = []  # as compile was given them
        self._opt_state = None
        self._rollback = None  # fit's copies of params and optimizer state, reused
        self.stop_training = False
        self.history = None
        # Orders reads of the weights (predict, evaluate, get_weights, save)
        # against writes (fit, set_weights, compile) across threads.
        self._guard = _core.AccessGuard()
        # Free-form JSON-serializable information saved with the model (e.g.
        # feature names); nncore itself does not read it.
        self.metadata = {}
        if layers is not None:
            if isinstance(layers, (Layer, Input)) or not hasattr(layers, "__iter__"):
                raise TypeError(f"layers must be a list of layers; got {describe(layers)}")
            for layer in layers:
                self.add(layer)

    # ------------------------------------------------------------ structure
    @property
    def layers(self) -> list:
        return list(self._layers)

    @property
    def built(self) -> bool:
        return self._params is not None

    @property
    def compiled(self) -> bool:
        return self.optimizer is not None

    @property
    def input_shape(self):
        return None if self._input_dim is None else (None, self._input_dim)

    @property
    def output_shape(self):
        width = self._output_width()
        return None if width is None else (None, width)

    @property
    def metrics_names(self) -> list:
        return ["loss", *self._metric_names]

    def _output_width(self, n_in=None):
        """Width of the model's output (None while unknown)."""
        width = self._input_dim if n_in is None else n_in
        for layer in self._layers:
            width = layer._output_dim(width)
        return width

    def _layer_inputs(self, n_in=None) -> dict:
        width = self._input_dim if n_in is None else n_in
        widths = {}
        for layer in self._layers:
            widths[layer] = width
            width = layer._output_dim(width)
        return widths

    def add(self, layer) -> None:
        """Appends a layer (or, first of all, an Input)."""
        if isinstance(layer, Input):
            if self._layers or self._input_dim is not None:
                raise ValueError("an Input must be the first element of a Sequential model")
            self._input_dim = layer.shape[0]
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"layer must be an nncore layer (Dense, Activation, Dropout) or Input; "
                f"got {describe(layer)}"
            )
        if layer._model is not None:
            raise ValueError(f"layer {layer.name!r} already belongs to model {layer._model.name!r}")
        if any(other.name == layer.name for other in self._layers):
            raise ValueError(f"the model already has a layer named {layer.name!r}")
        if layer._input_dim is not None:
            if self._layers:
                raise ValueError(
                    f"input_dim/input_shape of layer {layer.name!r} can only be given to the "
                    "first layer"
                )
            if self._input_dim is not None and self._input_dim != layer._input_dim:
                raise ValueError(
                    f"layer {layer.name!r} has input_dim {layer._input_dim} but the model's "
                    f"Input has {self._input_dim} features"
                )
        layers = [*self._layers, layer]
        input_dim = self._input_dim if self._input_dim is not None else layer._input_dim
        if input_dim is not None:
            # Build now (keeping the weights of the layers already there).
            self._build(input_dim, layers=layers)
        self._layers = layers
        self._input_dim = input_dim
        layer._model = self

    def build(self, input_shape=None) -> None:
        """Creates the weights for inputs of the given width ((None, n) or (n,) or n)."""
        if input_shape is None:
            if self._input_dim is None:
                raise ValueError("build() needs input_shape: the model does not know its inputs")
            n_in = self._input_dim
        else:
            if isinstance(input_shape, (tuple, list)) and len(input_shape) == 2:
                input_shape = input_shape[1:]
            n_in = _feature_count(input_shape, "input_shape")
        if self.built:
            if n_in != self._input_dim:
                raise ValueError(
                    f"the model is built for {self._input_dim} input features; got {n_in}"
                )
            return
        self._build(n_in)
        self._input_dim = n_in

    def _build(self, n_in: int, layers=None) -> None:
        """Creates the network for inputs of width n_in, all or nothing.

        Layers that already have weights keep them; new ones are initialized.
        """
        layers = self._layers if layers is None else layers
        if not layers:
            raise ValueError(f"model {self.name!r} has no layers yet: add() some first")
        # The parameter layout (the same the C network computes, checked in
        # _network): Dense layers in order, each W (n_in, n_out) then b.
        descriptions = []
        slices = {}
        n_params = 0
        width = n_in
        for layer in layers:
            descriptions.append(layer._c_description(width))
            shapes = layer._weight_shapes(width)
            if shapes:
                slices[layer] = []
                for shape in shapes:
                    slices[layer].append((n_params, shape))
                    n_params += math.prod(shape)
            width = layer._output_dim(width)
        params = np.zeros(n_params, dtype=self.dtype)
        for index, layer in enumerate(layers):
            if layer not in slices:
                continue
            if layer in self._slices:  # already built: keep its weights
                for (new_offset, shape), (old_offset, _) in zip(slices[layer], self._slices[layer]):
                    size = math.prod(shape)
                    params[new_offset : new_offset + size] = self._params[
                        old_offset : old_offset + size
                    ]
                continue
            rng = np.random.default_rng([self.seed, index])
            inits = [layer.kernel_initializer, layer.bias_initializer]
            for (offset, shape), init in zip(slices[layer], inits):
                params[offset : offset + math.prod(shape)] = init(shape, rng, self.dtype).ravel()
        # Nothing above changed the model; from here on nothing can fail.
        self._descriptions = descriptions
        self._net = None
        self._params = params
        self._grads = np.zeros_like(params)
        self._slices = slices
        if self.optimizer is not None:
            self._reset_optimizer_state()

    def _network(self):
        """The C network (nncore._core.Network) for the current layers and loss.

        Made on first use and kept; raises ValueError, changing nothing, when
        the C layer refuses the description (e.g. a loss that does not fit the
        output layer).
        """
        if self._net is None:
            descriptions = self._descriptions
            if self._outputs_logits():
                descriptions = _with_output_activation(
                    descriptions, self._loss_spec.logits_activation
                )
            self._net = self._make_network(descriptions, self._c_loss or "mse")
        return self._net

    def _outputs_logits(self) -> bool:
        """Whether the loss takes the logits the model outputs (from_logits=True)."""
        return self._loss_spec is not None and self._loss_spec.from_logits

    def _predict_network(self):
        """The C network predict runs: the training one, but for a from_logits
        loss, whose training network adds the output activation the loss applies."""
        net = self._network()
        if not self._outputs_logits():
            return net
        if self._logits_net is None or self._logits_net[0] is not net:
            self._logits_net = (net, self._make_network(self._descriptions, "mse"))
        return self._logits_net[1]

    def _make_network(self, descriptions, loss):
        """A C network for these layer descriptions, its layout checked against ours."""
        net = _core.Network(descriptions, loss, self.dtype)
        layout = [
            (offset, tuple(shape))
            for layer in self._layers
            for offset, shape in self._slices.get(layer, [])
        ]
        c_layout = []
        for weight_offset, kernel_shape, bias_offset in net.dense_slices():
            c_layout.append((weight_offset, tuple(kernel_shape)))
            if bias_offset is not None:
                c_layout.append((bias_offset, (kernel_shape[1],)))
        if net.n_params != self._params.size or c_layout != layout:
            raise RuntimeError(
                f"internal error: the C network lays out {net.n_params} parameters as "
                f"{c_layout}; models.py expected {self._params.size} as {layout}"
            )
        return net

    def _reset_optimizer_state(self):
        slots = self.optimizer.state_slots
        self._opt_state = np.zeros(slots * self._params.size, dtype=self.dtype)

    def get_layer(self, name=None, index=None) -> Layer:
        """A layer by name or by index."""
        if index is not None:
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; layers: {[x.name for x in self._layers]}")

    def count_params(self) -> int:
        return 0 if not self.built else int(self._params.size)

    def _trainable_count(self) -> int:
        """The number of weights fit updates (those of layers not frozen)."""
        return sum(
            math.prod(shape)
            for layer in self._layers
            if layer.trainable
            for _, shape in self._slices.get(layer, [])
        )

    @property
    def trainable(self) -> bool:
        """False when every layer is frozen; setting it sets every layer's (Keras)."""
        return any(layer.trainable for layer in self._layers) or not self._layers

    @trainable.setter
    def trainable(self, value):
        for layer in self._layers:
            layer.trainable = value

    def _layers_changed(self) -> None:
        """A layer's description changed (trainable): the C network is made again
        at its next use."""
        if self.built:
            widths = self._layer_inputs()
            self._descriptions = [layer._c_description(widths[layer]) for layer in self._layers]
        self._net = None

    # -------------------------------------------------------------- weights
    def _layer_weights(self, layer) -> list:
        return [
            self._params[offset : offset + math.prod(shape)].reshape(shape).copy()
            for offset, shape in self._slices.get(layer, [])
        ]

    def get_weights(self) -> list:
        """Copies of all weights: [W0 (n_in, n_out), b0 (n_out,), W1, b1, ...]."""
        with self._guard.read("get_weights"):
            return [w for layer in self._layers for w in self._layer_weights(layer)]

    @property
    def weights(self) -> list:
        return self.get_weights()

    def _checked_weights(self, parts, weights, what: str) -> list:
        """weights as arrays of the model dtype, checked against parts; raises first."""
        if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
            raise TypeError(f"{what} must be a list of arrays; got {describe(weights)}")
        if len(weights) != len(parts):
            raise ValueError(f"{what} must hold {len(parts)} arrays; got {len(weights)}")
        arrays = []
        for i, (w, (_, shape, label)) in enumerate(zip(weights, parts)):
            try:
                arr = np.asarray(w)
            except Exception as exc:
                raise TypeError(
                    f"{what}[{i}] ({label}) must be an array; got {describe(w)}"
                ) from exc
            if arr.dtype.kind not in "fiub":
                raise TypeError(
                    f"{what}[{i}] ({label}) must hold real numbers; got dtype {arr.dtype}"
                )
            if arr.shape != shape:
                raise ValueError(f"{what}[{i}] ({label}) must have shape {shape}; got {arr.shape}")
            arrays.append(arr.astype(self.dtype))
        return arrays

    def _weight_parts(self, layers):
        parts = []
        for layer in layers:
            for j, (offset, shape) in enumerate(self._slices.get(layer, [])):
                parts.append((offset, shape, f"{layer.name} {'bias' if j else 'kernel'}"))
        return parts

    def _write_weights(self, parts, arrays):
        for (offset, shape, _), arr in zip(parts, arrays):
            self._params[offset : offset + math.prod(shape)] = arr.ravel()

    def set_weights(self, weights) -> None:
        """Replaces all weights (the list get_weights returns); all or nothing.

        An unbuilt model takes its input width from the first kernel's shape.
        """
        self._guard.begin_write("set_weights")
        try:
            self._set_weights(weights)
        finally:
            self._guard.end_write()

    def _set_weights(self, weights) -> None:
        if not self.built:
            first = weights[0] if isinstance(weights, (list, tuple)) and weights else None
            shape = np.shape(first) if first is not None else ()
            if len(shape) != 2 or not any(layer._weight_shapes(0) for layer in self._layers):
                raise ValueError(
                    "set_weights on a model whose input width is unknown needs a list that "
                    "starts with the first kernel (n_in, units)"
                )
            saved = self._build_state()
            self._build(int(shape[0]))
            try:
                self._set_built_weights(weights)
            except Exception:
                self._restore_build_state(saved)
                raise
            self._input_dim = int(shape[0])
            return
        self._set_built_weights(weights)

    def _build_state(self):
        return (
            self._descriptions,
            self._net,
            self._params,
            self._grads,
            self._slices,
            self._opt_state,
        )

    def _restore_build_state(self, state):
        (
            self._descriptions,
            self._net,
            self._params,
            self._grads,
            self._slices,
            self._opt_state,
        ) = state

    def _set_built_weights(self, weights):
        parts = self._weight_parts(self._layers)
        self._write_weights(parts, self._checked_weights(parts, weights, "weights"))

    def _set_layer_weights(self, layer, weights):
        parts = self._weight_parts([layer])
        checked = self._checked_weights(parts, weights, "weights")
        self._guard.begin_write("set_weights")
        try:
            self._write_weights(parts, checked)
        finally:
            self._guard.end_write()

    def _params_snapshot(self) -> np.ndarray:
        """A copy of the flat parameter buffer (for EarlyStopping)."""
        return self._params.copy()

    def _restore_params(self, snapshot: np.ndarray) -> None:
        if self._params is not None and snapshot.shape == self._params.shape:
            self._params[...] = snapshot

    # -------------------------------------------------------------- compile
    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution=1,
        jit_compile="auto",
        auto_scale_loss=True,
    ) -> None:
        """Keras 3's compile: compile(optimizer, loss, metrics=...).

        optimizer: a name ("rmsprop", Keras's default, "adam", "sgd", "adamw")
        or an Optimizer. loss: a name (e.g. "mse", "binary_crossentropy") or
        an nncore.losses object; None compiles a model for predict only.
        metrics: names among "accuracy" (binary, categorical or sparse as the
        loss implies), "mse", "mae" and their long and explicit forms, or
        nncore.metrics objects. The loop runs in C, so a Python function as a
        loss or metric is refused; so are the settings it has no use for
        (loss_weights and weighted_metrics of a one-output model, run_eagerly,
        steps_per_execution other than 1). jit_compile and auto_scale_loss
        change nothing: the loop is always compiled C, in the model's dtype.
        """
        optimizer = _optimizer(optimizer)
        loss_spec = _loss_spec(loss)
        metric_specs = _metric_specs(metrics)
        _refuse_unused_compile_settings(
            loss_weights, weighted_metrics, run_eagerly, steps_per_execution
        )
        if loss_spec is not None:
            _check_logits_metrics(loss_spec, metric_specs)
        self._guard.begin_write("compile")
        try:
            same_optimizer = optimizer is self.optimizer and self._opt_state is not None
            self.loss = loss
            self._loss_spec = loss_spec
            self._c_loss = None if loss_spec is None else loss_spec.c_name
            self._net = None  # the C network carries the loss: made again when needed
            self._metric_specs = metric_specs
            self._metric_names = [name for name, _ in metric_specs]
            self._compiled_metrics = (
                list(metrics or [])
                if not isinstance(metrics, (str, metrics_module.Metric))
                else [metrics]
            )
            self.optimizer = optimizer
            if self.built and not same_optimizer:
                self._reset_optimizer_state()
        finally:
            self._guard.end_write()

    def get_compile_config(self):
        """compile's arguments as JSON data (None before compile), as Keras has it."""
        if self.optimizer is None:
            return None
        return {
            "optimizer": optimizers.serialize(self.optimizer),
            "loss": _serialize(self.loss),
            "metrics": [_serialize(metric) for metric in self._compiled_metrics],
        }

    def compile_from_config(self, config) -> None:
        """compile() with the arguments get_compile_config gave."""
        if not isinstance(config, dict):
            raise ValueError(f"the compile config must be a dict; got {describe(config)}")
        metric_list = config.get("metrics") or []
        if not isinstance(metric_list, list):
            raise ValueError(f"compile 'metrics' must be a list; got {describe(metric_list)}")
        self.compile(
            optimizer=optimizers.deserialize(config.get("optimizer")),
            loss=_deserialize(config.get("loss"), losses, losses.Loss),
            metrics=[_deserialize(m, metrics_module, metrics_module.Metric) for m in metric_list],
        )

    def _require_compiled(self, what: str):
        if self.optimizer is None:
            raise RuntimeError(f"call compile(optimizer, loss) before {what}()")
        if self._loss_spec is None:
            raise RuntimeError(
                f"{what}() needs a loss: the model was compiled without one "
                "(compile(optimizer, loss))"
            )

    def _c_metrics(self, metric_names=None) -> dict:
        """user metric name -> C metric name."""
        n_out = self._output_width()
        resolved = {}
        specs = dict(self._metric_specs)
        for name in self._metric_names if metric_names is None else metric_names:
            metric = specs[name]
            if metric == "accuracy":
                if self._c_loss == "binary_crossentropy":
                    metric = "binary_accuracy"
                elif self._c_loss == "categorical_crossentropy":
                    metric = "categorical_accuracy"
                elif self._c_loss == _SPARSE:
                    metric = "sparse_categorical_accuracy"
                else:
                    metric = "binary_accuracy" if n_out == 1 else "categorical_accuracy"
            resolved[name] = metric
        return resolved

    # ------------------------------------------------------- data checking
    def _features(self, X, name: str, *, allow_empty: bool = False) -> np.ndarray:
        if not self._layers:
            raise ValueError(f"model {self.name!r} has no layers yet: add() some first")
        x = float_array(X, name, allow_int=True)
        if x.ndim != 2:
            hint = " (reshape a single feature with X.reshape(-1, 1))" if x.ndim == 1 else ""
            raise ValueError(f"{name} must be 2-D (samples, features); got shape {x.shape}{hint}")
        if self._input_dim is not None and x.shape[1] != self._input_dim:
            raise ValueError(
                f"{name} must have {self._input_dim} features (columns), the model's input "
                f"width; got shape {x.shape}"
            )
        if x.shape[1] == 0:
            raise ValueError(f"{name} must have at least one feature; got shape {x.shape}")
        if x.shape[0] == 0 and not allow_empty:
            raise ValueError(f"{name} must have at least one sample; got shape {x.shape}")
        _check_finite(x, name)
        x = x.astype(self.dtype, copy=False)
        if x.strides[1] != x.itemsize:
            x = np.ascontiguousarray(x)
        return x

    def _targets(self, y, name: str, n: int, x_name: str) -> np.ndarray:
        n_out = self._output_width(self._input_dim)
        try:
            t = np.asarray(y)
        except Exception as exc:
            raise TypeError(f"{name} must be an array; got {describe(y)}") from exc
        if t.dtype.kind == "b":
            t = t.astype(np.float64)
        if t.dtype.kind not in "fiu":
            raise TypeError(f"{name} must hold numbers; got {describe(t)}")
        if t.ndim >= 1 and t.shape[0] != n:
            raise ValueError(
                f"{name} must have one row per sample of {x_name} ({n}); got shape {t.shape}"
            )
        if self._c_loss == _SPARSE:
            if t.ndim == 2 and t.shape[1] == 1:
                t = t[:, 0]
            if t.ndim != 1:
                raise ValueError(
                    f"{name} must hold one integer class label per sample, shape ({n},) or "
                    f"({n}, 1), for sparse_categorical_crossentropy; got shape {t.shape}"
                )
            _check_finite(t, name)
            if t.dtype.kind == "f" and not np.array_equal(t, np.round(t)):
                raise ValueError(f"{name} must hold integer class labels; got non-integers")
            if t.size and (t.min() < 0 or t.max() >= n_out):
                raise ValueError(
                    f"{name} must hold class labels in [0, {n_out}) (the model has {n_out} "
                    f"outputs); got labels from {t.min()} to {t.max()}"
                )
            return np.ascontiguousarray(t, dtype=self.dtype)
        if t.ndim == 1 and n_out == 1:
            t = t[:, np.newaxis]
        if t.ndim != 2 or t.shape[1] != n_out:
            hint = ""
            if t.ndim == 1 and self._c_loss == "categorical_crossentropy":
                hint = (
                    " (for integer class labels use loss='sparse_categorical_crossentropy', "
                    "or one-hot encode them)"
                )
            raise ValueError(
                f"{name} must have shape ({n}, {n_out}) to match the model's {n_out} outputs; "
                f"got shape {t.shape}{hint}"
            )
        _check_finite(t, name)
        if self._loss_spec is not None:
            t = self._loss_spec.smoothed(t)
        return np.ascontiguousarray(t, dtype=self.dtype)

    def _sample_weights(self, sample_weight, name: str, n: int):
        if sample_weight is None:
            return None
        w = float_array(sample_weight, name, allow_int=True)
        if w.ndim == 2 and w.shape[1] == 1:
            w = w[:, 0]
        if w.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), one weight per sample; got {w.shape}")
        _check_finite(w, name)
        if w.size and w.min() < 0:
            raise ValueError(f"{name} must be >= 0; got a minimum of {w.min()}")
        return np.ascontiguousarray(w, dtype=self.dtype)

    def _data(self, X, y, sample_weight, names=("x", "y", "sample_weight")):
        """(x, y, sample_weight) checked and converted; nothing is changed."""
        x = self._features(X, names[0])
        if self._input_dim is None:
            # Check the targets against the width this data would give the model.
            self._input_dim = x.shape[1]
            try:
                t = self._targets(y, names[1], x.shape[0], names[0])
            finally:
                self._input_dim = None
        else:
            t = self._targets(y, names[1], x.shape[0], names[0])
        w = self._sample_weights(sample_weight, names[2], x.shape[0])
        return x, t, w

    def _ensure_built(self, n_in: int):
        """Builds for inputs of width n_in if needed and checks the C network; all or nothing."""
        saved = self._build_state(), self._input_dim
        if not self.built:
            self._build(n_in)
            self._input_dim = n_in
        try:
            self._network()
        except BaseException:
            (state, self._input_dim) = saved
            self._restore_build_state(state)
            raise

    # ------------------------------------------------------------ training
    def _snapshot_for_rollback(self):
        """(params, optimizer state, iterations) at the start of an epoch, in
        buffers kept from one epoch and one fit to the next: fresh copies would
        page-fault their whole size in every epoch (15% of the time of a
        3-million-parameter network)."""
        kept = self._rollback
        if (
            kept is None
            or kept[0].shape != self._params.shape
            or kept[1].shape != self._opt_state.shape
            or kept[0].dtype != self._params.dtype
        ):
            kept = (np.empty_like(self._params), np.empty_like(self._opt_state))
            self._rollback = kept
        np.copyto(kept[0], self._params)
        np.copyto(kept[1], self._opt_state)
        return kept[0], kept[1], self.optimizer.iterations

    def _shuffle_order(self, n: int) -> np.ndarray:
        # in C: numpy's Generator.permutation took 240 us for 32768 rows, 5%
        # of an epoch of the tiny benchmark network
        return _core.permutation(n, self.seed ^ _SHUFFLE_STREAM, self.optimizer.iterations)

    def _train_epoch(
        self, x, t, w, *, batch_size, shuffle, c_metrics, progress, interval, hooks=(None, None)
    ):
        """One call into C; keeps optimizer.iterations in step whatever happens.
        hooks: the (begin, end) batch hooks of callbacks.batch_hooks."""
        spec = self.optimizer._c_description()
        order = self._shuffle_order(x.shape[0]) if shuffle else None
        try:
            return self._network().train_epoch(
                self._params,
                self._grads,
                self._opt_state,
                spec,
                x,
                t,
                w,
                order,
                batch_size,
                self.seed,
                c_metrics,
                progress=progress,
                progress_interval=interval,
                batch_begin=hooks[0],
                batch_end=hooks[1],
            )
        finally:
            self.optimizer.iterations = int(spec["iterations"])

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ) -> History:
        """Trains for `epochs` epochs; each epoch is one call into C. Keras 3's
        arguments, in its order: fit(x, y, 32, 10) works as in Keras.

        batch_size (default 32; the last partial batch is included),
        validation_split (the LAST fraction of x, y, taken before shuffling, as
        in Keras) or validation_data=(x_val, y_val[, sample_weight_val]),
        shuffle (a permutation per epoch from the model seed), class_weight
        ({class index: weight}, each sample weighted by its class's, 1 for
        classes not given) or sample_weight (one non-negative weight per
        sample), callbacks, verbose ("auto"/1: a live progress line; 2: one
        line per epoch; 0: silent), validation_batch_size, validation_freq
        (validate every n-th epoch, or at the epochs of a list, counted from
        1). steps_per_epoch and validation_steps are for generators in Keras:
        nncore takes arrays, so they must stay None.

        Returns a History: history.history["loss"], ["val_loss"], metrics.
        Raises FloatingPointError if the loss stops being finite (the model
        keeps the weights of the last finite step) and re-raises
        KeyboardInterrupt on Ctrl-C (the model keeps the weights of the last
        completed step, ready to be fitted again). Another thread that calls
        predict, evaluate or fit on this model meanwhile gets a RuntimeError.
        """
        for value, name in (
            (steps_per_epoch, "steps_per_epoch"),
            (validation_steps, "validation_steps"),
        ):
            if value is not None:
                raise ValueError(
                    f"{name} must be None: nncore takes x and y as arrays and runs every "
                    "batch of them (slice the arrays to train on fewer)"
                )
        self._guard.begin_write("fit")
        try:
            return self._fit(
                x,
                y,
                batch_size=batch_size,
                epochs=epochs,
                verbose=verbose,
                callbacks=callbacks,
                validation_split=validation_split,
                validation_data=validation_data,
                shuffle=shuffle,
                class_weight=class_weight,
                sample_weight=sample_weight,
                initial_epoch=initial_epoch,
                validation_batch_size=validation_batch_size,
                validation_freq=validation_freq,
            )
        finally:
            self._guard.end_write()

    def _fit(
        self,
        x,
        y,
        *,
        batch_size,
        epochs,
        verbose,
        callbacks,
        validation_split,
        validation_data,
        shuffle,
        class_weight,
        sample_weight,
        initial_epoch,
        validation_batch_size,
        validation_freq,
    ) -> History:
        self._require_compiled("fit")
        # --- check everything before changing anything ---
        epochs = _count(epochs, "epochs", minimum=0)
        initial_epoch = _count(initial_epoch, "initial_epoch", minimum=0)
        batch_size = 32 if batch_size is None else _count(batch_size, "batch_size")
        if validation_batch_size is not None:
            validation_batch_size = _count(validation_batch_size, "validation_batch_size")
        validates = _validation_epochs(validation_freq)
        verbose = _verbosity(verbose)
        validation_split = real_number(validation_split, "validation_split")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1); got {validation_split}")
        X = x
        x, t, w = self._data(X, y, sample_weight)
        if class_weight is not None and sample_weight is not None:
            raise ValueError("give class_weight or sample_weight, not both (as in Keras)")
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError(
                    "validation_data must be a tuple (X_val, y_val) or (X_val, y_val, "
                    f"sample_weight_val); got {describe(validation_data)}"
                )
            saved_input_dim = self._input_dim
            self._input_dim = x.shape[1]
            try:
                validation = self._data(
                    validation_data[0],
                    validation_data[1],
                    validation_data[2] if len(validation_data) == 3 else None,
                    ("validation_data[0]", "validation_data[1]", "validation_data[2]"),
                )
            finally:
                self._input_dim = saved_input_dim
        elif validation_split > 0:
            split_at = int(math.floor(x.shape[0] * (1.0 - validation_split)))
            if split_at == 0 or split_at == x.shape[0]:
                raise ValueError(
                    f"validation_split={validation_split} of {x.shape[0]} samples leaves an "
                    "empty training or validation set"
                )
            validation = (x[split_at:], t[split_at:], None if w is None else w[split_at:])
            x, t, w = x[:split_at], t[:split_at], None if w is None else w[:split_at]
        if class_weight is not None:
            # the training samples only, as Keras weighs them
            w = _class_weights(class_weight, t, self.dtype)
        callbacks = _callback_list(callbacks)
        for callback in callbacks:
            if not isinstance(callback, Callback) and not any(
                hasattr(callback, h) for h in _FIT_HOOKS
            ):
                raise TypeError(
                    f"each callback must have an on_epoch_end(epoch, logs) method or another "
                    f"of Keras's hooks; got {describe(callback)}"
                )
        # --- from here on, the model changes ---
        self._ensure_built(x.shape[1])
        c_metrics = self._c_metrics()
        unique_c_metrics = list(dict.fromkeys(c_metrics.values()))
        n_batches = -(-x.shape[0] // batch_size)
        history = History()
        self.history = history
        # History last, as in Keras: it records what the others add to the logs
        # (the learning rate of ReduceLROnPlateau and LearningRateScheduler).
        all_callbacks = [*callbacks, history]
        params = {"verbose": verbose, "epochs": epochs, "steps": n_batches}
        for callback in all_callbacks:
            if hasattr(callback, "set_params"):
                callback.set_params(params)
            if hasattr(callback, "set_model"):
                callback.set_model(self)
            else:
                callback.model = self
        self.stop_training = False
        hooks = batch_hooks(all_callbacks, "train", self, c_metrics)
        _call(all_callbacks, "on_train_begin", {})
        logs = {}
        for epoch in range(initial_epoch, epochs):
            _call(all_callbacks, "on_epoch_begin", epoch, {})
            line = None
            if verbose:
                line = ProgressLine(epoch, epochs, n_batches, live=None if verbose == 1 else False)
            progress = None
            interval = _INTERRUPT_CHECK_SECONDS
            if verbose == 1:
                interval = line.interval

                def progress(batches_done, samples_done, loss, line=line):
                    line.update(batches_done, loss)
                    return False

            before = self._snapshot_for_rollback()
            try:
                result = self._train_epoch(
                    x,
                    t,
                    w,
                    batch_size=batch_size,
                    shuffle=shuffle,
                    c_metrics=unique_c_metrics,
                    progress=progress,
                    interval=interval,
                    hooks=hooks,
                )
            except FloatingPointError as exc:
                if line is not None and line.live:
                    sys.stdout.write("\n")
                if not np.isfinite(self._params).all():
                    # A finite batch loss led to non-finite weights: go back to
                    # the start of the epoch, the last state known to be finite.
                    self._params[...], self._opt_state[...] = before[0], before[1]
                    self.optimizer.iterations = before[2]
                if _terminated_on_nan(self, callbacks, exc):
                    break
                raise FloatingPointError(
                    f"fit stopped in epoch {epoch + 1}: the loss is no longer finite ({exc}). "
                    "The model keeps the weights of its last finite step; a smaller "
                    "learning_rate or scaled inputs usually help."
                ) from exc
            except KeyboardInterrupt:
                if line is not None and line.live:
                    sys.stdout.write("\n")
                    sys.stdout.flush()
                raise
            logs = {"loss": float(result["loss"])}
            for name, c_name in c_metrics.items():
                logs[name] = float(result["metrics"][c_name])
            if validation is not None and validates(epoch + 1):
                val_logs = self._scores(
                    *validation, c_metrics, validation_batch_size or batch_size, all_callbacks
                )
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            if line is not None:
                line.finish(result["batches"], logs)
            _call(all_callbacks, "on_epoch_end", epoch, logs)
            if self.stop_training:
                break
        _call(all_callbacks, "on_train_end", logs)
        return history

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on (x, y) as one batch; returns that batch's loss
        (computed before the step, as in fit), or [loss, *metrics], or a dict
        with return_dict=True, as Keras does. Stepping through the data batch
        by batch gives the same weights as fit(shuffle=False) with that
        batch_size."""
        self._require_compiled("train_on_batch")
        if class_weight is not None and sample_weight is not None:
            raise ValueError("give class_weight or sample_weight, not both (as in Keras)")
        x, t, w = self._data(x, y, sample_weight)
        if class_weight is not None:
            w = _class_weights(class_weight, t, self.dtype)
        c_metrics = self._c_metrics()
        self._guard.begin_write("train_on_batch")
        try:
            self._ensure_built(x.shape[1])
            result = self._train_epoch(
                x,
                t,
                w,
                batch_size=x.shape[0],
                shuffle=False,
                c_metrics=list(dict.fromkeys(c_metrics.values())),
                progress=None,
                interval=_INTERRUPT_CHECK_SECONDS,
            )
        finally:
            self._guard.end_write()
        scores = {"loss": float(result["loss"])}
        scores.update({name: float(result["metrics"][c]) for name, c in c_metrics.items()})
        return self._scores_result(scores, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """evaluate() on (x, y) as one batch: the loss, or [loss, *metrics], or a dict."""
        return self.evaluate(
            x, y, batch_size=_batch_of(x), verbose=0, sample_weight=sample_weight,
            return_dict=return_dict,
        )  # fmt: skip

    def predict_on_batch(self, x) -> np.ndarray:
        """predict() on x as one batch."""
        return self.predict(x, batch_size=_batch_of(x), verbose=0)

    def _scores_result(self, scores: dict, return_dict: bool):
        """What evaluate and *_on_batch return, as Keras does."""
        if return_dict:
            return scores
        if not self._metric_names:
            return scores["loss"]
        return list(scores.values())

    # ----------------------------------------------------------- inference
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The network's outputs (probabilities for sigmoid/softmax outputs; the
        logits when compiled with a from_logits loss), shape (n, units of the
        last layer), in the model dtype. Dropout is off. The prediction is one
        C call: there is no progress to show, whatever verbose says. steps is
        for generators in Keras and must stay None.

        callbacks: their on_predict_begin/end and on_predict_batch_begin/end
        (logs {"outputs": the batch's outputs}) are called as Keras does; the
        batches then run one C call each. Safe to call from several threads at
        once."""
        X = x
        net = None if self._outputs_logits() else self._net
        if (
            net is not None
            and batch_size is None
            and (verbose == "auto" or verbose == 0)
            and steps is None
            and callbacks is None
            and type(X) is np.ndarray
        ):
            # The common case, checked in C (shape, dtype, layout, finiteness) so that
            # one row costs little more than the call; anything unusual, including
            # bad input, takes the full path below, which explains what is wrong.
            try:
                return net.predict(self._params, X, None, True, self._guard)
            except ValueError:
                pass
        if steps is not None:
            raise ValueError("steps must be None: nncore predicts every sample of x")
        if batch_size is not None:
            batch_size = _count(batch_size, "batch_size")
        _verbosity(verbose)
        callbacks = _callback_list(callbacks)
        x = self._features(X, "x", allow_empty=True)
        with self._guard.read("predict"):
            self._ensure_built(x.shape[1])
            if x.shape[0] == 0:
                return np.empty((0, self._output_width()), dtype=self.dtype)
            net = self._predict_network()
            begin, end = batch_hooks(callbacks, "predict")
            if begin is None and end is None:
                _call(callbacks, "on_predict_begin", {})
                out = net.predict(self._params, x, batch_size)
                _call(callbacks, "on_predict_end", {})
                return out
            step = batch_size or 32
            parts = []
            _call(callbacks, "on_predict_begin", {})
            for index, start in enumerate(range(0, x.shape[0], step)):
                if begin is not None:
                    begin(index)
                parts.append(net.predict(self._params, x[start : start + step], step))
                if end is not None:
                    end(index, {"outputs": parts[-1]})
            _call(callbacks, "on_predict_end", {})
            return np.concatenate(parts)

    def __call__(self, x, training=False):
        """model(x): the outputs, as predict(x) gives them. training=True (dropout
        on) is refused: nncore applies dropout inside its C training loop only."""
        if training:
            raise ValueError(
                "model(x, training=True) is not supported: dropout runs inside fit's C "
                "training loop only; model(x) and predict(x) run the network as in inference"
            )
        return self.predict(x, verbose=0)

    def _scores(self, x, t, w, c_metrics, batch_size, callbacks=()) -> dict:
        """Loss and metrics in one C evaluation pass (forward only), calling the
        callbacks' on_test_* hooks."""
        names = list(dict.fromkeys(c_metrics.values()))
        begin, end = batch_hooks(callbacks, "test", names=c_metrics)
        _call(callbacks, "on_test_begin", {})
        result = self._network().evaluate(
            self._params, x, t, w, batch_size, names, begin, end, self._guard
        )
        scores = {"loss": float(result["loss"])}
        scores.update({name: float(result["metrics"][c]) for name, c in c_metrics.items()})
        _call(callbacks, "on_test_end", dict(scores))
        return scores

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
    ):
        """The loss (with the l2 penalties, weighted by sample_weight) and the compiled
        metrics (unweighted, as Keras's `metrics`) on (X, y), dropout off, in one C
        pass with no backward pass. Returns the loss alone when no metrics were
        compiled, else [loss, *metrics] (or a dict with return_dict=True).
        callbacks: their on_test_* hooks are called as Keras does. verbose
        ("auto" or 1) prints the scores. steps is for generators in Keras and
        must stay None."""
        self._require_compiled("evaluate")
        if steps is not None:
            raise ValueError("steps must be None: nncore evaluates every sample of x")
        if batch_size is not None:
            batch_size = _count(batch_size, "batch_size")
        verbose = _verbosity(verbose)
        callbacks = _callback_list(callbacks)
        x, t, w = self._data(x, y, sample_weight)
        self._ensure_built(x.shape[1])
        scores = self._scores(x, t, w, self._c_metrics(), batch_size, callbacks)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in scores.items()), file=sys.stdout)
        return self._scores_result(scores, return_dict)

    # ------------------------------------------------------- presentation
    def summary(self, line_length=None, print_fn=None) -> None:
        """Prints a table of the layers, their output shapes and parameter counts."""
        print_fn = print if print_fn is None else print_fn
        for line in self._summary_lines(line_length or 72):
            print_fn(line)

    def _summary_lines(self, width: int) -> list:
        columns = (width * 45 // 100, width * 30 // 100)
        rows = []
        widths = self._layer_inputs() if self._input_dim is not None else {}
        for layer in self._layers:
            n_in = widths.get(layer)
            if n_in is None:
                shape, count = "?", "0 (unbuilt)"
            else:
                shape = str((None, layer._output_dim(n_in)))
                count = f"{sum(math.prod(s) for s in layer._weight_shapes(n_in)):,}"
            rows.append((f"{layer.name} ({type(layer).__name__})", shape, count))
        total = self.count_params()
        trainable = self._trainable_count()
        frozen = total - trainable
        optimizer_params = 0 if self._opt_state is None else int(self._opt_state.size)
        itemsize = self.dtype.itemsize

        def size(count):
            value = float(count * itemsize)
            for unit in ("B", "KB", "MB", "GB"):
                if value < 1024 or unit == "GB":
                    return f"{value:.2f} {unit}"
                value /= 1024

        lines = [f'Model: "{self.name}" (dtype {_DTYPES[self.dtype]})', "_" * width]
        header = ("Layer (type)", "Output Shape", "Param #")
        lines.append(
            f"{header[0]:<{columns[0]}}{header[1]:<{columns[1]}}{header[2]:>{width - sum(columns)}}"
        )
        lines.append("=" * width)
        for i, (name, shape, count) in enumerate(rows):
            lines.append(
                f"{name:<{columns[0]}}{shape:<{columns[1]}}{count:>{width - sum(columns)}}"
            )
            lines.append(("_" if i < len(rows) - 1 else "=") * width)
        if not rows:
            lines.append("=" * width)
        lines.append(f"Total params: {total:,} ({size(total)})")
        lines.append(f"Trainable params: {trainable:,} ({size(trainable)})")
        lines.append(f"Non-trainable params: {frozen:,} ({size(frozen)})")
        if optimizer_params:
            lines.append(f"Optimizer params: {optimizer_params:,} ({size(optimizer_params)})")
        lines.append("_" * width)
        return lines

    def __repr__(self):
        dtype = _DTYPES[self.dtype]
        return f"<Sequential name={self.name!r} layers={len(self._layers)} dtype={dtype}>"

    # ------------------------------------------------------------- storage
    def save(self, filepath, overwrite=True, zipped=None) -> None:
        """Writes the model to ONE file, never pickle: a Keras 3 file when the
        name ends in .keras (Keras loads it; needs h5py; the optimizer's
        moments are not in it), else nncore's own file (architecture, weights,
        optimizer state, nncore version; format: docs/file-format.md), e.g.
        "model.nnc", or to a binary file object. Keras 2's .h5 files are
        refused, not written under another format. overwrite=False refuses
        to replace an existing file."""
        keras_file = False
        if not hasattr(filepath, "write"):
            name = os.fspath(filepath)
            if name.endswith((".h5", ".hdf5")):
                raise ValueError(
                    f"nncore does not write Keras 2's HDF5 model files ({name!r}): save to a "
                    ".keras name (Keras 3's format, which Keras loads) or to .nnc (nncore's "
                    "own); weights alone go to a .weights.h5 name with save_weights"
                )
            keras_file = name.endswith(".keras")
            if not overwrite and os.path.exists(name):
                raise FileExistsError(f"{name!r} exists and overwrite=False")
        if zipped not in (None, True) or (zipped and not keras_file):
            raise ValueError("zipped must be None (or True for a .keras file)")
        with self._guard.read("save"):
            if keras_file:
                keras_files.save_keras(self, filepath)
            else:
                io.save_model(self, filepath)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None) -> None:
        """Writes the weights alone to a Keras .weights.h5 file (needs h5py)."""
        if max_shard_size is not None:
            raise ValueError("max_shard_size must be None: nncore writes one weights file")
        if not overwrite and os.path.exists(os.fspath(filepath)):
            raise FileExistsError(f"{os.fspath(filepath)!r} exists and overwrite=False")
        with self._guard.read("save_weights"):
            keras_files.save_weights(self, filepath)

    def load_weights(self, filepath, skip_mismatch=False) -> None:
        """Reads weights from a .weights.h5 file (save_weights') or a .keras
        file into this model, whose layers must match; all or nothing."""
        if skip_mismatch:
            raise ValueError("skip_mismatch must be False: the weights load all or nothing")
        keras_files.load_weights(self, filepath)

    def to_json(self, **kwargs) -> str:
        """The architecture as Keras's JSON (model_from_json reads it, and Keras
        too); keyword arguments go to json.dumps."""
        return json.dumps(keras_files.keras_model_config(self), **kwargs)

    @classmethod
    def from_config(cls, config) -> Sequential:
        """A new model (fresh weights) from get_config()'s dict."""
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError(f"config must be a dict with a list of layers; got {describe(config)}")
        model = cls(dtype=config.get("dtype", "float32"), seed=config.get("seed"),
                    name=config.get("name"))  # fmt: skip
        if config.get("input_dim") is not None:
            model.add(Input((config["input_dim"],)))
        for spec in config["layers"]:
            if not isinstance(spec, dict) or spec.get("class_name") not in LAYER_CLASSES:
                raise ValueError(f"unknown layer description {describe(spec)}")
            model.add(LAYER_CLASSES[spec["class_name"]].from_config(spec.get("config") or {}))
        return model

    def pop(self, rebuild=True) -> Layer:
        """Removes the last layer and returns it; the other layers keep their
        weights (the optimizer state starts again, as after compile)."""
        if not self._layers:
            raise TypeError("there are no layers in the model")
        if not rebuild:
            raise ValueError("rebuild must be True: nncore lays out the weights anew at once")
        self._guard.begin_write("pop")
        try:
            remaining = self._layers[:-1]
            if self.built and remaining:
                self._build(self._input_dim, layers=remaining)
            elif self.built:
                self._descriptions, self._net, self._params, self._grads = None, None, None, None
                self._slices, self._opt_state = {}, None
            layer = self._layers.pop()
            layer._model = None
            self._slices.pop(layer, None)
            self._net = None
        finally:
            self._guard.end_write()
        return layer

    def _uncompile(self) -> None:
        """Back to the state before compile (load_model(compile=False))."""
        self.optimizer = self.loss = self._loss_spec = self._c_loss = None
        self._metric_specs, self._metric_names, self._compiled_metrics = [], [], []
        self._opt_state = None
        self._net = None

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "dtype": _DTYPES[self.dtype],
            "seed": self.seed,
            "input_dim": self._input_dim,
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self._layers
            ],
        }

    def __getstate__(self):
        with self._guard.read("pickle"):
            return {"nncore_model_file": io.model_to_bytes(self)}

    def __setstate__(self, state):
        model = io.model_from_bytes(state["nncore_model_file"], source="pickled model")
        self.__dict__.update(model.__dict__)
        for layer in self._layers:
            layer._model = self


def model_from_json(json_string, custom_objects=None) -> Sequential:
    """A new, uncompiled model (fresh weights) from to_json's JSON, or from
    the JSON of a Keras Sequential model of layers nncore runs."""
    if custom_objects:
        raise ValueError("custom_objects must be None: nncore models have no custom objects")
    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"json_string is not JSON ({exc})") from None
    return keras_files.model_from_keras_config(config)


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs) -> Sequential:  # fmt: skip
    """A new model with the same layers (same names and settings) and fresh
    weights, uncompiled, as keras.models.clone_model makes. Its seed is drawn
    anew (see utils.set_random_seed). The other arguments are for functional
    Keras models and must keep their defaults."""
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a Sequential; got {describe(model)}")
    given = {"input_tensors": input_tensors, "clone_function": clone_function,
             "call_function": call_function, **kwargs}  # fmt: skip
    for key, value in given.items():
        if value is not None:
            raise ValueError(f"{key} is not supported: nncore clones Sequential models as they are")
    if recursive:
        raise ValueError("recursive=True is not supported: nncore models hold no nested models")
    config = model.get_config()
    config["seed"] = None
    config["name"] = None
    return Sequential.from_config(config)


def _serialize(value):
    """A loss or metric as compile took it: its name, or its class and config."""
    if value is None or isinstance(value, str):
        return value
    return {"class_name": type(value).__name__, "config": value.get_config()}


def _deserialize(spec, module, base):
    if spec is None or isinstance(spec, str):
        return spec
    if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
        raise ValueError(f"unknown loss or metric description {describe(spec)}")
    cls = (
        getattr(module, str(spec.get("class_name")), None)
        if spec.get("class_name") in module.__all__
        else None
    )
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f"unknown loss or metric class {spec.get('class_name')!r}")
    return cls(**spec["config"])


# The C loss of each loss name -> the nncore.losses object compile makes for it.
_LOSS_OBJECTS = {
    "mse": losses.MeanSquaredError,
    "mae": losses.MeanAbsoluteError,
    "huber": losses.Huber,
    "poisson": losses.Poisson,
    "binary_crossentropy": losses.BinaryCrossentropy,
    "categorical_crossentropy": losses.CategoricalCrossentropy,
    _SPARSE: losses.SparseCategoricalCrossentropy,
}
_ORDER_HINT = "the order is compile(optimizer, loss), as in Keras"


def _optimizer(optimizer) -> optimizers.Optimizer:
    try:
        return optimizers.get(optimizer)
    except ValueError as exc:
        if isinstance(optimizer, (str, losses.Loss)) and (
            isinstance(optimizer, losses.Loss) or optimizer in LOSSES
        ):
            raise ValueError(f"{exc} (looks like a loss: {_ORDER_HINT})") from None
        raise


def _loss_spec(loss):
    """The nncore.losses object for compile's loss (None for none)."""
    if loss is None or isinstance(loss, losses.Loss):
        return loss
    if isinstance(loss, str) and loss in LOSSES:
        return _LOSS_OBJECTS[LOSSES[loss]]()
    names = ", ".join(repr(n) for n in LOSSES)
    hint = ""
    if isinstance(loss, optimizers.Optimizer) or (
        isinstance(loss, str) and loss.lower() in optimizers._BY_NAME
    ):
        hint = f" (looks like an optimizer: {_ORDER_HINT})"
    elif callable(loss):
        hint = (
            " (nncore computes the loss inside its C training loop, so a Python function "
            "cannot be the loss: use a name or an nncore.losses object)"
        )
    raise ValueError(f"loss must be one of {names} or an nncore.losses object; got "
                     f"{describe(loss)}{hint}")  # fmt: skip


def _metric_specs(metric_list) -> list:
    """[(name in the logs, C metric or "accuracy")] for compile's metrics."""
    if metric_list is None:
        return []
    if isinstance(metric_list, (str, metrics_module.Metric)):
        metric_list = [metric_list]
    if not isinstance(metric_list, (list, tuple)):
        raise TypeError(f"metrics must be a list of names; got {describe(metric_list)}")
    specs = []
    for metric in metric_list:
        if isinstance(metric, metrics_module.Metric):
            specs.append((metric.name, metric.c_name))
        elif isinstance(metric, str) and metric in METRICS:
            specs.append((metric, METRICS[metric]))
        else:
            names = ", ".join(repr(n) for n in METRICS)
            hint = (
                " (the metrics are computed inside the C training loop, so a Python "
                "function cannot be one)"
                if callable(metric)
                else ""
            )
            raise ValueError(
                f"metrics must be among {names} or nncore.metrics objects; got "
                f"{describe(metric)}{hint}"
            )
    names = [name for name, _ in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"metrics has duplicates: {names}")
    return specs


def _refuse_unused_compile_settings(loss_weights, weighted_metrics, run_eagerly, steps):
    if loss_weights is not None:
        raise ValueError(
            "loss_weights must be None: a Sequential model has one output and one loss "
            "(scale the loss with sample_weight in fit if needed)"
        )
    if weighted_metrics:
        raise ValueError(
            "weighted_metrics is not supported: nncore's metrics are unweighted, as Keras's "
            "`metrics` (the loss is weighted by sample_weight)"
        )
    if run_eagerly:
        raise ValueError("run_eagerly=True is not possible: nncore's training loop is C")
    if steps != 1:
        raise ValueError(
            f"steps_per_execution must be 1; got {describe(steps)} (each epoch already runs "
            "in one C call)"
        )


def _check_logits_metrics(loss_spec, metric_specs):
    """Refuses the metrics that would not mean what they mean in Keras with a
    from_logits or label_smoothing loss (the C loop computes metrics on the
    probabilities and the targets the loss sees)."""
    if not (loss_spec.from_logits or loss_spec.label_smoothing):
        return
    setting = "from_logits=True" if loss_spec.from_logits else "label_smoothing"
    for name, metric in metric_specs:
        if metric == "accuracy" and loss_spec.c_name != "binary_crossentropy":
            continue
        if metric in ("categorical_accuracy", "sparse_categorical_accuracy"):
            continue
        raise ValueError(
            f"metric {name!r} with a {setting} loss is not supported: the C loop would "
            "compute it on the probabilities and targets the loss sees, Keras on the raw "
            "outputs and targets. Use a sigmoid/softmax last layer and a loss without "
            f"{setting}, or compute {name!r} after fit from model.predict(x)"
        )


def _with_output_activation(descriptions, activation) -> list:
    """The layer descriptions with `activation` on the (linear) last layer."""
    last = descriptions[-1]
    if last.get("activation") != "linear":
        raise ValueError(
            "a from_logits=True loss takes the logits of a linear last layer; the last "
            f"layer's activation is {last.get('activation', last['kind'])!r} (use "
            "from_logits=False with a sigmoid/softmax last layer: nncore then computes "
            "the cross-entropy from its logits)"
        )
    return [*descriptions[:-1], {**last, "activation": activation}]


def _validation_epochs(validation_freq):
    """A function telling whether fit validates after epoch n (counted from 1)."""
    if isinstance(validation_freq, numbers.Integral) and not isinstance(validation_freq, bool):
        frequency = _count(validation_freq, "validation_freq")
        return lambda epoch: epoch % frequency == 0
    if isinstance(validation_freq, (list, tuple, set, range)) and all(
        isinstance(e, numbers.Integral) and not isinstance(e, bool) for e in validation_freq
    ):
        epochs = set(validation_freq)
        return lambda epoch: epoch in epochs
    raise ValueError(
        f"validation_freq must be an integer or a list of epochs; got {describe(validation_freq)}"
    )


def _class_weights(class_weight, t: np.ndarray, dtype) -> np.ndarray:
    """One weight per sample: that of its class (argmax of a one-hot row, the
    rounded value of a single column), 1 for classes class_weight leaves out."""
    if not isinstance(class_weight, dict):
        raise TypeError(
            f"class_weight must be a dict {{class index: weight}}; got {describe(class_weight)}"
        )
    table = {}
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral) or key < 0:
            raise ValueError(f"class_weight keys must be class indices >= 0; got {key!r}")
        value = real_number(value, f"class_weight[{key}]")
        if value < 0:
            raise ValueError(f"class_weight[{key}] must be >= 0; got {value}")
        table[int(key)] = value
    if t.ndim == 2 and t.shape[1] > 1:
        classes = t.argmax(axis=1)
    else:
        classes = np.round(t.reshape(t.shape[0])).astype(np.int64)
    lookup = np.ones(max([*table, int(classes.max(initial=0))]) + 1)
    for key, value in table.items():
        lookup[key] = value
    return np.ascontiguousarray(lookup[classes], dtype=dtype)


def _terminated_on_nan(model, callbacks, error) -> bool:
    """Gives the non-finite loss to the TerminateOnNaN callbacks, as Keras's
    batch logs would; True when one of them ended training."""
    watchers = [c for c in callbacks if isinstance(c, TerminateOnNaN)]
    for watcher in watchers:
        watcher.on_batch_end(getattr(error, "batch", 0), {"loss": getattr(error, "loss", math.nan)})
    return bool(watchers) and model.stop_training


def _batch_of(x) -> int:
    """The number of samples of x (at least 1), the batch size of *_on_batch."""
    return max(1, int(np.shape(x)[0])) if np.ndim(x) else 1


def _callback_list(callbacks) -> list:
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list; got {describe(callbacks)}")
    return list(callbacks)


def _call(callbacks, hook: str, *args):
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(*args)
