"""Who listens on a TCP port: the app's tree, the watchdog's held socket, or a stranger.

An answer on the health URL proves the app healthy only if the app is what answered. A
stranger on the port (a leftover worker, another server) answers just as well while every
new child dies of "address already in use"; so the listening sockets behind the port are
traced to the processes that hold them, from /proc.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from watchdog.process.environ import command_line
from watchdog.sensors.listeners import tcp_listeners

LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's `st` column
PROC_NET = ("/proc/net/tcp", "/proc/net/tcp6")
SEARCH_SECONDS = 1.0  # the most a search of every process for a socket may take


@dataclass(frozen=True, slots=True)
class Stranger:
    """A process, not the app's, that holds a listening socket on the port."""

    pid: int | None  # None: held by a process whose descriptors we may not read
    command: str

    def __str__(self) -> str:
        if self.pid is None:
            return self.command
        return f"pid {self.pid} ({self.command})"


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """/proc/net/tcp's address: 32-bit words in the host's byte order."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(words) == 4:
        return ipaddress.IPv4Address(words)
    return ipaddress.IPv6Address(words)


def _reaches(listening: ipaddress.IPv4Address | ipaddress.IPv6Address, hosts: set[str]) -> bool:
    """Whether a socket bound to `listening` takes connections for one of `hosts`."""
    if not hosts or listening.is_unspecified:
        return True
    mapped = getattr(listening, "ipv4_mapped", None)
    return str(listening) in hosts or (mapped is not None and str(mapped) in hosts)


def listening_inodes(port: int, hosts: Iterable[str] = ()) -> set[int]:
    """Inodes of the sockets listening on `port` that connections to `hosts` reach."""
    wanted = set(hosts)
    try:
        return {
            inode
            for address, its_port, inode in tcp_listeners()
            if its_port == port and _reaches(address, wanted)
        }
    except OSError:
        return proc_listening_inodes(port, wanted)


def proc_listening_inodes(port: int, wanted: set[str]) -> set[int]:
    """The same from /proc/net/tcp, where netlink is not to be had: dearer (see listeners)."""
    found: set[int] = set()
    for table in PROC_NET:
        with contextlib.suppress(OSError), open(table, encoding="ascii") as lines:
            next(lines, None)  # the header
            for line in lines:
                fields = line.split()
                if len(fields) < 10:
                    continue
                if fields[3] != LISTEN:
                    # The kernel lists its listening hash first: past it, no more listeners.
                    break
                address, _, hex_port = fields[1].partition(":")
                if int(hex_port, 16) == port and _reaches(_address(address), wanted):
                    found.add(int(fields[9]))
    return found


def open_socket_inodes(pids: Iterable[int]) -> set[int]:
    """Inodes of every socket open in `pids` (a process that is gone holds none)."""
    found: set[int] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for entry in os.scandir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(entry.path)
                    if target.startswith("socket:["):
                        found.add(int(target[8:-1]))
    return found


def find_holder(inodes: set[int], exclude: Iterable[int] = ()) -> Stranger:
    """The process holding one of `inodes`, searched for among all, for a bounded time."""
    skip = set(exclude)
    deadline = time.monotonic() + SEARCH_SECONDS
    unreadable = False
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) in skip:
                continue
            if time.monotonic() > deadline:
                break
            pid = int(entry.name)
            try:
                descriptors = os.listdir(f"/proc/{pid}/fd")
            except PermissionError:
                unreadable = True
                continue
            except OSError:
                continue
            for fd in descriptors:
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                        return Stranger(pid, command_line(pid))
    if unreadable:
        return Stranger(None, "a process of another user (its descriptors are not readable)")
    return Stranger(None, "a process that could not be found")


def url_port(url: str) -> tuple[int, set[str]] | None:
    """The health URL's port and the addresses it names; None when it is not on this host.

    A host name other than localhost is not resolved (no resolver in the watchdog's path):
    its port is matched on every address.
    """
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname or ""
    if port is None:
        return None
    if host == "localhost":
        return port, {"127.0.0.1", "::1"}
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return port, set()
    local = address.is_loopback or address.is_unspecified or _is_local(address)
    return (port, {str(address)}) if local else None


def _is_local(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    import psutil  # noqa: PLC0415 - only for a health URL on a non-loopback address

    with contextlib.suppress(OSError):
        for addresses in psutil.net_if_addrs().values():
            if any(item.address.split("%")[0] == str(address) for item in addresses):
                return True
    return False


class AnswerCheck:
    """Whether the health URL's port is served by the app: its tree, or the held socket.

    Sockets once found in the tree are remembered, so a steady app costs one sock_diag dump
    of the kernel's listening sockets per answered probe.
    """

    def __init__(self, url: str, held_inode: int | None = None) -> None:
        self.target = url_port(url)
        self._held = held_inode
        self._ours: set[int] = set()
        # The last stranger found, by its sockets: a search of every process is not redone
        # for each of the probes it answers (every startup_interval, while the app boots).
        self._last: tuple[frozenset[int], Stranger] | None = None

    def forget(self) -> None:
        """A new child: what the old tree held proves nothing about the new one."""
        self._ours.clear()

    def stranger(self, tree: Callable[[], Iterable[int]]) -> Stranger | None:
        """The stranger serving the port, if any; None when the app is all that listens.

        `tree` lists the app's pids; it is called only when a socket is not known yet, so
        a steady app's probe does not walk its tree.
        """
        if self.target is None:
            return None  # not on this host: nothing here can be traced
        port, hosts = self.target
        listening = listening_inodes(port, hosts)
        unknown = listening - self._ours - {self._held}
        if not unknown:
            return None
        pids = list(tree())
        self._ours |= unknown & open_socket_inodes(pids)
        foreign = frozenset(unknown - self._ours)
        if not foreign:
            return None
        if self._last is None or self._last[0] != foreign:
            self._last = (foreign, find_holder(set(foreign), exclude=[os.getpid(), *pids]))
        return self._last[1]
