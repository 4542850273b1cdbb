"""A streaming ``multipart/form-data`` parser: bodies are fed in chunks and
each part's bytes are handed on as they arrive, so a 100 MB upload never
sits in memory."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Protocol

from ide.files.errors import FilesError

MAX_HEADER_BYTES = 16 * 1024


class MultipartError(FilesError):
    """The body is not well-formed multipart/form-data."""


@dataclass(frozen=True)
class PartInfo:
    """A part's field name and, for a file field, the file name the client gave."""

    name: str
    filename: str | None


class PartSink(Protocol):
    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


def boundary_of(content_type: str) -> bytes:
    """The boundary from a Content-Type header, or MultipartError."""
    header = Message()
    header["content-type"] = content_type
    if header.get_content_type() != "multipart/form-data":
        raise MultipartError("Send the file as multipart/form-data (a form field named 'content').")
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not 1 <= len(boundary) <= 70:
        raise MultipartError("The multipart/form-data body has no valid boundary.")
    return boundary.encode("latin-1")


def _part_info(raw_headers: bytes) -> PartInfo:
    try:
        text = raw_headers.decode("utf-8")
    except UnicodeDecodeError:
        text = raw_headers.decode("latin-1")
    header = Message()
    for line in text.split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            header[key.strip()] = value.strip()
    if header.get("content-disposition") is None:
        raise MultipartError("A part of the upload has no Content-Disposition header.")

    def param(key: str) -> str | None:
        value = header.get_param(key, header="content-disposition")
        if value is None:
            return None
        return collapse_rfc2231_value(value) if isinstance(value, tuple) else str(value)

    return PartInfo(param("name") or "", param("filename"))


class MultipartParser:
    """Call ``feed`` with each chunk, then ``finish``.

    ``on_part`` is called with each part's headers and returns where its bytes
    go (or None to drop them); the sink is closed when the part ends.
    """

    _PREAMBLE, _AFTER_DELIMITER, _HEADERS, _BODY, _DONE = range(5)

    def __init__(self, boundary: bytes, on_part: Callable[[PartInfo], PartSink | None]) -> None:
        # The first delimiter has no CRLF before it; pretending it had one keeps one search rule.
        self._delimiter = b"\r\n--" + boundary
        self._buffer = bytearray(b"\r\n")
        self._state = self._PREAMBLE
        self._on_part = on_part
        self._sink: PartSink | None = None

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while self._step():
            pass

    def finish(self) -> None:
        if self._state != self._DONE:
            raise MultipartError("The upload ended before its last part was complete.")

    def _step(self) -> bool:
        """Advance one state if the buffer allows; False when more input is needed."""
        buffer = self._buffer
        if self._state == self._PREAMBLE:
            found = buffer.find(self._delimiter)
            if found < 0:
                del buffer[:max(0, len(buffer) - len(self._delimiter))]
                return False
            del buffer[:found + len(self._delimiter)]
            self._state = self._AFTER_DELIMITER
            return True
        if self._state == self._AFTER_DELIMITER:
            if len(buffer) < 2:
                return False
            if buffer[:2] == b"--":
                self._state = self._DONE
                buffer.clear()
                return False
            line_end = buffer.find(b"\r\n")
            if line_end < 0:
                if len(buffer) > MAX_HEADER_BYTES:
                    raise MultipartError("A multipart delimiter line is malformed.")
                return False
            del buffer[:line_end + 2]  # transport padding after the delimiter is allowed
            self._state = self._HEADERS
            return True
        if self._state == self._HEADERS:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEADER_BYTES:
                    raise MultipartError("A part's headers are too long.")
                return False
            info = _part_info(bytes(buffer[:end]))
            del buffer[:end + 4]
            self._sink = self._on_part(info)
            self._state = self._BODY
            return True
        if self._state == self._BODY:
            found = buffer.find(self._delimiter)
            if found < 0:
                keep = len(self._delimiter) - 1
                if len(buffer) > keep:
                    self._emit(bytes(buffer[:len(buffer) - keep]))
                    del buffer[:len(buffer) - keep]
                return False
            self._emit(bytes(buffer[:found]))
            del buffer[:found + len(self._delimiter)]
            if self._sink is not None:
                self._sink.close()
                self._sink = None
            self._state = self._AFTER_DELIMITER
            return True
        if buffer:
            buffer.clear()  # the epilogue after the last delimiter is ignored
        return False

    def _emit(self, data: bytes) -> None:
        if data and self._sink is not None:
            self._sink.write(data)
