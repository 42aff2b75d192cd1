"""Keras-style models: Sequential, whose whole training epoch is ONE call into C.

A Sequential model is a list of layer descriptions plus a few numpy buffers:

    params      every weight of every layer, in ONE flat array (layer by layer:
                W (n_in, n_out) row-major, then b), which the C loop updates in
                place. get_weights()/set_weights() copy slices of it.
    opt_state   the optimizer's moment buffers, same layout, slot after slot.
    grads       scratch for the gradient of one batch.

This module holds the structure and the weights, and the storage; training
and inference (compile, fit, evaluate, predict) are nncore.training's
Trainer, which Sequential inherits, and summary() is nncore.summary's.

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

import numpy as np

from nncore import _core, io, keras_files, utils
from nncore._validation import describe
from nncore._version import __version__
from nncore.layers import (
    LAYER_CLASSES,
    Flatten,
    Input,
    Layer,
    _feature_count,
    _sample_shape,
    unique_name,
)
from nncore.summary import summary_lines
from nncore.training import LOSSES, METRICS, Trainer, _with_output_activation

__all__ = [
    "Sequential",
    "load_model",
    "model_from_json",
    "clone_model",
    "LOSSES",
    "METRICS",
]

_DTYPES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}
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
        model = model_from_bytes(*io.read_file(filepath))
    else:
        with open(os.fspath(filepath), "rb") as f:
            is_zip = f.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC
        if is_zip:
            model = keras_files.load_keras(filepath)
        else:
            model = model_from_bytes(*io.read_file(filepath))
    if not compile:
        model._uncompile()
    return model


class Sequential(Trainer):
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
        # The shape of one sample when it has more than one dimension (the
        # model's first layer is then a Flatten), else None.
        self._sample_shape = None
        self._data_sample_shape = None  # the sample shape of data about to build it
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
        if self._sample_shape is not None:
            return (None, *self._sample_shape)
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
            self._input_dim = math.prod(layer.shape)
            self._sample_shape = layer.shape if len(layer.shape) > 1 else None
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"layer must be an nncore layer (Dense, Activation, Dropout, "
                f"BatchNormalization, Flatten, ...) or Input; "
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
        sample_shape = self._sample_shape
        if not self._layers and isinstance(layer, Flatten) and layer._input_shape is not None:
            sample_shape = layer._input_shape if len(layer._input_shape) > 1 else None
        if not self._layers and sample_shape is not None and not isinstance(layer, Flatten):
            raise ValueError(
                f"the model takes samples of shape {sample_shape}, so its first layer must be "
                f"Flatten(); got {type(layer).__name__} {layer.name!r} (Keras would apply it to "
                "the last axis, nncore does not)"
            )
        layers = [*self._layers, layer]
        input_dim = self._input_dim if self._input_dim is not None else layer._input_dim
        if input_dim is not None:
            # Build now (keeping the weights of the layers already there).
            self._build(input_dim, layers=layers)
        self._layers = layers
        self._input_dim = input_dim
        self._sample_shape = sample_shape
        layer._model = self

    def build(self, input_shape=None) -> None:
        """Creates the weights for inputs of the given width ((None, n) or (n,) or
        n), or, for a model whose first layer is Flatten, samples of the given
        shape ((None, d1, d2, ...))."""
        sample_shape = self._sample_shape
        if input_shape is None:
            if self._input_dim is None:
                raise ValueError("build() needs input_shape: the model does not know its inputs")
            n_in = self._input_dim
        elif isinstance(input_shape, (tuple, list)) and len(input_shape) > 2:
            if not self._layers or not isinstance(self._layers[0], Flatten):
                raise ValueError(
                    f"input_shape {tuple(input_shape)} has samples of more than one dimension: "
                    "the model's first layer must be Flatten() (Keras would apply Dense to the "
                    "last axis, nncore does not)"
                )
            sample_shape = _sample_shape(tuple(input_shape[1:]), "input_shape")
            n_in = math.prod(sample_shape)
        else:
            if isinstance(input_shape, (tuple, list)) and len(input_shape) == 2:
                input_shape = input_shape[1:]
            n_in = _feature_count(input_shape, "input_shape")
        if self.built:
            if sample_shape != self._sample_shape:
                raise ValueError(
                    f"the model is built for samples of shape {self.input_shape[1:]}; got "
                    f"input_shape {input_shape!r}"
                )
            if n_in != self._input_dim:
                raise ValueError(
                    f"the model is built for {self._input_dim} input features; got {n_in}"
                )
            return
        self._build(n_in)
        self._input_dim = n_in
        self._sample_shape = sample_shape

    def _build(self, n_in: int, layers=None) -> None:
        """Creates the network for inputs of width n_in, all or nothing.

        Layers that already have weights keep them; new ones are initialized.
        """
        layers = self._layers if layers is None else layers
        if not layers:
            raise ValueError(f"model {self.name!r} has no layers yet: add() some first")
        # The parameter layout (the same the C network computes, checked in
        # _network): layer by layer, each layer's weights in Keras's order
        # (Dense W (n_in, n_out) then b; BatchNormalization gamma, beta,
        # moving_mean, moving_variance).
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
            for (offset, shape), init in zip(slices[layer], layer._weight_initializers()):
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
        c_layout = [(offset, tuple(shape)) for offset, shape in net.weight_slices()]
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
        """The number of weights fit updates (those of layers not frozen, and
        never a batch normalization's moving statistics)."""
        widths = self._layer_inputs() if self.built else {}
        return sum(
            math.prod(shape)
            for layer in self._layers
            if layer in self._slices
            for (_, shape), trainable in zip(
                self._slices[layer], layer._weight_trainable(widths[layer])
            )
            if trainable
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
            for (offset, shape), name in zip(self._slices.get(layer, []), layer._weight_names()):
                parts.append((offset, shape, f"{layer.name} {name}"))
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

    def get_optimizer_state(self):
        """A copy of the optimizer's state between steps: an array of shape
        (slots, count_params()) whose row k is slot k laid out as the weights
        are (get_weights' arrays, flattened and joined). SGD has one slot (the
        velocity), Adam and AdamW two (first and second moments), RMSprop two
        (mean square, momentum). None before the model is compiled and built.
        The step count is model.optimizer.iterations."""
        with self._guard.read("get_optimizer_state"):
            if self._opt_state is None:
                return None
            return self._opt_state.reshape(self.optimizer.state_slots, self._params.size).copy()

    def set_optimizer_state(self, state) -> None:
        """Replaces the optimizer's state (an array shaped as get_optimizer_state's);
        all or nothing."""
        if self._opt_state is None:
            raise ValueError(
                "set_optimizer_state needs a compiled and built model (the state's shape "
                "follows from the optimizer and the weights)"
            )
        shape = (self.optimizer.state_slots, self._params.size)
        try:
            array = np.asarray(state)
        except Exception as exc:
            raise TypeError(f"state must be an array; got {describe(state)}") from exc
        if array.dtype.kind not in "fiu":
            raise TypeError(f"state must hold real numbers; got dtype {array.dtype}")
        if array.shape != shape:
            raise ValueError(
                f"state must have shape {shape} ({type(self.optimizer).__name__}'s slots, "
                f"parameters); got {array.shape}"
            )
        self._guard.begin_write("set_optimizer_state")
        try:
            self._opt_state[...] = array.ravel()
        finally:
            self._guard.end_write()

    def _params_snapshot(self) -> np.ndarray:
        """A copy of the flat parameter buffer (for EarlyStopping)."""
        return self._params.copy()

    def _restore_params(self, snapshot: np.ndarray) -> None:
        if self._params is not None and snapshot.shape == self._params.shape:
            self._params[...] = snapshot

    # ------------------------------------------------------- presentation
    def summary(self, line_length=None, print_fn=None) -> None:
        """Prints a table of the layers, their output shapes and parameter counts."""
        print_fn = print if print_fn is None else print_fn
        for line in summary_lines(self, line_length or 72):
            print_fn(line)

    def __repr__(self):
        dtype = _DTYPES[self.dtype]
        return f"<Sequential name={self.name!r} layers={len(self._layers)} dtype={dtype}>"

    # ------------------------------------------------------------- storage
    def save(self, filepath, overwrite=True, zipped=None) -> None:
        """Writes the model to ONE file, never pickle: a Keras 3 file when the
        name ends in .keras (Keras loads it and continues training from the
        optimizer state it holds; needs h5py), else nncore's own file (architecture, weights,
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
                io.write_file(filepath, model_to_bytes(self))

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
        if config.get("input_shape") is not None:
            model.add(Input(tuple(config["input_shape"])))
        elif config.get("input_dim") is not None:
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
            **({} if self._sample_shape is None else {"input_shape": list(self._sample_shape)}),
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self._layers
            ],
        }

    def __getstate__(self):
        with self._guard.read("pickle"):
            return {"nncore_model_file": model_to_bytes(self)}

    def __setstate__(self, state):
        model = model_from_bytes(state["nncore_model_file"], source="pickled model")
        self.__dict__.update(model.__dict__)
        for layer in self._layers:
            layer._model = self


def model_to_bytes(model) -> bytes:
    """The contents of nncore's model file for `model` (docs/file-format.md):
    the header from get_config() and get_compile_config(), the arrays from
    get_weights() and get_optimizer_state()."""
    metadata = model.metadata
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"model.metadata must be a dict or None; got {describe(metadata)}")
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"model.metadata must hold JSON data (dicts, lists, strings, finite numbers); {exc}"
        ) from None
    weights = model.get_weights()
    params = np.concatenate([w.ravel() for w in weights]) if weights else np.empty(0, model.dtype)
    compiled = model.get_compile_config()
    state = model.get_optimizer_state() if compiled is not None else None
    header = {
        "metadata": metadata,
        "nncore_version": __version__,
        "model": model.get_config(),
        "compile": compiled,
    }
    arrays = {
        "params": params,
        "optimizer_state": np.empty(0, model.dtype) if state is None else state.ravel(),
    }
    return io.encode(header, arrays)


class _Corrupt(ValueError):
    pass


def _need(condition, message):
    if not condition:
        raise _Corrupt(message)


def _expect_type(value, types, what):
    types = types if isinstance(types, tuple) else (types,)
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        names = " or ".join(t.__name__ for t in types)
        raise _Corrupt(f"{what} must be {names}; got {describe(value)}")
    return value


def model_from_bytes(data: bytes, source: str = "model file") -> Sequential:
    """The model whose file contents are `data` (model_to_bytes'); `source`
    names the file in error messages. Rebuilt through Sequential.from_config,
    compile_from_config, set_weights and set_optimizer_state; any failure
    raises ValueError("cannot load <source>: ...")."""
    header, arrays = io.decode(data, source)
    try:
        return _model_from_header(header, arrays)
    except _Corrupt as exc:
        raise ValueError(f"cannot load {source}: {exc}") from None
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError, RecursionError) as exc:
        raise ValueError(f"cannot load {source}: invalid model description ({exc})") from None


def _parameter_count(config: dict) -> int:
    """The number of weights the architecture in `config` has (0 while its
    input width is unknown); checks the layer descriptions, allocates nothing."""
    input_dim = config.get("input_dim")
    if input_dim is not None:
        _expect_type(input_dim, int, "model 'input_dim'")
    layer_specs = _expect_type(config.get("layers"), list, "model 'layers'")
    layers = []
    for i, spec in enumerate(layer_specs):
        _expect_type(spec, dict, f"layers[{i}]")
        class_name = spec.get("class_name")
        _need(class_name in LAYER_CLASSES, f"layers[{i}] has unknown class {class_name!r}")
        layer_config = _expect_type(spec.get("config"), dict, f"layers[{i}] 'config'")
        layers.append(LAYER_CLASSES[class_name].from_config(layer_config))
    width = input_dim
    if width is None and layers:
        width = layers[0]._input_dim
    if width is None:
        return 0
    count = 0
    for layer in layers:
        count += sum(math.prod(shape) for shape in layer._weight_shapes(width))
        width = layer._output_dim(width)
    return count


def _model_from_header(header: dict, arrays: dict) -> Sequential:
    _expect_type(header.get("nncore_version"), str, "header 'nncore_version'")
    config = _expect_type(header.get("model"), dict, "header 'model'")
    _need(config.get("dtype") in _DTYPES.values(), "model 'dtype' must be float32/float64")
    _expect_type(config.get("seed"), int, "model 'seed'")
    _expect_type(config.get("name"), str, "model 'name'")
    params, state = arrays["params"], arrays["optimizer_state"]
    _need(str(params.dtype) == config["dtype"], "arrays 'dtype' differs from the model's")
    # Check the size before from_config allocates what the architecture asks for.
    n_params = _parameter_count(config)
    _need(
        params.size == n_params,
        f"the file holds {params.size} parameters but its architecture has {n_params}",
    )
    compiled = header.get("compile")
    if compiled is not None:
        _expect_type(compiled, dict, "header 'compile'")
    metadata = header.get("metadata")
    if metadata is not None:
        _expect_type(metadata, dict, "header 'metadata'")
    model = Sequential.from_config(config)
    if compiled is not None:
        model.compile_from_config(compiled)
    if metadata is not None:
        model.metadata = metadata
    if not model.built:
        _need(state.size == 0, "an unbuilt model cannot have optimizer state")
        return model
    shapes = [w.shape for w in model.get_weights()]
    offsets = np.cumsum([0] + [math.prod(shape) for shape in shapes])
    model.set_weights(
        [
            params[start:end].reshape(shape)
            for start, end, shape in zip(offsets, offsets[1:], shapes)
        ]
    )
    if compiled is None:
        _need(state.size == 0, "an uncompiled model cannot have optimizer state")
    elif state.size:
        slots = model.optimizer.state_slots
        _need(
            state.size == slots * params.size,
            f"the file holds {state.size} optimizer values; the optimizer needs "
            f"{slots * params.size}",
        )
        model.set_optimizer_state(state.reshape(slots, params.size))
    return model


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
