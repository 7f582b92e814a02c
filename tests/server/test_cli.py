"""``adain serve``: flags become the server's config; bad flags and missing weights fail before a port is bound."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adain.cli.main import main


@pytest.fixture
def no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """uvicorn.run records its arguments instead of serving; torch threads are not changed."""
    import torch
    import uvicorn

    calls: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.update(app=app, **kwargs))
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.update(threads=n))
    return calls


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--port", "0"], "--port"),
        (["--workers", "0"], "workers"),
        (["--queue", "-1"], "queue_size"),
        (["--max-upload-mb", "0"], "max_upload_mb"),
        (["--timeout", "nan"], "request_timeout_s"),
        (["--max-size", "4"], "max_size"),
        (["--max-size", "8"], "max_size"),  # below the smallest size the networks take (16)
        (["--header-timeout", "0"], "header_timeout_s"),
        (["--threads", "0"], "--threads"),
        (["--preset", "no-such-preset"], "no-such-preset"),
    ],
)
def test_usage_errors_exit_2(
    no_uvicorn: dict[str, Any], capsys: pytest.CaptureFixture[str], flags: list[str], words: str
) -> None:
    assert main(["serve", *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and "Traceback" not in err[0]
    assert not no_uvicorn


def test_missing_decoder_exits_1_before_serving(
    no_uvicorn: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["serve", "--decoder", str(tmp_path / "missing.safetensors"), "--study-db", str(tmp_path / "s.sqlite")])
        == 1
    )
    err = capsys.readouterr().err
    assert "decoder file not found" in err and "Traceback" not in err
    assert "app" not in no_uvicorn


def test_flags_reach_the_server(
    no_uvicorn: dict[str, Any], tmp_path: Path, decoder_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "8123",
            "--decoder",
            str(decoder_file),
            "--workers",
            "2",
            "--queue",
            "3",
            "--max-upload-mb",
            "5",
            "--precision",
            "fp32",
            "--max-pixels",
            "1000000",
            "--max-size",
            "640",
            "--timeout",
            "9",
            "--header-timeout",
            "3",
            "--bank",
            str(tmp_path / "bank"),
            "--study-db",
            str(tmp_path / "study.sqlite"),
            "--preview-cache",
            str(tmp_path / "previews"),
            "--no-preview-warmup",
            "--no-fast",
        ]
    )
    assert code == 0
    assert (no_uvicorn["host"], no_uvicorn["port"]) == ("127.0.0.1", 8123)
    state = no_uvicorn["app"].state.adain
    limits = state.config.limits
    assert (
        limits.workers,
        limits.queue_size,
        limits.max_upload_mb,
        limits.max_pixels,
        limits.max_size,
        limits.request_timeout_s,
    ) == (2, 3, 5.0, 1_000_000, 640, 9.0)
    assert (
        state.config.precision == "fp32" and state.pool.capacity == 5 and state.catalog.user_path == tmp_path / "bank"
    )
    assert limits.header_timeout_s == 3.0
    assert state.config.preview_cache == tmp_path / "previews" and state.config.preview_warmup is False
    assert state.previews.folder == tmp_path / "previews"
    assert state.config.fast is False and "turned off" in state.speeds.unavailable("fast")
    from adain.server.protocol import GuardedH11Protocol

    assert issubclass(no_uvicorn["http"], GuardedH11Protocol) and no_uvicorn["http"].header_timeout == 3.0
    assert no_uvicorn["ws"] == "none" and no_uvicorn["timeout_keep_alive"] == 5
    assert no_uvicorn["threads"] >= 1
    err = capsys.readouterr().err
    assert "http://127.0.0.1:8123/" in err and "speed=fast is off: fast is turned off" in err
    state.close()
    assert not state.temp_dir.exists()


def test_fast_is_offered_by_default() -> None:
    """Without --no-fast the server offers speed=fast (when the students are installed: tests/server/test_speeds.py)."""
    from adain.cli.main import build_parser
    from adain.cli.serve import build_config

    parser = build_parser("serve")
    assert build_config(parser.parse_args(["serve"])).fast is True
    assert build_config(parser.parse_args(["serve", "--no-fast"])).fast is False


def test_flag_defaults_are_the_server_limits() -> None:
    """The flags' defaults are repeated in adain.cli.serve (building the parser imports no server)."""
    from dataclasses import asdict

    from adain.cli.serve import LIMIT_DEFAULTS
    from adain.server.config import ServerLimits

    assert LIMIT_DEFAULTS == {name: value for name, value in asdict(ServerLimits()).items() if name in LIMIT_DEFAULTS}
    assert set(asdict(ServerLimits())) - set(LIMIT_DEFAULTS) == {"max_parts"}  # the one limit without a flag


#: Runs in a fresh interpreter where the serve extra's modules cannot be imported.
WITHOUT_SERVE_EXTRA = """
import contextlib, importlib.abc, io, json, sys
from adain.cli.serve import SERVE_MODULES

class NoServeExtra(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in SERVE_MODULES:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoServeExtra())
from adain.cli.main import main

out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
        main(["--help"])
    except SystemExit as stop:
        help_code = stop.code
help_text = out.getvalue()
loaded = sorted(m for m in sys.modules if m.partition(".")[0] in SERVE_MODULES or m == "adain.server.app")
err = io.StringIO()
with contextlib.redirect_stderr(err):
    serve_code = main(["serve", "--port", "8000"])
serve_err = err.getvalue()
err = io.StringIO()
with contextlib.redirect_stderr(err):
    study_code = main(["study", "report", "--db", sys.argv[1]])
print(json.dumps({"help_code": help_code, "help": help_text, "loaded": loaded, "serve_code": serve_code,
                  "serve_err": serve_err, "study_code": study_code, "study_err": err.getvalue()}))
"""


def test_other_commands_need_no_serve_extra(tmp_path: Path) -> None:
    """Without FastAPI, uvicorn and the rest of the extra: ``adain --help`` works and imports none of
    them, ``adain study report`` works, and ``adain serve`` is one line naming the extra."""
    import json
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-c", WITHOUT_SERVE_EXTRA, str(tmp_path / "none.sqlite")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["help_code"] == 0 and "serve" in result["help"] and "stylize" in result["help"]
    assert result["loaded"] == []
    assert result["serve_code"] == 1
    lines = result["serve_err"].strip().splitlines()
    assert len(lines) == 1 and "pip install 'adain[serve]'" in lines[0] and "Traceback" not in lines[0], lines
    assert result["study_code"] == 1 and "no study database" in result["study_err"]
