"""app.listen: parsing, the config rules around it, and seeing a process accept."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import poll
from watchdog.config import ConfigError, parse
from watchdog.config.listen import ListenSpec, listen_spec
from watchdog.process.heldsocket import (
    ListenError,
    accepting,
    open_listener,
    socket_inode,
    with_socket,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8000", ListenSpec(host="127.0.0.1", port=8000)),
        ("localhost:8000", ListenSpec(host="127.0.0.1", port=8000)),
        ("0.0.0.0:80", ListenSpec(host="0.0.0.0", port=80)),
        ("[::1]:8000", ListenSpec(host="::1", port=8000)),
        ("unix:/run/api.sock", ListenSpec(path=Path("/run/api.sock"))),
        ("/run/api.sock", ListenSpec(path=Path("/run/api.sock"))),
        ("systemd", ListenSpec(from_systemd=True)),
    ],
)
def test_listen_spec_accepts(text: str, expected: ListenSpec) -> None:
    assert listen_spec(text) == expected
    assert listen_spec(str(expected)) == expected  # what `check` shows reads back the same


@pytest.mark.parametrize(
    "text",
    [
        "8000",
        "127.0.0.1",
        "127.0.0.1:0",
        "127.0.0.1:70000",
        "example.com:80",
        "unix:rel.sock",
        "unix:/" + "x" * 120,
        "",
        8000,
    ],
)
def test_listen_spec_rejects(text: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - Section turns it into the message
        listen_spec(text)


def _parse(app: dict, **sections: dict) -> object:
    return parse({"app": {"command": ["api"], **app}, **sections}, Path("."))


def test_fd_placeholder_becomes_3() -> None:
    config = _parse({"command": ["uvicorn", "m:app", "--fd", "{fd}"], "listen": "127.0.0.1:1"})
    assert config.app.command == ("uvicorn", "m:app", "--fd", "3")


def test_fd_placeholder_without_listen_is_an_error() -> None:
    with pytest.raises(ConfigError) as raised:
        _parse({"command": ["uvicorn", "--fd", "{fd}"]})
    assert "app.command: expected app.listen to be set when the command uses {fd}" in str(
        raised.value
    )


def test_overlap_needs_a_held_socket() -> None:
    with pytest.raises(ConfigError) as raised:
        _parse({}, restart={"strategy": "overlap"})
    assert "restart.strategy: expected stop_start, or app.listen set" in str(raised.value)
    assert _parse({"listen": "127.0.0.1:1"}, restart={"strategy": "overlap"})


def test_bad_listen_names_key_value_and_expectation() -> None:
    with pytest.raises(ConfigError) as raised:
        _parse({"listen": "example.com:80"})
    assert str(raised.value) == (
        "app.listen: expected an address like 127.0.0.1:8000 or [::1]:8000, unix:/path/to.sock,"
        ' or systemd, got "example.com:80"'
    )


def test_address_in_use_is_a_clear_error() -> None:
    """The error names the key, as metrics.listen's does: app.listen: cannot listen on ..."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(
            ListenError, match=rf"^app\.listen: cannot listen on 127.0.0.1:{port}: "
        ):
            open_listener(ListenSpec(host="127.0.0.1", port=port), 16)


def test_systemd_without_a_socket_is_a_clear_error() -> None:
    with pytest.raises(ListenError, match=r"^app\.listen is systemd, but systemd passed no socket"):
        open_listener(ListenSpec(from_systemd=True), 16)


def test_a_regular_file_at_the_socket_path_is_named_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "api.sock"
    path.write_text("somebody's data\n")
    with pytest.raises(ListenError, match=r"^app\.listen: .* it exists and is not a socket"):
        open_listener(ListenSpec(path=path), 16)
    assert path.read_text() == "somebody's data\n"


def test_stale_unix_socket_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "api.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: what a killed run leaves
    held = open_listener(ListenSpec(path=path), 16)
    try:
        assert held.getsockname() == str(path)
        assert path.stat().st_mode & 0o777 == 0o660
    finally:
        held.close()


def test_accepting_sees_a_thread_blocked_in_accept() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        inode = socket_inode(server)
        assert not accepting([os.getpid()], inode)
        threading.Thread(target=server.accept, daemon=True).start()
        poll(lambda: accepting([os.getpid()], inode), timeout=5)
        socket.create_connection(server.getsockname()).close()  # lets the thread finish


def test_accepting_sees_an_event_loop_waiting_on_the_socket() -> None:
    code = (
        "import asyncio, socket, sys\n"
        "async def main():\n"
        "    sock = socket.socket(fileno=3)\n"
        "    await asyncio.start_server(lambda r, w: None, sock=sock)\n"
        "    print('serving', flush=True)\n"
        "    await asyncio.sleep(30)\n"
        "asyncio.run(main())\n"
    )
    with socket.create_server(("127.0.0.1", 0)) as server:
        inode = socket_inode(server)
        waiting = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        serving = subprocess.Popen(
            with_socket((sys.executable, "-c", code), server.fileno(), "http"),
            pass_fds=(server.fileno(),),
            stdout=subprocess.PIPE,
        )
        try:
            assert not accepting([waiting.pid], inode)
            assert serving.stdout is not None
            assert serving.stdout.readline() == b"serving\n"
            assert accepting([serving.pid], inode)
        finally:
            for process in (waiting, serving):
                process.kill()
                process.wait()


def test_the_app_gets_fd_3_and_its_own_pid_in_listen_pid() -> None:
    code = (
        "import json, os, socket\n"
        "sock = socket.socket(fileno=3)\n"
        "print(json.dumps({'pid': os.getpid(), 'env': {k: os.environ.get(k) for k in"
        " ('LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES')}, 'name': sock.getsockname(),"
        " 'fds': sorted(int(f) for f in os.listdir('/proc/self/fd'))}))\n"
    )
    with socket.create_server(("127.0.0.1", 0)) as server:
        child = subprocess.run(
            with_socket((sys.executable, "-c", code), server.fileno(), "api"),
            pass_fds=(server.fileno(),),
            capture_output=True,
            check=True,
        )
        seen = json.loads(child.stdout)
        assert seen["env"] == {
            "LISTEN_FDS": "1",
            "LISTEN_PID": str(seen["pid"]),
            "LISTEN_FDNAMES": "api",
        }
        assert tuple(seen["name"]) == server.getsockname()
        assert server.fileno() == 3 or server.fileno() not in seen["fds"]  # no stray copy


def test_missing_command_fails_as_a_shim_exit_127() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        child = subprocess.run(
            with_socket(("no-such-command-here",), server.fileno(), "api"),
            pass_fds=(server.fileno(),),
            capture_output=True,
            check=False,
        )
    assert child.returncode == 127
    assert b"cannot start no-such-command-here" in child.stderr
