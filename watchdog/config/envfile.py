"""app.env_file: variables read from a systemd EnvironmentFile-style file.

The syntax is systemd's (systemd.exec(5), EnvironmentFile=): KEY=VALUE lines; blank lines,
lines starting with `#` or `;` and lines without `=` are skipped; whitespace around the key
and the value is dropped; an unquoted value keeps its inner whitespace and takes `\\` as an
escape (a `\\` at the end of a line joins the next one); a '...' value is taken verbatim
and may span lines; a "..." value may span lines and unescapes only \\" \\\\ \\` \\$.
Where systemd skips an assignment with a warning (a name that is not one, text that is not
UTF-8) or reads a quote that is never closed to the end of the file, this is an error: a
variable the app silently lacks is found by `watchdog check`, not by the app.

The values are secrets: a problem names the file, the line and the variable, never a value.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.config.reader import show

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LEADING_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)[\s:]")
WHITESPACE = " \t\n\r"
NEWLINE = "\n\r"
COMMENTS = "#;"
ESCAPED_IN_DOUBLE_QUOTES = '"\\`$'
MAX_BYTES = 1024 * 1024  # a file of secrets, not a data set: a wrong path must not fill memory


class EnvFileError(Exception):
    """The file cannot be read or has a bad line; the message never holds a value."""


@dataclass
class _Assignment:
    line: int  # where its name starts, counted from 1
    key: str
    value: list[str] = field(default_factory=list)
    quote: str = ""  # the quote still open, if any


def parse_env_text(text: str) -> tuple[dict[str, str], list[str]]:
    """The variables of an environment file's text, and its problems ("line N: ...")."""
    variables: dict[str, str] = {}
    problems: list[str] = []
    for assignment in _assignments(text.removeprefix("\ufeff")):
        where = f"line {assignment.line}: variable {show(assignment.key)}"
        value = "".join(assignment.value)
        if assignment.key.startswith("export ") and NAME.fullmatch(assignment.key[7:].strip()):
            problems.append(f"{where}: no `export` in this format (write NAME=value)")
        elif not NAME.fullmatch(assignment.key):
            problems.append(f"line {assignment.line}: {_not_a_name(assignment.key)}")
        elif assignment.quote:
            problems.append(f"{where}: its {assignment.quote} quote is never closed")
        elif "\0" in value or "\ufffd" in value or re.search(r"[\ud800-\udfff]", value):
            problems.append(f"{where}: its value is not UTF-8 text without NUL")
        else:
            variables[assignment.key] = value
    return variables, problems


def _not_a_name(key: str) -> str:
    """Why the text before a line's first `=` is no name, quoting a name at most: in another
    syntax (`KEY: value`, `KEY value`) that text holds the value, a secret, or part of it."""
    found = LEADING_NAME.match(key)
    if found is None:
        return "a name of letters, digits and '_', not led by a digit (the text is not shown)"
    after = show(key[found.end() - 1])
    return f'variable {show(found[1])}: a name followed by {after}, not "=" (the rest is not shown)'


class _Machine:
    """systemd's env-file state machine, fed one character at a time."""

    def __init__(self) -> None:
        self.found: list[_Assignment] = []
        self.state = "pre_key"
        self.key = ""
        self.line = self.start = 1
        self.current = _Assignment(0, "")
        self.trailing = 0  # unescaped whitespace ending an unquoted value: dropped at its end

    def feed(self, char: str) -> None:
        getattr(self, self.state)(char)
        if char == "\n":
            self.line += 1

    def close(self) -> None:
        """The end of the text: a value still open ends there."""
        if self.state not in ("pre_key", "key_", "comment", "comment_escape"):
            self._push()

    def _push(self) -> None:
        if self.trailing:
            del self.current.value[-self.trailing :]
        self.found.append(self.current)
        self.state = "pre_key"

    def pre_key(self, char: str) -> None:
        if char in COMMENTS:
            self.state = "comment"
        elif char not in WHITESPACE:
            self.state, self.key, self.start = "key_", char, self.line

    def key_(self, char: str) -> None:
        if char in NEWLINE:
            self.state = "pre_key"  # a line without "=": skipped, as systemd does
        elif char == "=":
            self.current = _Assignment(self.start, self.key.rstrip(WHITESPACE))
            self.state, self.trailing = "pre_value", 0
        else:
            self.key += char

    def pre_value(self, char: str) -> None:
        if char in NEWLINE:
            self._push()
        elif char in "'\"":
            self.state, self.current.quote = "quoted", char
        elif char == "\\":
            self.state = "escape"
        elif char not in WHITESPACE:
            self.state = "value"
            self.current.value.append(char)

    def value(self, char: str) -> None:
        if char in NEWLINE:
            self._push()
        elif char == "\\":
            self.state, self.trailing = "escape", 0
        else:
            self.current.value.append(char)
            self.trailing = self.trailing + 1 if char in WHITESPACE else 0

    def escape(self, char: str) -> None:
        self.state = "value"
        if char not in NEWLINE:  # a backslash-newline joins the lines
            self.current.value.append(char)

    def quoted(self, char: str) -> None:
        if char == self.current.quote:
            self.state, self.current.quote = "pre_value", ""
        elif char == "\\" and self.current.quote == '"':
            self.state = "quoted_escape"
        else:
            self.current.value.append(char)

    def quoted_escape(self, char: str) -> None:
        self.state = "quoted"
        if char in ESCAPED_IN_DOUBLE_QUOTES:
            self.current.value.append(char)
        elif char != "\n":
            self.current.value.extend(("\\", char))

    def comment(self, char: str) -> None:
        if char == "\\":
            self.state = "comment_escape"
        elif char in NEWLINE:
            self.state = "pre_key"

    def comment_escape(self, _char: str) -> None:
        self.state = "comment"  # a backslash-newline carries the comment on


def _assignments(text: str) -> list[_Assignment]:
    machine = _Machine()
    for char in text:
        machine.feed(char)
    machine.close()
    return machine.found


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of the file at `path`; EnvFileError naming the file and the line."""
    try:
        # Non-blocking: a FIFO's open would wait for a writer, and `check` or a spawn with it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, "rb", closefd=True) as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise IsADirectoryError
            if not stat.S_ISREG(mode):
                raise EnvFileError(f"{path} (not a regular file)")
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise EnvFileError(f"{path} (no such file)") from None
    except IsADirectoryError:
        raise EnvFileError(f"{path} (a directory)") from None
    except OSError as exc:
        raise EnvFileError(f"{path} ({(exc.strerror or type(exc).__name__).lower()})") from None
    if len(data) > MAX_BYTES:
        raise EnvFileError(f"{path} (larger than {MAX_BYTES // 1024} KB)")
    variables, problems = parse_env_text(data.decode("utf-8", "replace"))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise EnvFileError(f"{path} {problems[0]}{more}")
    return variables
