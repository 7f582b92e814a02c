"""``adain serve``: the web service and its live-preview page (FastAPI + uvicorn).

The models load once, before the port is bound, so a missing weight file is one line and exit 1,
not a server that fails its first request. Every limit of :class:`adain.server.ServerLimits` is a
flag; the defaults suit one CPU machine.

Nothing of the ``serve`` extra (FastAPI, uvicorn, python-multipart, fastapi-offline) nor
:mod:`adain.server` is imported until :func:`run`: ``adain --help`` and every other command work
without the extra, and ``adain serve`` without it is one line naming ``pip install 'adain[serve]'``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adain.errors import AdainError, UsageError
from adain.weights.presets import DEFAULT_PRESET

if TYPE_CHECKING:
    from adain.server.config import ServerConfig

__all__ = ["LIMIT_DEFAULTS", "SERVE_MODULES", "add_parser", "build_config", "run"]

#: The defaults of :class:`adain.server.ServerLimits` the flags show (repeated here so that building
#: the parser imports nothing of the server; tests/server/test_cli.py checks they are the same).
LIMIT_DEFAULTS = {
    "max_upload_mb": 20.0,
    "max_pixels": 16_000_000,
    "max_size": 1024,
    "request_timeout_s": 60.0,
    "workers": 1,
    "queue_size": 8,
    "header_timeout_s": 10.0,
}

#: The top-level modules of the ``serve`` extra (pyproject.toml), imported by :func:`run` only.
SERVE_MODULES = ("fastapi", "starlette", "uvicorn", "h11", "python_multipart", "fastapi_offline", "pydantic")

EPILOG = """\
examples:
  adain serve                                   # http://127.0.0.1:8000 (page at /, API docs at /docs)
  adain serve --host 0.0.0.0 --port 8080 --workers 2 --queue 16
  adain serve --study-config study.json --study-content photos/   # A/B study at /study
  adain serve --no-fast                         # quality only: no speed=fast, the page's Fast toggle off

speeds: requests (and the page's Quality / Fast toggle) choose speed=quality (the served preset) or
speed=fast (the preset distilled from it: fast for vgg16-hed), offered when its weights are
installed and loaded on first use; GET /v1/info says which are on offer, and why not.

limits: a body over --max-upload-mb is answered 413 without being read; an image over --max-pixels
413 before decoding; with --workers busy and --queue requests waiting, 503 with Retry-After; a
connection whose request line and headers take over --header-timeout seconds is closed (408)."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    defaults = argparse.Namespace(**LIMIT_DEFAULTS)
    parser = subparsers.add_parser(
        "serve",
        help="web service and live-preview page",
        description="Serve stylization over HTTP with a live-preview page at /.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--preset", default=DEFAULT_PRESET, help=f"encoder preset (default {DEFAULT_PRESET})")
    parser.add_argument("--decoder", type=Path, metavar="FILE", help="decoder weights instead of the preset's")
    parser.add_argument(
        "--no-fast",
        dest="fast",
        action="store_false",
        help="do not offer speed=fast, the preset distilled from --preset (default: offer it when its weights are "
        "installed, loaded on first use)",
    )
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="what the networks compute in (default auto: bf16 where the hardware has it natively)",
    )
    parser.add_argument(
        "--workers", type=int, default=defaults.workers, help=f"stylizations at once (default {defaults.workers})"
    )
    parser.add_argument(
        "--queue",
        type=int,
        default=defaults.queue_size,
        help=f"requests that may wait for a worker; beyond: 503 (default {defaults.queue_size})",
    )
    parser.add_argument("--threads", type=int, help="torch threads per process (default: CPU cores / workers)")
    parser.add_argument(
        "--max-upload-mb",
        type=float,
        default=defaults.max_upload_mb,
        help=f"largest request body in MB (default {defaults.max_upload_mb:g})",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=defaults.max_pixels,
        help=f"largest uploaded image in pixels (default {defaults.max_pixels})",
    )
    parser.add_argument(
        "--max-size",
        type=int,
        default=defaults.max_size,
        help=f"largest output side in pixels (default {defaults.max_size})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=defaults.request_timeout_s,
        help=f"request timeout in seconds: upload, queue and stylization (default {defaults.request_timeout_s:g})",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=defaults.header_timeout_s,
        metavar="SECONDS",
        help="a request's line and headers must arrive within this; a slower connection is closed "
        f"(default {defaults.header_timeout_s:g})",
    )
    parser.add_argument(
        "--bank",
        type=Path,
        metavar="FILE",
        help="the bank POST /v1/styles adds to (default: your bank in $ADAIN_HOME/bank/)",
    )
    parser.add_argument(
        "--study-db", type=Path, metavar="FILE", help="SQLite file of the A/B study (default $ADAIN_HOME/study.sqlite)"
    )
    parser.add_argument(
        "--study-config", type=Path, metavar="FILE", help="JSON: the study's configurations, styles and size"
    )
    parser.add_argument(
        "--study-content", type=Path, metavar="DIR", help="content images of the study (default: scikit-image's)"
    )
    parser.add_argument(
        "--preview-cache",
        type=Path,
        metavar="DIR",
        help="where the style previews are kept (default $ADAIN_HOME/cache/previews)",
    )
    parser.add_argument(
        "--no-preview-warmup",
        dest="preview_warmup",
        action="store_false",
        help="render style previews only when the page asks (default: also ahead of time, in the background)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug"),
        help="the server log's least severity shown",
    )
    parser.set_defaults(run=run)
    return parser


def build_config(args: argparse.Namespace) -> ServerConfig:
    """The :class:`~adain.server.ServerConfig` of the flags (checked: usage errors exit 2)."""
    from adain.server.config import ServerConfig, ServerLimits
    from adain.weights.presets import get_preset

    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be in 1..65535. Got {args.port}")
    get_preset(args.preset)
    limits = ServerLimits(
        max_upload_mb=args.max_upload_mb,
        max_pixels=args.max_pixels,
        max_size=args.max_size,
        request_timeout_s=args.timeout,
        header_timeout_s=args.header_timeout,
        workers=args.workers,
        queue_size=args.queue,
    ).check()
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1. Got {args.threads}")
    return ServerConfig(
        preset=args.preset,
        decoder=args.decoder,
        device=args.device,
        precision=args.precision,
        user_bank=args.bank,
        study_db=args.study_db,
        study_config=args.study_config,
        study_content=args.study_content,
        preview_cache=args.preview_cache,
        preview_warmup=args.preview_warmup,
        fast=args.fast,
        limits=limits,
    )


def import_server() -> tuple[Any, Any, Any]:
    """``(uvicorn, create_app, uvicorn_settings)``, or one line naming the extra to install.

    Raises:
        AdainError: a module of the ``serve`` extra is missing.
    """
    try:
        import uvicorn

        from adain.server.app import create_app
        from adain.server.protocol import uvicorn_settings
    except ModuleNotFoundError as error:
        missing = (error.name or "").partition(".")[0]
        if missing not in SERVE_MODULES:
            raise
        raise AdainError(
            f"adain serve needs the 'serve' extra ({missing} is not installed): pip install 'adain[serve]'"
        ) from None
    return uvicorn, create_app, uvicorn_settings


def run(args: argparse.Namespace) -> int:
    uvicorn, create_app, uvicorn_settings = import_server()
    import torch

    config = build_config(args)
    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // config.limits.workers))
    app = create_app(config)
    limits = config.limits
    fast = app.state.adain.speeds.unavailable("fast")
    print(
        f"adain serve: http://{args.host}:{args.port}/ ({config.preset}, {limits.workers} worker(s), queue "
        f"{limits.queue_size}, timeout {limits.request_timeout_s:g} s); API docs at /docs",
        file=sys.stderr,
    )
    offer = f"is off: {fast}" if fast else f"runs preset {app.state.adain.speeds.fast_preset} (loaded on first use)"
    print(f"adain serve: speed=fast {offer}", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, **uvicorn_settings(limits))
    return 0
