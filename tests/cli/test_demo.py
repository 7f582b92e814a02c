"""``python -m adain.demo``: one line and exit 1 without a trained decoder; pictures with one."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("skimage", reason="the demo's example images come from scikit-image")

from adain import demo


def test_demo_without_a_trained_decoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from adain.weights import loading

    monkeypatch.setattr(loading, "shipped_path", lambda name: tmp_path / "not-shipped" / name)
    monkeypatch.chdir(tmp_path)
    assert demo.main([]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1 and "no trained decoder yet" in captured.err
    assert not (tmp_path / "demo-output").exists()


def test_demo_with_a_decoder(tmp_path: Path, decoder_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--decoder", str(decoder_file), "--output-dir", str(tmp_path / "out"), "--size", "32"]) == 0
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [
        "astronaut-antimonocromatismo-preserve-color.png",
        "astronaut-antimonocromatismo.png",
        "astronaut.png",
    ]
    assert Image.open(tmp_path / "out" / "astronaut-antimonocromatismo.png").size == (32, 32)
    assert capsys.readouterr().out.count("wrote ") == 3


def test_style_comes_from_the_shipped_bank() -> None:
    from adain.styles.statistics import StyleStatistics

    name, style = demo.demo_style()
    assert name == demo.DEMO_STYLE and isinstance(style, StyleStatistics) and style.preset == "vgg16-hed"
