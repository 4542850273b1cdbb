"""A package index in PEP 503's simple layout with one small wheel, for pip to fetch through the proxy."""
from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

PROJECT = "egress-probe"
VERSION = "1.0"
WHEEL = f"egress_probe-{VERSION}-py3-none-any.whl"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(path: Path) -> bytes:
    """Write a pure-Python wheel of ``PROJECT`` to ``path``; returns its bytes."""
    dist_info = f"egress_probe-{VERSION}.dist-info"
    files = {
        "egress_probe/__init__.py": b'"""Fetched through the egress proxy by its tests."""\n',
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {PROJECT}\nVersion: {VERSION}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "\n".join([*(_record_line(name, data) for name, data in files.items()),
                        f"{dist_info}/RECORD,,", ""])
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr(f"{dist_info}/RECORD", record)
    return path.read_bytes()


def build_index(root: Path) -> Path:
    """``root/simple/`` listing ``PROJECT``, whose wheel is under ``root/packages/``; returns the wheel."""
    (root / "packages").mkdir(parents=True)
    project = root / "simple" / PROJECT
    project.mkdir(parents=True)
    wheel = root / "packages" / WHEEL
    digest = hashlib.sha256(build_wheel(wheel)).hexdigest()
    (root / "simple" / "index.html").write_text(
        f'<!DOCTYPE html><html><body><a href="{PROJECT}/">{PROJECT}</a></body></html>\n')
    (project / "index.html").write_text(
        f'<!DOCTYPE html><html><body><a href="../../packages/{WHEEL}#sha256={digest}">{WHEEL}</a>'
        "</body></html>\n")
    return wheel
