"""The package version, written in one place (``pyproject.toml``) and read from the installed metadata.

A leaf module: anything may import it without importing the rest of the package.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("adain")
except PackageNotFoundError:  # running from a source tree that was never installed (PYTHONPATH=src)
    __version__ = "0.0.0+unknown"
