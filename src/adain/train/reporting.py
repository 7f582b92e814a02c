"""What a training run leaves to look at: TensorBoard scalars, a loss-curve PNG, sample grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

__all__ = ["TrainingReporter"]


def _smoothed(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average (bias-corrected): the trend under the per-batch noise."""
    smoothed, average, total = [], 0.0, 0.0
    for value in values:
        average = weight * average + (1 - weight) * value
        total = weight * total + (1 - weight)
        smoothed.append(average / total)
    return smoothed


class TrainingReporter:
    def __init__(self, run_dir: Path, enabled: bool = True) -> None:
        self.run_dir = run_dir
        self.enabled = enabled
        self._writer = None
        if enabled:
            run_dir.mkdir(parents=True, exist_ok=True)
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(str(run_dir / "tensorboard"))
            except ImportError:  # tensorboard is an optional extra
                self._writer = None

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        if self._writer is not None:
            for key, value in values.items():
                if key != "step":
                    self._writer.add_scalar(f"train/{key}", value, step)

    def plot_history(self, history: list[dict[str, float]]) -> Path | None:
        if not self.enabled or not history:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        keys = [k for k in history[-1] if k not in ("step", "lr", "loss")]
        figure, axes = plt.subplots(1, len(keys) + 1, figsize=(4 * (len(keys) + 1), 3.2))
        steps = [h["step"] for h in history]
        for axis, key in zip(axes, ["loss", *keys]):
            values = [h.get(key, float("nan")) for h in history]
            axis.plot(steps, values, linewidth=0.6, alpha=0.5)
            axis.plot(steps, _smoothed(values), linewidth=1.4, color="C1", label="moving average")
            axis.set_title(key)
            axis.set_xlabel("step")
            axis.set_yscale("log")
            axis.grid(alpha=0.3)
        figure.tight_layout()
        path = self.run_dir / "loss_curve.png"
        figure.savefig(path, dpi=90)
        plt.close(figure)
        return path

    def write_grid(self, step: int, contents: Tensor, styles: Tensor, outputs: Tensor) -> Path:
        rows = [torch.cat([c, s, o], dim=2) for c, s, o in zip(contents.cpu(), styles.cpu(), outputs.cpu())]
        grid = torch.cat(rows, dim=1).float().clamp(0, 1)
        array = (grid.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
        path = self.run_dir / "samples" / f"step_{step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path)
        if self._writer is not None:
            self._writer.add_image("samples", array, step, dataformats="HWC")
        return path

    def close(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
