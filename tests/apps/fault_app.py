"""A misbehaving HTTP app for end-to-end tests; stdlib only, so it boots in milliseconds.

Flags pick the fault: hang (alive, not answering), crash, crash at boot, ignore SIGTERM,
never become ready, fork grandchildren (one in the group, one that left it with setsid,
one double-forked orphan), print awkward output, print one line of megabytes, and close
stdout and stderr while serving on. Resource faults: leak memory at a steady pace, keep a
CPU core busy, answer slowly, answer 500 every Nth time, and hold memory in a tree of
worker processes (which may outlive their parent, as uvicorn's workers do). Remedies: hold
a ballast of memory, freed (with what leaked) on SIGUSR1 or on POST /admin/cleanup.
"""

from __future__ import annotations

import argparse
import itertools
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
# Helpers of the resource faults. Each ends once its parent is gone (it is re-parented to
# the watchdog, the subreaper), so a stopped app never leaves a busy or fat process behind.
SPINNER = (
    "import os\n"
    "parent = os.getppid()\n"
    "while os.getppid() == parent:\n"
    "    for _ in range(100_000):\n"
    "        pass\n"
)
WORKER = (
    "import os, sys, time\n"
    "parent = os.getppid()\n"
    "held = b'\\x01' * int(float(sys.argv[1]) * 2**20)  # bytes * n writes every page\n"
    "while os.getppid() == parent:\n"
    "    time.sleep(0.1)\n"
)
# A worker that, like a uvicorn worker, does not notice that its parent is gone. Bounded all
# the same, so that a test that fails before cleaning up leaves nothing for long.
LASTING_WORKER = (
    "import sys, time\nheld = b'\\x01' * int(float(sys.argv[1]) * 2**20)\ntime.sleep(60)\n"
)
LEAK_STEPS_PER_SECOND = 10
HELD: list[bytes] = []  # the ballast and what leaked: what a clean-up frees


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
    parser.add_argument(
        "--leak-mb-per-s", type=float, help="allocate and touch this many MB a second, forever"
    )
    parser.add_argument("--spin", action="store_true", help="a child process burns one core")
    parser.add_argument(
        "--orphans", action="store_true", help="double-fork a short-lived daemon every 100 ms"
    )
    parser.add_argument("--slow", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument(
        "--slower-by",
        type=float,
        default=0.0,
        metavar="S",
        help="each answer S seconds slower than the one before: an app ageing with its uptime",
    )
    parser.add_argument("--fail-every", type=int, help="every Nth answer is a 500")
    parser.add_argument(
        "--tree-workers", type=int, default=0, help="child processes that hold memory"
    )
    parser.add_argument("--worker-mb", type=float, default=20.0, help="MB each tree worker holds")
    parser.add_argument(
        "--workers-outlive-parent",
        action="store_true",
        help="tree workers keep running (for 60 s) when the app is gone, as uvicorn's do",
    )
    parser.add_argument(
        "--close-output-after",
        type=float,
        metavar="S",
        help="after S seconds close stdout and stderr (fds 1 and 2) and serve on",
    )
    parser.add_argument(
        "--line-mb", type=float, help="once serving, print one line of this many MB, then a marker"
    )
    parser.add_argument(
        "--pids-file", help="append the pids of the --spin and --tree-workers processes here"
    )
    parser.add_argument("--ballast-mb", type=float, help="hold this many MB from the start")
    parser.add_argument(
        "--on-usr1",
        choices=("free", "ignore"),
        help="on SIGUSR1 free the ballast and leaked memory, or catch it and do nothing",
    )
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


def say(line: str) -> None:
    """One line in one write: print() writes the text and its newline apart, so lines
    printed by two threads at once (the flood's and main's) could run together."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def flood(megabytes: float) -> None:
    """Lines before, a flood of numbered 100-byte lines, then how long the flood took."""
    for number in range(100):
        say(f"before-flood {number}")
    lines = int(megabytes * 2**20 / 100)
    started = time.monotonic()
    out = sys.stdout.buffer
    for number in range(lines):
        out.write(b"flood %08d " % number + b"x" * 84 + b"\n")
    out.flush()
    took = time.monotonic() - started
    print(f"flood-done {lines} lines in {took:.3f}s", file=sys.stderr, flush=True)


def long_line(megabytes: float) -> None:
    """One line of `megabytes` MB of "M" on stdout, then a marker line on the same stream."""
    size = int(megabytes * 2**20)
    sys.stdout.buffer.write(b"M" * size + b"\n")
    sys.stdout.buffer.flush()
    print(f"after the {size}-byte line", flush=True)


def close_output(after: float) -> None:
    """Say goodbye on both streams, then close fds 1 and 2 for good; the server goes on."""
    time.sleep(after)
    print("fault_app: closing stdout", flush=True)
    print("fault_app: closing stderr", file=sys.stderr, flush=True)
    sys.stdout = sys.stderr = None  # print() now does nothing instead of raising
    os.close(1)
    os.close(2)


def leak(megabytes_per_second: float) -> None:
    """Every tenth of a second another tenth of the rate, kept forever; paced by the clock."""
    step = int(megabytes_per_second * 2**20 / LEAK_STEPS_PER_SECOND)
    started = time.monotonic()
    for number in itertools.count(1):
        HELD.append(b"\x01" * step)  # written, not just reserved: it counts in the RSS
        time.sleep(max(0.0, started + number / LEAK_STEPS_PER_SECOND - time.monotonic()))


def free_held() -> int:
    """Drop the ballast and the leak: big blocks are unmapped at once, so the RSS falls."""
    freed = sum(len(block) for block in HELD)
    HELD.clear()
    return freed


def make_orphans() -> None:
    """Daemons done right: the middle process is waited for, the daemon lives 0.3 s on
    as an orphan, so each one's exit is for whoever adopted it to collect."""
    while True:
        middle = os.fork()
        if middle == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(0.3)
            os._exit(0)
        os.waitpid(middle, 0)
        time.sleep(0.1)


def spawn_helpers(args: argparse.Namespace) -> None:
    """The --spin process and the --tree-workers, their pids appended to --pids-file."""
    worker = LASTING_WORKER if args.workers_outlive_parent else WORKER
    helpers = [
        subprocess.Popen([sys.executable, "-c", worker, str(args.worker_mb)])
        for _ in range(args.tree_workers)
    ]
    if args.spin:
        helpers.append(subprocess.Popen([sys.executable, "-c", SPINNER]))
    if args.pids_file and helpers:
        with open(args.pids_file, "a") as handle:
            handle.writelines(f"{helper.pid}\n" for helper in helpers)


class Answers:
    """Counts /health answers across the server's threads, for --fail-every."""

    def __init__(self, fail_every: int | None) -> None:
        self._fail_every = fail_every
        self._count = 0
        self._lock = threading.Lock()

    def next_status(self) -> int:
        with self._lock:
            self._count += 1
            failing = self._fail_every and self._count % self._fail_every == 0
        return 500 if failing else 200

    @property
    def served(self) -> int:
        return self._count


def main() -> None:
    args = parse_args()
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.on_usr1 is not None:
        # Nothing printed in the handler: it may interrupt a print of the main thread's.
        freeing = args.on_usr1 == "free"
        signal.signal(signal.SIGUSR1, lambda *_: freeing and free_held())
    if args.ballast_mb:
        HELD.append(b"\x01" * int(args.ballast_mb * 2**20))
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
    spawn_helpers(args)
    if args.orphans:
        threading.Thread(target=make_orphans, daemon=True).start()
    if args.leak_mb_per_s:
        threading.Thread(target=leak, args=(args.leak_mb_per_s,), daemon=True).start()
    answers = Answers(args.fail_every)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if args.hang_after is not None and time.monotonic() - STARTED >= args.hang_after:
                time.sleep(600)
            time.sleep(args.slow + args.slower_by * answers.served)
            self.send_response(answers.next_status())
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def do_POST(self) -> None:
            if self.path != "/admin/cleanup":
                self.send_error(404)
                return
            body = b"freed %d bytes" % free_held()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.crash_after is not None:

        def crash() -> None:
            time.sleep(args.crash_after)
            os._exit(1)

        threading.Thread(target=crash, daemon=True).start()
    say(f"fault_app: listening on {args.port} pid {os.getpid()}")
    if args.line_mb:
        threading.Thread(target=long_line, args=(args.line_mb,), daemon=True).start()
    if args.close_output_after is not None:
        threading.Thread(target=close_output, args=(args.close_output_after,), daemon=True).start()
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
