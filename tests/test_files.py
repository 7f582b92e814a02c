"""adain._files: atomic outputs (all or nothing, old file intact), modes under the umask, the allocator."""

from __future__ import annotations

import os
import platform
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from adain import _files
from adain._files import (
    MMAP_THRESHOLD_BYTES,
    REUSE_THRESHOLD_BYTES,
    atomic_output,
    current_umask,
    default_mode,
    limit_allocator_retention,
    open_beside,
    publish,
    publish_on_success,
    reuse_freed_memory,
    temporary_beside,
    write_bytes_atomically,
)


@pytest.fixture
def umask_027() -> Iterator[int]:
    previous = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(previous)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestCurrentUmask:
    def test_reads_the_umask_and_leaves_it_unchanged(self, umask_027: int) -> None:
        assert current_umask() == umask_027
        assert current_umask() == umask_027  # the first call put it back


class TestDefaultMode:
    def test_follows_the_umask(self, umask_027: int) -> None:
        assert default_mode() == 0o640
        assert default_mode(folder=True) == 0o750

    def test_matches_what_open_gives(self, tmp_path: Path, umask_027: int) -> None:
        plain = tmp_path / "plain"
        plain.write_bytes(b"")
        (tmp_path / "folder").mkdir()
        assert mode_of(plain) == default_mode()
        assert mode_of(tmp_path / "folder") == default_mode(folder=True)


class TestTemporaryBeside:
    def test_hidden_empty_file_in_the_destination_folder_created_if_missing(self, tmp_path: Path) -> None:
        target = tmp_path / "new" / "deeper" / "out.png"
        temporary = temporary_beside(target)
        assert temporary.parent == target.parent
        assert temporary.name.startswith(".out.png.") and temporary.name.endswith(".part")
        assert temporary.is_file() and temporary.stat().st_size == 0
        assert not target.exists()

    def test_names_are_unique_and_prefix_suffix_apply(self, tmp_path: Path) -> None:
        target = tmp_path / "clip.mp4"
        first = temporary_beside(target, prefix=".clip.", suffix=".part.mp4")
        second = temporary_beside(target, prefix=".clip.", suffix=".part.mp4")
        assert first != second
        assert first.name.startswith(".clip.") and first.name.endswith(".part.mp4")

    def test_folder(self, tmp_path: Path) -> None:
        temporary = temporary_beside(tmp_path / "frames", folder=True)
        assert temporary.is_dir() and not any(temporary.iterdir())
        assert temporary.name.startswith(".frames.") and temporary.name.endswith(".part")

    def test_unwritable_folder_is_an_oserror(self, tmp_path: Path) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("not a folder")
        with pytest.raises(OSError):
            temporary_beside(blocker / "out.png")


class TestOpenBeside:
    def test_returns_an_open_binary_handle_on_the_temporary(self, tmp_path: Path) -> None:
        temporary, handle = open_beside(tmp_path / "sub" / "w.bin")
        with handle:
            handle.write(b"abc")
        assert temporary.parent == tmp_path / "sub"
        assert temporary.read_bytes() == b"abc"
        assert mode_of(temporary) == 0o600  # mkstemp's; publish sets the final one


class TestPublish:
    def test_sets_the_mode_and_replaces_an_existing_file(self, tmp_path: Path) -> None:
        target = tmp_path / "out.txt"
        target.write_text("old")
        temporary = temporary_beside(target)
        temporary.write_text("new")
        publish(temporary, target, 0o644)
        assert target.read_text() == "new" and mode_of(target) == 0o644
        assert not temporary.exists()

    def test_no_mode_keeps_mkstemps(self, tmp_path: Path) -> None:
        target = tmp_path / "private"
        publish(temporary_beside(target), target, None)
        assert mode_of(target) == 0o600

    def test_failure_leaves_the_temporary_for_the_caller(self, tmp_path: Path) -> None:
        target = tmp_path / "folder"
        (target / "inside").mkdir(parents=True)  # a non-empty folder cannot be replaced by a file
        temporary = temporary_beside(target)
        with pytest.raises(OSError):
            publish(temporary, target, 0o644)
        assert temporary.exists() and (target / "inside").is_dir()


class TestPublishOnSuccess:
    def test_publishes_after_the_block_and_the_handle_closed(self, tmp_path: Path) -> None:
        target = tmp_path / "out.png"
        temporary, handle = open_beside(target)
        with publish_on_success(temporary, target, 0o644), handle:
            handle.write(b"complete")
        assert target.read_bytes() == b"complete" and mode_of(target) == 0o644
        assert list(tmp_path.iterdir()) == [target]

    def test_removes_the_temporary_when_the_block_raises(self, tmp_path: Path) -> None:
        target = tmp_path / "out.png"
        target.write_bytes(b"old")
        temporary = temporary_beside(target)
        with pytest.raises(ValueError), publish_on_success(temporary, target, 0o644):
            temporary.write_bytes(b"partial")
            raise ValueError("encoder failed")
        assert target.read_bytes() == b"old"
        assert list(tmp_path.iterdir()) == [target]

    def test_removes_the_temporary_when_the_rename_fails(self, tmp_path: Path) -> None:
        target = tmp_path / "taken"
        (target / "inside").mkdir(parents=True)
        temporary = temporary_beside(target)
        with pytest.raises(OSError), publish_on_success(temporary, target, None):
            pass
        assert not temporary.exists() and (target / "inside").is_dir()


class TestAtomicOutput:
    def test_publishes_with_the_mode_and_leaves_nothing_else(self, tmp_path: Path) -> None:
        target = tmp_path / "bank.json"
        with atomic_output(target, mode=0o644) as temporary:
            assert temporary != target and temporary.parent == tmp_path
            temporary.write_text("{}")
            assert not target.exists()  # nothing visible until the block ends
        assert target.read_text() == "{}" and mode_of(target) == 0o644
        assert list(tmp_path.iterdir()) == [target]

    @pytest.mark.parametrize("error", [RuntimeError("writer broke"), KeyboardInterrupt()])
    def test_a_raising_writer_leaves_no_file_and_the_old_one_intact(self, tmp_path: Path, error: BaseException) -> None:
        target = tmp_path / "checkpoint.pt"
        target.write_bytes(b"previous")
        with pytest.raises(type(error)), atomic_output(target) as temporary:
            temporary.write_bytes(b"half a fi")
            raise error
        assert target.read_bytes() == b"previous"
        assert list(tmp_path.iterdir()) == [target]

    def test_no_mode_keeps_0600(self, tmp_path: Path) -> None:
        target = tmp_path / "checkpoint.pt"
        with atomic_output(target) as temporary:
            temporary.write_bytes(b"x")
        assert mode_of(target) == 0o600


class TestWriteBytesAtomically:
    def test_writes_and_replaces(self, tmp_path: Path) -> None:
        target = tmp_path / "deep" / "manifest.json"
        write_bytes_atomically(target, b"one", 0o644)
        write_bytes_atomically(target, b"two", 0o644)
        assert target.read_bytes() == b"two" and mode_of(target) == 0o644
        assert list(target.parent.iterdir()) == [target]

    def test_mode_follows_the_umask_when_asked(self, tmp_path: Path, umask_027: int) -> None:
        target = tmp_path / "out.bin"
        write_bytes_atomically(target, b"x", default_mode())
        assert mode_of(target) == 0o640

    def test_a_failed_write_leaves_the_old_file(self, tmp_path: Path) -> None:
        target = tmp_path / "manifest.json"
        target.write_bytes(b"old")
        with pytest.raises(TypeError):
            write_bytes_atomically(target, "not bytes", 0o644)  # type: ignore[arg-type]
        assert target.read_bytes() == b"old"
        assert list(tmp_path.iterdir()) == [target]


class FakeLibc:
    """glibc's two allocator calls, recorded (the process's real allocator is left alone)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def mallopt(self, parameter: int, value: int) -> int:
        self.calls.append(("mallopt", parameter, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad))
        return 1


@pytest.fixture
def fake_libc(monkeypatch: pytest.MonkeyPatch) -> FakeLibc:
    libc = FakeLibc()
    monkeypatch.setattr(_files, "_glibc", lambda: libc)
    monkeypatch.setattr(_files._AllocatorState, "mode", None)
    monkeypatch.setattr(_files._AllocatorState, "kept_for", None)
    return libc


MMAP, TRIM = _files._M_MMAP_THRESHOLD, _files._M_TRIM_THRESHOLD


class TestAllocator:
    def test_reuse_keeps_the_heap_for_the_same_work(self, fake_libc: FakeLibc) -> None:
        assert reuse_freed_memory(("pipeline", (1, 3, 512, 512)))
        reuse = [("mallopt", MMAP, REUSE_THRESHOLD_BYTES), ("mallopt", TRIM, REUSE_THRESHOLD_BYTES)]
        assert fake_libc.calls == reuse
        assert reuse_freed_memory(("pipeline", (1, 3, 512, 512)))  # the same size: nothing to do
        assert fake_libc.calls == reuse

    def test_other_work_trims_the_heap_first(self, fake_libc: FakeLibc) -> None:
        reuse_freed_memory((1, 3, 512, 512))
        fake_libc.calls.clear()
        assert reuse_freed_memory((1, 3, 1024, 1024))
        assert fake_libc.calls[0] == ("malloc_trim", 0) and len(fake_libc.calls) == 3

    def test_bounded_memory_is_for_good(self, fake_libc: FakeLibc) -> None:
        reuse_freed_memory((1, 3, 512, 512))
        fake_libc.calls.clear()
        assert limit_allocator_retention()
        # what reuse kept goes back, then mappings from 1 MiB and glibc's default trimming
        assert fake_libc.calls == [
            ("malloc_trim", 0),
            ("mallopt", MMAP, MMAP_THRESHOLD_BYTES),
            ("mallopt", TRIM, 128 << 10),
        ]
        fake_libc.calls.clear()
        assert limit_allocator_retention() and not fake_libc.calls  # once
        assert not reuse_freed_memory((1, 3, 512, 512)) and not fake_libc.calls

    def test_changes_nothing_elsewhere(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(_files.platform, "system", lambda: "Darwin")
        _files._glibc.cache_clear()
        try:
            assert limit_allocator_retention() is False
            assert reuse_freed_memory((1, 3, 8, 8)) is False
        finally:
            _files._glibc.cache_clear()

    def test_glibc_takes_both_settings(self) -> None:
        """On the real allocator, in a child process (the settings are the process's)."""
        if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
            pytest.skip("glibc only")
        code = (
            "from adain._files import reuse_freed_memory as r, limit_allocator_retention as b; "
            "print(r((1, 2)), r((1, 2)), r((3, 4)), b(), r((1, 2)))"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert result.stdout.split() == ["True", "True", "True", "True", "False"]
