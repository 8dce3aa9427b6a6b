"""Python stacks of a running process, taken from outside with `py-spy dump`.

py-spy reads the target's memory, which the kernel allows only with ptrace rights. Never
`--locals`: local variables may hold passwords and tokens, and a snapshot is a file that
people pass around.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from watchdog.process.environ import public_environ

PROGRAM = "py-spy"
KILL_GRACE = 0.2  # seconds for a killed py-spy to be reaped before the snapshot moves on
MAX_OUTPUT = 1024 * 1024  # a process with thousands of threads must not bloat the file
PTRACE_HINT = (
    "needs ptrace: run as the same user with kernel.yama.ptrace_scope=0, or grant"
    " CAP_SYS_PTRACE, e.g. AmbientCapabilities=CAP_SYS_PTRACE under systemd"
)
NOT_INSTALLED = "py-spy not installed: no stacks (pip install 'watchdog-supervisor[diagnostics]')"
_DENIED = ("permission denied", "operation not permitted", "elevated permissions")


def find_py_spy(configured: str | None) -> str | None:
    """The py-spy to run: as configured (a path, or a name on PATH), else on PATH or beside
    the running Python, where `pip install` into the watchdog's virtualenv puts it."""
    if configured is not None:
        if "/" in configured:
            return configured if os.access(configured, os.X_OK) else None
        return shutil.which(configured)
    beside = Path(sys.executable).parent / PROGRAM
    return shutil.which(PROGRAM) or (str(beside) if os.access(beside, os.X_OK) else None)


def failure_note(pid: int, output: str) -> str:
    """Why py-spy gave no stacks, from its first line, with how to fix missing rights."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    first = lines[0].removeprefix("Error: ") if lines else "no output"
    denied = any(word in output.lower() for word in _DENIED)
    return f"py-spy could not attach to {pid}: {first}" + (f" ({PTRACE_HINT})" if denied else "")


async def _dump(program: str, pid: int, notes: list[str]) -> str | None:
    process = await asyncio.create_subprocess_exec(
        program,
        "dump",
        # Read without stopping the app: no ptrace() (which systemd's @system-service
        # filter refuses), only process_vm_readv; a hung app's stacks hold still anyway.
        "--nonblocking",
        "--pid",
        str(pid),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # Ours, like an alert command: nothing systemd gave us, its error without a backtrace.
        env={
            **public_environ(),
            "RUST_BACKTRACE": "0",
        },
        # A group of its own, so that a timeout can kill whatever it started too; in our
        # session, so that it is never taken for part of the app (reaped, sampled, stopped).
        process_group=0,
    )
    try:
        stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:  # cancelled: the deadline passed
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            # Reaped without reading its pipes: a grandchild may hold them open.
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                await asyncio.shield(process.wait())
    text = stdout[:MAX_OUTPUT].decode("utf-8", "replace")
    if process.returncode != 0:
        notes.append(failure_note(pid, stderr.decode("utf-8", "replace") + "\n" + text))
        return None
    return text


async def dump_stacks(
    program: str, pids: Sequence[int], timeout: float, notes: list[str]
) -> tuple[dict[int, str], list[int]]:
    """Stacks per pid, dumped concurrently, and the pids whose dump ran out of time (killed)."""
    tasks = {pid: asyncio.create_task(_dump(program, pid, notes)) for pid in pids}
    if not tasks:
        return {}, []
    try:
        _, pending = await asyncio.wait(tasks.values(), timeout=max(timeout, 0.0))
    except asyncio.CancelledError:
        for task in tasks.values():  # wait() leaves them running: kill every py-spy too
            task.cancel()
        raise
    for task in pending:
        task.cancel()
    if pending:
        # Cancelled dumps kill their py-spy and reap it; a py-spy stuck in the kernel on a
        # process in D state cannot even die at once, and is left to finish on its own.
        await asyncio.wait(pending, timeout=KILL_GRACE)
    stacks: dict[int, str] = {}
    for pid, task in tasks.items():
        if task in pending:
            continue
        if task.exception() is not None:
            notes.append(f"py-spy could not run for {pid}: {task.exception()}")
        elif (text := task.result()) is not None:
            stacks[pid] = text
    return stacks, [pid for pid, task in tasks.items() if task in pending]
