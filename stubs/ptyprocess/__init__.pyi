# The part of ptyprocess 0.7's API this project uses; ptyprocess ships no types.
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

_P = TypeVar("_P", bound=PtyProcess)

class PtyProcess:
    pid: int
    fd: int
    fileobj: Any
    closed: bool
    terminated: bool
    exitstatus: int | None
    signalstatus: int | None
    status: int | None
    flag_eof: bool
    delayafterclose: float
    delayafterterminate: float
    def __init__(self, pid: int, fd: int) -> None: ...
    @classmethod
    def spawn(cls: type[_P], argv: Sequence[str], cwd: str | None = ..., env: Mapping[str, str] | None = ...,
              echo: bool = ..., preexec_fn: Callable[[], None] | None = ...,
              dimensions: tuple[int, int] = ..., pass_fds: Sequence[int] = ...) -> _P: ...
    def isalive(self) -> bool: ...
    def close(self, force: bool = ...) -> None: ...
