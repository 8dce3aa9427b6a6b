"""A sick HTTP app for the diagnostic snapshot's tests; stdlib only, so it boots at once.

Modes: a request handler that blocks for good (`--hang`), memory that grows at a steady
pace (`--leak-mb-per-s`), and TCP connections that are never closed (`--leak-sockets`,
left in CLOSE_WAIT by a peer that did close). Each step is printed, so a test waits for a
line rather than sleeping.
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LEAK_STEPS_PER_SECOND = 10
LIFETIME = 120.0  # a test that fails to stop the app leaves nothing for long

leaked: list[object] = []  # held forever: the point of the leaks
the_lock = threading.Lock()


def say(line: str) -> None:
    print(f"sick_app: {line}", flush=True)


def wait_for_the_lock_forever() -> None:
    """Where a hung handler sits: the name a snapshot's stacks must show."""
    token = os.environ.get("SECRET_TOKEN")  # a local a `--locals` dump would reveal
    say("handler waiting for the lock")
    with the_lock:
        the_lock.acquire()  # never released: the lock is not reentrant
    del token


STARTED = time.monotonic()


class Handler(BaseHTTPRequestHandler):
    hang = False
    hang_health_after: float | None = None

    def do_GET(self) -> None:
        if self.hang and self.path != "/health":
            wait_for_the_lock_forever()
        health_hangs = self.hang_health_after is not None
        if health_hangs and time.monotonic() - STARTED >= self.hang_health_after:
            wait_for_the_lock_forever()  # /health too: what a watchdog restarts
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass


def leak_memory(mb_per_s: float) -> None:
    step = int(mb_per_s * 2**20 / LEAK_STEPS_PER_SECOND)
    while True:
        leaked.append(b"\x01" * step)  # bytes * n writes every page: resident at once
        time.sleep(1 / LEAK_STEPS_PER_SECOND)


def leak_sockets(count: int) -> None:
    """`count` connections whose peer closed while this side never does: CLOSE_WAIT."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        for _ in range(count):
            client = socket.create_connection(("127.0.0.1", port))
            accepted, _ = listener.accept()
            accepted.close()
            leaked.append(client)
    say(f"leaked {count} sockets")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hang", action="store_true", help="requests other than /health hang")
    parser.add_argument("--hang-health-after", type=float, help="then every request hangs")
    parser.add_argument("--leak-mb-per-s", type=float, default=0.0)
    parser.add_argument("--leak-sockets", type=int, default=0)
    args = parser.parse_args()
    Handler.hang = args.hang
    Handler.hang_health_after = args.hang_health_after
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.leak_sockets:
        leak_sockets(args.leak_sockets)
    if args.leak_mb_per_s:
        threading.Thread(target=leak_memory, args=(args.leak_mb_per_s,), daemon=True).start()
    threading.Timer(LIFETIME, os._exit, args=(0,)).start()
    say(f"listening on {args.port}")
    server.serve_forever()


if __name__ == "__main__":
    main()
