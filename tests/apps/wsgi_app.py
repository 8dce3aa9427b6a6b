"""A plain WSGI app for gunicorn's own workers (sync, gthread): /health, /work?ms=N and
/leak?mb=N (the worker that serves it keeps N MB more, for worker recycling).

With SLOWER_BY or LEAK_PER_REQUEST set, every request ages it (see ageing.py)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from urllib.parse import parse_qs

import ageing

_kept: list[bytes] = []  # what /leak allocated in this worker

# Seconds each worker spends loading this module, as an app with heavy imports does: a new
# worker does not answer at once.
time.sleep(float(os.environ.get("BOOT_DELAY", "0")))

# Seconds a worker goes on serving after its SIGTERM, as one that finishes a turn of its
# loop first does (uvicorn's worker: up to 0.1 s). The worker set its handler before
# loading this module; it is called that much later.
_LINGER = float(os.environ.get("LINGER_AFTER_TERM", "0"))
_on_term = signal.getsignal(signal.SIGTERM)
if _LINGER and callable(_on_term):
    signal.signal(
        signal.SIGTERM, lambda *args: threading.Timer(_LINGER, _on_term, args).start()
    )


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if ageing.ON:
        time.sleep(ageing.one_more())
    if path == "/work":
        # A request that takes `ms` milliseconds: in flight when a restart comes.
        time.sleep(int(query.get("ms", ["0"])[0]) / 1000)
    elif path == "/leak":
        _kept.append(b"x" * (int(query.get("mb", ["0"])[0]) * 2**20))  # touched: resident
    elif path != "/health":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    body = json.dumps({"status": "ok", "pid": os.getpid()}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
