"""The nncore model file: one binary file, no pickle (docs/file-format.md).

    offset  size  content
    0       8     magic number b"\\x89NNC\\r\\n\\x1a\\n"
    8       4     format version, uint32 little-endian (1)
    12      4     header length H in bytes, uint32 little-endian
    16      H     header: UTF-8 JSON (architecture, compile settings, optimizer
                  hyper-parameters and step count, nncore version, array sizes)
    16+H    P     zero bytes up to the next multiple of 8
    ...     8/4*N parameters: the flat buffer, N = header["arrays"]["params"]
                  elements of header["arrays"]["dtype"], little-endian
    ...     8/4*M optimizer state, M = header["arrays"]["optimizer_state"]
    end-32  32    SHA-256 of every byte before it

Loading checks, in this order, the length, the magic number, the version, the
header length, the checksum, the JSON, its schema, and that the array sizes
match the architecture and the file length; anything wrong raises ValueError
(OSError for files that cannot be read) before anything is allocated from
sizes the file claims.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import stat
import struct

import numpy as np

from nncore._validation import describe
from nncore._version import __version__

__all__ = ["save_model", "load_model", "model_to_bytes", "model_from_bytes"]

MAGIC = b"\x89NNC\r\n\x1a\n"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sII")  # magic, version, header length
_DIGEST_SIZE = 32
_MAX_HEADER_BYTES = 16 * 1024 * 1024
_ALIGNMENT = 8
_FORMAT_NAME = "nncore-model"


def _padding(header_length: int) -> int:
    return -(_PREFIX.size + header_length) % _ALIGNMENT


def model_to_bytes(model) -> bytes:
    """The file contents for `model`."""
    itemsize = model.dtype.itemsize
    little = model.dtype.newbyteorder("<")
    params = np.empty(0, little) if model._params is None else model._params.astype(little)
    state = np.empty(0, little)
    compiled = model.get_compile_config()
    if compiled is not None and model._opt_state is not None:
        state = model._opt_state.astype(little)
    metadata = getattr(model, "metadata", None)
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"model.metadata must be a dict or None; got {describe(metadata)}")
    header = {
        "format": _FORMAT_NAME,
        "metadata": metadata,
        "nncore_version": __version__,
        "model": model.get_config(),
        "compile": compiled,
        "arrays": {
            "dtype": str(model.dtype),
            "itemsize": itemsize,
            "params": int(params.size),
            "optimizer_state": int(state.size),
        },
    }
    try:
        text = json.dumps(header, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"model.metadata must hold JSON data (dicts, lists, strings, finite numbers); {exc}"
        ) from None
    header_bytes = text.encode("utf-8")
    body = b"".join(
        [
            _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header_bytes)),
            header_bytes,
            b"\0" * _padding(len(header_bytes)),
            params.tobytes(),
            state.tobytes(),
        ]
    )
    return body + hashlib.sha256(body).digest()


def save_model(model, path) -> None:
    """Writes the model to `path` (a path or a binary file object).

    A path is written atomically: the bytes go to a temporary file in the same
    folder, are flushed to the disk, and the temporary file is then renamed to
    `path`. A crash or a kill at any moment leaves under `path` either the
    previous file, complete, or the new one, complete; never a mix.
    """
    data = model_to_bytes(model)
    if hasattr(path, "write"):
        path.write(data)
        return
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp, fd = _create_temporary(folder, os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _sync_folder(folder)


def _create_temporary(folder: str, name: str) -> tuple:
    """(path, descriptor) of a new file next to `name`, created with the
    permissions a plain open() gives (tempfile.mkstemp's would be 0600)."""
    tmp = os.path.join(folder, f".{name}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    return tmp, os.open(tmp, flags, 0o666)


def _sync_folder(folder: str) -> None:
    """Makes the rename durable (POSIX); folders cannot be opened on Windows."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # the model is saved; only the durability of the rename is not forced
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (network, FUSE) do not sync folders: the rename holds anyway
    finally:
        os.close(fd)


def load_model(path):
    """Reads a model written by save_model (a path or a binary file object)."""
    if hasattr(path, "read"):
        data = path.read()
        source = getattr(path, "name", "file object")
    else:
        source = os.fspath(path)
        with open(source, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                # A device or a pipe (/dev/zero) could be read forever.
                raise OSError(f"cannot load {source}: not a regular file")
            data = f.read()
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"the file object must be opened in binary mode; read {describe(data)}")
    return model_from_bytes(bytes(data), source=str(source))


class _Corrupt(ValueError):
    pass


def _need(condition, message):
    if not condition:
        raise _Corrupt(message)


def _expect_type(value, types, what):
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise _Corrupt(f"{what} must be {_type_names(types)}; got {describe(value)}")
    if not isinstance(value, types):
        raise _Corrupt(f"{what} must be {_type_names(types)}; got {describe(value)}")
    return value


def _type_names(types):
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(t.__name__ for t in types)


def _parse_header(data: bytes) -> tuple:
    """(header dict, offset of the arrays) after the structural checks."""
    minimum = _PREFIX.size + _DIGEST_SIZE
    _need(len(data) >= minimum, f"file too short ({len(data)} bytes) to be an nncore model")
    magic, version, header_length = _PREFIX.unpack_from(data, 0)
    _need(magic == MAGIC, "not an nncore model file (wrong magic number)")
    _need(
        version == FORMAT_VERSION,
        f"model file format version {version} is not supported (this nncore {__version__} "
        f"reads version {FORMAT_VERSION})",
    )
    _need(
        header_length <= min(_MAX_HEADER_BYTES, len(data) - minimum),
        f"header length {header_length} does not fit in a file of {len(data)} bytes "
        "(truncated or corrupt)",
    )
    digest = hashlib.sha256(data[:-_DIGEST_SIZE]).digest()
    _need(digest == data[-_DIGEST_SIZE:], "checksum mismatch: the file is corrupt or truncated")
    raw = data[_PREFIX.size : _PREFIX.size + header_length]
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _Corrupt(f"header is not valid JSON ({exc})") from None
    _expect_type(header, dict, "header")
    _need(header.get("format") == _FORMAT_NAME, "header 'format' is not 'nncore-model'")
    return header, _PREFIX.size + header_length + _padding(header_length)


def _build_model(header: dict):
    """A Sequential from the header (no weights yet); checks the schema."""
    from nncore.layers import LAYER_CLASSES
    from nncore.models import Sequential

    _expect_type(header.get("nncore_version"), str, "header 'nncore_version'")
    config = _expect_type(header.get("model"), dict, "header 'model'")
    _need(config.get("dtype") in ("float32", "float64"), "model 'dtype' must be float32/float64")
    seed = _expect_type(config.get("seed"), int, "model 'seed'")
    name = _expect_type(config.get("name"), str, "model 'name'")
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
    # Count the parameters before allocating anything the file asks for.
    n_params = 0
    width = input_dim
    if width is None and layers:
        width = layers[0]._input_dim
    if width is not None:
        for layer in layers:
            n_params += sum(math.prod(s) for s in layer._weight_shapes(width))
            width = layer._output_dim(width)
    model = Sequential(dtype=config["dtype"], seed=seed, name=name)
    compiled = header.get("compile")
    if compiled is not None:
        _expect_type(compiled, dict, "header 'compile'")
        model.compile_from_config(compiled)
    arrays = _expect_type(header.get("arrays"), dict, "header 'arrays'")
    return model, layers, input_dim, n_params, compiled, arrays


def model_from_bytes(data: bytes, *, source: str = "model file"):
    """The model stored in `data` (the contents of a model file)."""
    try:
        header, offset = _parse_header(data)
        model, layers, input_dim, n_params, compiled, arrays = _build_model(header)
        _need(arrays.get("dtype") == str(model.dtype), "arrays 'dtype' differs from the model's")
        itemsize = model.dtype.itemsize
        _need(arrays.get("itemsize") == itemsize, "arrays 'itemsize' differs from the dtype's")
        n_stored = _expect_type(arrays.get("params"), int, "arrays 'params'")
        n_state = _expect_type(arrays.get("optimizer_state"), int, "arrays 'optimizer_state'")
        _need(
            n_stored == n_params,
            f"the file holds {n_stored} parameters but its architecture has {n_params}",
        )
        _need(n_state >= 0, "arrays 'optimizer_state' must be >= 0")
        expected_length = offset + (n_stored + n_state) * itemsize + _DIGEST_SIZE
        _need(
            expected_length == len(data),
            f"the file has {len(data)} bytes but its header describes {expected_length}",
        )
        metadata = header.get("metadata")
        if metadata is not None:
            model.metadata = _expect_type(metadata, dict, "header 'metadata'")
        if input_dim is not None:
            from nncore.layers import Input

            model.add(Input((input_dim,)))
        for layer in layers:
            model.add(layer)
        little = model.dtype.newbyteorder("<")
        params = np.frombuffer(data, dtype=little, count=n_stored, offset=offset)
        state = np.frombuffer(
            data, dtype=little, count=n_state, offset=offset + n_stored * itemsize
        )
        if model.built:
            model._params[...] = params
            if compiled:
                _need(
                    n_state in (0, model._opt_state.size),
                    f"the file holds {n_state} optimizer values; the optimizer needs "
                    f"{model._opt_state.size}",
                )
                if n_state:
                    model._opt_state[...] = state
        else:
            _need(n_state == 0, "an unbuilt model cannot have optimizer state")
        return model
    except _Corrupt as exc:
        raise ValueError(f"cannot load {source}: {exc}") from None
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError, RecursionError) as exc:
        raise ValueError(f"cannot load {source}: invalid model description ({exc})") from None
