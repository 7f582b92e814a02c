"""The web service (``adain serve``): a FastAPI app over :class:`~adain.pipeline.stylize.StylizationPipeline`.

An interface layer like :mod:`adain.cli`: it parses requests, enforces limits and queues work;
stylization itself is the pipeline's. Needs the ``serve`` extra (FastAPI, uvicorn, python-multipart).
"""

from adain.server.app import create_app
from adain.server.config import ServerConfig, ServerLimits

__all__ = ["ServerConfig", "ServerLimits", "create_app"]
