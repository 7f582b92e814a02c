"""Training checkpoints: everything needed to continue exactly, written atomically.

Read back with ``weights_only=True``: a checkpoint holds only tensors, numbers, strings, lists
and dicts, so loading one never runs pickled code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from adain._files import atomic_output
from adain.errors import WeightsError

__all__ = ["CHECKPOINT_NAME", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_output(path) as tmp:  # no mode: the file keeps mkstemp's 0600 (its owner only)
        torch.save(state, str(tmp))


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"no checkpoint at {path}") from None
    except Exception as error:
        raise WeightsError(
            f"cannot read checkpoint {path}: {str(error).splitlines()[0] if str(error) else error!r}"
        ) from None
