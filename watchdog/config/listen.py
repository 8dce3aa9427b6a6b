"""Addresses: where the socket held for the app listens (app.listen), and metrics.listen."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from watchdog.config import convert

SYSTEMD = "systemd"
UNIX_PREFIX = "unix:"


@dataclass(frozen=True, slots=True)
class ListenSpec:
    """Where the app's socket listens: a TCP address, a unix socket path, or from systemd."""

    host: str | None = None
    port: int | None = None
    path: Path | None = None
    from_systemd: bool = False

    def __str__(self) -> str:
        if self.from_systemd:
            return SYSTEMD
        if self.path is not None:
            return f"{UNIX_PREFIX}{self.path}"
        assert self.host is not None
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def listen_spec(value: object) -> ListenSpec:
    """host:port, [v6]:port, unix:/path (or an absolute path), or `systemd`."""
    text = convert.nonempty_text(value).strip()
    if text == SYSTEMD:
        return ListenSpec(from_systemd=True)
    if text.startswith((UNIX_PREFIX, "/")):
        path = text.removeprefix(UNIX_PREFIX)
        if not path.startswith("/") or len(path.encode()) > 107:  # sun_path holds 108
            raise ValueError
        return ListenSpec(path=Path(path))
    host, port = _host_port(text)
    return ListenSpec(host=host, port=port)


def listen_address(value: object) -> ListenAddress:
    """host:port, [v6]:port; the host must be an IP address (no resolver at start-up)."""
    return ListenAddress(*_host_port(convert.nonempty_text(value).strip()))


def _host_port(text: str) -> tuple[str, int]:
    host, separator, port_text = text.rpartition(":")
    if not separator or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError
    host = host.removeprefix("[").removesuffix("]") if host.startswith("[") else host
    if host == "localhost":
        host = "127.0.0.1"
    ipaddress.ip_address(host)  # no resolver at start-up: an address, or ValueError
    return host, int(port_text)
