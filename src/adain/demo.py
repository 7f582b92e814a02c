"""``python -m adain.demo`` (``make demo``): stylize an example photo into ``./demo-output/``.

The content photo comes from ``skimage.data`` (bundled with scikit-image, no download). The
style is a named style of the shipped style bank (:func:`demo_style`), so the demo needs no
style image and no network.
Without a trained decoder for the preset the demo prints one line and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from adain.errors import AdainError
from adain.image.examples import skimage_image
from adain.image.io import save_image
from adain.pipeline.options import StylizeOptions
from adain.pipeline.stylize import StylizationPipeline
from adain.styles.statistics import StyleInput
from adain.weights.presets import DEFAULT_PRESET

__all__ = ["demo_content", "demo_style", "main"]

DEFAULT_OUTPUT_DIR = Path("demo-output")


def demo_content() -> tuple[str, torch.Tensor]:
    """``(name, RGB (1, 3, H, W))``: the content photo (scikit-image's astronaut, public domain)."""
    return "astronaut", skimage_image("astronaut")


#: A style of the shipped bank (statistics only: the painting itself is not distributed).
DEMO_STYLE = "antimonocromatismo"


def demo_style(preset: str = DEFAULT_PRESET) -> tuple[str, StyleInput]:
    """``(name, style)``: the style to apply, a style of the shipped bank (no image needed)."""
    from adain.styles.library import resolve_style

    return DEMO_STYLE, resolve_style(f"bank:{DEMO_STYLE}", preset)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adain.demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, help="where to write (default demo-output)"
    )
    parser.add_argument("--preset", default=DEFAULT_PRESET)
    parser.add_argument("--decoder", type=Path, help="decoder weights to use instead of the preset's")
    parser.add_argument("--size", type=int, default=512, help="shorter side of the output (default 512)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    try:
        pipeline = StylizationPipeline.from_preset(args.preset, decoder_path=args.decoder, device=args.device)
        content_name, content = demo_content()
        style_name, style = demo_style(args.preset)
        options = StylizeOptions(size=args.size, style_size=512)
        written = [save_image(content, args.output_dir / f"{content_name}.png")]
        if isinstance(style, torch.Tensor):
            written.append(save_image(style, args.output_dir / f"style-{style_name}.png"))
        stylized = pipeline(content, style, options, output_type="pt")
        written.append(save_image(stylized.rgb, args.output_dir / f"{content_name}-{style_name}.png"))
        kept_colour = pipeline(content, style, options, output_type="pt", preserve_color="luminance")
        written.append(save_image(kept_colour.rgb, args.output_dir / f"{content_name}-{style_name}-preserve-color.png"))
    except AdainError as error:
        print(f"adain demo: {error}", file=sys.stderr)
        return error.exit_code
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
