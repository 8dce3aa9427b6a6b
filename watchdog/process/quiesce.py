"""Take a child off the held socket before it is told to stop, so that it drops nothing.

An asyncio server (uvicorn, gunicorn's uvicorn worker) accepts until its shutdown begins,
and that shutdown closes at once each connection it accepted but has not read yet: a
client whose request is already sent gets a reset or an empty answer (uvicorn #2757). No
signal, order or delay avoids it: the accepting stops in the same step that closes those
connections. So the watchdog makes the old child stop accepting first, from outside:

1. each registration of the held socket in an epoll instance of the old tree (found in
   /proc/<pid>/fdinfo by the socket's inode) is changed to wait for no event: the old
   child never again sees a connection waiting, and the queue is left to the new child
   (overlap) or to the backlog (stop_start);
2. the watchdog waits, bounded, until no socket of the old tree holds unread bytes: what
   it accepted, it has read;
3. then comes the stop signal, and its shutdown finds only connections it has read.

epoll_ctl names a registration by the socket *and* the fd number the app registered it
under, so a short helper process makes the call, with the app's epoll instance and socket
at that number in its own fd table (the watchdog's table is not touched). The watchdog
takes both from the app with pidfd_getfd, which needs a parent's rights over the app (a
helper, not an ancestor, lacks them under Yama). A tree that waits with select()/poll()
or blocks in accept() has no registration to change and is stopped as before.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import functools
import os
import sys
import termios
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from watchdog.process.tree import tree_of

SETTLE_POLL = 0.01  # seconds between looks at the old tree's unread bytes
HELPER_TIMEOUT = 5.0
_PIDFD_GETFD = 438  # the same number on every architecture Linux has had since 5.6
# Runs with -I -S: argv holds "epoll_fd:socket_fd:number" per registration, the two fds
# passed open. Each line of output says how one registration went, in argv's order.
_HELPER = """\
import fcntl, os, select, sys
specs = [tuple(map(int, arg.split(":"))) for arg in sys.argv[1:]]
floor = max([n for spec in specs for n in spec] + [2]) + 1
def away(fd):  # out of the way of every number about to be taken
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)
    os.close(fd)
    return moved
specs = [(away(ep), away(sock), number) for ep, sock, number in specs]
results = []
for ep, sock, number in specs:
    try:
        saved = fcntl.fcntl(number, fcntl.F_DUPFD_CLOEXEC, floor)
    except OSError:
        saved = None
    try:
        os.dup2(sock, number, inheritable=False)
        select.epoll.fromfd(ep).modify(number, 0)
        results.append("ok")
    except OSError as exc:
        results.append(f"cannot change the registration of fd {number}: {exc.strerror}")
    finally:
        if saved is None:
            os.close(number)
        else:
            os.dup2(saved, number, inheritable=False)
            os.close(saved)
sys.stdout.write("".join(line + "\\n" for line in results))
"""


@dataclass(frozen=True, slots=True)
class Quiesced:
    """What taking the old tree off the socket did."""

    paused: int  # registrations of the socket changed to wait for nothing
    unread: int  # sockets of the tree still holding unread bytes when the wait ended
    took: float  # seconds
    problems: tuple[str, ...] = ()  # why a part could not be done


def registrations(fdinfo: str, inode: int) -> list[int]:
    """The fd numbers under which an epoll instance's fdinfo text watches `inode`."""
    marker = f"ino:{inode:x}"
    numbers = []
    for line in fdinfo.splitlines():
        fields = line.split()
        if fields[:1] == ["tfd:"] and marker in fields and len(fields) > 1:
            numbers.append(int(fields[1]))
    return numbers


def _fds(pid: int, wanted: Callable[[str], bool]) -> list[int]:
    """The fd numbers of `pid` whose /proc link text is `wanted`; none once it is gone."""
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if wanted(os.readlink(entry.path)):
                    found.append(int(entry.name))
    return found


@functools.cache
def _syscall() -> Callable[..., int]:
    import ctypes  # noqa: PLC0415 - imported at the first restart: most runs never need it

    return ctypes.CDLL(None, use_errno=True).syscall


def _take(pidfd: int, fd: int) -> int:
    """A copy of the app's `fd` in our table (close-on-exec), or OSError."""
    import ctypes  # noqa: PLC0415 - loaded by _syscall already

    copy = _syscall()(_PIDFD_GETFD, pidfd, fd, 0)
    if copy < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return copy


def _unread(pidfd: int, fd: int) -> int:
    try:
        copy = _take(pidfd, fd)
    except OSError:
        return 0  # closed meanwhile: nothing left to read
    try:
        count = array.array("i", [0])
        fcntl.ioctl(copy, termios.FIONREAD, count)
        return count[0]
    except OSError:
        return 0
    finally:
        os.close(copy)


def _open_pidfds(pids: Sequence[int]) -> dict[int, int]:
    pidfds = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            pidfds[pid] = os.pidfd_open(pid)
    return pidfds


async def _pause(pidfds: dict[int, int], inode: int, problems: list[str]) -> int:
    """Change every registration of the socket `inode` in these processes to no events."""
    held: list[int] = []
    specs: list[str] = []
    try:
        for pid, pidfd in pidfds.items():
            for epoll_fd in _fds(pid, lambda link: link == "anon_inode:[eventpoll]"):
                try:
                    with open(f"/proc/{pid}/fdinfo/{epoll_fd}") as info:
                        numbers = registrations(info.read(), inode)
                    for number in numbers:
                        epoll_copy = _take(pidfd, epoll_fd)
                        held.append(epoll_copy)
                        socket_copy = _take(pidfd, number)
                        held.append(socket_copy)
                        if os.fstat(socket_copy).st_ino != inode:
                            continue  # the number was reused meanwhile: not ours to change
                        specs.append(f"{epoll_copy}:{socket_copy}:{number}")
                except OSError as exc:
                    problems.append(f"cannot reach the socket in {pid}: {exc.strerror or exc}")
        if not specs:
            return 0
        return await _run_helper(specs, held, problems)
    finally:
        for fd in held:
            os.close(fd)


async def _run_helper(specs: list[str], held: list[int], problems: list[str]) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-I", "-S", "-c", _HELPER, *specs),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        pass_fds=held,
        process_group=0,  # in our session: a helper, never taken for part of the app
    )
    try:
        async with asyncio.timeout(HELPER_TIMEOUT):
            output, _ = await process.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        problems.append(f"the epoll helper did not finish within {HELPER_TIMEOUT:g}s")
        return 0
    lines = output.decode("utf-8", "replace").splitlines()
    problems.extend(sorted({line for line in lines if line != "ok"}))
    return lines.count("ok")


def _still_unread(pidfds: dict[int, int], inode: int) -> int:
    def connection(link: str) -> bool:
        return link.startswith("socket:[") and link != f"socket:[{inode}]"

    return sum(
        _unread(pidfd, fd) > 0 for pid, pidfd in pidfds.items() for fd in _fds(pid, connection)
    )


async def stop_accepting(
    root: int, inode: int, timeout: float, clock: Callable[[], float]
) -> Quiesced:
    """Take the tree of `root` (the old child) off the socket `inode`, then wait until it
    has read what it accepted, at most `timeout` seconds. Never raises: what could not be
    done is in `problems`, and the stop that follows is the usual one."""
    started = clock()
    problems: list[str] = []
    pidfds = _open_pidfds(tree_of(root))
    # A pidfd names one process for good; one whose pid left the tree before it was opened
    # is not ours to touch.
    for pid in set(pidfds) - set(tree_of(root)):
        os.close(pidfds.pop(pid))
    try:
        paused = await _pause(pidfds, inode, problems)
        unread = _still_unread(pidfds, inode) if paused else 0
        while unread and clock() - started < timeout:
            await asyncio.sleep(SETTLE_POLL)
            unread = _still_unread(pidfds, inode)
    except OSError as exc:  # the helper could not even start
        problems.append(f"cannot run the epoll helper: {exc.strerror or exc}")
        paused = unread = 0
    finally:
        for pidfd in pidfds.values():
            os.close(pidfd)
    return Quiesced(paused, unread, clock() - started, tuple(dict.fromkeys(problems)))

