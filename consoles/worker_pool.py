"""CPU-bound work in worker processes, off the IOLoop and out of the server's process.

Rendering a console's screen (pyte) and checking code (pyflakes) are pure
Python: in a thread they would still hold the GIL that every console's
output needs.  Workers are spawned, not forked (the server has threads, and
a fork would copy their locks), and only on first use; a pool whose worker
died is dropped, so the next call starts a fresh one.
"""
from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class WorkerDied(Exception):
    """The worker process ended while it worked on a call (a new one starts on the next call)."""


class WorkerPool:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``function(*args, **kwargs)`` in a worker; :class:`WorkerDied` if the worker died."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                             mp_context=multiprocessing.get_context("spawn"))
        pool = self._pool
        try:
            return await asyncio.wrap_future(pool.submit(function, *args, **kwargs))
        except BrokenProcessPool:
            self._discard(pool)
            raise WorkerDied() from None

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (at shutdown)."""
        if self._pool is not None:
            self._discard(self._pool)
