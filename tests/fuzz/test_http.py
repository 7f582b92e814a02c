"""Hostile HTTP against a real ``adain serve`` (uvicorn, a subprocess) on 127.0.0.1.

:data:`CASES` is one table: each case builds the raw bytes of a request (so that malformed HTTP
and malformed multipart can be sent at all) and states the answer expected: the status, and for
an error the JSON ``error`` code and a word the ``detail`` must contain (the field at fault, where
a field is). Asserted for every case besides: never a 5xx, an error is JSON ``{"error", "detail"}``,
no body shows a server path or a traceback, and the server is alive afterwards. At the end, the
server's log holds no traceback. ``test_slow_headers_are_cut`` opens slowloris connections, which
the server must close after its header timeout (1.5 s here) while it goes on serving others.

To add a case: one :class:`HttpCase` in :data:`CASES`, built with :func:`stylize`,
:func:`add_style`, :func:`http` or raw bytes.
"""

from __future__ import annotations

import io
import json
import os
import random
import select
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server needs the 'serve' extra")
pytest.importorskip("uvicorn", reason="the server needs the 'serve' extra")
httpx = pytest.importorskip("httpx")

from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STYLE = "antimonocromatismo"
OTHER = "water-lilies-1919-2"
BOUNDARY = "fuzzb0undary"
#: The server's limits in this test (small, so that every limit can be reached cheaply).
MAX_SIZE, MAX_PIXELS, MAX_UPLOAD_MB, REQUEST_TIMEOUT_S, HEADER_TIMEOUT_S = 128, 400_000, 1, 4, 1.5
#: Never in any body: a traceback, or a path of the server's (its folders, the code, Python's).
LEAKS = ("Traceback", 'File "', "site-packages", "adain-serve-", "request-", "part-0", str(ROOT), "/tmp/")


# -- building requests ------------------------------------------------------------------------------


def image(width: int = 48, height: int = 32, seed: int = 0, image_format: str = "PNG", mode: str = "RGB") -> bytes:
    """A seeded random image encoded as ``image_format``."""
    noise = random.Random(f"http-fuzz:{width}x{height}:{seed}").randbytes(width * height * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), noise).convert(mode).save(buffer, image_format)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header (IHDR, CRC fixed) claims ``width`` x ``height``: a decompression bomb's head."""
    data = bytearray(image(1, 1))
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


@dataclass(frozen=True)
class Part:
    """One multipart part: a text field (``filename`` None) or a file."""

    name: str | bytes
    value: bytes | str = b""
    filename: str | bytes | None = None
    content_type: str | None = None
    disposition: bytes | None = None  # the whole Content-Disposition value, instead of one built


def text(name: str | bytes, value: str | bytes) -> Part:
    return Part(name, value)


def file(
    name: str | bytes, value: bytes, filename: str | bytes = "upload.png", content_type: str = "image/png"
) -> Part:
    return Part(name, value, filename, content_type)


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def multipart(parts: Sequence[Part], boundary: str = BOUNDARY, close: bool = True, newline: bytes = b"\r\n") -> bytes:
    body = b""
    for part in parts:
        disposition = part.disposition
        if disposition is None:
            disposition = b'form-data; name="' + _bytes(part.name) + b'"'
            if part.filename is not None:
                disposition += b'; filename="' + _bytes(part.filename) + b'"'
        body += b"--" + boundary.encode() + newline + b"Content-Disposition: " + disposition + newline
        if part.content_type:
            body += b"Content-Type: " + part.content_type.encode() + newline
        body += newline + _bytes(part.value) + newline
    return body + (b"--" + boundary.encode() + b"--" + newline if close else b"")


def http(
    method: str,
    path: str,
    body: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
    *,
    length: bool = True,
    version: str = "HTTP/1.1",
) -> bytes:
    """A raw request: ``Host`` and ``Connection: close``, then ``headers``, then ``Content-Length`` (if ``length``)."""
    lines = [f"{method} {path} {version}", "Host: 127.0.0.1", "Connection: close", *(f"{k}: {v}" for k, v in headers)]
    if length and (body or method in ("POST", "PUT", "PATCH")):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def form_post(
    path: str, parts: Sequence[Part], *, boundary: str = BOUNDARY, close: bool = True, **kwargs: Any
) -> bytes:
    content_type = kwargs.pop("content_type", f"multipart/form-data; boundary={boundary}")
    body = multipart(parts, boundary, close, kwargs.pop("newline", b"\r\n"))
    return http("POST", path, body, [("Content-Type", content_type), *kwargs.pop("headers", ())], **kwargs)


def stylize(*parts: Part, content: bytes | None = None, style: str | None = STYLE, **kwargs: Any) -> bytes:
    """``POST /v1/stylize`` with a good content image and bank style unless told otherwise, then ``parts``."""
    base = [] if content is None and kwargs.pop("no_content", False) else [file("content", content or image())]
    if style is not None:
        base.append(text("style", style))
    return form_post(kwargs.pop("path", "/v1/stylize"), [*base, *parts], **kwargs)


def add_style(*parts: Part, name: str | None = "fuzz-style", **kwargs: Any) -> bytes:
    base = [text("name", name)] if name is not None else []
    return form_post(kwargs.pop("path", "/v1/styles"), [*base, *parts], **kwargs)


def chunked(head: bytes, body: bytes, chunk: int = 4096) -> bytes:
    pieces = [b"%x\r\n%s\r\n" % (len(body[i : i + chunk]), body[i : i + chunk]) for i in range(0, len(body), chunk)]
    return head + b"".join(pieces) + b"0\r\n\r\n"


def chunked_head(path: str = "/v1/stylize") -> bytes:
    return http(
        "POST",
        path,
        headers=[("Content-Type", f"multipart/form-data; boundary={BOUNDARY}"), ("Transfer-Encoding", "chunked")],
        length=False,
    )


def pieces(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    return iter([data[i : i + size] for i in range(0, len(data), size)])


def endless_chunks(path: str = "/v1/stylize") -> Iterator[bytes]:
    """A chunked upload that would go on to 64 MB: the server must answer 413 after about 1 MB."""
    yield chunked_head(path) + b"%x\r\n%s\r\n" % (
        len(head := multipart([file("content", b"")], close=False)[:-2]),
        head,
    )
    for _ in range(512):
        yield b"%x\r\n%s\r\n" % (128 * 1024, bytes(128 * 1024))


# -- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpCase:
    """One hostile (or valid) request and the answer it must get.

    Attributes:
        name: unique; the test id.
        request: the raw bytes to send, or a callable giving pieces (sent until the server answers).
        status: the expected HTTP status.
        error: the expected JSON ``error`` code (``None`` for a success, or a body-less answer).
        word: a word the ``detail`` must contain: the field at fault, or what is wrong.
        read_timeout: seconds to wait for the answer.
    """

    name: str
    request: bytes | Callable[[], Iterator[bytes]]
    status: int
    error: str | None = None
    word: str | None = None
    read_timeout: float = 15.0


def bad(name: str, request: Any, word: str | None, error: str = "bad_parameter", status: int = 400) -> HttpCase:
    return HttpCase(name, request, status, error, word)


def ok(name: str, request: Any, status: int = 200) -> HttpCase:
    return HttpCase(name, request, status)


TRIAL = "0" * 32
CASES: list[HttpCase] = [
    # -- valid requests, for contrast (and so that the fuzzing hits a working server) ------------
    ok("valid-bank-style", stylize()),
    ok("valid-jpeg-bank-prefix", stylize(text("format", "jpeg"), style=f"bank:{STYLE}")),
    ok("valid-size-16-is-the-least", stylize(text("size", "16"))),
    ok("valid-empty-size-is-the-default", stylize(text("size", " "))),
    ok("valid-two-styles-and-mask", stylize(text("style2", OTHER), file("mask", image(48, 32, 1, mode="L")))),
    ok("valid-style-image", stylize(file("style_image", image(40, 40, 2)), style=None)),
    ok(
        "valid-attention-style-image",
        stylize(file("style_image", image(40, 40, 2)), text("method", "attention"), style=None),
    ),
    ok("valid-8x8-content-at-size-16", stylize(text("size", "16"), text("upscale", "true"), content=image(8, 8))),
    ok("valid-gif-content", stylize(content=image(32, 32, 3, "GIF"))),
    ok("valid-chunked-upload", chunked(chunked_head(), multipart([file("content", image()), text("style", STYLE)]))),
    ok("valid-boundary-of-70", stylize(boundary="b" * 70)),
    ok(
        "valid-traversal-filename-is-only-a-name",
        stylize(file("style2_image", image(40, 40), "../../../../etc/passwd"), text("mix", "0.3")),
    ),
    ok(
        "valid-non-utf8-filename", stylize(Part("style_image", image(40, 40), b"\xff\xfe.png", "image/png"), style=None)
    ),
    ok("valid-get-query-ignored", http("GET", "/v1/styles?x=1&%ff=%fe")),
    ok("valid-http10-healthz", http("GET", "/healthz", version="HTTP/1.0")),
    ok("valid-long-query-on-get", http("GET", "/v1/info?" + "a" * 8000)),
    ok(
        "valid-upgrade-header-is-ignored",
        http("GET", "/healthz", headers=[("Upgrade", "websocket"), ("Connection", "Upgrade")]),
    ),
    ok("valid-add-style", add_style(file("style_image", image(40, 40, 4))), 201),
    # -- sizes and numbers ----------------------------------------------------------------------
    bad("size-8", stylize(text("size", "8")), "size"),
    bad("size-0", stylize(text("size", "0")), "size"),
    bad("size-negative", stylize(text("size", "-64")), "size"),
    bad("size-over-the-limit", stylize(text("size", str(MAX_SIZE + 1))), "size"),
    bad("size-2-to-the-63", stylize(text("size", str(2**63))), "size"),
    bad("size-4000-digits", stylize(text("size", "9" * 4000)), "size"),
    bad("size-over-field-limit", stylize(text("size", "9" * 5000)), "size"),
    bad("size-float", stylize(text("size", "64.5")), "size"),
    bad("size-nan", stylize(text("size", "nan")), "size"),
    bad("size-inf", stylize(text("size", "inf")), "size"),
    bad("size-hex", stylize(text("size", "0x40")), "size"),
    bad("size-nul", stylize(text("size", "64\x00")), "size"),
    bad("alpha-2", stylize(text("alpha", "2")), "alpha"),
    bad("alpha-negative", stylize(text("alpha", "-0.1")), "alpha"),
    bad("alpha-nan", stylize(text("alpha", "NaN")), "alpha"),
    bad("alpha-inf", stylize(text("alpha", "-inf")), "alpha"),
    bad("alpha-1e999", stylize(text("alpha", "1e999")), "alpha"),
    bad("alpha-word", stylize(text("alpha", "strong")), "alpha"),
    bad("alpha-4000-digits", stylize(text("alpha", "1" * 4000)), "alpha"),
    bad("mix-nan", stylize(text("style2", OTHER), text("mix", "nan")), "mix"),
    bad("mix-2", stylize(text("style2", OTHER), text("mix", "2")), "mix"),
    bad("mix-without-second-style", stylize(text("mix", "0.5")), "mix"),
    bad("preserve-color-maybe", stylize(text("preserve_color", "maybe")), "preserve_color"),
    bad("format-gif", stylize(text("format", "gif")), "format"),
    bad("format-traversal", stylize(text("format", "../../png")), "format"),
    # -- method: attention needs style images, never a bank style's statistics ------------------
    bad("method-bogus", stylize(text("method", "bogus")), "method"),
    bad("method-nul", stylize(text("method", "attention\x00")), "method"),
    bad("method-attention-bank-style", stylize(text("method", "attention")), "style_image"),
    bad(
        "method-attention-bank-style2",
        stylize(file("style_image", image(40, 40, 2)), text("style2", OTHER), text("method", "attention"), style=None),
        "style2_image",
    ),
    bad(
        "method-attention-with-mask",
        stylize(
            file("style_image", image(40, 40, 2)),
            file("style2_image", image(40, 40, 3)),
            file("mask", image(48, 32, 1, mode="L")),
            text("method", "attention"),
            style=None,
        ),
        "mask",
    ),
    # -- fields of the wrong kind, duplicates, unknown and nameless fields ----------------------
    bad("alpha-as-a-file", stylize(file("alpha", b"0.5", "alpha.txt", "text/plain")), "alpha"),
    bad("size-as-a-file", stylize(file("size", b"64", "size.txt", "text/plain")), "size"),
    bad("style-as-a-file", stylize(file("style", image()), style=None), "style"),
    bad("format-as-a-file", stylize(file("format", b"png")), "format"),
    bad("method-as-a-file", stylize(file("method", b"attention", "method.txt", "text/plain")), "method"),
    bad("mask-as-text", stylize(text("style2", OTHER), text("mask", "all white")), "mask"),
    bad("content-as-text", stylize(text("content", "photo.png"), no_content=True), "content"),
    bad(
        "content-bytes-without-filename",
        stylize(Part("content", image(), None, "image/png"), no_content=True),
        "content",
    ),
    bad("style-image-as-text", stylize(text("style_image", "painting.png"), style=None), "style_image"),
    bad("duplicate-alpha", stylize(text("alpha", "0.1"), text("alpha", "0.9")), "alpha"),
    bad("duplicate-style", stylize(text("style", OTHER)), "style"),
    bad("duplicate-content-file", stylize(file("content", image(30, 30))), "content"),
    bad("style-and-style-image", stylize(file("style_image", image())), "not both"),
    bad("unknown-field", stylize(text("colour", "red")), "colour", "unknown_field"),
    bad("unknown-file-field", stylize(file("photo", image())), "photo", "unknown_field"),
    bad("field-name-case", stylize(text("Alpha", "0.5")), "Alpha", "unknown_field"),
    bad("non-utf8-field-name", stylize(text(b"\xff\xfealpha", "0.5")), "alpha", "unknown_field"),
    bad("empty-field-name", stylize(text("", "x")), "unknown form field", "unknown_field"),
    bad("part-without-name", stylize(Part("", b"x", disposition=b"form-data")), "name", "bad_request"),
    bad("part-without-disposition", stylize(Part("", b"x", disposition=b"attachment")), "name", "bad_request"),
    bad("too-many-parts", stylize(*[text(f"f{i}", "x") for i in range(20)]), "parts", "bad_request"),
    bad(
        "huge-part-header",
        stylize(Part("alpha", b"1", disposition=b'form-data; name="alpha"; x="' + b"x" * 6000 + b'"')),
        None,
        "bad_request",
    ),
    bad("no-content", stylize(no_content=True), "content", "missing_parameter"),
    bad("no-style", stylize(style=None), "style", "missing_parameter"),
    bad(
        "urlencoded-without-files",
        http("POST", "/v1/stylize", b"style=x&alpha=0.5", [("Content-Type", "application/x-www-form-urlencoded")]),
        "content",
        "missing_parameter",
    ),
    bad(
        "urlencoded-content-as-text",
        http("POST", "/v1/stylize", b"content=a.png&style=x", [("Content-Type", "application/x-www-form-urlencoded")]),
        "content",
    ),
    bad(
        "urlencoded-duplicate",
        http("POST", "/v1/stylize", b"alpha=1&alpha=0", [("Content-Type", "application/x-www-form-urlencoded")]),
        "alpha",
    ),
    # -- images ---------------------------------------------------------------------------------
    bad("content-1x1-under-16-send-upscale", stylize(content=image(1, 1)), "upscale=true", "bad_image"),
    bad("content-1x1-enlarged-128x", stylize(text("upscale", "1"), content=image(1, 1)), "content", "bad_image"),
    bad("content-20000x2-enlarged", stylize(text("upscale", "on"), content=image(20000, 2)), "content", "bad_image"),
    bad("upscale-not-a-flag", stylize(text("upscale", "bigger")), "upscale"),
    bad("content-not-an-image", stylize(content=b"hello, not an image"), "content", "bad_image"),
    bad(
        "content-empty-file",
        stylize(Part("content", b"", "empty.png", "image/png"), no_content=True),
        "content",
        "bad_image",
    ),
    bad("content-truncated-png", stylize(content=image()[:100]), "content", "bad_image"),
    bad("content-20000x2", stylize(content=image(20000, 2)), "content", "bad_image"),
    bad("content-2x20000", stylize(content=image(2, 20000)), "content", "bad_image"),
    bad("content-too-many-pixels", stylize(content=png_claiming(800, 600)), "content", "too_many_pixels", 413),
    bad("content-bomb-header", stylize(content=png_claiming(100_000, 100_000)), "content", "too_many_pixels", 413),
    bad(
        "content-eps-named-png",
        stylize(content=b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n"),
        "content",
        "bad_image",
    ),
    bad(
        "content-svg",
        stylize(content=b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>'),
        "content",
        "bad_image",
    ),
    bad(
        "style-image-2000x2",
        stylize(file("style_image", image(2000, 2)), style=None),
        "style_image",
        "too_many_pixels",
        413,
    ),
    bad("style-image-not-an-image", stylize(file("style_image", b"\x00" * 64), style=None), "style_image", "bad_image"),
    bad("mask-not-an-image", stylize(text("style2", OTHER), file("mask", b"GIF89a...")), "mask", "bad_image"),
    bad("mask-without-second-style", stylize(file("mask", image(mode="L"))), "mask"),
    # -- style names: never a path --------------------------------------------------------------
    bad("style-traversal", stylize(style="../../../../etc/passwd"), "etc/passwd", "unknown_style"),
    bad("style-bank-traversal", stylize(style="bank:../../secret"), "secret", "unknown_style"),
    bad("style-absolute-path", stylize(style="/etc/passwd"), "passwd", "unknown_style"),
    bad("style-nul", stylize(style="abc\x00def"), "abc", "unknown_style"),
    bad("style-url", stylize(style="http://127.0.0.1:1/x.png"), "x.png", "unknown_style"),
    bad("style2-unknown", stylize(text("style2", "nope-nope")), "nope-nope", "unknown_style"),
    # -- the multipart body itself --------------------------------------------------------------
    bad("no-closing-boundary", stylize(close=False), "closing boundary", "bad_request"),
    bad("boundary-of-1000", stylize(boundary="b" * 1000), "boundary", "bad_request"),
    bad("boundary-of-71", stylize(boundary="b" * 71), "boundary", "bad_request"),
    bad("boundary-mismatch", stylize(content_type="multipart/form-data; boundary=other"), "multipart", "bad_request"),
    bad("boundary-missing", stylize(content_type="multipart/form-data"), "boundary", "unsupported_media_type", 415),
    bad(
        "boundary-empty",
        stylize(content_type="multipart/form-data; boundary="),
        "boundary",
        "unsupported_media_type",
        415,
    ),
    bad("lf-line-endings", stylize(newline=b"\n"), "multipart", "bad_request"),
    bad(
        "empty-multipart-body",
        http("POST", "/v1/stylize", b"", [("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")]),
        "closing boundary",
        "bad_request",
    ),
    bad(
        "garbage-body",
        http(
            "POST",
            "/v1/stylize",
            random.Random(5).randbytes(3000),
            [("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")],
        ),
        "multipart",
        "bad_request",
    ),
    bad(
        "json-body",
        http("POST", "/v1/stylize", b'{"style": "x"}', [("Content-Type", "application/json")]),
        "multipart",
        "unsupported_media_type",
        415,
    ),
    bad("no-content-type", http("POST", "/v1/stylize", b"x"), "multipart", "unsupported_media_type", 415),
    bad(
        "multipart-mixed",
        stylize(content_type=f"multipart/mixed; boundary={BOUNDARY}"),
        "multipart",
        "unsupported_media_type",
        415,
    ),
    # -- HTTP itself ----------------------------------------------------------------------------
    bad(
        "content-length-too-small",
        stylize(
            headers=[("Content-Length", str(len(multipart([file("content", image()), text("style", STYLE)])) - 40))],
            length=False,
        ),
        "closing boundary",
        "bad_request",
    ),
    HttpCase(
        "content-length-too-large",
        http(
            "POST",
            "/v1/stylize",
            b"--" + BOUNDARY.encode() + b"\r\n",
            [("Content-Type", f"multipart/form-data; boundary={BOUNDARY}"), ("Content-Length", "5000")],
            length=False,
        ),
        408,
        "request_timeout",
        "timeout",
    ),
    bad(
        "content-length-negative",
        http("POST", "/v1/stylize", headers=[("Content-Length", "-1")], length=False),
        None,
        "bad_request",
    ),
    bad(
        "content-length-word",
        http("POST", "/v1/stylize", headers=[("Content-Length", "ten")], length=False),
        None,
        "bad_request",
    ),
    bad(
        "content-lengths-disagree",
        http("POST", "/v1/stylize", b"abc", [("Content-Length", "3"), ("Content-Length", "4")], length=False),
        None,
        "bad_request",
    ),
    bad("chunked-garbage", chunked_head() + b"zz\r\nnot hex\r\n0\r\n\r\n", None, "bad_request"),
    bad("chunked-size-huge", chunked_head() + b"ffffffffffffffffffff\r\nx\r\n", None, "bad_request"),
    bad(
        "transfer-encoding-gzip",
        http("POST", "/v1/stylize", b"x", [("Transfer-Encoding", "gzip")], length=False),
        None,
        "bad_request",
    ),
    bad("huge-header", http("GET", "/healthz", headers=[("X-Big", "a" * 20000)]), "KB", "headers_too_large", 431),
    bad("huge-target", http("GET", "/v1/info?" + "a" * 20000), "KB", "headers_too_large", 431),
    bad("header-name-with-space", b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", None, "bad_request"),
    bad("garbage-request-line", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", None, "bad_request"),
    bad("no-host-http11", b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", None, "bad_request"),
    ok("http-2-request-line-is-read-as-1.1", b"GET /healthz HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n"),
    bad("absolute-uri", http("GET", "http://evil.example/v1/nothing"), None, "not_found", 404),
    bad("nul-in-path", http("GET", "/v1/styles%00"), None, "not_found", 404),
    bad("static-traversal-raw", http("GET", "/static/../../../../etc/passwd"), None, "not_found", 404),
    bad("static-traversal-encoded", http("GET", "/static/..%2f..%2fserver%2fapp.py"), None, "not_found", 404),
    bad("static-traversal-double-encoded", http("GET", "/static/%252e%252e/%252e%252e/app.py"), None, "not_found", 404),
    bad("static-nul", http("GET", "/static/app.js%00.png"), None, "not_found", 404),
    bad("static-long-name", http("GET", "/static/" + "a" * 5000), None, "not_found", 404),
    bad("study-trial-traversal", http("GET", "/v1/study/trials/..%2f..%2fetc/left"), None, "not_found", 404),
    bad("study-trial-unknown", http("GET", f"/v1/study/trials/{TRIAL}/left"), TRIAL, "unknown_trial", 404),
    bad("study-trial-bad-side", http("GET", f"/v1/study/trials/{TRIAL}/up"), "side", "not_found", 404),
    bad(
        "study-choice-bad-json",
        http("POST", f"/v1/study/trials/{TRIAL}/choice", b"{bad", [("Content-Type", "application/json")]),
        "body",
        status=422,
    ),
    bad(
        "study-choice-bad-winner",
        http("POST", f"/v1/study/trials/{TRIAL}/choice", b'{"winner": "up"}', [("Content-Type", "application/json")]),
        "winner",
        status=422,
    ),
    bad(
        "study-choice-unknown-trial",
        http("POST", f"/v1/study/trials/{TRIAL}/choice", b'{"winner": "left"}', [("Content-Type", "application/json")]),
        TRIAL,
        "unknown_trial",
        404,
    ),
    # -- every endpoint, wrong methods ----------------------------------------------------------
    *[
        bad(
            f"method-{method.lower()}-{path.strip('/').replace('/', '-') or 'page'}",
            http(method, path),
            None,
            "method_not_allowed",
            405,
        )
        for method, path in [
            ("GET", "/v1/stylize"),
            ("PUT", "/v1/stylize"),
            ("DELETE", "/v1/stylize"),
            ("OPTIONS", "/v1/stylize"),
            ("DELETE", "/v1/styles"),
            ("PATCH", "/v1/info"),
            ("POST", "/healthz"),
            ("POST", "/"),
            ("DELETE", "/study"),
            ("GET", "/v1/study/trials"),
            ("POST", f"/v1/study/trials/{TRIAL}/left"),
            ("PUT", "/v1/study/report"),
            ("TRACE", "/"),
            ("FOO", "/v1/styles"),
            ("get", "/healthz"),
        ]
    ],
    HttpCase("method-head-v1-stylize", http("HEAD", "/v1/stylize"), 405),
    bad("method-get-study-choice", http("GET", f"/v1/study/trials/{TRIAL}/choice"), "side", "not_found", 404),
    # -- query strings on the form routes -------------------------------------------------------
    bad("query-on-stylize", stylize(path="/v1/stylize?size=8"), "size", "unknown_field"),
    bad("query-malformed", stylize(path="/v1/stylize?%zz&&="), "query", "unknown_field"),
    bad(
        "query-on-add-style", add_style(file("style_image", image()), path="/v1/styles?name=x"), "name", "unknown_field"
    ),
    # -- bodies over the limit ------------------------------------------------------------------
    bad(
        "declared-50-mb",
        http(
            "POST",
            "/v1/stylize",
            headers=[("Content-Type", f"multipart/form-data; boundary={BOUNDARY}"), ("Content-Length", str(50 << 20))],
            length=False,
        ),
        "MB",
        "upload_too_large",
        413,
    ),
    bad("streamed-64-mb", endless_chunks, "MB", "upload_too_large", 413),
    bad(
        "image-of-1.2-mb",
        lambda: pieces(stylize(content=image(400, 300) + bytes(1_200_000))),
        "MB",
        "upload_too_large",
        413,
    ),
    # -- POST /v1/styles ------------------------------------------------------------------------
    bad("add-style-exists", add_style(file("style_image", image(40, 40, 4))), "fuzz-style", "style_exists", 409),
    bad("add-style-traversal-name", add_style(file("style_image", image()), name="../../evil"), "name"),
    bad("add-style-newline-name", add_style(file("style_image", image()), name="a\nb"), "name"),
    bad("add-style-long-name", add_style(file("style_image", image()), name="n" * 300), "name"),
    bad("add-style-no-name", add_style(file("style_image", image()), name=None), "name", "missing_parameter"),
    bad("add-style-no-image", add_style(), "style_image", "missing_parameter"),
    bad("add-style-not-an-image", add_style(file("style_image", b"GIF89a")), "style_image", "bad_image"),
    bad("add-style-name-as-file", add_style(file("name", b"x"), file("style_image", image()), name=None), "name"),
    bad("add-style-image-as-text", add_style(text("style_image", "a.png")), "style_image"),
    bad("add-style-replace-maybe", add_style(file("style_image", image()), text("replace", "maybe")), "replace"),
    bad(
        "add-style-unknown-field", add_style(file("style_image", image()), text("alpha", "1")), "alpha", "unknown_field"
    ),
    bad(
        "add-style-thin-image",
        add_style(file("style_image", image(2000, 2)), name="thin"),
        "style_image",
        "too_many_pixels",
        413,
    ),
]


# -- the server and the exchange ------------------------------------------------------------------


class Server:
    """``python -m adain serve`` on a free port of 127.0.0.1 with this test's limits; its log in a file."""

    def __init__(self, folder: Path, decoder: Path, tools: ModuleType) -> None:
        """``tools``: tools/serve_process.py (the free port, readiness wait and stop of the tools)."""
        self.port = tools.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = folder
        (folder / "tmp").mkdir()
        study = folder / "study"
        study.mkdir()
        for seed in range(2):
            (study / f"photo-{seed}.png").write_bytes(image(64, 48, seed))
        command = [
            sys.executable,
            "-m",
            "adain",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--decoder",
            str(decoder),
            "--max-size",
            str(MAX_SIZE),
            "--max-pixels",
            str(MAX_PIXELS),
            "--max-upload-mb",
            str(MAX_UPLOAD_MB),
            "--timeout",
            str(REQUEST_TIMEOUT_S),
            "--header-timeout",
            str(HEADER_TIMEOUT_S),
            "--preview-cache",
            str(folder / "previews"),
            "--no-preview-warmup",
            "--workers",
            "1",
            "--queue",
            "8",
            "--bank",
            str(folder / "bank"),
            "--study-db",
            str(folder / "study.sqlite"),
            "--study-content",
            str(study),
            "--log-level",
            "warning",
        ]
        self.log_path = folder / "server.log"
        self.log = self.log_path.open("w")
        env = {**os.environ, "TMPDIR": str(folder / "tmp")}
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self._tools = tools

    def start(self) -> Server:
        try:
            self._tools.wait_ready(self.process, self.url, self.log_text, timeout=120)
        except RuntimeError as error:
            raise RuntimeError(f"{error}\n{self.log_text()[-3000:]}") from None
        return self

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        if self.process.poll() is not None:
            return False
        return httpx.get(f"{self.url}/healthz", timeout=10).status_code == 200

    def stop(self) -> None:
        self._tools.stop(self.process)
        self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, decoder_file: Path, tool: Callable) -> Iterator[Server]:
    started = Server(tmp_path_factory.mktemp("http-fuzz"), decoder_file, tool("serve_process")).start()
    warm = httpx.post(
        f"{started.url}/v1/stylize", files={"content": ("a.png", image())}, data={"style": STYLE}, timeout=60
    )
    assert warm.status_code == 200, warm.text
    yield started
    started.stop()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def parse(data: bytes) -> Answer:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1."), f"not an HTTP answer: {data[:200]!r}"
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return Answer(int(lines[0].split()[1]), headers, body)


def exchange(port: int, request: bytes | Callable[[], Iterator[bytes]], timeout: float) -> Answer:
    """Send ``request`` (pieces: until the server answers), read the answer until the server closes."""
    pieces = iter([request]) if isinstance(request, bytes) else request()
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        for piece in pieces:
            if select.select([sock], [], [], 0)[0]:
                break  # answered already (413 before the end of the body)
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    assert data, "the server closed the connection without an answer"
    return parse(data)


def check_answer(answer: Answer, status: int, error: str | None, word: str | None, method: bytes = b"") -> None:
    assert answer.status < 500, f"a server error: {answer.status} {answer.body[:300]!r}"
    assert answer.status == status, f"expected {status}, got {answer.status}: {answer.body[:300]!r}"
    shown = (
        answer.body.decode("latin-1") if answer.headers.get("content-type", "").startswith("application/json") else ""
    )
    for leak in LEAKS:
        assert leak not in shown, f"{leak!r} in the answer: {shown[:300]}"
    if status >= 400 and method != b"HEAD":
        assert answer.headers.get("content-type") == "application/json", answer.headers
        body = answer.json()
        assert set(body) == {"error", "detail"} and isinstance(body["detail"], str) and body["detail"], body
        if error is not None:
            assert body["error"] == error, body
        if word is not None:
            assert word in body["detail"], body
    elif status < 300:
        assert answer.body, "an empty success"


def test_the_table_is_large_and_unique() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    assert len(CASES) >= 80


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_request(server: Server, case: HttpCase) -> None:
    answer = exchange(server.port, case.request, case.read_timeout)
    method = case.request.split(b" ", 1)[0] if isinstance(case.request, bytes) else b"POST"
    check_answer(answer, case.status, case.error, case.word, method)
    assert server.alive(), f"the server died after {case.name}: {server.log_text()[-2000:]}"


def _slow_client(port: int, stop: float) -> tuple[float | None, bytes]:
    """Send a request head a line every 0.3 s; return when the server closed (seconds) and what it said."""
    lines = [b"POST /v1/stylize HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n"] + [b"X-Slow-%d: 1\r\n" % i for i in range(50)]
    start = time.monotonic()
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for line in lines:
            if time.monotonic() > stop:
                return None, data
            try:
                sock.sendall(line)
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - start, data
            if select.select([sock], [], [], 0.3)[0]:
                try:
                    chunk = sock.recv(65536)
                    while chunk:
                        data += chunk
                        chunk = sock.recv(65536)
                except ConnectionResetError:
                    pass
                return time.monotonic() - start, data
    return None, data


def test_slow_headers_are_cut(server: Server) -> None:
    """Ten slowloris connections (and one silent one) are closed after the header timeout,
    with a JSON 408, while the server answers other clients all along."""
    from concurrent.futures import ThreadPoolExecutor

    stop = time.monotonic() + HEADER_TIMEOUT_S + 6
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as silent:
        with ThreadPoolExecutor(10) as pool:
            slow = [pool.submit(_slow_client, server.port, stop) for _ in range(10)]
            time.sleep(0.5)
            assert server.alive()  # served while ten connections trickle
            results = [future.result() for future in slow]
        silent.settimeout(HEADER_TIMEOUT_S + 5)
        assert silent.recv(100) == b""  # a connection that sends nothing is closed too, silently
    for closed_after, said in results:
        assert closed_after is not None, "a slow connection was never closed"
        assert closed_after < HEADER_TIMEOUT_S + 3
        answer = parse(said)
        check_answer(answer, 408, "request_timeout", "headers")
    assert server.alive()


def test_keep_alive_still_works(server: Server) -> None:
    """The header timeout does not cut a connection that idles between requests (keep-alive does, later)."""
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for _ in range(2):
            sock.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < int(
                parse(data).headers.get("content-length", 0)
            ):
                chunk = sock.recv(65536)
                assert chunk, "the server closed a keep-alive connection"
                data += chunk
            assert parse(data).status == 200
            time.sleep(HEADER_TIMEOUT_S + 0.5)  # idle longer than the header timeout, less than keep-alive


def test_server_log_has_no_traceback(server: Server) -> None:
    log = server.log_text()
    assert "Traceback" not in log, log[-4000:]
