"""A console's recent output in a memory-mapped file, which outlives the server's process.

The server reads each console's terminal and keeps its scrollback in memory
to replay it; that copy dies with the process.  The same bytes are also
written, as they are read, into a ring in a file of the node's run
directory, mapped shared: the kernel owns those pages, so a killed server
loses at most the read it was in the middle of, and the next one replays
the file.  Writing is one memory copy per read, on no path a viewer waits
for (docs/architecture.md, "Restarts").

Layout: a 16-byte header (magic, capacity, total bytes ever written), then
the ring.  The total is written after the bytes it counts.
"""
from __future__ import annotations

import contextlib
import mmap
import os
import struct
from pathlib import Path

_MAGIC = b"IDE1"
_HEADER = struct.Struct("<4sIQ")


class ScrollbackFile:
    """The ring of one console; ``capacity`` bytes of its newest output."""

    def __init__(self, path: Path, capacity: int, *, existing: bool = False) -> None:
        self.path = path
        flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW | (0 if existing else os.O_CREAT | os.O_EXCL)
        fd = os.open(path, flags, 0o600)
        try:
            if existing:
                magic, capacity, _ = _HEADER.unpack(os.pread(fd, _HEADER.size, 0))
                if magic != _MAGIC or os.fstat(fd).st_size != _HEADER.size + capacity:
                    raise ValueError(f"{path} is not a console's scrollback")
            else:
                os.ftruncate(fd, _HEADER.size + capacity)
            self._map = mmap.mmap(fd, _HEADER.size + capacity)
        finally:
            os.close(fd)
        self.capacity = capacity
        if not existing:
            _HEADER.pack_into(self._map, 0, _MAGIC, capacity, 0)
        self._total = _HEADER.unpack_from(self._map, 0)[2]

    @classmethod
    def open(cls, path: Path) -> ScrollbackFile | None:
        """The ring an earlier server left at ``path``, or None if there is none (or it is damaged)."""
        try:
            return cls(path, 0, existing=True)
        except (OSError, ValueError, struct.error):
            return None

    def append(self, data: bytes) -> None:
        size = len(data)
        if size > self.capacity:
            data, size = data[-self.capacity:], self.capacity
        start = self._total % self.capacity
        first = min(size, self.capacity - start)
        base = _HEADER.size
        self._map[base + start:base + start + first] = data[:first]
        if first < size:
            self._map[base:base + size - first] = data[first:]
        self._total += size
        struct.pack_into("<Q", self._map, 8, self._total)

    def contents(self) -> bytes:
        """The newest output, oldest byte first (at most ``capacity`` bytes)."""
        base, held = _HEADER.size, min(self._total, self.capacity)
        start = (self._total - held) % self.capacity
        first = min(held, self.capacity - start)
        return self._map[base + start:base + start + first] + self._map[base:base + held - first]

    def text(self) -> str:
        """The contents as text, starting on a whole character."""
        data = self.contents()
        skip = 0
        while skip < min(len(data), 3) and data[skip] & 0xC0 == 0x80:
            skip += 1
        return data[skip:].decode("utf-8", errors="replace")

    def close(self) -> None:
        with contextlib.suppress(ValueError, BufferError):
            self._map.close()

    def remove(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class ScrollbackFiles:
    """The node's directory of scrollback files, one per console, named by its id."""

    def __init__(self, directory: Path, capacity: int) -> None:
        self.directory = directory
        self.capacity = capacity

    def new(self, console_id: str) -> ScrollbackFile:
        return ScrollbackFile(self.directory / console_id, self.capacity)

    def existing(self, console_id: str) -> ScrollbackFile:
        """The console's file as an earlier server left it (a fresh one if it is missing)."""
        path = self.directory / console_id
        return ScrollbackFile.open(path) or ScrollbackFile(path, self.capacity)

    def forget(self, console_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.directory / console_id).unlink()
