"""The nncore model file as a codec: a JSON header and named arrays to bytes
and back, plus the atomic writing and the careful reading of a file
(docs/file-format.md). It knows nothing of models: nncore.models builds the
header from a model's get_config() and compile settings and rebuilds the
model from what decode returns.

    offset  size  content
    0       8     magic number b"\\x89NNC\\r\\n\\x1a\\n"
    8       4     format version, uint32 little-endian (1)
    12      4     header length H in bytes, uint32 little-endian
    16      H     header: UTF-8 JSON (the caller's keys, plus "format" and
                  "arrays": the dtype and the length of each array)
    16+H    P     zero bytes up to the next multiple of 8
    ...     s*N   the arrays of ARRAYS, in that order, each of
                  header["arrays"][name] numbers of header["arrays"]["dtype"],
                  little-endian
    end-32  32    SHA-256 of every byte before it

decode checks, in this order, the length, the magic number, the version, the
header length, the checksum, the JSON, the "format" and "arrays" fields, and
that the file length is exactly what they describe; anything wrong raises
ValueError("cannot load <source>: ...") (OSError for files that cannot be
read) before any array is made from sizes the file claims.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
import struct

import numpy as np

from nncore._validation import describe
from nncore._version import __version__

__all__ = ["MAGIC", "FORMAT_VERSION", "ARRAYS", "encode", "decode", "write_file", "read_file"]

MAGIC = b"\x89NNC\r\n\x1a\n"
FORMAT_VERSION = 1
# The arrays of a version 1 file, in the order of their bytes.
ARRAYS = ("params", "optimizer_state")
_DTYPES = ("float32", "float64")
_PREFIX = struct.Struct("<8sII")  # magic, version, header length
_DIGEST_SIZE = 32
_MAX_HEADER_BYTES = 16 * 1024 * 1024
_ALIGNMENT = 8
_FORMAT_NAME = "nncore-model"
# The header keys the codec writes itself.
_OWN_KEYS = ("format", "arrays")


def _padding(header_length: int) -> int:
    return -(_PREFIX.size + header_length) % _ALIGNMENT


def encode(header: dict, arrays: dict) -> bytes:
    """The file contents for `header` (a dict of JSON data; the codec adds
    "format" and "arrays") and `arrays` (ARRAYS' names -> 1-D arrays, all
    float32 or all float64)."""
    if not isinstance(header, dict):
        raise TypeError(f"header must be a dict; got {describe(header)}")
    for key in _OWN_KEYS:
        if key in header:
            raise ValueError(f"header must not hold {key!r}: the codec writes it")
    if not isinstance(arrays, dict) or sorted(arrays) != sorted(ARRAYS):
        raise ValueError(f"arrays must be a dict of exactly {list(ARRAYS)}; got {describe(arrays)}")
    dtypes = {np.asarray(arrays[name]).dtype for name in ARRAYS}
    if len(dtypes) != 1 or str(next(iter(dtypes)).newbyteorder("=")) not in _DTYPES:
        raise ValueError(
            f"arrays must all be float32 or all float64; got {sorted(map(str, dtypes))}"
        )
    little = next(iter(dtypes)).newbyteorder("<")
    parts = []
    for name in ARRAYS:
        array = np.asarray(arrays[name])
        if array.ndim != 1:
            raise ValueError(f"arrays[{name!r}] must be 1-D; got shape {array.shape}")
        parts.append(array.astype(little, copy=False))
    description = {"dtype": str(little.newbyteorder("=")), "itemsize": little.itemsize}
    description.update({name: int(part.size) for name, part in zip(ARRAYS, parts)})
    full = {**header, "format": _FORMAT_NAME, "arrays": description}
    try:
        text = json.dumps(full, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"header must hold JSON data (dicts, lists, strings, finite numbers); {exc}"
        ) from None
    header_bytes = text.encode("utf-8")
    body = b"".join(
        [
            _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header_bytes)),
            header_bytes,
            b"\0" * _padding(len(header_bytes)),
            *(part.tobytes() for part in parts),
        ]
    )
    return body + hashlib.sha256(body).digest()


def write_file(path, data: bytes) -> None:
    """Writes `data` to `path` (a path or a binary file object).

    A path is written atomically: the bytes go to a temporary file in the same
    folder, are flushed to the disk, and the temporary file is then renamed to
    `path`. A crash or a kill at any moment leaves under `path` either the
    previous file, complete, or the new one, complete; never a mix.
    """
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
        return  # the file is written; only the durability of the rename is not forced
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (network, FUSE) do not sync folders: the rename holds anyway
    finally:
        os.close(fd)


def read_file(path) -> tuple:
    """(contents, name for messages) of `path` (a path or a binary file object)."""
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
    return bytes(data), str(source)


class _Corrupt(ValueError):
    pass


def _need(condition, message):
    if not condition:
        raise _Corrupt(message)


def _count(value, what):
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Corrupt(f"{what} must be int; got {describe(value)}")
    _need(value >= 0, f"{what} must be >= 0; got {value}")
    return value


def decode(data: bytes, source: str = "model file") -> tuple:
    """(header, arrays) stored in `data` (a file's contents), as encode was
    given them: the header without "format" and "arrays", and ARRAYS' names
    -> 1-D arrays of the file's dtype in the machine's byte order (read-only
    views of `data` on little-endian machines: copy before writing)."""
    try:
        return _decode(data)
    except _Corrupt as exc:
        raise ValueError(f"cannot load {source}: {exc}") from None


def _decode(data: bytes) -> tuple:
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
    _need(isinstance(header, dict), f"header must be dict; got {describe(header)}")
    _need(header.get("format") == _FORMAT_NAME, "header 'format' is not 'nncore-model'")
    description = header.get("arrays")
    _need(
        isinstance(description, dict),
        f"header 'arrays' must be dict; got {describe(description)}",
    )
    dtype = description.get("dtype")
    _need(dtype in _DTYPES, f"arrays 'dtype' must be float32/float64; got {describe(dtype)}")
    itemsize = np.dtype(dtype).itemsize
    _need(description.get("itemsize") == itemsize, "arrays 'itemsize' differs from the dtype's")
    counts = [_count(description.get(name), f"arrays {name!r}") for name in ARRAYS]
    offset = _PREFIX.size + header_length + _padding(header_length)
    expected_length = offset + sum(counts) * itemsize + _DIGEST_SIZE
    _need(
        expected_length == len(data),
        f"the file has {len(data)} bytes but its header describes {expected_length} "
        f"({' and '.join(f'{n} {name}' for n, name in zip(counts, ARRAYS))} values of "
        f"{itemsize} bytes)",
    )
    little = np.dtype(dtype).newbyteorder("<")
    arrays = {}
    for name, count in zip(ARRAYS, counts):
        stored = np.frombuffer(data, dtype=little, count=count, offset=offset)
        arrays[name] = stored.astype(dtype, copy=False)
        offset += count * itemsize
    for key in _OWN_KEYS:
        del header[key]
    return header, arrays
