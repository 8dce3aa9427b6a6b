"""The app's listening socket, held by the watchdog so that no restart refuses a connection.

The watchdog binds and listens once; every child gets the same socket the way systemd's
socket activation passes one (fd 3, LISTEN_FDS=1, LISTEN_PID=its own pid). While no child
accepts, connections wait in the kernel's backlog instead of being refused.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import stat
import sys
from pathlib import Path

from watchdog.config.listen import ListenSpec

LISTEN_FDS_START = 3  # SD_LISTEN_FDS_START: where socket activation puts the first socket
KEY = "app.listen"  # named in every error, as metrics.listen's are
# The exec step between fork and the app: LISTEN_PID must be the app's own pid, which only
# the process that will exec the app knows. Self-contained, so it runs with `-I -S`.
_SHIM = """\
import os, sys
held = int(sys.argv[1])
if held != 3:
    os.dup2(held, 3)
    os.close(held)
os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES=sys.argv[2])
try:
    os.execvp(sys.argv[3], sys.argv[3:])
except OSError as exc:
    sys.stderr.write(f"watchdog: cannot start {sys.argv[3]}: {exc}\\n")
    os._exit(127)
"""


class ListenError(Exception):
    """The socket could not be made: address in use, no permission, nothing inherited."""


def inherited_sockets() -> list[socket.socket]:
    """Sockets systemd passed to us (sd_listen_fds), taken once: the variables are unset."""
    try:
        ours = int(os.environ.get("LISTEN_PID", "")) == os.getpid()
        count = int(os.environ.get("LISTEN_FDS", "")) if ours else 0
    except ValueError:
        count = 0
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    found = []
    for fd in range(LISTEN_FDS_START, LISTEN_FDS_START + count):
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.set_inheritable(fd, False)  # passed on only on purpose, to the app
                found.append(socket.socket(fileno=fd))
    return found


def _same_address(sock: socket.socket, spec: ListenSpec) -> bool:
    with contextlib.suppress(OSError):
        if spec.path is not None:
            return sock.family == socket.AF_UNIX and sock.getsockname() == str(spec.path)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host, port = sock.getsockname()[:2]
            return port == spec.port and ipaddress.ip_address(host) == ipaddress.ip_address(
                spec.host or ""
            )
    return False


def open_listener(spec: ListenSpec, backlog: int) -> socket.socket:
    """The app's socket: inherited from systemd when it matches, else bound here."""
    inherited = inherited_sockets()
    if spec.from_systemd:
        if not inherited:
            raise ListenError(f"{KEY} is systemd, but systemd passed no socket (LISTEN_FDS)")
        chosen = inherited[0]
    else:
        chosen = next((s for s in inherited if _same_address(s, spec)), None) or _bind(
            spec, backlog
        )
    for unused in inherited:
        if unused is not chosen:
            unused.close()
    return chosen


def _bind(spec: ListenSpec, backlog: int) -> socket.socket:
    if spec.path is not None:
        if spec.path.exists() and not stat.S_ISSOCK(spec.path.lstat().st_mode):
            raise ListenError(f"{KEY}: cannot listen on {spec}: it exists and is not a socket")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        _remove_stale(spec.path)
        address: object = str(spec.path)
    else:
        assert spec.host is not None
        family = socket.AF_INET6 if ":" in spec.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        # A restart of the watchdog must not wait out TIME_WAIT of the last run's connections.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        address = (spec.host, spec.port)
    # A unix socket file is made 0660 from the start: the app's clients connect, nobody else.
    # (Start-up runs no other thread that could create a file meanwhile.)
    umask = os.umask(0o117) if spec.path is not None else None
    try:
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise ListenError(f"{KEY}: cannot listen on {spec}: {exc.strerror or exc}") from None
    finally:
        if umask is not None:
            os.umask(umask)
    return sock


def _remove_stale(path: Path) -> None:
    """A socket file left by a previous run is removed; one somebody listens on is not."""
    with contextlib.suppress(OSError):
        if not stat.S_ISSOCK(path.lstat().st_mode):
            return
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except ConnectionRefusedError:
            path.unlink()
        finally:
            probe.close()


def close_listener(sock: socket.socket, spec: ListenSpec) -> None:
    if spec.path is not None and not spec.from_systemd:
        with contextlib.suppress(OSError):
            if _same_address(sock, spec):
                spec.path.unlink()
    sock.close()


def with_socket(command: tuple[str, ...], held_fd: int, name: str) -> list[str]:
    """The command line that starts the app with the held socket as fd 3."""
    return [sys.executable, "-I", "-S", "-c", _SHIM, str(held_fd), name, *command]


def socket_inode(sock: socket.socket) -> int:
    return os.fstat(sock.fileno()).st_ino


def accepting(pids: list[int], inode: int) -> bool:
    """Whether one of `pids` waits for connections on the socket with `inode`.

    An event loop (asyncio, uvloop, gevent) registers the socket with epoll once the app
    is ready to serve: the epoll instance's fdinfo lists it by inode. A thread blocked in
    accept() shows it in its wchan. A server that polls with select()/poll() shows
    neither, and is never seen as accepting.
    """
    marker = f"ino:{inode:x} "
    for pid in pids:
        with contextlib.suppress(OSError):
            for entry in os.scandir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(entry.path) != "anon_inode:[eventpoll]":
                        continue
                    with open(f"/proc/{pid}/fdinfo/{entry.name}") as info:
                        watched = [line for line in info if line.startswith("tfd:")]
                    if any(marker in line for line in watched):
                        return True
            for task in os.scandir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError), open(f"{task.path}/wchan") as wchan:
                    if "accept" in wchan.read():
                        return True
    return False
