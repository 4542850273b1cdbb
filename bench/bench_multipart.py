"""The upload parser we ship against bare python-multipart and streaming-form-data.

``ide/files/multipart.py`` is python-multipart with the checks an upload
needs on top; this shows what those checks cost, and how the two
maintained streaming parsers compare.

Each parser gets the same bodies in 64 KiB chunks (what Tornado hands a
streaming handler) and writes the file part to a sink that only counts
bytes.  Reported: throughput (best of three), the peak of Python memory
allocated while parsing (tracemalloc), and what each does with malformed
bodies.  Run: ``.venv/bin/python bench/bench_multipart.py`` (needs the
``bench`` extras).
"""
from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

from python_multipart.multipart import MultipartParser as PyMultipartParser
from streaming_form_data import StreamingFormDataParser
from streaming_form_data.targets import BaseTarget

from ide.files.multipart import MultipartParser, PartInfo

BOUNDARY = b"----pyideBoundary7MA4YWxkTrZu0gW"
CHUNK = 64 * 1024
MIB = 1024 * 1024


def body(parts: list[tuple[str, bytes]], boundary: bytes = BOUNDARY) -> bytes:
    pieces = []
    for name, data in parts:
        pieces += [b"--" + boundary + b"\r\n",
                   f'Content-Disposition: form-data; name="{name}"; filename="{name}.bin"\r\n'.encode(),
                   b"Content-Type: application/octet-stream\r\n\r\n", data, b"\r\n"]
    pieces.append(b"--" + boundary + b"--\r\n")
    return b"".join(pieces)


def chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start:start + CHUNK]


class Counter:
    def __init__(self) -> None:
        self.bytes = 0
        self.parts = 0

    def write(self, data: bytes) -> None:
        self.bytes += len(data)

    def close(self) -> None:
        self.parts += 1


def parse_ours(data: bytes, boundary: bytes = BOUNDARY) -> Counter:
    counter = Counter()

    def on_part(info: PartInfo) -> Counter:
        return counter

    parser = MultipartParser(boundary, on_part)
    for chunk in chunks(data):
        parser.feed(chunk)
    parser.finish()
    return counter


def parse_python_multipart(data: bytes, boundary: bytes = BOUNDARY) -> Counter:
    counter = Counter()
    callbacks: Any = {"on_part_data": lambda buf, start, end: counter.write(buf[start:end]),
                      "on_part_end": counter.close}
    parser = PyMultipartParser(boundary, callbacks)
    for chunk in chunks(data):
        parser.write(chunk)
    parser.finalize()
    return counter


class _CountingTarget(BaseTarget):
    def __init__(self, counter: Counter) -> None:
        super().__init__()
        self.counter = counter

    def on_data_received(self, chunk: bytes) -> None:
        self.counter.write(chunk)

    def on_finish(self) -> None:
        self.counter.close()


def parse_streaming_form_data(data: bytes, boundary: bytes = BOUNDARY, names: int = 1) -> Counter:
    counter = Counter()
    parser = StreamingFormDataParser(
        headers={"Content-Type": "multipart/form-data; boundary=" + boundary.decode()})
    for index in range(names):
        parser.register(f"f{index}", _CountingTarget(counter))
    for chunk in chunks(data):
        parser.data_received(chunk)
    return counter


PARSERS: dict[str, Callable[..., Counter]] = {
    "ide.files.multipart": parse_ours, "bare python-multipart": parse_python_multipart,
    "streaming-form-data": parse_streaming_form_data,
}


def timed(parse: Callable[..., Counter], data: bytes, **kw: Any) -> tuple[float, int, Counter]:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        counter = parse(data, **kw)
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    parse(data, **kw)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak, counter


def malformed_cases() -> dict[str, bytes]:
    good = body([("f0", b"x" * 1000)])
    return {
        "truncated before the last delimiter": good[:-len(BOUNDARY) - 10],
        "no delimiter at all": b"just some bytes\r\n" * 100,
        "1 MiB of headers without an end": b"--" + BOUNDARY + b"\r\n" + b"X-Filler: " + b"a" * MIB,
        "part without Content-Disposition": (b"--" + BOUNDARY + b"\r\nContent-Type: text/plain\r\n\r\n"
                                             b"data\r\n--" + BOUNDARY + b"--\r\n"),
    }


def main() -> None:
    cases = {
        "one 64 MiB file": (body([("f0", bytes(range(256)) * (64 * MIB // 256))]), 1),
        "1000 parts of 1 KiB": (body([(f"f{i}", b"y" * 1024) for i in range(1000)]), 1000),
        "16 MiB of near-delimiters": (body([("f0", (b"\r\n--" + BOUNDARY[:-1] + b"!") * (16 * MIB // 40))]), 1),
    }
    print("| body | parser | MB/s | peak memory while parsing |")
    print("|---|---|---|---|")
    for label, (data, names) in cases.items():
        for name, parse in PARSERS.items():
            extra = {"names": names} if name == "streaming-form-data" else {}
            seconds, peak, counter = timed(parse, data, **extra)
            print(f"| {label} | {name} | {len(data) / seconds / 1e6:.0f} | {peak / 1024:.0f} KiB |")
    print()
    print("| malformed body | " + " | ".join(PARSERS) + " |")
    print("|---|" + "---|" * len(PARSERS))
    for label, data in malformed_cases().items():
        answers = []
        for parse in PARSERS.values():
            try:
                parse(data)
                answers.append("accepted")
            except Exception as exc:  # each library has its own error types
                answers.append(f"error ({type(exc).__name__})")
        print(f"| {label} | " + " | ".join(answers) + " |")


if __name__ == "__main__":
    main()
