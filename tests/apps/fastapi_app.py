"""A real FastAPI app for the integration tests, run by uvicorn.

With SLOWER_BY or LEAK_PER_REQUEST set, every request ages it (see ageing.py)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import ageing
from fastapi import FastAPI, Request, Response

# A file whose presence makes the next start fail at boot: a bad deploy, for a test.
_crash_marker = os.environ.get("CRASH_AT_BOOT_IF")
if _crash_marker and Path(_crash_marker).exists():
    raise SystemExit(f"fastapi_app: {_crash_marker} exists, failing at boot on purpose")

# Seconds each worker spends loading this module, as an app with heavy imports does.
time.sleep(float(os.environ.get("BOOT_DELAY", "0")))

app = FastAPI()

if ageing.ON:

    @app.middleware("http")
    async def age(request: Request, call_next: Callable) -> Response:
        await asyncio.sleep(ageing.one_more())
        return await call_next(request)


_STARTED = time.monotonic()
# Health answers 503 after this many seconds, while every other endpoint keeps working:
# a failing dependency check, the kind of sickness a probe sees before users do.
_UNHEALTHY_AFTER = float(os.environ.get("UNHEALTHY_AFTER", "inf"))
_UNHEALTHY_IF = os.environ.get("UNHEALTHY_IF")  # ... or while this file exists


@app.get("/health")
def health(response: Response) -> dict[str, object]:
    marked = _UNHEALTHY_IF is not None and Path(_UNHEALTHY_IF).exists()
    if marked or time.monotonic() - _STARTED >= _UNHEALTHY_AFTER:
        response.status_code = 503
        return {"status": "unhealthy", "pid": os.getpid()}
    return {"status": "ok", "pid": os.getpid()}


@app.get("/crash")
def crash() -> None:
    os._exit(1)


@app.get("/work")
async def work(ms: int = 0) -> dict[str, object]:
    """A request that takes `ms` milliseconds: in flight when a restart comes."""
    await asyncio.sleep(ms / 1000)
    return {"status": "ok", "pid": os.getpid(), "ms": ms}


_kept: list[bytes] = []  # what /leak allocated in this worker


@app.get("/leak")
def leak(mb: int = 0) -> dict[str, object]:
    """The worker that serves it keeps `mb` MB more (touched, so resident): one worker leaks."""
    _kept.append(b"x" * (mb * 2**20))
    return {"status": "ok", "pid": os.getpid(), "mb": mb}
