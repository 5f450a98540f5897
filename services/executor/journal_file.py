"""An append-only JSON-lines file: one fsynced line per change, so a change costs its own size,
not the size of the history.

The first line is a header naming the format and what the file holds. A crash mid-append
leaves a last line without its newline (the newline is the last byte written): reading drops
it, and the next append cuts it off first, so a change is on disk whole or not at all. When
most lines are superseded, the owner rewrites the file as the lines it still needs
(`rewrite`: a fresh file renamed over the old one, so a crash leaves one or the other).

A file written by an older version (one JSON document, not lines) raises LegacyDocument with
its content, so the owner can migrate it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from services.common.atomic_file import write_atomically

FORMAT = "dne-journal"
VERSION = 2
# Below this many superseded lines a file is never compacted: rewriting costs more than it saves.
COMPACT_MIN_LINES = 1000


class LegacyDocument(Exception):
    """The file is one JSON document from an older version; `document` is its content."""

    def __init__(self, path: Path, document: dict[str, Any]) -> None:
        super().__init__(f"{path} is in an older format")
        self.document = document


class JournalFile:
    def __init__(self, path: Path, holds: str) -> None:
        self.path = path
        self._holds = holds
        self.lines = 0  # lines after the header, as read or written
        self._good_size: int | None = None  # where the last whole line ends, once read

    def read(self) -> list[dict[str, Any]]:
        """Every whole line after the header; [] when there is no file."""
        if not self.path.exists():
            self.lines, self._good_size = 0, None
            return []
        data = self.path.read_bytes()
        if data.startswith(b"{\n") or data.startswith(b"{}"):
            raise LegacyDocument(self.path, json.loads(data))
        whole = data[: data.rfind(b"\n") + 1]  # a torn last line is not part of the file
        raw_lines = whole.splitlines()
        if not raw_lines:
            raise ValueError(f"{self.path} has no header line")
        self._check_header(json.loads(raw_lines[0]))
        lines = [json.loads(raw) for raw in raw_lines[1:]]
        self.lines, self._good_size = len(lines), len(whole)
        return lines

    def append(self, line: dict[str, Any]) -> int:
        """Writes one line and syncs it; answers the bytes written. A failed write is cut off
        again, so the next line does not follow half a line."""
        encoded = (json.dumps(line, separators=(",", ":"), sort_keys=True) + "\n").encode()
        if self._good_size is None:  # not read yet, or a rewrite failed half-way
            if self.path.exists():
                self.read()
            else:
                self.rewrite([])
        assert self._good_size is not None
        with open(self.path, "r+b") as handle:
            handle.truncate(self._good_size)  # a torn line from a crash, if any
            handle.seek(self._good_size)
            try:
                handle.write(encoded)
                handle.flush()
                os.fsync(handle.fileno())
            except BaseException:
                handle.truncate(self._good_size)
                raise
        self._good_size += len(encoded)
        self.lines += 1
        return len(encoded)

    def rewrite(self, lines: Iterable[dict[str, Any]]) -> None:
        """Replaces the file by a header and `lines`, atomically."""
        header = json.dumps({"format": FORMAT, "version": VERSION, "holds": self._holds})
        body = [json.dumps(line, separators=(",", ":"), sort_keys=True) for line in lines]
        text = "\n".join([header, *body]) + "\n"
        try:
            write_atomically(self.path, text)
        except BaseException:
            self._good_size = None  # the old file or the new one: read again before appending
            raise
        self.lines, self._good_size = len(body), len(text.encode())

    def worth_compacting(self, needed_lines: int) -> bool:
        """More superseded lines than needed ones (and enough to matter): a rewrite then costs
        at most as much as the appends since the last one, so each change stays O(1) on
        average."""
        superseded = self.lines - needed_lines
        return superseded > max(COMPACT_MIN_LINES, needed_lines)

    def _check_header(self, header: dict[str, Any]) -> None:
        if header.get("format") != FORMAT or header.get("holds") != self._holds:
            raise ValueError(f"{self.path} is not a {self._holds} journal: {header}")
        if header.get("version") != VERSION:
            raise ValueError(f"{self.path}: journal version {header.get('version')!r} is not "
                             f"{VERSION}; this executor cannot read it")
