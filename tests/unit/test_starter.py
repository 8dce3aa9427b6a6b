"""`watchdog init`'s reading of a command line: uvicorn and gunicorn behind a held socket."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from watchdog.config import parse
from watchdog.config.starter import DEMO, PLACEHOLDER_URL, recognise, render


@pytest.mark.parametrize(
    ("words", "command", "listen", "url"),
    [
        (
            "uvicorn main:app --host 127.0.0.1 --port 8001 --workers 2",
            ["uvicorn", "main:app", "--workers", "2", "--fd", "{fd}"],
            "127.0.0.1:8001",
            "http://127.0.0.1:8001/health",
        ),
        (
            "uvicorn main:app",  # uvicorn's own defaults
            ["uvicorn", "main:app", "--fd", "{fd}"],
            "127.0.0.1:8000",
            "http://127.0.0.1:8000/health",
        ),
        (
            "/srv/venv/bin/uvicorn app.main:app --host=0.0.0.0 --port=9000",
            ["/srv/venv/bin/uvicorn", "app.main:app", "--fd", "{fd}"],
            "0.0.0.0:9000",
            "http://127.0.0.1:9000/health",  # probed on loopback, not "every address"
        ),
        (
            "python3 -m uvicorn main:app --host ::1 --port 8002",
            ["python3", "-m", "uvicorn", "main:app", "--fd", "{fd}"],
            "[::1]:8002",
            "http://[::1]:8002/health",
        ),
        (
            "uvicorn main:app --uds /run/api.sock",
            ["uvicorn", "main:app", "--fd", "{fd}"],
            "unix:/run/api.sock",
            "http://localhost/health",
        ),
        (
            "gunicorn -b 127.0.0.1:8003 -w 4 app.wsgi:app",
            ["gunicorn", "-w", "4", "app.wsgi:app"],  # no bind: LISTEN_FDS
            "127.0.0.1:8003",
            "http://127.0.0.1:8003/health",
        ),
        (
            "gunicorn --bind=localhost:8004 app.wsgi:app",
            ["gunicorn", "app.wsgi:app"],
            "127.0.0.1:8004",
            "http://127.0.0.1:8004/health",
        ),
        (
            "gunicorn --bind [::]:8005 -k uvicorn.workers.UvicornWorker app.main:app",
            ["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "app.main:app"],
            "[::]:8005",
            "http://[::1]:8005/health",
        ),
        (
            "gunicorn -b0.0.0.0:8006 app.wsgi:app",
            ["gunicorn", "app.wsgi:app"],
            "0.0.0.0:8006",
            "http://127.0.0.1:8006/health",
        ),
        (
            "gunicorn app.wsgi:app",  # gunicorn's default bind
            ["gunicorn", "app.wsgi:app"],
            "127.0.0.1:8000",
            "http://127.0.0.1:8000/health",
        ),
    ],
)
def test_servers_get_the_held_socket(
    words: str, command: list[str], listen: str, url: str
) -> None:
    starter = recognise([words])  # one quoted string, split as a shell would
    assert (starter.command, starter.listen, starter.url) == (command, listen, url)
    assert not starter.placeholder
    assert recognise(words.split()) == starter


@pytest.mark.parametrize(
    ("words", "note"),
    [
        ("python3 app.py --port 8000", None),
        ("node server.js", None),
        ("uvicorn main:app --fd 3", "uvicorn: it serves a socket it is given already (--fd)"),
        ("uvicorn main:app --host api.internal", "not an IP address"),
        ("uvicorn main:app --port eighty", "is not a port number"),
        ("gunicorn -b 127.0.0.1:1 -b 127.0.0.1:2 app:app", "binds 2 addresses"),
        ("gunicorn --bind fd://3 app:app", "given already"),
        ("gunicorn --bind", "--bind without a value"),
    ],
)
def test_anything_else_is_a_plain_command_with_a_placeholder(words: str, note: str | None) -> None:
    starter = recognise(words.split())
    assert (starter.server, starter.listen, starter.url) == (None, None, PLACEHOLDER_URL)
    assert starter.command == words.split()  # as given
    assert starter.placeholder
    assert (starter.note is None) if note is None else (note in str(starter.note))


def test_no_command_is_the_bundled_demo() -> None:
    starter = recognise([])
    assert starter.command == DEMO
    assert not starter.placeholder  # the demo does answer there


def test_health_path() -> None:
    assert recognise(["uvicorn", "m:app"], "/healthz").url == "http://127.0.0.1:8000/healthz"


def test_name_from_the_module() -> None:
    assert recognise(["gunicorn", "app.wsgi:application"]).name == "app.wsgi"
    assert recognise(["python3", "app.py"]).name == "api"


@pytest.mark.parametrize(
    "words",
    [
        ["uvicorn", "main:app", "--port", "8001"],
        ["gunicorn", "-b", "unix:/run/api.sock", "app:app"],
        ["python3", "it's here.py"],  # a quote and a space survive the YAML
        [],
    ],
)
def test_what_it_writes_parses_to_the_same(words: list[str]) -> None:
    starter = recognise(words)
    text = render(starter, "/srv/app")
    config = parse(yaml.safe_load(text), base_dir=Path("/srv/app"), python="/usr/bin/python3")
    given = {"{python}": "/usr/bin/python3", "{fd}": "3"}  # as parse fills them in
    expected = [given.get(w, w) for w in starter.command]
    assert list(config.app.command) == expected
    assert config.health.url == starter.url
    assert (str(config.app.listen) if config.app.listen else None) == starter.listen
    assert ("EDIT THIS" in text) is starter.placeholder
