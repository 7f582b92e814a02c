"""From a request's form to the pipeline's arguments, and the work a worker does with them.

The server adds nothing to stylization: a request becomes ``(content, styles,
StylizeOptions)`` for :class:`~adain.pipeline.stylize.StylizationPipeline`, checked with the
pipeline's own :meth:`~adain.pipeline.options.StylizeOptions.check` before it is queued. What is the
server's own: its limits (output size, pixels per upload) and the encoding of the answer.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from adain._checks import parse_float, parse_int
from adain.errors import UsageError
from adain.image.convert import ImageInput
from adain.image.io import INPUT_FORMATS
from adain.image.sizing import target_size
from adain.ops.statistics import check_alpha
from adain.pipeline.options import StylizeOptions
from adain.pipeline.stylize import StylizationPipeline
from adain.server.config import MIN_SIZE, ServerConfig
from adain.server.errors import ApiError
from adain.server.speeds import DEFAULT_SPEED, for_preset, parse_speed
from adain.server.styles import StyleCatalog
from adain.server.uploads import UploadedFile, UploadedForm
from adain.styles.library import encode_style_image
from adain.styles.statistics import StyleInput, StyleStatistics

__all__ = [
    "IMAGE_FORMATS",
    "SERVER_METHODS",
    "STYLIZE_FIELDS",
    "STYLIZE_FILES",
    "StylizeJob",
    "encode_image",
    "encode_styles",
    "parse_stylize_form",
    "render",
]

#: ``format`` field -> (Pillow format, media type).
IMAGE_FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"), "jpg": ("JPEG", "image/jpeg")}

#: The form fields of ``POST /v1/stylize`` (anything else is refused, so a typo is not ignored).
STYLIZE_FIELDS = {
    "content": "the content image (file)",
    "style": "a bank style name (NAME or bank:NAME; GET /v1/styles lists them)",
    "style_image": "a style image (file) instead of a bank style",
    "style2": "a second bank style, mixed in by `mix`, or routed by `mask`",
    "style2_image": "a second style image (file) instead of `style2`",
    "mix": "weight of the second style in [0, 1] (default 0.5); without a mask",
    "mask": "a mask image (file): white -> the first style, black -> the second",
    "alpha": "style strength in [0, 1] (default 1)",
    "size": f"output shorter side in pixels, at least {MIN_SIZE} (default 512; the server caps it); "
    "a smaller content keeps its size unless `upscale`",
    "upscale": "true: enlarge a content whose shorter side is under `size` (default false)",
    "preserve_color": "true: keep the content's colours (luminance transfer)",
    "format": "png (default) or jpeg",
    "method": "decoder (default: plain AdaIN) or attention (each content region takes the statistics of the style "
    "regions that look like it; needs style images, style_image and style2_image, or bank styles kept with their "
    "features; no mask)",
    "speed": "quality (default: the served preset) or fast (its distilled students, when this server offers them: "
    "GET /v1/info lists the speeds)",
}

#: The fields of ``POST /v1/stylize`` that are files; the others are text.
STYLIZE_FILES = frozenset({"content", "style_image", "style2_image", "mask"})

#: The ``method`` values ``POST /v1/stylize`` takes (L-BFGS, ``optimize``, takes minutes an image: not offered).
SERVER_METHODS = ("decoder", "attention")

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}
JPEG_QUALITY = 90


@dataclass
class StylizeJob:
    """Everything one stylization needs; ``images`` are the uploads to pixel-check first (field -> path);
    ``speed``: which pipeline runs it (:mod:`adain.server.speeds`)."""

    content: ImageInput
    styles: list[StyleInput]
    options: StylizeOptions
    format: str = "png"
    images: dict[str, Path] = field(default_factory=dict)
    speed: str = DEFAULT_SPEED


def _number(form: UploadedForm, name: str, default: float, kind: type = float) -> Any:
    text = form.text(name)
    if text is None or not text.strip():
        return default
    try:
        return parse_int(text, name, strip=True) if kind is int else parse_float(text, name, strip=True)
    except UsageError as error:
        raise ApiError(400, "bad_parameter", str(error)) from None


def parse_flag(form: UploadedForm, name: str) -> bool:
    text = (form.text(name) or "").strip().lower()
    if text not in _TRUE | _FALSE:
        raise ApiError(400, "bad_parameter", f"{name} must be true or false. Got {form.text(name)!r}")
    return text in _TRUE


def check_fields(form: UploadedForm, known: dict[str, str] | set[str], files: frozenset[str] | set[str]) -> None:
    """400 for a field that is unknown, or of the wrong kind: a file where a value is read, or the reverse."""
    unknown = sorted(form.names() - set(known))
    if unknown:
        raise ApiError(
            400,
            "unknown_field",
            f"unknown form field(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}",
        )
    sent_as_files, sent_as_text = sorted(set(form.files) - set(files)), sorted(set(form.fields) & set(files))
    if sent_as_files:
        raise ApiError(400, "bad_parameter", f"field {sent_as_files[0]!r} takes a text value, not a file")
    if sent_as_text:
        raise ApiError(400, "bad_parameter", f"field {sent_as_text[0]!r} takes a file (an image), not a text value")


def _style(form: UploadedForm, catalog: StyleCatalog, name_field: str, file_field: str) -> StyleInput | None:
    name, upload = (form.text(name_field) or "").strip(), form.file(file_field)
    if name and upload is not None:
        raise ApiError(
            400, "bad_parameter", f"give either {name_field!r} (a bank style) or {file_field!r} (an image), not both"
        )
    if upload is not None:
        return upload.path
    return catalog.statistics(name) if name else None


def parse_method(form: UploadedForm) -> str:
    """The ``method`` field: one of :data:`SERVER_METHODS` (default ``decoder``)."""
    text = form.text("method")
    method = (text or "").strip().lower() or "decoder"
    if method not in SERVER_METHODS:
        raise ApiError(
            400, "bad_parameter", f"method must be {' or '.join(SERVER_METHODS)} (default decoder). Got {text!r}"
        )
    return method


def check_attention_styles(styles: dict[str, StyleInput | None]) -> None:
    """400 for ``method=attention`` with a bank style that kept only its statistics: attention needs
    the style's features, which an uploaded image gives (and a bank style added with ``--features``)."""
    for name_field, style in styles.items():
        if isinstance(style, StyleStatistics) and not getattr(style, "features", None):
            raise ApiError(
                400,
                "bad_parameter",
                f"method attention needs a style image: {name_field!r} is a bank style kept as statistics only "
                f"(without its features); upload the image as '{name_field}_image' instead",
            )


def parse_stylize_form(form: UploadedForm, catalog: StyleCatalog, config: ServerConfig) -> StylizeJob:
    """Check a ``POST /v1/stylize`` form completely (no model runs) and build its job.

    Raises:
        ApiError: 400 for a missing, unknown or bad field.
        BankError: an unknown bank style (400 ``unknown_style``).
        UsageError: options the pipeline refuses (400 ``bad_parameter``).
    """
    check_fields(form, STYLIZE_FIELDS, STYLIZE_FILES)
    limits = config.limits
    content = form.file("content")
    if content is None:
        raise ApiError(400, "missing_parameter", "no content image: send it as the file field 'content'")
    first = _style(form, catalog, "style", "style_image")
    if first is None:
        raise ApiError(400, "missing_parameter", "no style: give 'style' (a bank style name) or 'style_image' (a file)")
    second = _style(form, catalog, "style2", "style2_image")
    mask = form.file("mask")
    alpha = check_alpha(_number(form, "alpha", 1.0), "alpha")
    size = _number(form, "size", min(config.default_size, limits.max_size), int)
    if not MIN_SIZE <= size <= limits.max_size:
        raise ApiError(
            400,
            "bad_parameter",
            f"size must be an integer from {MIN_SIZE} to {limits.max_size} (this server's limit). Got {size}",
        )
    image_format = (form.text("format") or "png").strip().lower()
    if image_format not in IMAGE_FORMATS:
        raise ApiError(400, "bad_parameter", f"format must be png or jpeg. Got {form.text('format')!r}")
    method = parse_method(form)
    speed = parse_speed(form.text("speed"))
    styles = [first] if second is None else [first, second]
    weights = None
    if form.text("mix") is not None and second is None:
        raise ApiError(400, "bad_parameter", "mix needs a second style ('style2' or 'style2_image')")
    if mask is not None and second is None:
        raise ApiError(400, "bad_parameter", "a mask routes a second style: give 'style2' or 'style2_image'")
    if second is not None and mask is None:
        mix = _number(form, "mix", 0.5)
        if not 0.0 <= mix <= 1.0:
            raise ApiError(400, "bad_parameter", f"mix must be in [0, 1]. Got {form.text('mix')!r}")
        weights = [1.0 - mix, mix]
    options = StylizeOptions(
        alpha=alpha,
        style_weights=weights,
        preserve_color="luminance" if parse_flag(form, "preserve_color") else None,
        mask=None if mask is None else mask.path,
        size=size,
        upscale=parse_flag(form, "upscale"),
        max_size=limits.max_size,
        style_size=config.style_size,
        max_pixels=limits.max_pixels,
        method=method,
    )
    options.check(len(styles))  # attention with a mask: the pipeline's own refusal, word for word
    if method == "attention":
        check_attention_styles({"style": first, "style2": second})
    uploads = {f: form.file(f) for f in ("content", "style_image", "style2_image", "mask")}
    return StylizeJob(
        content.path,
        styles,
        options,
        image_format,
        {name: upload.path for name, upload in uploads.items() if upload is not None},
        speed,
    )


def check_pixels(path: Path, field: str, max_pixels: int) -> tuple[int, int] | None:
    """An upload's ``(width, height)`` read from its header (nothing decoded); 413 over the pixel cap.

    Unreadable files give ``None``: the pipeline's loader then says what is wrong with them.
    """
    try:
        with Image.open(path, formats=INPUT_FORMATS) as image:  # the loader's decoders only: never EPS & co.
            width, height = image.size
    except Image.DecompressionBombError:
        raise ApiError(
            413, "too_many_pixels", f"{field} image has too many pixels (this server's limit: {max_pixels:,})"
        ) from None
    except Exception:  # not an image, or unreadable (any error of Pillow's): the loader reports it
        return None
    if width * height > max_pixels:
        raise ApiError(
            413,
            "too_many_pixels",
            f"{field} image is {width}x{height} = {width * height:,} pixels, over "
            f"this server's limit of {max_pixels:,}",
        )
    return width, height


def check_resized(field: str, image_size: tuple[int, int], resized: tuple[int, int], max_pixels: int) -> None:
    """400 if an image would be resized below :data:`MIN_SIZE` on a side (an extreme aspect ratio),
    413 if above the pixel cap (a thin strip whose short side is scaled up); before any resizing.

    Args:
        image_size: ``(width, height)`` of the upload; ``resized``: ``(height, width)`` it would become.
    """
    width, height = image_size
    new_height, new_width = resized
    if min(resized) < MIN_SIZE and (new_height, new_width) == (height, width) and min(width, height) < MIN_SIZE:
        raise ApiError(
            400,
            "bad_image",
            f"{field!r} image is {width}x{height}, under {MIN_SIZE} pixels on a side: send upscale=true to enlarge "
            "it to `size`",
        )
    if min(resized) < MIN_SIZE:
        raise ApiError(
            400,
            "bad_image",
            f"{field!r} image is {width}x{height}: resized for this request it would be {new_width}x{new_height} "
            f"pixels, and both sides must come to at least {MIN_SIZE} (its aspect ratio is too extreme)",
        )
    if new_width * new_height > max_pixels:
        raise ApiError(
            413,
            "too_many_pixels",
            f"{field!r} image is {width}x{height}: resized for this request it would be {new_width}x{new_height} "
            f"= {new_width * new_height:,} pixels, over this server's limit of {max_pixels:,}",
        )


def check_upload(path: Path, field: str, options: StylizeOptions, max_pixels: int) -> None:
    """:func:`check_pixels`, then :func:`check_resized` for the size the pipeline would resize it to
    (the content to ``size``/``max_size``, a style image to ``style_size``; a mask follows the content)."""
    image_size = check_pixels(path, field, max_pixels)
    if image_size is None or field == "mask":
        return
    width, height = image_size
    if field == "content":
        resized = target_size(height, width, options.size, options.max_size, upscale=options.upscale)
    else:
        resized = target_size(height, width, options.style_size)
    check_resized(field, image_size, resized, max_pixels)


def encode_image(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    pil_format = IMAGE_FORMATS[image_format][0]
    if pil_format == "JPEG":
        image.convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY)
    else:
        image.save(buffer, "PNG", compress_level=3)
    return buffer.getvalue()


def render(pipeline: StylizationPipeline, job: StylizeJob, max_pixels: int) -> bytes:
    """The worker's part: pixel-check the uploads, stylize, encode. Bank statistics are labelled for
    the pipeline's preset (the fast one reads its teacher's: :func:`~adain.server.speeds.for_preset`)."""
    for name, path in job.images.items():
        check_upload(path, name, job.options, max_pixels)
    result = pipeline(job.content, [for_preset(style, pipeline.preset) for style in job.styles], job.options)
    return encode_image(result.image, job.format)


def encode_styles(
    pipeline: StylizationPipeline, uploads: list[UploadedFile], style_size: int, max_pixels: int
) -> list[tuple[Any, int, dict[str, Any]]]:
    """Each uploaded style image's statistics (with the pipeline's encoder, as ``adain bank add``
    computes them), its relu4_1 area, and its bank record."""
    encoded = []
    options = StylizeOptions(style_size=style_size)
    for upload in uploads:
        check_upload(upload.path, upload.field, options, max_pixels)
        encoded.append(
            encode_style_image(
                pipeline.encoder, upload.path, pipeline.preset, style_size, max_pixels, upload.filename or "upload"
            )
        )
    return encoded
