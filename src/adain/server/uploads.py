"""Request bodies: capped while they stream in, and uploaded files only inside the server's folder.

:class:`BodyLimitMiddleware` refuses a body over the limit from its ``Content-Length`` before
reading a byte of it, and counts the bytes of a body without one (chunked) as they arrive,
stopping at the first chunk past the limit: either way 413, never the whole body read.

:func:`read_form` parses ``multipart/form-data`` as it streams (python-multipart), writing each
file part straight into the request's own folder under the server's temporary folder (Starlette's
form parser would spool large parts to the system's temporary folder instead). Text fields are
kept in memory, capped in size; the number of parts is capped too. A body is refused (400) when
it is not exactly a form: a boundary over RFC 2046's 70 characters, no closing boundary, a text
field given twice, a client gone before the end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adain.server.errors import ApiError

__all__ = ["BodyLimitMiddleware", "UploadedFile", "UploadedForm", "read_form"]

#: Largest text field (bytes): names, numbers and flags only.
MAX_FIELD_BYTES = 4096
#: Largest request head (target and headers, bytes), as h11 allows a head arriving in pieces.
MAX_HEAD_BYTES = 16 * 1024
#: Longest multipart boundary (RFC 2046, section 5.1.1).
MAX_BOUNDARY_CHARS = 70


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "upload_too_large", f"request body is over this server's limit of {limit / 1048576:.1f} MB")


class BodyLimitMiddleware:
    """Pure ASGI middleware: 413 for bodies over ``max_bytes`` without reading them, and 431 for a
    request head over :data:`MAX_HEAD_BYTES` (h11 refuses one only when it arrives in pieces)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        head = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        if head + sum(len(name) + len(value) + 4 for name, value in headers) > MAX_HEAD_BYTES:
            error = ApiError(
                431, "headers_too_large", f"the request line and headers are over {MAX_HEAD_BYTES // 1024} KB"
            )
            await _send_json(send, error, close=True)
            return
        declared = dict(headers).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0 or length > self.max_bytes:
                error = (
                    _too_large(self.max_bytes) if length > 0 else ApiError(400, "bad_request", "invalid Content-Length")
                )
                await _send_json(send, error, close=True)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _too_large(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


async def _send_json(send: Send, error: ApiError, close: bool) -> None:
    body = json.dumps({"error": error.code, "detail": error.detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass
class UploadedFile:
    """A file part, written to ``path`` in the request's folder; ``filename`` is the client's (base name only)."""

    field: str
    filename: str
    path: Path
    size: int = 0


@dataclass
class UploadedForm:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, list[UploadedFile]] = field(default_factory=dict)

    def names(self) -> set[str]:
        return set(self.fields) | set(self.files)

    def text(self, name: str, default: str | None = None) -> str | None:
        return self.fields.get(name, default)

    def file(self, name: str) -> UploadedFile | None:
        """The one file of field ``name`` (``None`` if absent; 400 if several)."""
        files = self.files.get(name, [])
        if len(files) > 1:
            raise ApiError(400, "bad_parameter", f"field {name!r} takes one file. Got {len(files)}")
        return files[0] if files else None

    def path_names(self) -> dict[str, str]:
        """``{server path: field name}``, to keep server paths out of error messages."""
        return {str(f.path): f.field for files in self.files.values() for f in files}


class _FormBuilder:
    """python-multipart callbacks that fill an :class:`UploadedForm`."""

    def __init__(self, folder: Path, max_parts: int) -> None:
        self.folder = folder
        self.max_parts = max_parts
        self.form = UploadedForm()
        self.parts = 0
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._name = ""
        self._text = bytearray()
        self._file: UploadedFile | None = None
        self._handle: IO[bytes] | None = None
        self.ended = False  # the closing boundary was read

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

    def on_end(self) -> None:
        self.ended = True

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > self.max_parts:
            raise ApiError(400, "bad_request", f"too many form parts (at most {self.max_parts})")
        self._disposition, self._text, self._file = b"", bytearray(), None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise ApiError(400, "bad_request", "a form part has no name (Content-Disposition: form-data; name=...)")
        self._name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            filename = Path(options[b"filename"].decode("utf-8", "replace").replace("\\", "/")).name
            path = self.folder / f"part-{self.parts:02d}"
            self._file = UploadedFile(self._name, filename, path)
            self._handle = open(path, "wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None and self._handle is not None:
            self._handle.write(data[start:end])
            self._file.size += end - start
            return
        self._text += data[start:end]
        if len(self._text) > MAX_FIELD_BYTES:
            raise ApiError(400, "bad_parameter", f"field {self._name!r} is over {MAX_FIELD_BYTES} bytes")

    def on_part_end(self) -> None:
        if self._file is not None:
            self.close()
            if self._file.size or self._file.filename:  # a browser's empty file input sends neither
                self.form.files.setdefault(self._name, []).append(self._file)
            else:
                self._file.path.unlink(missing_ok=True)
        else:
            add_field(self.form.fields, self._name, self._text.decode("utf-8", "replace"))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def add_field(fields: dict[str, str], name: str, value: str) -> None:
    """``fields[name] = value``; 400 if ``name`` was given already (which one would count?)."""
    if name in fields:
        raise ApiError(400, "bad_parameter", f"field {name!r} is given more than once")
    fields[name] = value


def _urlencoded(body: bytes, max_parts: int) -> UploadedForm:
    try:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=max_parts)
    except ValueError:
        raise ApiError(400, "bad_request", f"too many form fields (at most {max_parts})") from None
    form = UploadedForm()
    for name, value in pairs:
        if len(value.encode()) > MAX_FIELD_BYTES:
            raise ApiError(400, "bad_parameter", f"field {name!r} is over {MAX_FIELD_BYTES} bytes")
        add_field(form.fields, name, value)
    return form


async def read_form(request: Request, folder: Path, max_parts: int) -> UploadedForm:
    """Parse the request's multipart body into ``folder`` (which the caller creates and removes).

    A URL-encoded form (no files) gives its fields only.

    Raises:
        ApiError: 415 not a form, 400 malformed, 413 (from the middleware) too large.
    """
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    try:
        if content_type == b"application/x-www-form-urlencoded":  # a form without files: fields only
            return _urlencoded(b"".join([chunk async for chunk in request.stream()]), max_parts)
        return await _multipart(request, content_type, options.get(b"boundary", b""), folder, max_parts)
    except ClientDisconnect:
        raise ApiError(
            400, "client_disconnected", "the client closed the connection before the end of the body"
        ) from None


async def _multipart(
    request: Request, content_type: bytes, boundary: bytes, folder: Path, max_parts: int
) -> UploadedForm:
    if content_type != b"multipart/form-data" or not boundary:
        shown = content_type.decode("latin-1")[:100] or "no Content-Type"
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send multipart/form-data with a boundary (a form with files). Got {shown!r}",
        )
    if len(boundary) > MAX_BOUNDARY_CHARS:
        raise ApiError(
            400,
            "bad_request",
            f"the multipart boundary is {len(boundary)} characters long; at most {MAX_BOUNDARY_CHARS} (RFC 2046)",
        )
    builder = _FormBuilder(folder, max_parts)
    try:
        parser = MultipartParser(boundary, builder.callbacks())
        async for chunk in request.stream():
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except FormParserError as error:
        raise ApiError(400, "bad_request", f"malformed multipart body: {error}") from None
    finally:
        builder.close()
    if not builder.ended:
        raise ApiError(400, "bad_request", "malformed multipart body: it ends before its closing boundary")
    return builder.form
