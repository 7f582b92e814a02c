"""Image I/O, sizing, batching and the stylization pipeline (uses adain.weights for the models)."""

from adain.pipeline.image_io import DEFAULT_MAX_PIXELS, LoadedImage, load_image, save_image
from adain.pipeline.sizing import crop_to, pad_to_multiple, resize_image, target_size
from adain.pipeline.stylize import StyleStatistics, StylizationPipeline, StylizeOptions, StylizeResult

__all__ = [
    "DEFAULT_MAX_PIXELS", "LoadedImage", "StyleStatistics", "StylizationPipeline", "StylizeOptions", "StylizeResult",
    "crop_to", "load_image", "pad_to_multiple", "resize_image", "save_image", "target_size",
]  # fmt: skip
