"""app.env_file: systemd's EnvironmentFile= syntax, checked by `check`, values never shown."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from watchdog.cli import main
from watchdog.config import parse
from watchdog.config.envfile import EnvFileError, parse_env_text, read_env_file
from watchdog.config.hostcheck import app_problems

SECRET = "s3cr3t-Value"


@pytest.mark.parametrize(
    ("text", "variables"),
    [
        ("A=1\nB=two\n", {"A": "1", "B": "two"}),
        ("# a comment\n; another\n\n  \nA=1", {"A": "1"}),
        ("  A =  spaced out  \n", {"A": "spaced out"}),
        ("A=inner   space\tkept\n", {"A": "inner   space\tkept"}),
        ('A=" kept "  \n', {"A": " kept "}),
        ("A=' kept '\n", {"A": " kept "}),
        ("A='no \\n escapes $x'\n", {"A": "no \\n escapes $x"}),
        ('A="\\" \\\\ \\` \\$ \\n"\n', {"A": '" \\ ` $ \\n'}),
        ("A='spans\nlines'\nB=2\n", {"A": "spans\nlines", "B": "2"}),
        ('A="spans\nlines"\n', {"A": "spans\nlines"}),
        ("A=joined\\\nline\n", {"A": "joinedline"}),
        ("A=x\\ \n", {"A": "x "}),
        ("A=it\\'s\n", {"A": "it's"}),
        ("A=a=b=c\n", {"A": "a=b=c"}),
        ("A=\nB=\n", {"A": "", "B": ""}),
        ("A=1\nA=2\n", {"A": "2"}),
        ("A=1\r\nB=2\r\n", {"A": "1", "B": "2"}),
        ("no assignment on this line\nA=1\n", {"A": "1"}),
        ("# comment \\\nX=continued comment\nA=1\n", {"A": "1"}),
        ("A=#not a comment\n", {"A": "#not a comment"}),
        ("\ufeffA=1\n", {"A": "1"}),
        ("A=last line without newline", {"A": "last line without newline"}),
    ],
)
def test_systemd_syntax(text: str, variables: dict[str, str]) -> None:
    assert parse_env_text(text) == (variables, [])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f"A=1\n1B={SECRET}\n", "line 2: a name of letters, digits and '_', not led by a digit"),
        (f"A B={SECRET}\n", 'line 1: variable "A": a name followed by " ", not "="'),
        # Another syntax: the text before its first "=" is the value, a secret, not a name.
        (f"DB: pg://u:{SECRET}@db/x?ssl=1\n", 'line 1: variable "DB": a name followed by ":"'),
        (f"API_KEY {SECRET}=\n", 'line 1: variable "API_KEY": a name followed by " "'),
        (f"{SECRET}=\n", "line 1: a name of letters, digits and '_', not led by a digit"),
        (f"export A={SECRET}\n", 'line 1: variable "export A": no `export` in this format'),
        (f"A=1\n\nB=\"{SECRET}\nC=2\n", 'line 3: variable "B": its " quote is never closed'),
        (f"A='{SECRET}", "line 1: variable \"A\": its ' quote is never closed"),
        (f"A={SECRET}\0\n", 'line 1: variable "A": its value is not UTF-8 text without NUL'),
    ],
)
def test_a_bad_line_is_named_by_number_and_variable_never_value(text: str, problem: str) -> None:
    _, problems = parse_env_text(text)
    assert len(problems) == 1
    assert problems[0].startswith(problem)
    assert SECRET not in problems[0]


def test_text_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "env"
    path.write_bytes(b"A=1\nB=" + SECRET.encode() + b"\xff\n")
    with pytest.raises(EnvFileError) as caught:
        read_env_file(path)
    said = f'{path} line 2: variable "B": its value is not UTF-8 text without NUL'
    assert str(caught.value) == said


@pytest.mark.parametrize(
    ("make", "got"),
    [
        (lambda p: None, "(no such file)"),
        (lambda p: p.mkdir(), "(a directory)"),
        (lambda p: p.write_bytes(b"A=" + b"x" * (1024 * 1024)), "(larger than 1024 KB)"),
    ],
)
def test_a_file_that_cannot_be_read_is_named(tmp_path: Path, make, got: str) -> None:
    path = tmp_path / "env"
    make(path)
    with pytest.raises(EnvFileError) as caught:
        read_env_file(path)
    assert str(caught.value) == f"{path} {got}"


@pytest.mark.timeout(10)
def test_a_fifo_or_device_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    # Opening a FIFO for reading blocks until someone writes: `check` and the spawn hung.
    fifo = tmp_path / "env"
    os.mkfifo(fifo)
    with pytest.raises(EnvFileError) as caught:
        read_env_file(fifo)
    assert str(caught.value) == f"{fifo} (not a regular file)"
    with pytest.raises(EnvFileError) as caught:
        read_env_file(Path("/dev/zero"))
    assert str(caught.value) == "/dev/zero (not a regular file)"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "env"
    path.write_text("A=1\n")
    path.chmod(0o200)
    with pytest.raises(EnvFileError, match="permission denied"):
        read_env_file(path)


def _check(tmp_path: Path, env_file: str, **app: object) -> tuple[int, str]:
    config = tmp_path / "watchdog.yaml"
    lines = [f"  {key}: {value}" for key, value in app.items()]
    config.write_text(
        "app:\n  command: [\"{python}\", -c, pass]\n"
        f"  env_file: {env_file}\n" + "\n".join(lines) + "\n"
    )
    result = CliRunner().invoke(main, ["check", "--config", str(config)])
    return result.exit_code, result.output


def test_check_fails_on_a_missing_or_bad_file_naming_key_file_and_line(tmp_path: Path) -> None:
    code, output = _check(tmp_path, "missing.env")
    assert code == 2
    assert (
        "app.env_file: expected a readable file of NAME=value lines (systemd EnvironmentFile=),"
        f" got {tmp_path / 'missing.env'} (no such file)" in output
    )
    (tmp_path / "bad.env").write_text(f"OK=1\nexport TOKEN={SECRET}\n")
    code, output = _check(tmp_path, "bad.env")
    assert code == 2
    assert f'{tmp_path / "bad.env"} line 2: variable "export TOKEN"' in output
    assert SECRET not in output


def test_check_passes_a_good_file_and_shows_its_path_never_its_values(tmp_path: Path) -> None:
    (tmp_path / "good.env").write_text(f"TOKEN={SECRET}\n")
    code, output = _check(tmp_path, "good.env")
    assert code == 0, output
    assert f"env_file: {tmp_path / 'good.env'}" in output
    assert SECRET not in output
    assert "TOKEN" not in output


def test_the_files_path_finds_the_command(tmp_path: Path) -> None:
    """A PATH set in the file is where the command is looked up, unless app.env sets one."""
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "serve").write_text("#!/bin/sh\n")
    (tools / "serve").chmod(0o755)
    (tmp_path / "env").write_text(f"PATH={tools}\n")
    app = parse({"app": {"command": ["serve"], "env_file": "env"}}, tmp_path, sys.executable).app
    assert app_problems(app, {"PATH": "/nonexistent"}) == []
    app = parse(
        {"app": {"command": ["serve"], "env_file": "env", "env": {"PATH": "/nonexistent"}}},
        tmp_path,
        sys.executable,
    ).app
    [(key, expected, _)] = app_problems(app, {})
    assert (key, expected) == ("command", "a program found on app.env's PATH")
