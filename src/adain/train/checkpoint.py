"""Training checkpoints: everything needed to continue exactly, written atomically.

Read back with ``weights_only=True``: a checkpoint holds only tensors, numbers, strings, lists
and dicts, so loading one never runs pickled code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import torch

from adain._files import atomic_output
from adain.errors import WeightsError
from adain.weights.convert import load_weights_only

__all__ = ["CHECKPOINT_NAME", "load_checkpoint", "save_checkpoint", "save_last_whole_step"]

CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_output(path) as tmp:  # no mode: the file keeps mkstemp's 0600 (its owner only)
        torch.save(state, str(tmp))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint at ``path``, read as plain data (stat-ed first: a FIFO would block the read)."""
    if not os.path.lexists(path):
        raise WeightsError(f"no checkpoint at {path}")
    state = load_weights_only(path, "checkpoint")
    if not isinstance(state, dict):
        raise WeightsError(f"cannot read checkpoint {path}: it holds a {type(state).__name__}, not a checkpoint")
    return state


def save_last_whole_step(run: Any, program: str) -> None:
    """On an interrupt (Ctrl-C, SIGTERM): checkpoint ``run``'s last whole step, unless the interrupt
    came in the middle of a weight update (then the last checkpoint is kept: the weights are half
    changed) or that step is saved already. ``run`` is a trainer or distiller: ``step``,
    ``_updating`` (set around the in-place update), ``_saved_step``, ``save()`` and
    ``checkpoint_path``; ``program`` names it in the one line on stderr (``adain train``)."""
    if getattr(run, "_updating", False):
        print(
            f"{program}: interrupted during a weight update; the last checkpoint (step "
            f"{getattr(run, '_saved_step', 'none')}) is kept",
            file=sys.stderr,
        )
        return
    if run.step == 0 or getattr(run, "_saved_step", None) == run.step:
        return
    run.save()
    print(f"{program}: saved step {run.step} to {run.checkpoint_path}; continue with --resume", file=sys.stderr)
