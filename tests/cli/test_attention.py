"""adain stylize --method attention."""

from __future__ import annotations

from collections.abc import Callable

import torch


def test_cli_method_attention(adain: Callable, tmp_path, decoder_file) -> None:
    from PIL import Image

    generator = torch.Generator().manual_seed(3)
    for name, size in (("photo.png", (40, 32)), ("style.png", (48, 48))):
        array = (torch.rand(size[1], size[0], 3, generator=generator) * 255).byte().numpy()
        Image.fromarray(array).save(tmp_path / name)
    common = ("--decoder", decoder_file, "--size", "0", "--style-size", "0", "--no-progress")
    result = adain(
        "stylize",
        tmp_path / "photo.png",
        "--style",
        tmp_path / "style.png",
        "--method",
        "attention",
        "--attention-temperature",
        "0.1",
        "-o",
        tmp_path / "out.png",
        *common,
    )
    assert result.code == 0, result.err
    assert Image.open(tmp_path / "out.png").size == (40, 32)
    refused = adain(
        "stylize",
        tmp_path / "photo.png",
        "--style",
        "bank:antimonocromatismo",
        "--method",
        "attention",
        "-o",
        tmp_path / "bank.png",
        *common,
    )
    assert refused.code == 2 and "needs the style's features" in refused.err and not (tmp_path / "bank.png").exists()
    wrong = adain(
        "stylize",
        tmp_path / "photo.png",
        "--style",
        tmp_path / "style.png",
        "--attention-temperature",
        "1",
        "-o",
        tmp_path / "x.png",
        *common,
    )
    assert wrong.code == 2 and "needs --method attention" in wrong.err
