"""``adain eval --multiscale`` reports the method ``decoder-multiscale`` at every size."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from adain.cli.main import main
from adain.pipeline import stylize as stylize_module


def _make_pairs(root: Path) -> Path:
    spec = importlib.util.spec_from_file_location(
        "adain_tests_eval_pairs", Path(__file__).with_name("test_evaluate.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module.make_pairs(root)


def test_eval_multiscale_method(
    tmp_path: Path, decoder_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stylize_module, "MULTISCALE_COARSEST_SIDE", 16)  # 32-pixel pairs get a 16-pixel level
    pairs = _make_pairs(tmp_path / "pairs")
    out = tmp_path / "report"
    code = main(
        [
            "eval",
            "--decoder",
            str(decoder_file),
            "--pairs",
            str(pairs),
            "--sizes",
            "32,16",
            "--lbfgs-iterations",
            "0",
            "--refine",
            "",
            "--multiscale",
            "-o",
            str(out),
            "--no-progress",
            "--threads",
            "1",
        ]
    )
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "results.json").read_text())
    methods = {(row["size"], row["method"]): row for row in report["summary"]}
    assert set(methods) == {
        (size, method) for size in (32, 16) for method in ("content", "decoder", "decoder-multiscale")
    }
    # at 32 there is a coarser level, so the result differs; at 16 there is none
    assert methods[(32, "decoder-multiscale")]["style_loss"] != methods[(32, "decoder")]["style_loss"]
    assert methods[(16, "decoder-multiscale")]["style_loss"] == methods[(16, "decoder")]["style_loss"]
    assert "decoder-multiscale" in (out / "results.md").read_text()
