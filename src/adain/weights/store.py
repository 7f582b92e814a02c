"""The weights cache: safetensors files plus a JSON manifest per preset.

Layout: ``$ADAIN_HOME/<preset>/{encoder,decoder}.safetensors`` and ``manifest.json`` beside
them. The manifest records, per component, the architecture, the sha256 of the safetensors file
(checked on every load, so a corrupted cache is caught), the source and its hash, and the
licence.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from adain._files import atomic_output, write_bytes_atomically
from adain.errors import MissingWeightsError, ShapeError, WeightsError

__all__ = [
    "FILE_MODE",
    "adain_home",
    "atomic_write_bytes",
    "check_state_dict",
    "component_path",
    "file_sha256",
    "load_component",
    "read_manifest",
    "save_component",
]

#: Mode of every file written into the cache: readable by all, like any other cache file (mkstemp
#: would leave 0600, which breaks a cache shared between users or copied into a container).
FILE_MODE = 0o644


def adain_home() -> Path:
    """``$ADAIN_HOME`` if set, else the user's cache directory (``~/.cache/adain`` on Linux)."""
    env = os.environ.get("ADAIN_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("adain"))


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
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeightsError(f"cannot read weights manifest {path}: {error}") from None
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


def check_state_dict(state_dict: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], what: str) -> None:
    """Strict key and shape check: a file for another architecture fails with a named key."""
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    if missing or unexpected:
        raise WeightsError(
            f"{what} does not fit the architecture: missing {missing[:4]}{'...' if len(missing) > 4 else ''}, "
            f"unexpected {unexpected[:4]}{'...' if len(unexpected) > 4 else ''}"
        )
    for key, tensor in state_dict.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise ShapeError(
                f"{what}: {key} has shape {tuple(tensor.shape)}, the architecture needs {tuple(expected[key].shape)}"
            )


def load_component(path: Path, expected_sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Read a safetensors file, verifying its sha256 against ``expected_sha256`` or the manifest."""
    path = Path(path)
    if not path.exists():
        raise MissingWeightsError(f"weights file not found: {path}")
    if not path.is_file():
        raise WeightsError(f"weights path {path} is not a file")
    if expected_sha256 is None:
        expected_sha256 = read_manifest(path.parent).get(path.stem, {}).get("sha256")
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
