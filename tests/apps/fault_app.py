"""A misbehaving HTTP app for end-to-end tests; stdlib only, so it boots in milliseconds.

Flags pick the fault: hang (alive, not answering), crash, crash at boot, ignore SIGTERM,
never become ready, fork grandchildren (one in the group, one that left it with setsid,
one double-forked orphan), and print awkward output.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STARTED = time.monotonic()
SLEEPER = "import time; time.sleep(600)"
ORPHAN = (
    "import os, sys, time\n"
    "if os.fork():\n    os._exit(0)\n"
    "with open(sys.argv[1], 'a') as f:\n    f.write(f'{os.getpid()}\\n')\n"
    "time.sleep(600)\n"
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hang-after", type=float)
    parser.add_argument("--crash-after", type=float)
    parser.add_argument("--boot-delay", type=float, default=0.0)
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--grandchildren", metavar="PID_FILE")
    parser.add_argument("--noisy-output", action="store_true")
    parser.add_argument("--flood-mb", type=float, help="print this many MB of lines at once")
    return parser.parse_args()


def spawn_grandchildren(pid_file: str) -> None:
    in_group = subprocess.Popen([sys.executable, "-c", SLEEPER])
    left_group = subprocess.Popen([sys.executable, "-c", SLEEPER], start_new_session=True)
    with open(pid_file, "a") as handle:
        handle.write(f"{in_group.pid}\n{left_group.pid}\n")
    subprocess.run([sys.executable, "-c", ORPHAN, pid_file], check=True)


def noisy_output() -> None:
    sys.stdout.buffer.write(b"binary \xff\xfe\x00 garbage\n")
    sys.stdout.buffer.write(b"L" * 100_000 + b"\n")
    sys.stdout.buffer.write(b"partial line without end")
    sys.stdout.flush()
    print("\nafter the long line", file=sys.stderr, flush=True)


def flood(megabytes: float) -> None:
    """Lines before, a flood of numbered 100-byte lines, then how long the flood took."""
    for number in range(100):
        print(f"before-flood {number}", flush=True)
    lines = int(megabytes * 2**20 / 100)
    started = time.monotonic()
    out = sys.stdout.buffer
    for number in range(lines):
        out.write(b"flood %08d " % number + b"x" * 84 + b"\n")
    out.flush()
    took = time.monotonic() - started
    print(f"flood-done {lines} lines in {took:.3f}s", file=sys.stderr, flush=True)


def main() -> None:
    args = parse_args()
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.grandchildren:
        spawn_grandchildren(args.grandchildren)
    if args.noisy_output:
        noisy_output()
    if args.flood_mb:
        threading.Thread(target=flood, args=(args.flood_mb,), daemon=True).start()
    if args.crash_after == 0:
        print("fault_app: crashing at boot", file=sys.stderr, flush=True)
        sys.exit(7)
    time.sleep(args.boot_delay)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if args.hang_after is not None and time.monotonic() - STARTED >= args.hang_after:
                time.sleep(600)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.crash_after is not None:

        def crash() -> None:
            time.sleep(args.crash_after)
            os._exit(1)

        threading.Thread(target=crash, daemon=True).start()
    print(f"fault_app: listening on {args.port} pid {os.getpid()}", flush=True)
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
