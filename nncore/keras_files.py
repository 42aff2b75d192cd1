"""Keras 3 files, both ways: a `.keras` model read into nncore, nncore models
written as `.keras` files, and the `.weights.h5` files of save_weights.

A `.keras` file is a zip holding config.json (the architecture and compile
settings, Keras's serialization of each object as module, class_name and
config), metadata.json and model.weights.h5 (HDF5: each layer's variables in
order, under layers/<class in snake case>[_<n>]/vars/<i>, the group carrying
the layer's name). h5py, the optional extra nncore-kernels[keras], reads and
writes the HDF5 part; nothing here imports Keras.

Only Sequential networks of the layers nncore runs in C are read; anything
else is refused with the name of the first layer (or setting) nncore cannot
run. The compile settings (loss, metrics, optimizer and its
hyper-parameters) and the optimizer's state (its step count and moment
estimates, under optimizer/vars in Keras's order) are carried over both
ways, so that training resumes where it stopped.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import re
import warnings
import zipfile

import numpy as np

from nncore import constraints, initializers, layers, names, optimizers, regularizers
from nncore import losses as nncore_losses
from nncore import metrics as nncore_metrics
from nncore._validation import describe
from nncore._version import __version__
from nncore.io import write_file

__all__ = [
    "load_keras",
    "save_keras",
    "save_weights",
    "load_weights",
    "keras_model_config",
    "model_from_keras_config",
]

_CONFIG = "config.json"
_METADATA = "metadata.json"
_WEIGHTS = "model.weights.h5"
# A Dense network's config is kilobytes; this bounds what a hostile zip can
# make us inflate before its JSON is even looked at.
_MAX_CONFIG_BYTES = 16 * 1024 * 1024
# Keras's activation names that the C network runs (the same names), with the
# parameter keras.activations gives them (leaky_relu's slope is 0.2 there).
_KERAS_ACTIVATIONS = {name: names.LAYER_ALPHA.get(name) for name in names.ACTIVATIONS}
_DTYPES = ("float32", "float64")


class KerasFileError(ValueError):
    """A Keras file nncore cannot read, with the reason."""


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "Keras files keep their weights in HDF5, which needs h5py: "
            "pip install 'nncore-kernels[keras]'"
        ) from None
    return h5py


def _snake_case(class_name: str) -> str:
    """Keras's file name for a layer class: Dense -> dense, LeakyReLU -> leaky_re_lu."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _weight_paths(class_names) -> list:
    """The group of each layer in model.weights.h5: one counter per class."""
    seen = {}
    paths = []
    for class_name in class_names:
        base = _snake_case(class_name)
        count = seen.get(base, 0)
        seen[base] = count + 1
        paths.append(f"layers/{base}" + (f"_{count}" if count else ""))
    return paths


# ----------------------------------------------------------------- reading


def _read_zip(path) -> tuple:
    """(config dict, weights bytes) of a .keras file."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise KerasFileError("not a Keras 3 .keras file (not a zip archive)") from None
    with archive:
        names = set(archive.namelist())
        for needed in (_CONFIG, _WEIGHTS):
            if needed not in names:
                raise KerasFileError(f"not a Keras 3 .keras file: it has no {needed}")
        info = archive.getinfo(_CONFIG)
        if info.file_size > _MAX_CONFIG_BYTES:
            raise KerasFileError(f"{_CONFIG} claims {info.file_size} bytes; too large")
        try:
            config = json.loads(archive.read(_CONFIG).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise KerasFileError(f"{_CONFIG} is not valid JSON ({exc})") from None
        weights = archive.read(_WEIGHTS)
    return config, weights


def _policy_name(dtype) -> str | None:
    """The dtype name of a Keras dtype policy (a string or a DTypePolicy dict)."""
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    return dtype


def _model_dtype(config: dict) -> str:
    name = _policy_name(config.get("dtype")) or "float32"
    if name not in _DTYPES:
        raise KerasFileError(
            f"the model computes in {name!r}; nncore computes in float32 or float64"
        )
    return name


def _input_width(shape, where: str) -> tuple:
    """The sample shape of a Keras input shape [None, n, ...]."""
    if (
        not isinstance(shape, (list, tuple))
        or len(shape) < 2
        or any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in shape[1:])
    ):
        raise KerasFileError(
            f"{where} has input shape {shape!r}; nncore models take 2-D data (samples, "
            "features), or samples of known shape flattened by a first Flatten layer"
        )
    return tuple(shape[1:])


def _refuse(layer_name, class_name, reason):
    raise KerasFileError(f"layer {layer_name!r} ({class_name}): {reason}")


def _require_none(config, keys, layer_name, class_name):
    for key in keys:
        if config.get(key) is not None:
            _refuse(layer_name, class_name, f"{key} is not supported by nncore's C network")


def _activation(config, layer_name, class_name) -> tuple:
    """(nncore activation name, alpha) for a Keras activation setting."""
    activation = config.get("activation", "linear")
    if activation is None:
        activation = "linear"
    if not isinstance(activation, str) or activation not in _KERAS_ACTIVATIONS:
        names = ", ".join(_KERAS_ACTIVATIONS)
        _refuse(
            layer_name,
            class_name,
            f"activation {activation!r} is not one the C network runs ({names})",
        )
    return activation, _KERAS_ACTIVATIONS[activation]


def _initializer(spec, layer_name, key):
    if spec is None:
        return None
    class_name = spec.get("class_name") if isinstance(spec, dict) else spec
    try:
        return initializers.deserialize({"class_name": class_name, "config": {}})
    except ValueError:
        warnings.warn(
            f"layer {layer_name!r}: {key} {class_name!r} is not one of nncore's; the loaded "
            "weights are kept, and glorot_uniform/zeros would be used to initialize anew",
            RuntimeWarning,
            stacklevel=4,
        )
        return None


def _regularizer(spec, layer_name):
    if spec is None:
        return None
    class_name = spec.get("class_name") if isinstance(spec, dict) else spec
    config = spec.get("config", {}) if isinstance(spec, dict) else {}
    if class_name == "L2" or (class_name == "L1L2" and not config.get("l1")):
        return regularizers.L2(config.get("l2", 0.01))
    _refuse(layer_name, "Dense", f"kernel_regularizer {class_name!r}: nncore runs L2 only")


def _constraint(spec, layer_name):
    if spec is None:
        return None
    class_name = spec.get("class_name") if isinstance(spec, dict) else spec
    config = spec.get("config", {}) if isinstance(spec, dict) else {}
    if class_name == "NonNeg":
        return constraints.NonNeg()
    if class_name == "MaxNorm" and config.get("axis", 0) == 0:
        return constraints.MaxNorm(config.get("max_value", 2.0))
    _refuse(layer_name, "Dense", f"kernel_constraint {class_name!r} is not supported")


def _dense(config, name):
    _require_none(
        config,
        ("bias_regularizer", "activity_regularizer", "bias_constraint", "quantization_config"),
        name,
        "Dense",
    )
    activation, alpha = _activation(config, name, "Dense")
    kwargs = {}
    for key in ("kernel_initializer", "bias_initializer"):
        initializer = _initializer(config.get(key), name, key)
        if initializer is not None:
            kwargs[key] = initializer
    dense = layers.Dense(
        config.get("units"),
        activation,
        use_bias=config.get("use_bias", True),
        kernel_regularizer=_regularizer(config.get("kernel_regularizer"), name),
        kernel_constraint=_constraint(config.get("kernel_constraint"), name),
        name=name,
        **kwargs,
    )
    if alpha is not None:
        dense.activation, dense.alpha = layers.resolve_activation(activation, alpha)
    return dense


def _activation_layer(config, name):
    activation, alpha = _activation(config, name, "Activation")
    return layers.Activation(activation, alpha=alpha, name=name)


def _batch_normalization(config, name):
    if config.get("renorm"):
        _refuse(name, "BatchNormalization", "renorm=True is not supported by nncore's C network")
    _require_none(config, ("renorm_clipping",), name, "BatchNormalization")
    kwargs = {}
    for key in (
        "beta_initializer",
        "gamma_initializer",
        "moving_mean_initializer",
        "moving_variance_initializer",
    ):
        initializer = _initializer(config.get(key), name, key)
        if initializer is not None:
            kwargs[key] = initializer
    return layers.BatchNormalization(
        config.get("axis", -1),
        config.get("momentum", 0.99),
        config.get("epsilon", 1e-3),
        config.get("center", True),
        config.get("scale", True),
        beta_regularizer=config.get("beta_regularizer"),
        gamma_regularizer=config.get("gamma_regularizer"),
        beta_constraint=config.get("beta_constraint"),
        gamma_constraint=config.get("gamma_constraint"),
        synchronized=config.get("synchronized", False),
        name=name,
        **kwargs,
    )


def _flatten(config, name):
    return layers.Flatten(config.get("data_format"), name=name)


def _dropout(config, name):
    _require_none(config, ("noise_shape",), name, "Dropout")
    return layers.Dropout(config.get("rate"), name=name)


def _relu(config, name):
    return layers.ReLU(
        config.get("max_value"),
        config.get("negative_slope", 0.0),
        config.get("threshold", 0.0),
        name=name,
    )


def _leaky_relu(config, name):
    return layers.LeakyReLU(config.get("negative_slope", config.get("alpha", 0.3)), name=name)


def _elu(config, name):
    return layers.ELU(config.get("alpha", 1.0), name=name)


def _softmax(config, name):
    return layers.Softmax(config.get("axis", -1), name=name)


# Keras layer class -> the nncore layer it becomes (None: no layer, see below).
_READERS = {
    "Dense": _dense,
    "Activation": _activation_layer,
    "Dropout": _dropout,
    "ReLU": _relu,
    "LeakyReLU": _leaky_relu,
    "ELU": _elu,
    "Softmax": _softmax,
    "BatchNormalization": _batch_normalization,
    "Flatten": _flatten,
}


def _layer_specs(config: dict) -> tuple:
    """(sample shape or None, [(class name, config) of each layer after the input])."""
    if config.get("class_name") != "Sequential":
        raise KerasFileError(
            f"the model is a {config.get('class_name')!r}; nncore reads Sequential models"
        )
    model_config = config.get("config")
    if not isinstance(model_config, dict) or not isinstance(model_config.get("layers"), list):
        raise KerasFileError("config.json has no list of layers")
    width = None
    specs = []
    for index, spec in enumerate(model_config["layers"]):
        if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
            raise KerasFileError(f"layers[{index}] is not a layer description")
        class_name = spec.get("class_name")
        layer_config = spec["config"]
        if class_name == "InputLayer":
            shape = layer_config.get("batch_shape", layer_config.get("batch_input_shape"))
            width = _input_width(shape, f"InputLayer {layer_config.get('name')!r}")
            continue
        if width is None and not specs:
            shape = (spec.get("build_config") or {}).get("input_shape")
            shape = shape or layer_config.get("batch_input_shape")
            if shape is not None:
                width = _input_width(shape, f"layer {layer_config.get('name')!r}")
        specs.append((class_name, layer_config))
    if width is None and model_config.get("build_input_shape") is not None:
        width = _input_width(model_config["build_input_shape"], "the model")
    if width is not None and len(width) > 1 and (not specs or specs[0][0] != "Flatten"):
        raise KerasFileError(
            f"the model takes samples of shape {width} and its first layer is not Flatten: "
            "nncore models take 2-D data (samples, features) unless they start with Flatten "
            "(Keras would apply Dense to the last axis; nncore does not)"
        )
    return width, specs


def _nncore_layers(specs) -> list:
    """[(nncore layer or None, Keras class name, Keras layer name)]; refuses the first
    layer nncore cannot run."""
    result = []
    for class_name, config in specs:
        name = config.get("name")
        if not isinstance(name, str) or not name:
            raise KerasFileError(f"a {class_name} layer has no name")
        if class_name not in _READERS:
            supported = ", ".join(["InputLayer", *_READERS])
            _refuse(
                name,
                class_name,
                f"nncore cannot run this layer (it reads Sequential networks of {supported})",
            )
        trainable = config.get("trainable", True)
        if not isinstance(trainable, bool):
            _refuse(name, class_name, f"trainable must be true or false; got {trainable!r}")
        reader = _READERS[class_name]
        try:
            layer = None if reader is None else reader(config, name)
            if layer is not None and not trainable:
                layer.trainable = False  # frozen as in Keras: no update, gradients flow
        except KerasFileError:
            raise
        except (TypeError, ValueError) as exc:
            _refuse(name, class_name, str(exc))
        result.append((layer, class_name, name))
    return result


def _weights_of(h5file, path: str, name: str | None = None) -> list:
    """The variables of the layer stored at `path` (or, when there is no such
    group and `name` is given, of the group carrying that layer name)."""
    group = h5file.get(f"{path}/vars")
    if group is None and name is not None:
        for candidate in h5file.get("layers", {}).values():
            found = candidate.get("vars")
            if found is not None and found.attrs.get("name") == name:
                group = found
                break
    if group is None:
        return []
    return [np.asarray(group[str(i)]) for i in range(len(group))]


def _compile_settings(config: dict):
    compiled = config.get("compile_config")
    if not compiled:
        return None
    loss = compiled.get("loss")
    metrics = compiled.get("metrics") or []
    optimizer_spec = compiled.get("optimizer")
    if isinstance(optimizer_spec, str):
        optimizer = optimizers.get(optimizer_spec)
    elif isinstance(optimizer_spec, dict):
        class_name = optimizer_spec.get("class_name")
        keras_config = optimizer_spec.get("config") or {}
        cls = optimizers._CLASSES.get(class_name)
        if cls is None:
            raise KerasFileError(f"optimizer {class_name!r} is not one nncore runs")
        if not isinstance(keras_config, dict):
            raise KerasFileError(f"optimizer config {describe(keras_config)}")
        keys = cls().get_config()
        _refuse_optimizer_settings(class_name, keras_config, keys)
        optimizer = cls(**{k: keras_config[k] for k in keys if keras_config.get(k) is not None})
    else:
        raise KerasFileError(f"compile_config optimizer {describe(optimizer_spec)}")
    if not isinstance(metrics, list):
        raise KerasFileError(f"compile_config metrics {describe(metrics)}")
    loss = _compile_object(loss, nncore_losses, "loss")
    return loss, optimizer, [_compile_object(m, nncore_metrics, "metric") for m in metrics]


# Settings of Keras's optimizers that nncore's do not run, with the value
# that means "off"; another value is refused rather than ignored.
_OPTIMIZER_SETTINGS_OFF = {
    "weight_decay": None,
    "clipnorm": None,
    "global_clipnorm": None,
    "clipvalue": None,
    "use_ema": False,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
    "amsgrad": False,
    "centered": False,
}
# Settings that change nothing while the ones above are off.
_OPTIMIZER_SETTINGS_INERT = ("name", "ema_momentum", "ema_overwrite_frequency")


def _refuse_optimizer_settings(class_name: str, config: dict, keys) -> None:
    for key, value in config.items():
        if key in keys or key in _OPTIMIZER_SETTINGS_INERT:
            continue
        if key in _OPTIMIZER_SETTINGS_OFF:
            if value != _OPTIMIZER_SETTINGS_OFF[key] and not (key == "weight_decay" and not value):
                raise KerasFileError(
                    f"optimizer {class_name} with {key}={value!r}: nncore's {class_name} "
                    "does not run it"
                )
            continue
        warnings.warn(
            f"optimizer {class_name} setting {key}={value!r} is not one nncore knows; "
            "it is not applied",
            RuntimeWarning,
            stacklevel=5,
        )
    if isinstance(config.get("learning_rate"), dict):
        raise KerasFileError(
            f"optimizer {class_name} has a learning-rate schedule; nncore takes a number "
            "(a LearningRateScheduler callback changes it between epochs)"
        )


def _compile_object(spec, module, what):
    """A loss or metric of compile_config: its name, or the nncore object for
    Keras's serialized one (the settings nncore's class takes)."""
    if spec is None or isinstance(spec, str):
        return spec
    class_name = spec.get("class_name") if isinstance(spec, dict) else None
    if class_name not in module.__all__:
        raise KerasFileError(f"{what} {class_name or describe(spec)!r} is not one nncore runs")
    cls = getattr(module, class_name)
    accepted = inspect.signature(cls).parameters
    config = spec.get("config") or {}
    # dtype is Keras's computation dtype: nncore computes in the model's
    return cls(**{k: v for k, v in config.items() if k in accepted and k != "dtype"})


def load_keras(path):
    """The nncore Sequential model stored in a Keras 3 `.keras` file, with the
    same weights (and so the same predictions, to float rounding), compiled
    with its loss, metrics and optimizer settings when the file has them, and
    with the optimizer's step count and moments, so that training continues
    as Keras's would (optimizer settings nncore does not run, such as
    amsgrad or clipnorm, are refused; a compiled model's file without
    optimizer state warns and starts the optimizer again).

    Reads Sequential networks of InputLayer, Dense, Activation, Dropout,
    ReLU, LeakyReLU, ELU, Softmax, BatchNormalization (its moving mean and
    variance too) and Flatten; anything else raises ValueError naming the
    first layer nncore cannot run. Needs h5py.
    """
    source = os.fspath(path) if not hasattr(path, "read") else getattr(path, "name", "file")
    h5py = _h5py()
    try:
        config, weights = _read_zip(path)
        model, width, converted = _model_and_layers(config)
        paths = _weight_paths(class_name for _, class_name, _ in converted)
        with h5py.File(io.BytesIO(weights), "r") as h5file:
            for (layer, class_name, name), path in zip(converted, paths):
                stored = _weights_of(h5file, path, name)
                if layer is None or not layer._weight_shapes(1):
                    if stored:
                        _refuse(name, class_name, f"has {len(stored)} variables; expected none")
                    continue
                if width is None:
                    raise KerasFileError("the file does not say the model's input width")
                layer.set_weights(stored)
        settings = _compile_settings(config)
        if settings is not None:
            loss, optimizer, metrics = settings
            model.compile(loss=loss, optimizer=optimizer, metrics=metrics)
            with h5py.File(io.BytesIO(weights), "r") as h5file:
                _read_optimizer_state(h5file, model, converted)
        return model
    except KerasFileError as exc:
        raise ValueError(f"cannot load {source}: {exc}") from None
    except (OSError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise ValueError(f"cannot load {source} as a Keras model: {exc}") from None


def _trainable_variables(model, layer_list) -> list | None:
    """(offset in the parameter buffer, shape, label) of each variable Keras's
    optimizer updates, in its order, for the nncore layers of `layer_list` in
    model order; None when a layer's variables have no known Keras layout."""
    variables = []
    offset = 0
    for layer in layer_list:
        weights = layer.get_weights()
        if weights and not isinstance(layer, (layers.Dense, layers.BatchNormalization)):
            return None
        # a batch normalization's moving statistics and a frozen layer's
        # weights are not Keras's trainable variables: the optimizer keeps
        # nothing for them
        for weight, name in zip(weights, layer._weight_names()):
            if layer.trainable and name not in ("moving_mean", "moving_variance"):
                variables.append((offset, weight.shape, f"{layer.name} {name}"))
            offset += weight.size
    return variables if offset == model.count_params() else None


def _keras_slot_order(optimizer, n_variables: int) -> list:
    """(slot, variable index) of each variable Keras 3's optimizer keeps after
    its iteration and learning_rate, in its order. Adam and AdamW create
    momentum and velocity together, variable by variable; RMSprop all its
    velocities, then all its momentums. A slot the C update never reads with
    these settings (SGD's and RMSprop's momentum at momentum 0) Keras does
    not create either."""
    variables = range(n_variables)
    if optimizer.kind in ("adam", "adamw"):
        return [(slot, v) for v in variables for slot in (0, 1)]
    if optimizer.kind == "sgd":
        return [(0, v) for v in variables] if optimizer.momentum != 0 else []
    if optimizer.kind == "rmsprop":
        slots = (0, 1) if optimizer.momentum > 0 else (0,)
        return [(slot, v) for slot in slots for v in variables]
    raise ValueError(
        f"the state of optimizer {type(optimizer).__name__} has no Keras layout in nncore"
    )


def _read_optimizer_state(h5file, model, converted) -> None:
    """Sets the compiled model's optimizer state (step count, learning rate,
    moments) from the file's optimizer/vars, checked in full first."""
    group = h5file.get("optimizer/vars")
    if group is None:
        warnings.warn(
            "the file holds no optimizer state: the optimizer starts again from step 0 "
            "with zero moments, as after compile()",
            RuntimeWarning,
            stacklevel=4,
        )
        return
    stored = [group.get(str(i)) for i in range(len(group))]
    if any(value is None for value in stored) or len(stored) < 2:
        raise KerasFileError(
            f"optimizer/vars holds {sorted(group)}; expected 0, 1, ... (iteration, "
            "learning_rate, then the optimizer's variables)"
        )
    stored = [np.asarray(value) for value in stored]
    optimizer = model.optimizer
    iterations, learning_rate = stored[0], stored[1]
    if iterations.shape != () or iterations.dtype.kind not in "iu" or iterations < 0:
        raise KerasFileError(f"optimizer iteration {iterations!r} is not a step count")
    if learning_rate.shape != () or learning_rate.dtype.kind != "f":
        raise KerasFileError(f"optimizer learning_rate {learning_rate!r} is not a number")
    variables = _trainable_variables(model, [layer for layer, _, _ in converted if layer])
    slot_names = names.OPTIMIZER_SLOTS[optimizer.kind]
    if variables is None:
        warnings.warn(
            "the file's optimizer state is not read: nncore does not know where Keras keeps "
            "it for this model's layers; the optimizer starts again from step 0",
            RuntimeWarning,
            stacklevel=4,
        )
        return
    order = _keras_slot_order(optimizer, len(variables))
    # An optimizer that never took a step has no variables beyond the first two.
    if len(stored) != 2 + len(order) and not (len(stored) == 2 and int(iterations) == 0):
        raise KerasFileError(
            f"optimizer/vars holds {len(stored)} variables; {type(optimizer).__name__} "
            f"keeps {2 + len(order)} for this model"
        )
    state = np.zeros((optimizer.state_slots, model.count_params()), model.dtype)
    for value, (slot, v) in zip(stored[2:], order):
        offset, shape, label = variables[v]
        if value.shape != shape or value.dtype.kind != "f":
            raise KerasFileError(
                f"optimizer {slot_names[slot]} of {label} has shape {value.shape} "
                f"({value.dtype}); expected {shape}"
            )
        state[slot, offset : offset + value.size] = value.ravel()
    model.set_optimizer_state(state)
    optimizer.iterations = int(iterations)
    # Keras trains with the variable, which the config holds rounded to its
    # dtype; a config value that rounds to it is kept as it is.
    if learning_rate.dtype.type(optimizer.learning_rate) != learning_rate:
        optimizer.learning_rate = float(learning_rate)


def _model_and_layers(config) -> tuple:
    """(nncore model, input width, _nncore_layers' list) for a Keras model config."""
    from nncore.models import Sequential

    if not isinstance(config, dict):
        raise KerasFileError("the model config is not an object")
    dtype = _model_dtype(config.get("config") or {})
    width, specs = _layer_specs(config)
    converted = _nncore_layers(specs)
    model_name = (config.get("config") or {}).get("name")
    model = Sequential(dtype=dtype, name=model_name if isinstance(model_name, str) else None)
    if width is not None:
        model.add(layers.Input(width))
    for layer, _, _ in converted:
        if layer is not None:
            model.add(layer)
    if not model.layers:
        raise KerasFileError("the model has no layer nncore runs")
    return model, width, converted


def model_from_keras_config(config):
    """A new nncore model (fresh weights, uncompiled) from a Keras Sequential
    model's config (what model.to_json() holds)."""
    try:
        return _model_and_layers(config)[0]
    except KerasFileError as exc:
        raise ValueError(f"cannot make the model: {exc}") from None


# ----------------------------------------------------------------- writing


def _keras_object(module, class_name, config, **extra) -> dict:
    return {"module": module, "class_name": class_name, "config": config,
            "registered_name": None, **extra}  # fmt: skip


def _keras_initializer(initializer) -> dict:
    spec = initializers.serialize(initializer)
    return _keras_object("keras.initializers", spec["class_name"], spec["config"])


def _activation_for_keras(name: str, alpha: float) -> str | None:
    """The Keras activation string computing (name, alpha), or None when Keras's
    string means another parameter (then a layer of its own carries it)."""
    default = _KERAS_ACTIVATIONS[name]
    return name if default is None or default == alpha else None


def _parameter_layer(name: str, alpha: float, layer_name: str) -> tuple:
    """(class name, config) of the Keras layer for an activation with a parameter."""
    if name == "leaky_relu":
        return "LeakyReLU", {"name": layer_name, "negative_slope": alpha}
    return "ELU", {"name": layer_name, "alpha": alpha}


def _keras_layers(model) -> list:
    """[(Keras class name, config, nncore layer whose weights it holds or None)]."""
    result = []
    for layer in model.layers:
        if isinstance(layer, layers.Dense):
            activation = _activation_for_keras(layer.activation, layer.alpha)
            config = {
                "name": layer.name,
                "units": layer.units,
                "activation": activation or "linear",
                "use_bias": layer.use_bias,
                "kernel_initializer": _keras_initializer(layer.kernel_initializer),
                "bias_initializer": _keras_initializer(layer.bias_initializer),
                "kernel_regularizer": None
                if layer.kernel_regularizer is None
                else _keras_object("keras.regularizers", "L2", {"l2": layer.kernel_regularizer.l2}),
                "kernel_constraint": _keras_constraint(layer.kernel_constraint),
            }
            result.append(("Dense", config, layer))
            if activation is None:
                result.append(
                    (
                        *_parameter_layer(
                            layer.activation, layer.alpha, f"{layer.name}_activation"
                        ),
                        None,
                    )  # fmt: skip
                )
        elif isinstance(layer, (layers.ReLU, layers.LeakyReLU, layers.ELU, layers.Softmax)):
            result.append((type(layer).__name__, layer.get_config(), None))
        elif isinstance(layer, layers.Activation):
            activation = _activation_for_keras(layer.activation, layer.alpha)
            if activation is None:
                result.append((*_parameter_layer(layer.activation, layer.alpha, layer.name), None))
            else:
                result.append(("Activation", {"name": layer.name, "activation": activation}, None))
        elif isinstance(layer, layers.Dropout):
            result.append(("Dropout", {"name": layer.name, "rate": layer.rate}, None))
        elif isinstance(layer, layers.BatchNormalization):
            config = layer.get_config()
            for key in config:
                if key.endswith("_initializer"):
                    config[key] = _keras_initializer(getattr(layer, key))
            config.pop("trainable", None)
            config.pop("input_dim", None)
            config.update(renorm=False, renorm_clipping=None, renorm_momentum=0.99)
            result.append(("BatchNormalization", config, layer))
        elif isinstance(layer, layers.Flatten):
            result.append(("Flatten", {"name": layer.name, "data_format": "channels_last"}, None))
        else:
            raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) has no Keras form")
    return result


def _keras_constraint(constraint):
    if constraint is None:
        return None
    if isinstance(constraint, constraints.MaxNorm):
        return _keras_object(
            "keras.constraints", "MaxNorm", {"max_value": constraint.max_value, "axis": 0}
        )
    return _keras_object("keras.constraints", "NonNeg", {})


def keras_model_config(model) -> dict:
    """The model's architecture as Keras serializes a Sequential model (what
    to_json writes), without the compile settings."""
    return _keras_config(model, _keras_layers(model), with_compile=False)


def _keras_config(model, keras_layers, with_compile=True) -> dict:
    dtype = str(model.dtype)
    input_shape = None if model.input_shape is None else list(model.input_shape)
    layer_specs = []
    if input_shape is not None:
        layer_specs.append(
            _keras_object(
                "keras.layers",
                "InputLayer",
                {
                    "batch_shape": input_shape,
                    "dtype": dtype,
                    "sparse": False,
                    "name": "input_layer",
                },
            )  # fmt: skip
        )
    for class_name, config, layer in keras_layers:
        layer_specs.append(
            _keras_object(
                "keras.layers",
                class_name,
                # a Keras layer with no weights has nothing to freeze
                {**config, "trainable": layer is None or layer.trainable, "dtype": dtype},
            )
        )
    config = _keras_object(
        "keras",
        "Sequential",
        {"name": model.name, "trainable": True, "dtype": dtype, "layers": layer_specs},
    )
    if input_shape is not None:
        config["build_config"] = {"input_shape": input_shape}
    if with_compile and model.optimizer is not None:
        optimizer = model.optimizer
        class_name = type(optimizer).__name__
        name = _snake_case(class_name)  # the name Keras gives an optimizer by default
        optimizer_config = {"name": name, **optimizer.get_config()}
        config["compile_config"] = {
            "optimizer": _keras_object("keras.optimizers", class_name, optimizer_config),
            "loss": _keras_compile_object(model.loss, "keras.losses"),
            "metrics": [_keras_compile_object(m, "keras.metrics") for m in model._compiled_metrics]
            or None,
        }
    return config


def _write_weights(h5file, model, keras_layers):
    paths = _weight_paths(class_name for class_name, _, _ in keras_layers)
    for (_, config, layer), path in zip(keras_layers, paths):
        group = h5file.create_group(f"{path}/vars")
        group.attrs["name"] = config["name"]
        if layer is not None:
            for index, weights in enumerate(layer.get_weights()):
                group.create_dataset(str(index), data=weights)
    h5file.create_group("vars").attrs["name"] = model.name


def _write_optimizer_state(h5file, model, keras_layers, config) -> None:
    """optimizer/vars as Keras 3 writes it: iteration, learning_rate, then
    the moments of each trainable variable in Keras's order."""
    optimizer = model.optimizer
    variables = _trainable_variables(model, [layer for _, _, layer in keras_layers if layer])
    if variables is None:
        warnings.warn(
            f"the state of the {type(optimizer).__name__} optimizer is not written: nncore "
            "does not know where Keras keeps it for this model's layers (Keras will start "
            "it again from step 0)",
            RuntimeWarning,
            stacklevel=4,
        )
        return
    state = model.get_optimizer_state()
    values = [
        np.asarray(optimizer.iterations, np.int64),
        np.asarray(optimizer.learning_rate, np.float32),
    ]
    for slot, v in _keras_slot_order(optimizer, len(variables)):
        offset, shape, _ = variables[v]
        values.append(state[slot, offset : offset + int(np.prod(shape))].reshape(shape))
    group = h5file.create_group("optimizer/vars")
    group.attrs["name"] = config["compile_config"]["optimizer"]["config"]["name"]
    for index, value in enumerate(values):
        group.create_dataset(str(index), data=value)


def _keras_compile_object(value, module):
    if value is None or isinstance(value, str):
        return value
    return _keras_object(module, type(value).__name__, value.get_config())


def _require_built(model, what: str):
    if not model.built:
        raise ValueError(
            f"{what} needs a built model (its input width known: input_dim/input_shape/Input, "
            "or after the first fit/predict/build)"
        )


def save_keras(model, path) -> None:
    """Writes `model` as a Keras 3 `.keras` file that keras.saving.load_model
    reads, with the optimizer's state when the model is compiled, so that
    Keras (or nncore) continues training from it. Needs h5py."""
    _require_built(model, "saving a .keras file")
    h5py = _h5py()
    keras_layers = _keras_layers(model)
    config = _keras_config(model, keras_layers)
    metadata = {"keras_version": "3", "nncore_version": __version__}
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5file:
        _write_weights(h5file, model, keras_layers)
        if model.optimizer is not None:
            _write_optimizer_state(h5file, model, keras_layers, config)
    archive_bytes = io.BytesIO()
    with zipfile.ZipFile(archive_bytes, "w") as archive:
        archive.writestr(_METADATA, json.dumps(metadata))
        archive.writestr(_CONFIG, json.dumps(config))
        archive.writestr(_WEIGHTS, buffer.getvalue())
    # atomic, as nncore's own files: a crash leaves the old file or the new one
    write_file(path, archive_bytes.getvalue())


def _check_weights_name(path: str):
    if not path.endswith(".weights.h5"):
        raise ValueError(
            f"a weights file's name must end in .weights.h5 (Keras's weights format); got {path!r}"
        )


def save_weights(model, path) -> None:
    """Writes the model's weights as a Keras `.weights.h5` file. Needs h5py."""
    path = os.fspath(path)
    _check_weights_name(path)
    _require_built(model, "save_weights")
    h5py = _h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5file:
        _write_weights(h5file, model, _keras_layers(model))
    write_file(path, buffer.getvalue())


def load_weights(model, path) -> None:
    """Reads weights written by save_weights (or those of a `.keras` file) into
    a model of the same architecture; all or nothing. Needs h5py."""
    path = os.fspath(path)
    if path.endswith(".keras"):
        source = load_keras(path)
        model.set_weights(source.get_weights())
        return
    _check_weights_name(path)
    _require_built(model, "load_weights")
    h5py = _h5py()
    keras_layers = _keras_layers(model)
    paths = _weight_paths(class_name for class_name, _, _ in keras_layers)
    weights = []
    with h5py.File(path, "r") as h5file:
        for (_, _, layer), group_path in zip(keras_layers, paths):
            if layer is not None:
                weights.extend(_weights_of(h5file, group_path))
    model.set_weights(weights)
