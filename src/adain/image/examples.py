"""Example photographs that need no download: scikit-image's bundled ``skimage.data`` images
(public domain), for the demo, the web page's study and tests."""

from __future__ import annotations

import torch

from adain.errors import AdainError

__all__ = ["skimage_image"]


def skimage_image(name: str) -> torch.Tensor:
    """``skimage.data.<name>()`` as RGB ``(1, 3, H, W)`` in [0, 1]."""
    try:
        from skimage import data
    except ImportError:
        raise AdainError("the demo needs scikit-image for its example images: pip install 'adain[eval]'") from None
    array = getattr(data, name)()
    image = torch.from_numpy(array).float().div(255.0)
    if image.dim() == 2:
        image = image[:, :, None].expand(-1, -1, 3)
    return image.permute(2, 0, 1)[None, :3].contiguous()
