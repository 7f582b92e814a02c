"""Every failure a client can cause answers a 4xx JSON body ``{"error": CODE, "detail": MESSAGE}``.

:class:`ApiError` carries the status and code; :func:`api_error_from` maps the package's own
errors (bad image, bad option, unknown style) onto it, with the server's temporary paths in
their messages replaced by the form field the file came from (clients never see, nor name, a
server path). Anything else is a bug: 500 with the same JSON shape and no traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from adain.errors import AdainError, BankError, InputImageError, ShapeError, UsageError

__all__ = ["ApiError", "api_error_from", "error_response", "install_error_handlers"]

logger = logging.getLogger("adain.server")


class ApiError(Exception):
    """An answer other than success: HTTP ``status``, a stable machine-readable ``code``, a message."""

    def __init__(self, status: int, code: str, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})


def error_response(status: int, code: str, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=dict(headers or {}))


def api_error_from(error: AdainError, paths: Mapping[str, str] | None = None) -> ApiError:
    """The HTTP answer to a package error; ``paths`` maps temporary file paths to field names."""
    message = str(error)
    for path, field in (paths or {}).items():
        message = message.replace(repr(path), repr(field)).replace(path, field)
    if isinstance(error, BankError):
        return ApiError(400, "unknown_style", message)
    if isinstance(error, InputImageError):
        return ApiError(400, "bad_image", message)
    if isinstance(error, (UsageError, ShapeError)):
        return ApiError(400, "bad_parameter", message)
    logger.error("server-side failure: %s", message)
    return ApiError(500, "server_error", message)


def install_error_handlers(app: FastAPI) -> None:
    """JSON errors for ours, for FastAPI's validation, for unknown routes and for bugs."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.detail, error.headers)

    @app.exception_handler(AdainError)
    async def _adain_error(request: Request, error: AdainError) -> JSONResponse:
        converted = api_error_from(error)
        return error_response(converted.status, converted.code, converted.detail)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in error.errors()
        )
        return error_response(422, "bad_parameter", problems or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return error_response(error.status_code, code, str(error.detail), getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", f"internal error ({type(error).__name__}); see the server log")
