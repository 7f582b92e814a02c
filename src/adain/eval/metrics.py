"""Image-quality numbers for stylizations: the AdaIN losses and luminance SSIM."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["luminance", "luminance_ssim"]


def luminance(image: Tensor) -> Tensor:
    """BT.601 luma of ``(B, 3, H, W)`` RGB in [0, 1], ``(B, H, W)``."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    return (image * weights).sum(1)


def luminance_ssim(output: Tensor, content: Tensor) -> float:
    """SSIM (Wang et al. 2004, skimage's implementation) between the luminances, in [-1, 1].

    Measures how much of the content's structure survives stylization, independent of colour.
    """
    from skimage.metrics import structural_similarity

    first = luminance(output.float()).squeeze(0).cpu().numpy().astype(np.float64)
    second = luminance(content.float()).squeeze(0).cpu().numpy().astype(np.float64)
    return float(structural_similarity(first, second, data_range=1.0))
