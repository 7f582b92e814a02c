"""Process and file system plumbing: publishing outputs atomically, the modes new files get, and
the C allocator's retention of freed memory. An output is written under a hidden temporary name
in its destination folder (the same file system, so :func:`os.replace` is one atomic rename) and
renamed only when complete: a reader never sees half a file, and a failure, Ctrl-C included,
leaves the old file, if any, as it was. A leaf module: it may import only :mod:`adain.errors` and
the standard library, so every layer may use it.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "MMAP_THRESHOLD_BYTES",
    "REUSE_THRESHOLD_BYTES",
    "atomic_output",
    "current_umask",
    "default_mode",
    "limit_allocator_retention",
    "open_beside",
    "publish",
    "publish_on_success",
    "reuse_freed_memory",
    "temporary_beside",
    "write_bytes_atomically",
]


def current_umask() -> int:
    """The process's umask. No call only reads it: it is set and put back at once (a file another
    thread creates in that instant gets umask ``022``)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_mode(folder: bool = False) -> int:
    """The mode :func:`open` (``0o666``) or :func:`os.mkdir` (``0o777``) would give under the current
    umask: :func:`tempfile.mkstemp` and :func:`tempfile.mkdtemp` make ``0o600``/``0o700``, which a
    published output must not keep (another user, a web server or a container could not read it)."""
    return (0o777 if folder else 0o666) & ~current_umask()


def _mkstemp_beside(path: Path, prefix: str | None, suffix: str) -> tuple[int, Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}." if prefix is None else prefix, suffix=suffix)
    return fd, Path(name)


def temporary_beside(path: Path, *, prefix: str | None = None, suffix: str = ".part", folder: bool = False) -> Path:
    """Create an empty file (or with ``folder``, a folder) with a unique hidden name beside ``path``.

    The name is ``prefix`` (default ``".<name>."``), random characters, then ``suffix``: hidden
    and recognisable as unfinished. ``path``'s folder is created first if missing. The caller
    publishes it with :func:`publish` or removes it.

    Raises:
        OSError: the folder cannot be created or written.
    """
    if folder:
        path.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{path.name}." if prefix is None else prefix
        return Path(tempfile.mkdtemp(dir=path.parent, prefix=prefix, suffix=suffix))
    fd, temporary = _mkstemp_beside(path, prefix, suffix)
    os.close(fd)
    return temporary


def open_beside(path: Path, *, suffix: str = ".part") -> tuple[Path, BinaryIO]:
    """:func:`temporary_beside`, open for writing: ``(temporary, handle)``, for writers that stream
    into a file object. The handle comes from the descriptor :func:`tempfile.mkstemp` made, so no
    second open can fail; the caller closes it and publishes or removes the file.

    Raises:
        OSError: the folder cannot be created or written.
    """
    fd, temporary = _mkstemp_beside(path, None, suffix)
    return temporary, os.fdopen(fd, "wb")


def publish(temporary: Path, path: Path, mode: int | None) -> None:
    """Give ``temporary`` its final ``mode`` (``None``: keep mkstemp's ``0o600``) and rename it over
    ``path`` in one atomic step. On an error ``temporary`` is left for the caller to remove."""
    if mode is not None:
        os.chmod(temporary, mode)
    os.replace(temporary, path)


@contextmanager
def publish_on_success(temporary: Path, path: Path, mode: int | None) -> Iterator[None]:
    """:func:`publish` ``temporary`` over ``path`` when the block ends normally; remove it when anything
    is raised, in the block or by the rename (the exception propagates; an existing ``path`` is kept)."""
    try:
        yield
        publish(temporary, path, mode)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_output(path: Path, *, mode: int | None = None) -> Iterator[Path]:
    """A temporary path beside ``path`` to write (by name) inside the block; published over ``path``
    with ``mode`` when the block ends normally, removed when anything is raised (the exception
    then propagates unchanged, and an existing ``path`` is untouched).

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "out.txt"
        >>> with atomic_output(target, mode=0o644) as temporary:
        ...     _ = temporary.write_text("done")
        >>> target.read_text(), oct(target.stat().st_mode & 0o777), len(list(target.parent.iterdir()))
        ('done', '0o644', 1)
    """
    temporary = temporary_beside(path)
    with publish_on_success(temporary, path, mode):
        yield temporary


def write_bytes_atomically(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically, with ``mode`` as in :func:`publish`: all of it or, on a
    failure (the exception propagates), nothing new and the old file intact."""
    temporary, handle = open_beside(path)
    with publish_on_success(temporary, path, mode), handle:  # the handle closes first, then the rename
        handle.write(data)


#: glibc's ``mallopt`` parameter numbers of ``M_TRIM_THRESHOLD`` and ``M_MMAP_THRESHOLD``.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: Bounded memory: allocations from this size up get their own memory mapping, returned to the
#: system when freed.
MMAP_THRESHOLD_BYTES = 1 << 20

#: Reuse: allocations up to this size come from the heap, and the heap keeps what is freed (up
#: to this much above its top) for the next ones.
REUSE_THRESHOLD_BYTES = 1 << 30


@functools.lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    """The C library, where it is glibc (whose ``mallopt`` and ``malloc_trim`` this module uses)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 (both must exist)
    except (OSError, AttributeError):
        return None
    return libc


class _AllocatorState:
    """What this process asked of glibc's allocator: ``mode`` (None: glibc's own behaviour,
    ``"reuse"`` or ``"bounded"``) and, in reuse mode, the shape of work the heap was kept for."""

    mode: str | None = None
    kept_for: object = None


def limit_allocator_retention() -> bool:
    """Make freed tile activations go back to the system (glibc only); for good: a process that
    asked for bounded memory keeps it (:func:`reuse_freed_memory` then changes nothing).

    glibc serves large allocations with their own memory mappings, but after such a block is
    freed it raises that threshold (up to 32 MiB), so a stream of tiles soon allocates its
    activations on the heap, and the heap keeps what they free: measured at 1600x1200 in 432-px
    tiles, peak RSS 937 MB instead of 530 MB. Fixing the threshold at 1 MiB stops that; the
    cost is a fresh mapping per large tensor, which tensors above 32 MiB pay anyway. Called by
    the pipeline when it runs more than one tile, where the user asked for bounded memory, and
    by the server when it starts. What a reuse mode kept on the heap is given back first.

    Returns:
        ``True`` when the threshold is set (glibc), ``False`` elsewhere (nothing changed).
    """
    libc = _glibc()
    if libc is None:
        return False
    if _AllocatorState.mode != "bounded":
        libc.malloc_trim(0)
        ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and libc.mallopt(_M_TRIM_THRESHOLD, 128 << 10)
        if not ok:
            return False
        _AllocatorState.mode, _AllocatorState.kept_for = "bounded", None
    return True


def reuse_freed_memory(work: object) -> bool:
    """Keep freed activations on the heap for the next pass of the same ``work`` (glibc only;
    any hashable description of it: the pipeline gives the padded content's shape).

    A fresh memory mapping is zero pages the kernel faults in one by one; glibc maps every block
    from 32 MiB up (and, until it has freed one, from 128 KiB), so each pass over an image pays
    for its largest activations again: the ``fast`` preset at 512x512 in fp32 spent a third of
    its time there (measured on a 2-core AMD EPYC: 0.19 -> 0.12 s a call with the heap kept).
    Kept memory is what the last pass used, within the budget that let it run as one tile; when
    ``work`` changes (another image size) the heap is trimmed first, so that differently sized
    blocks do not pile up (measured: the default preset at 1024 px over three alternating sizes,
    peak RSS 1.9 GB untrimmed against 1.3 GB with glibc's own behaviour). A process that asked
    for bounded memory (:func:`limit_allocator_retention`: the server, a tiled run) keeps it.

    Returns:
        ``True`` when the heap is kept for ``work``, ``False`` where nothing changed (not glibc,
        or bounded memory).
    """
    libc = _glibc()
    if libc is None or _AllocatorState.mode == "bounded":
        return False
    if _AllocatorState.mode == "reuse" and _AllocatorState.kept_for == work:
        return True
    if _AllocatorState.mode == "reuse":
        libc.malloc_trim(0)
    if not (
        libc.mallopt(_M_MMAP_THRESHOLD, REUSE_THRESHOLD_BYTES)
        and libc.mallopt(_M_TRIM_THRESHOLD, REUSE_THRESHOLD_BYTES)
    ):
        return False
    _AllocatorState.mode, _AllocatorState.kept_for = "reuse", work
    return True
