"""Images: reading and writing them safely, sizing, and turning any input into tensors and back."""

from adain.image.convert import OUTPUT_TYPES, ImageInput, image_to_tensors, mask_to_tensor, to_output
from adain.image.io import DEFAULT_MAX_PIXELS, LoadedImage, load_image, save_image
from adain.image.sizing import crop_to, pad_to_multiple, resize_image, target_size

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "OUTPUT_TYPES",
    "ImageInput",
    "LoadedImage",
    "crop_to",
    "image_to_tensors",
    "load_image",
    "mask_to_tensor",
    "pad_to_multiple",
    "resize_image",
    "save_image",
    "target_size",
    "to_output",
]
