"""Every failure a client can cause answers a 4xx JSON body ``{"error": CODE, "detail": MESSAGE}``.

:class:`ApiError` carries the status and code; :func:`api_error_from` maps the package's own
errors (bad image, bad option, unknown style) onto it, with the server's temporary paths in
their messages replaced by the form field the file came from (clients never see, nor name, a
server path). Every :class:`~adain.errors.AdainError` is a 4xx: a subclass without a mapping of
its own is 422 (the request was understood, but this input cannot be processed). Messages are
cleaned before they leave: any path left under the server's temporary folder becomes "the upload",
advice meant for a command line or a Python caller (a ``--flag``, ``weights_only=False``,
``LOAD_TRUNCATED_IMAGES``) is dropped, since a client can act on neither and some of it is unsafe,
and very long details are cut. Anything else is a bug: 500 with the same JSON shape and no traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from adain.errors import AdainError, BankError, InputImageError, OutputError, ShapeError, UsageError

__all__ = ["ApiError", "api_error_from", "clean_detail", "error_response", "install_error_handlers"]

logger = logging.getLogger("adain.server")

#: Longest ``detail`` sent (characters); a longer one (a huge quoted value) is cut.
MAX_DETAIL_CHARS = 600
#: Advice a client cannot follow, some of it unsafe: PyTorch's ``weights_only=False``, Pillow's
#: ``LOAD_TRUNCATED_IMAGES`` / ``MAX_IMAGE_PIXELS``, and command-line flags that are no form field.
_ADVICE = re.compile(
    r"(?<![\w'\"-])--[a-z][a-z0-9-]+|weights_only|LOAD_TRUNCATED_IMAGES|MAX_IMAGE_PIXELS|allow_pickle|trust_remote_code"
)
#: Command-line flags that are form fields of the server: named as the field instead.
_FLAG_FIELDS = {"size", "alpha", "mix", "mask", "format", "style", "style2", "preserve-color"}
_FLAG = re.compile(r"(?<![\w'\"-])--([a-z][a-z0-9-]+)")
_PARENTHESIS = re.compile(r"\s*\([^()]*\)")
_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+")
#: A server path left in a message: anything under the server's own temporary folder.
_SERVER_PATH = re.compile(r"""(?:/[^\s'"/]+)*/(?:adain-serve-|request-)[^\s'"]*""")


def clean_detail(message: str, advice: bool = False) -> str:
    """``message`` fit for a client: no server path, bounded; ``advice=True`` (a package error's
    message, written for a command line or a Python caller) also names the flags that are form
    fields as the field (``--size`` -> ``size``) and drops the parentheses and sentences that
    advise another flag or an unsafe option.

    Example:
        >>> clean_detail("x is 1x1: --size 128 would enlarge it; use a smaller --size", advice=True)
        'x is 1x1: size 128 would enlarge it; use a smaller size'
        >>> clean_detail("refused. Retry with weights_only=False (unsafe).", advice=True)
        'refused.'
        >>> clean_detail("too large (raise it with --max-pixels)", advice=True)
        'too large'
    """
    message = _SERVER_PATH.sub("the upload", message)
    if advice:
        message = _FLAG.sub(
            lambda match: match.group(1).replace("-", "_") if match.group(1) in _FLAG_FIELDS else match.group(),
            message,
        )
        message = _PARENTHESIS.sub(lambda match: "" if _ADVICE.search(match.group()) else match.group(), message)
        message = " ".join(part for part in _SENTENCE_END.split(message) if not _ADVICE.search(part))
    message = message.strip()
    if len(message) > MAX_DETAIL_CHARS:
        message = message[: MAX_DETAIL_CHARS - 1] + "\u2026"
    return message or "this input cannot be processed"


class ApiError(Exception):
    """An answer other than success: HTTP ``status``, a stable machine-readable ``code``, a message."""

    def __init__(self, status: int, code: str, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})


def error_response(status: int, code: str, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": code, "detail": clean_detail(detail)}, status_code=status, headers=dict(headers or {})
    )


def api_error_from(error: AdainError, paths: Mapping[str, str] | None = None) -> ApiError:
    """The HTTP answer to a package error; ``paths`` maps temporary file paths to field names."""
    message = str(error)
    for path, field in (paths or {}).items():
        message = message.replace(repr(path), repr(field)).replace(path, field)
    message = clean_detail(message, advice=True)
    if isinstance(error, BankError):
        return ApiError(400, "unknown_style", message)
    if isinstance(error, InputImageError):
        return ApiError(400, "bad_image", message)
    if isinstance(error, (UsageError, ShapeError)):
        return ApiError(400, "bad_parameter", message)
    if isinstance(error, OutputError):
        return ApiError(422, "cannot_encode", message)
    logger.warning("request refused by %s: %s", type(error).__name__, message)
    return ApiError(422, "unprocessable", message)


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
