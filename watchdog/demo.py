"""A small bundled API to supervise: stdlib only, GET /health, and faults on request.

GET /work?ms=N answers after N milliseconds (a request in flight, for restarts under load).
On SIGTERM or SIGINT it takes no new connection and answers every request it took before
exiting (waiting up to DRAIN_TIMEOUT): on a socket the watchdog holds, a restart loses none.

    python -m watchdog.demo --port 8765 [--hang-after 20] [--crash-after 30] [--leak-mb 5]
    python -m watchdog.demo --fd 3   # serve a socket the watchdog holds (app.listen)

Each fault flag can also come from the environment (WATCHDOG_DEMO_HANG_AFTER,
WATCHDOG_DEMO_CRASH_AFTER, WATCHDOG_DEMO_LEAK_MB), so a watchdog config need not change.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import parse_qs

STARTED = time.monotonic()
_leaked: list[bytes] = []
_output_lock = threading.Lock()
_hung: set[threading.Thread] = set()
DRAIN_TIMEOUT = 10.0  # seconds a stopping demo waits at most for the requests it took


def _env_float(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m watchdog.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--fd", type=int, help="serve this listening socket instead of binding")
    parser.add_argument(
        "--hang-after",
        type=float,
        default=_env_float("WATCHDOG_DEMO_HANG_AFTER"),
        help="stop answering (but stay alive) after this many seconds",
    )
    parser.add_argument(
        "--crash-after",
        type=float,
        default=_env_float("WATCHDOG_DEMO_CRASH_AFTER"),
        help="exit with code 1 after this many seconds",
    )
    parser.add_argument(
        "--leak-mb",
        type=float,
        default=_env_float("WATCHDOG_DEMO_LEAK_MB"),
        help="leak this many MB of memory per second",
    )
    return parser.parse_args(argv)


def make_handler(args: argparse.Namespace) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            uptime = time.monotonic() - STARTED
            if args.hang_after is not None and uptime >= args.hang_after:
                _hung.add(threading.current_thread())  # not waited for at a stop
                time.sleep(3600)  # alive, accepting, never answering: a hung API
            path, _, query = self.path.partition("?")
            if path == "/work":  # a request that takes ms=N milliseconds: one in flight
                ms = parse_qs(query).get("ms", ["0"])[0]
                time.sleep(min(float(ms), 60_000) / 1000 if ms.isdigit() else 0)
                self._answer(200, {"status": "ok", "pid": os.getpid()})
                return
            if path not in ("/health", "/"):
                self._answer(404, {"error": "not found"})
                return
            leaked = sum(len(block) for block in _leaked) // 2**20
            self._answer(200, {"status": "ok", "uptime": round(uptime, 1), "leaked_mb": leaked})

        def _answer(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            line = f"{self.address_string()} {format % args}\n"
            with _output_lock:  # print() from several handler threads can interleave lines
                sys.stdout.write(line)
                sys.stdout.flush()

    return Handler


def _leak(mb_per_second: float) -> None:
    while True:
        # Touch every page so the memory is really resident, not just reserved.
        _leaked.append(bytes(bytearray(b"x" * int(mb_per_second * 2**20 / 10))))
        time.sleep(0.1)


def _crash(after: float) -> None:
    time.sleep(after)
    print(f"demo: crashing on purpose after {after:g}s", file=sys.stderr, flush=True)
    os._exit(1)


class DemoServer(ThreadingHTTPServer):
    """A thread per connection; once stopped, it answers every request it took, then exits.

    Handler threads are daemons, so that a hung one cannot keep the process alive, and the
    stdlib waits only for non-daemon ones: so this server keeps them and waits itself.
    """

    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._handlers: list[threading.Thread] = []

    def process_request(self, request: Any, client_address: Any) -> None:
        self._handlers = [thread for thread in self._handlers if thread.is_alive()]
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        self._handlers.append(thread)
        thread.start()

    def serve(self, stopping: threading.Event) -> None:
        """serve_forever, but waiting with epoll: a watchdog overlapping a restart sees the
        socket registered there once the demo is ready (serve_forever's poll() shows nothing).
        """
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            while not stopping.is_set():
                # A stop that came during the wait takes nothing more: what is still queued
                # is left in the backlog, for the next process on a held socket.
                if selector.select(0.1) and not stopping.is_set():
                    self._handle_request_noblock()  # what serve_forever calls

    def drain(self, timeout: float) -> int:
        """Wait up to `timeout` for the requests taken; how many are left unanswered."""
        deadline = time.monotonic() + timeout
        waited = [thread for thread in self._handlers if thread not in _hung]
        for thread in waited:
            thread.join(max(0.0, deadline - time.monotonic()))
        return sum(thread.is_alive() for thread in waited)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    held = args.fd is not None
    server = DemoServer((args.host, args.port), make_handler(args), bind_and_activate=not held)
    if held:
        server.socket.close()
        server.socket = socket.socket(fileno=args.fd)  # family and type read from the fd
    stopping = threading.Event()
    received: list[int] = []

    def stop(signum: int, _: FrameType | None) -> None:
        received.append(signum)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.leak_mb:
        threading.Thread(target=_leak, args=(args.leak_mb,), daemon=True).start()
    if args.crash_after is not None:
        threading.Thread(target=_crash, args=(args.crash_after,), daemon=True).start()
    where = f"fd {args.fd}" if held else f"http://{args.host}:{args.port}/health"
    print(f"demo: serving on {where} (pid {os.getpid()})", flush=True)
    server.serve(stopping)
    server.server_close()  # its own copy of a held socket: the backlog stays for the next
    print(f"demo: {signal.Signals(received[0]).name} received, shutting down", flush=True)
    left = server.drain(DRAIN_TIMEOUT)
    if left:
        print(f"demo: {left} request(s) still unanswered after {DRAIN_TIMEOUT:g}s", flush=True)


if __name__ == "__main__":
    main()
