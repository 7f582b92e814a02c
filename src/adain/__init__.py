"""adain: fast arbitrary style transfer with Adaptive Instance Normalization.

>>> from adain import StylizationPipeline                       # doctest: +SKIP
>>> pipeline = StylizationPipeline.from_preset()                 # doctest: +SKIP
>>> pipeline("photo.jpg", "bank:NAME").image.save("out.png")     # doctest: +SKIP
"""

__version__ = "0.1.0"

from adain.pipeline.stylize import StyleStatistics, StylizationPipeline, StylizeOptions, StylizeResult  # noqa: E402

__all__ = ["StyleStatistics", "StylizationPipeline", "StylizeOptions", "StylizeResult", "__version__"]
