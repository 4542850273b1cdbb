"""Streaming ``multipart/form-data``: bodies are fed in chunks and each
part's bytes are handed on as they arrive, so a 100 MB upload never sits in
memory.

The parsing is python-multipart's (faster than the parser this project
once had, and with less memory: see docs/performance.md); this module adds
what an upload needs on top: the part's name and file name from its
``Content-Disposition``, a part without one refused, and a body that ends
before its closing delimiter refused rather than taken as complete.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Any, Protocol

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser as _Parser
from python_multipart.multipart import MultipartState

from ide.files.errors import FilesError

# One header line of a part at most (python-multipart's own default is 4 KiB).
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 16


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

    def __init__(self, boundary: bytes, on_part: Callable[[PartInfo], PartSink | None]) -> None:
        self._on_part = on_part
        self._sink: PartSink | None = None
        self._headers = bytearray()
        self._field = bytearray()
        self._value = bytearray()
        callbacks: Any = {
            "on_part_begin": self._headers.clear,
            "on_header_begin": self._header_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._part_end,
        }
        self._parser = _Parser(boundary, callbacks, max_header_count=MAX_HEADERS,
                               max_header_size=MAX_HEADER_BYTES)

    def feed(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise MultipartError(f"The multipart/form-data body is malformed: {exc}") from None

    def finish(self) -> None:
        self._parser.finalize()
        # python-multipart's finalize() accepts a body cut short; an upload must not.
        if self._parser.state != MultipartState.END:
            raise MultipartError("The upload ended before its last part was complete.")

    # Rebuilding each part's header block, then handing on its bytes.

    def _header_begin(self) -> None:
        self._field.clear()
        self._value.clear()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers += bytes(self._field) + b": " + bytes(self._value) + b"\r\n"

    def _headers_finished(self) -> None:
        self._sink = self._on_part(_part_info(bytes(self._headers).rstrip(b"\r\n")))

    def _data(self, data: bytes, start: int, end: int) -> None:
        if end > start and self._sink is not None:
            self._sink.write(data[start:end])

    def _part_end(self) -> None:
        if self._sink is not None:
            self._sink.close()
            self._sink = None
