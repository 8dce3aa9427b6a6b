"""A small bundled API to supervise: stdlib only, GET /health, and faults on request.

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

STARTED = time.monotonic()
_leaked: list[bytes] = []
_output_lock = threading.Lock()


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
                time.sleep(3600)  # alive, accepting, never answering: a hung API
            if self.path not in ("/health", "/"):
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


def _serve(server: ThreadingHTTPServer, stopping: threading.Event) -> None:
    """serve_forever, but waiting with epoll: a watchdog overlapping a restart sees the
    socket registered there once the demo is ready (serve_forever's poll() shows nothing)."""
    with selectors.DefaultSelector() as selector:
        selector.register(server, selectors.EVENT_READ)
        while not stopping.is_set():
            if selector.select(0.1):
                server._handle_request_noblock()  # what serve_forever calls


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    held = args.fd is not None
    server = ThreadingHTTPServer(
        (args.host, args.port), make_handler(args), bind_and_activate=not held
    )
    if held:
        server.socket.close()
        server.socket = socket.socket(fileno=args.fd)  # family and type read from the fd
    server.daemon_threads = True
    stopping = threading.Event()

    def stop(signum: int, _: FrameType | None) -> None:
        print(f"demo: {signal.Signals(signum).name} received, shutting down", flush=True)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.leak_mb:
        threading.Thread(target=_leak, args=(args.leak_mb,), daemon=True).start()
    if args.crash_after is not None:
        threading.Thread(target=_crash, args=(args.crash_after,), daemon=True).start()
    where = f"fd {args.fd}" if held else f"http://{args.host}:{args.port}/health"
    print(f"demo: serving on {where} (pid {os.getpid()})", flush=True)
    _serve(server, stopping)
    server.server_close()


if __name__ == "__main__":
    main()
