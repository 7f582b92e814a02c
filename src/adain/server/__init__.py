"""The web service (``adain serve``): a FastAPI app over :class:`~adain.pipeline.stylize.StylizationPipeline`.

An interface layer like :mod:`adain.cli`: it parses requests, enforces limits and queues work;
stylization itself is the pipeline's. Needs the ``serve`` extra (FastAPI, uvicorn, python-multipart,
fastapi-offline). The names below are imported on first use, so that the modules that need none of
FastAPI (:mod:`adain.server.config`, :mod:`adain.server.study`, which ``adain study report`` reads)
import without the extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adain.server.app import create_app
    from adain.server.config import ServerConfig, ServerLimits

__all__ = ["ServerConfig", "ServerLimits", "create_app"]

_WHERE = {
    "create_app": "adain.server.app",
    "ServerConfig": "adain.server.config",
    "ServerLimits": "adain.server.config",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'adain.server' has no attribute {name!r}")
