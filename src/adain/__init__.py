"""adain: fast arbitrary style transfer with Adaptive Instance Normalization.

>>> import torch
>>> from adain import StylizationPipeline
>>> pipeline = StylizationPipeline.from_preset()  # vgg16-hed: its encoder and the shipped decoder
>>> photo = torch.rand(1, 3, 64, 96)  # or a path ("photo.jpg"), or a Pillow image
>>> result = pipeline(photo, "bank:antimonocromatismo", alpha=0.8)  # or a style image
>>> result.image.size  # a Pillow image: result.image.save("out.png")
(96, 64)

The public names are imported on first use (PEP 562), so ``import adain`` and ``adain --version``
do not load torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from adain._version import __version__

if TYPE_CHECKING:
    from adain.pipeline.options import StylizeOptions, StylizeResult, StylizeResults
    from adain.pipeline.stylize import StylizationPipeline
    from adain.styles.statistics import StyleStatistics

#: public name -> the module that defines it
_PUBLIC = {
    "StyleStatistics": "adain.styles.statistics",
    "StylizationPipeline": "adain.pipeline.stylize",
    "StylizeOptions": "adain.pipeline.options",
    "StylizeResult": "adain.pipeline.options",
    "StylizeResults": "adain.pipeline.options",
}

__all__ = [
    "StyleStatistics",
    "StylizationPipeline",
    "StylizeOptions",
    "StylizeResult",
    "StylizeResults",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'adain' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
