"""A fixed pool of worker threads with a bounded queue: the server never builds a backlog.

A request is *admitted* if fewer than ``workers + queue_size`` requests are admitted already;
otherwise it is refused at once (:class:`PoolFull`, answered 503 with ``Retry-After``), before
any work is done for it. Admitted jobs run on threads that share the loaded models (torch
releases the GIL while it computes). A job that waits past its request's deadline is dropped
without running; one that runs past it finishes (torch cannot be interrupted), but its answer is
discarded and its slot stays taken until it ends, so the bound holds for real work too.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["JobTimeout", "PoolFull", "WorkerPool"]

T = TypeVar("T")

#: ``Retry-After`` bounds in seconds.
MIN_RETRY_AFTER_S = 1
MAX_RETRY_AFTER_S = 60


class PoolFull(Exception):
    """Every worker is busy and the queue is full; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int, admitted: int) -> None:
        super().__init__(f"server busy: {admitted} requests running or queued")
        self.retry_after = retry_after
        self.admitted = admitted


class JobTimeout(Exception):
    """The job did not finish before its request's deadline (``queued``: it never started)."""

    def __init__(self, queued: bool) -> None:
        super().__init__("timed out while queued" if queued else "timed out while running")
        self.queued = queued


class _Expired(Exception):
    """Raised inside a worker for a job whose deadline passed while it waited."""


class WorkerPool:
    """``workers`` threads and at most ``queue_size`` waiting jobs."""

    def __init__(self, workers: int, queue_size: int) -> None:
        self.workers = workers
        self.capacity = workers + queue_size
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="adain-worker")
        self._lock = threading.Lock()
        self._admitted = 0
        self._running = 0
        self._durations: deque[float] = deque(maxlen=32)
        self.refused = 0

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "workers": self.workers,
                "capacity": self.capacity,
                "running": self._running,
                "queued": self._admitted - self._running,
                "refused": self.refused,
            }

    def busy(self) -> bool:
        """True while any job is admitted (running or waiting)."""
        with self._lock:
            return self._admitted > 0

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: the queue ahead, at the recent job duration."""
        with self._lock:
            typical = sorted(self._durations)[len(self._durations) // 2] if self._durations else 1.0
            waiting = self._admitted - self.workers + 1
        return int(min(MAX_RETRY_AFTER_S, max(MIN_RETRY_AFTER_S, math.ceil(typical * max(1, waiting) / self.workers))))

    def refuse_if_full(self) -> None:
        """Raise :class:`PoolFull` now if a job could not be admitted (before a request's upload is read)."""
        with self._lock:
            admitted = self._admitted
            if admitted < self.capacity:
                return
            self.refused += 1
        raise PoolFull(self.retry_after(), admitted)

    def _admit(self) -> None:
        with self._lock:
            if self._admitted >= self.capacity:
                self.refused += 1
                admitted = self._admitted
            else:
                self._admitted += 1
                return
        raise PoolFull(self.retry_after(), admitted)

    def _release(self, _: Future) -> None:
        with self._lock:
            self._admitted -= 1

    def _job(self, function: Callable[..., T], args: tuple[Any, ...], deadline: float) -> T:
        if time.monotonic() >= deadline:
            raise _Expired()
        with self._lock:
            self._running += 1
        start = time.monotonic()
        try:
            return function(*args)
        finally:
            with self._lock:
                self._running -= 1
                self._durations.append(time.monotonic() - start)

    async def run(self, function: Callable[..., T], *args: Any, timeout: float) -> T:
        """Run ``function(*args)`` on a worker and wait at most ``timeout`` seconds for it.

        Raises:
            PoolFull: no slot (nothing was started).
            JobTimeout: not done within ``timeout``.
            Whatever ``function`` raised.
        """
        self._admit()
        deadline = time.monotonic() + timeout
        try:
            future = self._executor.submit(self._job, function, args, deadline)
        except RuntimeError:  # the pool is shut down
            with self._lock:
                self._admitted -= 1
            raise PoolFull(self.retry_after(), self.capacity) from None
        future.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except _Expired:
            raise JobTimeout(queued=True) from None
        except (asyncio.TimeoutError, TimeoutError):
            raise JobTimeout(queued=future.cancelled()) from None

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
