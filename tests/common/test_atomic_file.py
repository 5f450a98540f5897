"""The atomic writer: old or new content after a crash, and the rename itself on disk.

A power cut cannot be simulated, so the durability half is checked by recording which file
descriptors reach os.fsync: the new file's before the rename, its directory's after it (POSIX
makes a rename durable only when the directory is synced)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from services.common.atomic_file import write_atomically


class FsyncRecorder:
    """os.fsync that remembers what kind of file each call synced, and when."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.calls: list[tuple[str, bool]] = []  # (kind, did the target exist yet)

    def __call__(self, fd: int) -> None:
        kind = "directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        self.calls.append((kind, self._path.exists()))
        real_fsync(fd)


real_fsync = os.fsync


def test_the_new_file_is_synced_before_the_rename_and_its_directory_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state" / "orders.json"
    recorder = FsyncRecorder(target)
    monkeypatch.setattr(os, "fsync", recorder)
    write_atomically(target, '{"version": 1}')
    assert target.read_text() == '{"version": 1}'
    assert recorder.calls == [("file", False), ("directory", True)]


def test_a_failed_write_leaves_the_old_content_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "orders.json"
    write_atomically(target, "old")

    def failing_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, "new")
    assert target.read_text() == "old"
    assert [path.name for path in tmp_path.iterdir()] == ["orders.json"]
