"""Before the first child: leftovers of an earlier watchdog go, the app's ports are checked
for strangers, and the held socket (app.listen) is made."""

from __future__ import annotations

import os

from watchdog.core.units import format_duration
from watchdog.process.heldsocket import open_listener
from watchdog.process.leftovers import find_leftovers, stop_leftovers
from watchdog.runtime.shell import Shell
from watchdog.sensors.portowner import find_holder, listening_inodes, open_socket_inodes, url_port


class PortTakenError(Exception):
    """The app's port is held by a process that is not the app: nothing is started."""


async def clear_the_way(shell: Shell) -> None:
    """What an earlier watchdog of this app left running (it was SIGKILLed) goes first."""
    leftovers = find_leftovers(shell.mark())
    if not leftovers:
        return
    app = shell.config.app
    shell.emit(
        "leftovers_found",
        level="warning",
        count=len(leftovers),
        pids=[process.pid for process in leftovers],
        action=f"{app.stop_signal.name}, SIGKILL after {format_duration(app.stop_timeout)}",
    )
    report = await stop_leftovers(leftovers, app.stop_signal, app.stop_timeout)
    shell.emit(
        "leftovers_stopped",
        level="error" if report.survivors else "info",
        processes=[f"{pid} {command}" for pid, command in report.stopped],
        sigkilled=report.killed,
        survivors=report.survivors,
    )


def check_ports(shell: Shell) -> None:
    """A stranger on the app's port would answer its probes while every child dies of
    "address already in use": refuse to start instead, naming it."""
    ports: list[tuple[str, int, set[str]]] = []
    listen = shell.config.app.listen
    if listen is not None and listen.port is not None and listen.host is not None:
        ports.append(("app.listen", listen.port, {listen.host}))
    target = url_port(shell.config.health.url)
    if target is not None and (listen is None or listen.path is None):
        ports.append(("health.url", *target))
    ours = open_socket_inodes([os.getpid()])  # e.g. a socket systemd passed us
    for key, port, hosts in ports:
        foreign = listening_inodes(port, hosts) - ours
        if foreign:
            holder = find_holder(foreign, exclude=[os.getpid()])
            raise PortTakenError(
                f"{key}: port {port} is already in use by {holder}, not by the app;"
                " stop it or choose another port"
            )


def listen(shell: Shell) -> None:
    """With app.listen: the socket every child will serve, made once, kept open."""
    spec = shell.config.app.listen
    if spec is not None:
        shell.listener = open_listener(spec, shell.config.app.listen_backlog)
        name = shell.listener.getsockname()
        fd = shell.listener.fileno()
        shell.emit("listening", address=str(spec), socket=str(name), fd=fd)
    shell.answers = shell.new_answer_check()
