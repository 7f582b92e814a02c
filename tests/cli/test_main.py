"""``adain.cli.main``: lazy command modules, one-line errors for missing extras, quiet closed pipes."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from adain.cli import main as cli
from adain.styles.statistics import StyleStatistics


def test_help_lines_match_the_command_modules() -> None:
    parser = cli.build_parser()  # every module imported
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert {c.dest: c.help for c in subparsers._choices_actions} == cli.COMMAND_HELP


def test_top_level_help_imports_neither_torch_nor_fastapi() -> None:
    code = "import sys; from adain.cli.main import main\ntry: main(['--help'])\nexcept SystemExit: pass\n"
    code += "print(sorted(m for m in ('torch', 'fastapi') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_a_command_missing_its_extra_is_listed_and_says_which(monkeypatch, capsys) -> None:
    monkeypatch.setitem(cli.COMMANDS, "video", "adain.cli._absent_for_test")
    real = cli.importlib.import_module

    def fake(name: str):
        if name == "adain.cli._absent_for_test":
            raise ModuleNotFoundError("No module named 'av'", name="av")
        return real(name)

    monkeypatch.setattr(cli.importlib, "import_module", fake)
    assert "video" in cli.build_parser().format_help()
    assert cli.main(["video", "in.mp4", "--style", "x", "-o", "out.mp4"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "adain video: error: this needs PyAV (module 'av'), which is not installed: pip install 'adain[video]'"
    ]


def test_missing_torch_is_one_line_with_the_cpu_build() -> None:
    message = cli.missing_dependency_message(ModuleNotFoundError("No module named 'torch'", name="torch"))
    assert message is not None and "--index-url https://download.pytorch.org/whl/cpu" in message


def test_a_closed_pipe_exits_quietly() -> None:
    code = "import sys; from adain.cli.main import main; sys.exit(main(['weights', 'show', 'vgg16-hed']))"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader left before a line was written (`| head -0`)
    err = process.stderr.read().decode()
    process.wait(timeout=120)
    assert "BrokenPipe" not in err and "Exception ignored" not in err, err
    assert err == ""


@pytest.mark.parametrize("preset", ["vgg16-hed", None])
def test_style_statistics_repr_is_short(preset) -> None:
    stats = StyleStatistics(
        {"relu1_1": torch.rand(64), "relu4_1": torch.rand(512)},
        {"relu1_1": torch.rand(64), "relu4_1": torch.rand(512)},
        preset,
    )
    assert repr(stats) == f"StyleStatistics(relu1_1:64, relu4_1:512, preset={preset!r})"
