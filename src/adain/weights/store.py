"""The weights cache: safetensors files plus a JSON manifest per preset.

Layout: ``$ADAIN_HOME/<preset>/{encoder,decoder}.safetensors`` and ``manifest.json`` beside
them. The manifest records, per component, the architecture, the sha256 of the safetensors file
(checked on every load, so a corrupted cache is caught), the source and its hash, and the
licence.

Every weights file is distrusted until checked: it is stat-ed before it is opened (a FIFO would
block, a device never end), a safetensors header is parsed and checked here before the library
reads it (length, JSON, duplicate names, dtypes, offsets that tile the data exactly), and every
tensor must have a floating dtype (F16, BF16, F32, F64: not an integer, bool, complex or 8-bit
float), finite values and exactly the shape the architecture needs. Each refusal is a
:class:`~adain.errors.WeightsError` naming the file and the tensor.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import stat
import time
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from adain._files import atomic_output, write_bytes_atomically
from adain.errors import AdainError, MissingWeightsError, WeightsError, WeightsShapeError

__all__ = [
    "FILE_MODE",
    "FLOAT_DTYPES",
    "MAX_JSON_BYTES",
    "adain_home",
    "atomic_write_bytes",
    "check_state_dict",
    "check_tensor",
    "component_path",
    "file_sha256",
    "load_component",
    "read_json_file",
    "read_manifest",
    "read_safetensors_header",
    "regular_file",
    "save_component",
]

#: The dtypes a weight (or a style statistic) may have: torch's floating types that carry a
#: network's weights. Integers, bools and complex numbers are no weights; 8-bit (and smaller)
#: floats are quantised formats this code does not dequantise (``is_floating_point`` is true for
#: them, so they are named here, not tested by kind).
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

#: The safetensors names of :data:`FLOAT_DTYPES` and the size of one element of each.
_SAFETENSORS_FLOATS = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}

#: Every dtype name safetensors knows (the others are refused by name, these as not floating).
_SAFETENSORS_OTHERS = (
    "BOOL U8 I8 U16 I16 U32 I32 U64 I64 F8_E5M2 F8_E4M3 F8_E8M0 F8_E4M3FNUZ F8_E5M2FNUZ F6_E2M3 F6_E3M2 F4 C64"
).split()

#: A safetensors header larger than this is refused (the library's own limit: 100 MB).
MAX_HEADER_BYTES = 100_000_000

#: A JSON file (manifest, bank index) larger than this is refused before it is read.
MAX_JSON_BYTES = 64 * 2**20

#: Mode of every file written into the cache: readable by all, like any other cache file (mkstemp
#: would leave 0600, which breaks a cache shared between users or copied into a container).
FILE_MODE = 0o644


def adain_home() -> Path:
    """``$ADAIN_HOME`` if set, else the user's cache directory (``~/.cache/adain`` on Linux).

    Raises:
        WeightsError: the path (or the nearest part of it that exists) is not a folder, or cannot be
            looked at: nothing would be found there, and a fetch would download into nowhere.
    """
    env = os.environ.get("ADAIN_HOME")
    if env:
        home = Path(env).expanduser()
        _check_home(home, f"ADAIN_HOME={env!r}")
        return home
    import platformdirs

    home = Path(platformdirs.user_cache_dir("adain"))
    _check_home(home, f"the weights cache {str(home)!r}")
    return home


def _check_home(home: Path, what: str) -> None:
    """``home`` is a folder, or does not exist yet and its nearest existing ancestor is one."""
    for candidate in (home, *home.parents):
        try:
            mode = os.stat(candidate).st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue  # not there yet (created on the first write) or below a file: look further up
        except OSError as error:
            raise WeightsError(f"{what} cannot be used: {error.strerror or error}") from None
        if not stat.S_ISDIR(mode):
            where = "it" if candidate == home else f"{str(candidate)!r}"
            raise WeightsError(f"{what} cannot be used: {where} is {_kind(mode)}, not a folder")
        return


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def regular_file(
    path: str | Path, what: str, error: type[AdainError] = WeightsError, missing: type[AdainError] | None = None
) -> os.stat_result:
    """``os.stat(path)`` of a regular file; anything else is ``error`` (``missing`` when it does not
    exist), naming ``what`` and the path, before anything opens it: a FIFO would block the reader,
    a device never end, a folder or a symlink loop not be read at all.

    Example:
        >>> regular_file("/", "weights file")
        Traceback (most recent call last):
        adain.errors.WeightsError: weights file / is a folder, not a file
    """
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise (missing or error)(f"{what} not found: {path}") from None
    except OSError as problem:
        reason = {
            errno.ELOOP: "is a symlink loop",
            errno.ENAMETOOLONG: "has a name too long for the file system",
        }.get(problem.errno or 0, f"cannot be read: {problem.strerror or problem}")
        raise error(f"{what} {path} {reason}") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{what} {path} is {_kind(info.st_mode)}, not a file")
    return info


def read_json_file(
    path: Path, what: str, error: type[AdainError] = WeightsError, max_bytes: int = MAX_JSON_BYTES
) -> Any:
    """The JSON value in ``path`` (a regular file of at most ``max_bytes``), or ``error`` naming it.

    Refused: anything but a regular file, a larger file, bytes that are no UTF-8, no JSON, JSON
    nested too deep for Python, or an object with a name twice (the last would silently win).
    """
    size = regular_file(path, what, error).st_size

    def fail(reason: str) -> AdainError:
        return error(f"cannot read {what} {path}: {reason}")

    if size > max_bytes:
        raise fail(f"{size} bytes, more than the {max_bytes} it may have")
    try:
        with open(path, "rb") as handle:
            text = handle.read(max_bytes + 1).decode("utf-8")
        return json.loads(text, object_pairs_hook=_unique_object)
    except OSError as problem:
        raise fail(problem.strerror or str(problem)) from None
    except UnicodeDecodeError:
        raise fail("not UTF-8 text") from None
    except json.JSONDecodeError as problem:
        raise fail(f"not JSON ({problem.msg} at line {problem.lineno})") from None
    except RecursionError:
        raise fail("JSON nested too deep to read") from None
    except _DuplicateName as duplicate:
        raise fail(f"it names {duplicate.name!r} twice") from None


class _DuplicateName(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise _DuplicateName(name)
        result[name] = value
    return result


def file_sha256(path: str | Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically with the cache's :data:`FILE_MODE` (all or nothing)."""
    write_bytes_atomically(path, data, FILE_MODE)


def component_path(preset: str, component: str, home: Path | None = None) -> Path:
    return (home or adain_home()) / preset / f"{component}.safetensors"


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / "manifest.json"
    if not os.path.lexists(path):
        return {}
    manifest = read_json_file(path, "weights manifest")
    if not isinstance(manifest, dict) or not all(isinstance(entry, dict) for entry in manifest.values()):
        raise WeightsError(f"weights manifest {path} is not a JSON object of component entries")
    return manifest


def save_component(
    path: Path,
    state_dict: dict[str, torch.Tensor],
    entry: dict[str, Any],
    dtype: torch.dtype | None = None,
) -> dict[str, Any]:
    """Write ``state_dict`` as safetensors (atomically) and record it in ``manifest.json`` beside it.

    ``entry`` holds architecture, source, licence and anything else worth keeping; the file's
    sha256 and creation time are added here.
    """
    tensors = {k: (v.to(dtype) if dtype else v).detach().contiguous().cpu() for k, v in state_dict.items()}
    try:
        with atomic_output(path, mode=FILE_MODE) as tmp:
            save_file(tensors, str(tmp), metadata={"component": path.stem})
            sha256 = file_sha256(tmp)
        manifest = read_manifest(path.parent)
        record = dict(entry)
        record.update(file=path.name, sha256=sha256, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        manifest[path.stem] = record
        text = json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
        atomic_write_bytes(path.parent / "manifest.json", text.encode())
    except OSError as error:
        raise WeightsError(f"cannot write weights {path}: {error}") from None
    return record


def check_tensor(name: str, tensor: Any, what: str, error: type[AdainError] = WeightsError) -> None:
    """``tensor`` is a tensor of a floating dtype (:data:`FLOAT_DTYPES`) with finite values only;
    ``error`` naming ``what`` and ``name`` otherwise. (An integer or all-NaN decoder would load and
    paint a constant image.)"""
    if not isinstance(tensor, torch.Tensor):
        raise error(f"{what}: {name} is a {type(tensor).__name__}, not a tensor")
    if tensor.dtype not in FLOAT_DTYPES:
        raise error(
            f"{what}: {name} has dtype {str(tensor.dtype).removeprefix('torch.')}; it must be floating point "
            "(float16, bfloat16, float32 or float64)"
        )
    if not bool(torch.isfinite(tensor).all()):
        bad = "NaN" if bool(torch.isnan(tensor).any()) else "infinite"
        raise error(f"{what}: {name} holds {bad} values")


def check_state_dict(state_dict: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], what: str) -> None:
    """Strict check: exactly the architecture's keys (a file for another one fails with a named
    key), each a floating tensor of finite values (:func:`check_tensor`) with exactly its shape."""
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    if missing or unexpected:
        raise WeightsError(
            f"{what} does not fit the architecture: missing {missing[:4]}{'...' if len(missing) > 4 else ''}, "
            f"unexpected {unexpected[:4]}{'...' if len(unexpected) > 4 else ''}"
        )
    for key, tensor in state_dict.items():
        if not isinstance(tensor, torch.Tensor):
            check_tensor(key, tensor, what)  # refuses it, by name
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise WeightsShapeError(
                f"{what}: {key} has shape {tuple(tensor.shape)}, the architecture needs {tuple(expected[key].shape)}"
            )
        check_tensor(key, tensor, what)


def read_safetensors_header(
    path: Path, what: str = "weights", error: type[AdainError] = WeightsError
) -> dict[str, dict[str, Any]]:
    """The tensors a safetensors file declares (``{name: {"dtype", "shape", "data_offsets"}}``),
    checked before the library reads the file; each refusal is ``error``, "cannot read ``what``
    PATH: ..." naming the tensor where one is at fault.

    The format: 8 bytes of little-endian header length N, N bytes of JSON, then the data. Checked:
    N fits the file and :data:`MAX_HEADER_BYTES`; the JSON is one object without a name twice (the
    library would keep the last); every tensor has a floating dtype, a shape of natural numbers and
    offsets ``[begin, end]`` whose length is the shape's size; the tensors' ranges tile the data
    exactly, without overlap or gap.
    """

    def fail(reason: str) -> AdainError:
        return error(f"cannot read {what} {path}: {reason}")

    size = regular_file(path, f"{what} file", error, MissingWeightsError if error is WeightsError else None).st_size
    try:
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise fail(f"not a safetensors file ({size} bytes, shorter than the header length)")
            length = int.from_bytes(prefix, "little")
            if length > size - 8:
                raise fail(
                    f"not a safetensors file, or truncated: its header length {length} runs past the end ({size} bytes)"
                )
            if length > MAX_HEADER_BYTES:
                raise fail(f"a header of {length} bytes, more than safetensors allows ({MAX_HEADER_BYTES})")
            raw = handle.read(length)
    except OSError as problem:
        raise fail(problem.strerror or str(problem)) from None
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_object)
    except UnicodeDecodeError:
        raise fail("not a safetensors file: its header is not UTF-8 text") from None
    except json.JSONDecodeError as problem:
        raise fail(f"not a safetensors file: its header is not JSON ({problem.msg})") from None
    except RecursionError:
        raise fail("its header is JSON nested too deep to read") from None
    except _DuplicateName as duplicate:
        raise fail(f"its header declares tensor {duplicate.name!r} twice") from None
    if not isinstance(header, dict):
        raise fail("not a safetensors file: its header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise fail("its __metadata__ must map names to strings")
    ranges = sorted((*_checked_entry(name, info, fail), name) for name, info in header.items())
    position = 0
    for begin, end, name in ranges:
        if begin != position:
            problem = (
                "overlaps the tensor before it" if begin < position else f"leaves bytes {position}..{begin} unused"
            )
            raise fail(f"the data of tensor {name!r} {problem}")
        position = end
    if position != size - 8 - length:
        raise fail(f"its tensors cover {position} bytes of data; the file holds {size - 8 - length}")
    return header


def _checked_entry(name: str, info: Any, fail: Any) -> tuple[int, int]:
    """``(begin, end)`` of one declared tensor, its dtype, shape and offsets checked."""
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        raise fail(f"tensor {name!r} must have exactly dtype, shape and data_offsets")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or dtype not in _SAFETENSORS_FLOATS:
        named = f"dtype {dtype}" if dtype in _SAFETENSORS_OTHERS else f"an unknown dtype {dtype!r}"
        raise fail(f"tensor {name!r} has {named}; tensors must be floating point (F16, BF16, F32 or F64)")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise fail(f"tensor {name!r} has shape {shape!r}, not a list of natural numbers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int and o >= 0 for o in offsets)):
        raise fail(f"tensor {name!r} has data_offsets {offsets!r}, not [begin, end]")
    begin, end = offsets
    needed = math.prod(shape) * _SAFETENSORS_FLOATS[dtype]
    if end - begin != needed:
        raise fail(
            f"tensor {name!r} ({dtype}, shape {tuple(shape)}) needs {needed} bytes; its offsets hold {end - begin}"
        )
    return begin, end


def load_component(path: Path, expected_sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Read a safetensors file, verifying its sha256 against ``expected_sha256`` or the manifest.

    The file is stat-ed and its header checked (:func:`read_safetensors_header`) before it is
    read; every tensor it holds is floating point (the values and shapes are checked against the
    architecture by :func:`check_state_dict`).
    """
    path = Path(path)
    regular_file(path, "weights file", WeightsError, MissingWeightsError)
    if expected_sha256 is None:
        expected_sha256 = read_manifest(path.parent).get(path.stem, {}).get("sha256")
    read_safetensors_header(path)
    try:
        if expected_sha256 is not None:
            seen = file_sha256(path)
            if seen != expected_sha256:
                raise WeightsError(
                    f"sha256 mismatch for {path}: expected {expected_sha256}, got {seen} (the file changed since "
                    "it was written; re-create it, e.g. with `adain weights prepare PRESET --force`)"
                )
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(f"cannot read weights {path}: {error}") from None
