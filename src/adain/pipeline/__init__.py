"""The image pipeline: options, the stylization steps, tiling, optimization, batches, device."""

from adain.pipeline.options import StylizeOptions, StylizeResult, StylizeResults
from adain.pipeline.stylize import StylizationPipeline

__all__ = ["StylizationPipeline", "StylizeOptions", "StylizeResult", "StylizeResults"]
