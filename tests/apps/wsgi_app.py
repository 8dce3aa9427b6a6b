"""A plain WSGI app for gunicorn's own workers (sync, gthread): /health, /work?ms=N and
/leak?mb=N (the worker that serves it keeps N MB more, for worker recycling)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from urllib.parse import parse_qs

_kept: list[bytes] = []  # what /leak allocated in this worker


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    query = parse_qs(environ.get("QUERY_STRING", ""))
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
