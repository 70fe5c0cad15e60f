"""Run the routes that compute (inference, batch inference) in worker threads, and next sample
beside them.

MONAI Label's route handlers are ``async`` and call the app synchronously, so
one inference blocks the event loop and every other request waits for it,
``/info/`` included. This ASGI middleware runs each such request, whole, in a
worker thread with its own event loop, its messages passed back to the
server's loop, so the HTTP layer keeps answering. At most ``workers`` run at
once and at most ``queue`` wait; beyond that the answer is 503 with a
Retry-After estimated from recent durations, so load cannot pile up in memory.

Next sample reads the scores the background scorer stored (it computes nothing), so it has its
own small pool: an annotator's "Next Sample" never waits behind someone's inference.
"""

from __future__ import annotations

import asyncio
import logging
import re
import statistics
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from lib.asgi import send_json

log = logging.getLogger(__name__)

#: Threads for next-sample requests (reads of stored scores, milliseconds each).
LIGHT_WORKERS = 2


class Workload:
    """How many requests compute or wait, shared by the middleware and the background scorer
    (which steps aside while a request computes)."""

    def __init__(self, workers: int = 1, queue: int = 8):
        if workers < 1 or queue < 0:
            raise ValueError(f"infer_workers must be >= 1 and infer_queue >= 0, not {workers} and {queue}")
        self.workers, self.queue = workers, queue
        self.admitted = 0          # running + waiting
        self.running = 0
        self.recent_s: deque[float] = deque(maxlen=20)

    @property
    def busy(self) -> bool:
        return self.admitted > 0

    def status(self) -> dict:
        return {"workers": self.workers, "queue": self.queue, "running": self.running,
                "waiting": self.admitted - self.running,
                "median_seconds": round(statistics.median(self.recent_s), 2) if self.recent_s else None}


class OffloadHeavyRoutes:
    """ASGI middleware; ``app`` is the rest of the server's stack."""

    def __init__(self, app, workload: Workload, prefix: str = ""):
        self.app, self.load = app, workload
        self.pattern = re.compile(rf"^{re.escape(prefix)}/(infer|batch)/")
        self.light = re.compile(rf"^{re.escape(prefix)}/activelearning/")
        self.executor = ThreadPoolExecutor(max_workers=workload.workers, thread_name_prefix="mcseg-worker")
        self.light_executor = ThreadPoolExecutor(max_workers=LIGHT_WORKERS, thread_name_prefix="mcseg-light")
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.light.match(scope["path"]):
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.light_executor, self._serve_in_thread, loop, scope, receive, send)
        if not self.pattern.match(scope["path"]):
            return await self.app(scope, receive, send)
        load = self.load
        if load.admitted >= load.workers + load.queue:
            return await self._busy(send)
        if self._slots is None:
            self._slots = asyncio.Semaphore(load.workers)
        load.admitted += 1
        try:
            async with self._slots:
                load.running += 1
                started = time.perf_counter()
                try:
                    loop = asyncio.get_running_loop()
                    await loop.run_in_executor(self.executor, self._serve_in_thread, loop, scope, receive, send)
                finally:
                    load.running -= 1
                    load.recent_s.append(time.perf_counter() - started)
        finally:
            load.admitted -= 1

    def _serve_in_thread(self, server_loop, scope, receive, send) -> None:
        async def thread_receive():
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(receive(), server_loop))

        async def thread_send(message):
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(send(message), server_loop))

        asyncio.run(self.app(scope, thread_receive, thread_send))

    async def _busy(self, send) -> None:
        load = self.load
        typical = statistics.median(load.recent_s) if load.recent_s else 10.0
        retry_s = max(1, round(typical * (load.admitted - load.workers + 1) / load.workers))
        detail = (f"the server is busy: {load.running} request(s) computing and {load.admitted - load.running} "
                  f"waiting (infer_workers {load.workers}, infer_queue {load.queue}); retry in about {retry_s} s")
        log.warning(detail)
        await send_json(send, 503, {"detail": detail}, [(b"retry-after", str(retry_s).encode())])
