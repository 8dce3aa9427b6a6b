"""A config file of any content is read in bounded time and memory, into a ConfigError at worst."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from watchdog.config import ConfigError, effective, load, parse
from watchdog.config.file import MAX_BYTES, MAX_DEPTH, MAX_VALUES, read_yaml
from watchdog.config.reader import MAX_PROBLEMS, show


def _bomb() -> str:
    """9 levels of 9 aliases: 9**9 (387 million) strings, in under 400 bytes."""
    lines = ["a: &a [" + ",".join(['"lol"'] * 9) + "]"]
    for below, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{below}"] * 9) + "]")
    return "\n".join(lines) + "\n"


BOMB = _bomb()


def problems_in(path: Path, text: str) -> tuple[str, ...]:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    return caught.value.problems


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "tail",
    [
        "app: {command: [x]}\nhealth: {interval: *i}\n",  # shown in an error message
        "app: {command: *i}\n",  # walked by a converter
        "app: {command: [x]}\nunused: *i\n",  # never read at all
    ],
)
def test_an_alias_bomb_is_refused_where_it_is(tmp_path: Path, tail: str) -> None:
    """A 9**9 alias bomb is one problem naming its line, not minutes and gigabytes."""
    path = tmp_path / "cfg.yaml"
    assert len(BOMB) < 400  # as small as the file that showed it
    problems = problems_in(path, BOMB + tail)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:")
    assert (
        f"more than {MAX_VALUES} values, counting each YAML alias as what it names" in (problems[0])
    )


def test_a_modest_alias_expansion_is_refused_too(tmp_path: Path) -> None:
    """Six levels (531 441 strings) are refused as well, whoever would read them."""
    text = "".join(BOMB.splitlines(keepends=True)[:6]) + "app: {command: [x]}\n"
    problems = problems_in(tmp_path / "cfg.yaml", text)
    assert "counting each YAML alias as what it names" in problems[0]


def test_aliases_within_bounds_still_work(tmp_path: Path) -> None:
    """Anchors and merges as people use them are read as before."""
    path = tmp_path / "cfg.yaml"
    path.write_text(
        "x-pace: &pace {interval: 10s, timeout: 1s}\napp: {command: [x]}\nhealth: {<<: *pace}\n",
        encoding="utf-8",
    )
    assert read_yaml(path)["health"] == {"interval": "10s", "timeout": "1s"}


def test_one_long_text_repeated_by_aliases_is_refused(tmp_path: Path) -> None:
    """100 aliases of a 100 kB string are 10 MB of text: refused before anything copies it."""
    many = ", ".join(["*long"] * 100)
    text = f"app: {{command: [x]}}\nlong: &long '{'z' * 100_000}'\nmany: [{many}]\n"
    problems = problems_in(tmp_path / "cfg.yaml", text)
    assert f"more than {MAX_BYTES // 1024} KiB of text" in problems[0]


def test_too_many_values_are_refused(tmp_path: Path) -> None:
    """A list longer than any config needs is refused at the value past the limit."""
    items = "".join("  - 1\n" for _ in range(MAX_VALUES))
    problems = problems_in(tmp_path / "cfg.yaml", f"app: {{command: [x]}}\nx:\n{items}")
    assert problems[0].startswith(f"{tmp_path / 'cfg.yaml'}:")
    assert f"more than {MAX_VALUES} values" in problems[0]


def test_deep_nesting_is_refused_at_its_place(tmp_path: Path) -> None:
    """Lists in lists beyond any config's need are one problem with a line and column."""
    path = tmp_path / "cfg.yaml"
    problems = problems_in(path, "app: {command: [x]}\nx: " + "[" * 100_000)
    assert problems == (
        f"{path}:2:{MAX_DEPTH + 3}: the document is nested more than {MAX_DEPTH} deep",
    )


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    """A file over the limit is refused by its size; a 1 GiB (sparse) file is not read through."""
    path = tmp_path / "cfg.yaml"
    with path.open("wb") as file:
        file.write(b"app: {command: [x]}\n# ")
        file.truncate(1024**3)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.problems == (
        f"{path}: is larger than {MAX_BYTES // 1024} KiB, the most a config file may be",
    )


def test_a_file_at_the_limit_is_read(tmp_path: Path) -> None:
    """The limit is on the file's size, not on its comments: a padded valid file is valid."""
    path = tmp_path / "cfg.yaml"
    head = "app: {command: [x]}\n# "
    path.write_text(head + "x" * (MAX_BYTES - len(head)), encoding="utf-8")
    assert load(path).app.command == ("x",)


def test_show_shortens_before_it_serialises() -> None:
    """An error message shows the start of a value built of aliases, without expanding it."""
    value: object = "lol"
    for _ in range(12):  # 9**12 strings if it were written out in full
        value = [value] * 9
    shown = show(value)
    assert shown.startswith("[" * 12 + '"lol", "lol"')
    assert len(shown) == 60
    assert shown.endswith("...")


def test_show_describes_what_it_cannot_print() -> None:
    """A number too long to print, a value naming itself, a lone surrogate: all shown safely."""
    assert show(16**5000) == "a 20001-bit number"
    itself: list[object] = []
    itself.append(itself)
    assert show(itself).startswith("[[[[")
    assert show("\ud800") == '"\\ud800"'
    assert show({1: "a", None: "b", False: "c"}) == '{"1": "a", "null": "b", "false": "c"}'


def test_problems_are_capped_and_printable() -> None:
    """Thousands of problems make a bounded error; each line can be written as UTF-8."""
    error = ConfigError([f"k{i}: unknown key \ud800" for i in range(5000)])
    assert len(error.problems) == MAX_PROBLEMS + 1
    assert error.problems[-1] == f"... and {5000 - MAX_PROBLEMS} more problems"
    assert error.problems[0] == "k0: unknown key \\ud800"
    str(error).encode("utf-8")


def test_a_value_yaml_cannot_build_is_not_quoted(tmp_path: Path) -> None:
    """A tagged value that cannot be built is named by its place, never quoted: it may be secret."""
    path = tmp_path / "cfg.yaml"
    problems = problems_in(path, "app:\n  command: [x]\n  env: {DB_PASSWORD: !!int hunter2}\n")
    assert problems == (f"{path}:3:22: YAML syntax error: this value cannot be read as a YAML int",)


# --- values no path, argument or environment can hold ---------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'app:\n  command: [x]\n  cwd: "\\ud800"\n',
            'app.cwd: expected a directory path, got "\\ud800"',
        ),
        ('app: {command: [x]}\nlogging: {dir: "l\\udc00"}\n', "logging.dir: expected a directory"),
        ('app: {command: [x]}\nstate: {dir: "\\ud800"}\n', "state.dir: expected a directory"),
        ('app: {command: [x]}\nmetrics: {textfile: "\\ud800"}\n', "metrics.textfile: expected"),
        (
            'app: {command: [x]}\nresources: {disk: {paths: [/, "\\ud800"]}}\n',
            "resources.disk.paths: expected a list of directory paths",
        ),
        (
            'app: {command: [x]}\ndiagnostics: {directory: "\\ud800"}\n',
            "diagnostics.directory: expected a directory path",
        ),
        (
            'app: {command: [x]}\ndiagnostics: {py_spy: "/\\ud800"}\n',
            "diagnostics.py_spy: expected",
        ),
        ('app: {command: [x, "\\ud800"]}\n', "app.command: expected a list of arguments"),
        ('app: {command: "x \\ud800"}\n', "app.command: expected a list of arguments"),
        (
            'app: {command: "x\\ud800", shell: true}\n',
            "app.command: expected a command line string",
        ),
        ('app: {command: [x], name: "\\ud800"}\n', "app.name: expected a name"),
        ('app: {command: [x], listen: "unix:/\\ud800"}\n', "app.listen: expected an address"),
        ('app: {command: [x]}\nhealth: {url: "http://h/\\ud800"}\n', "health.url: expected"),
        ('app: {command: [x]}\nhealth: {"\\ud800\\n": 1}\n', 'health."\\ud800\\n": unknown key'),
    ],
)
def test_a_lone_surrogate_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    """YAML can write "\\ud800", which no path or argument can hold: named, never a traceback."""
    problems = problems_in(tmp_path / "cfg.yaml", text)
    assert any(problem.startswith(message) for problem in problems), problems
    assert all("\n" not in problem for problem in problems)
    "\n".join(problems).encode("utf-8")


def test_a_symlink_loop_is_a_config_error(tmp_path: Path) -> None:
    """A directory path that loops on itself is named, not a RuntimeError from pathlib."""
    (tmp_path / "one").symlink_to(tmp_path / "two")
    (tmp_path / "two").symlink_to(tmp_path / "one")
    problems = problems_in(tmp_path / "cfg.yaml", "app: {command: [x], cwd: one/sub}\n")
    assert problems == ('app.cwd: expected a directory path, got "one/sub"',)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("health: {max_failures: 0x%s}", "health.max_failures: expected a whole number"),
        ("logging: {max_bytes: 0x%s}", "logging.max_bytes: expected a size"),
        ("logging: {backup_count: 0x%s}", "logging.backup_count: expected a whole number"),
    ],
)
def test_a_number_too_long_to_print_is_a_config_error(
    tmp_path: Path, text: str, message: str
) -> None:
    """A hexadecimal number of 16 000 bits is refused: nothing could print or use it."""
    problems = problems_in(tmp_path / "cfg.yaml", "app: {command: [x]}\n" + text % ("f" * 4000))
    assert len(problems) == 1
    assert problems[0].startswith(message)
    assert problems[0].endswith("got a 16000-bit number")


# --- any odd value at any key: a Config or a ConfigError, nothing else -----------------------

ODD_VALUES = [
    '"\\ud800"',
    '"a\\0b"',
    '"line\\r\\nbreak"',
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!omap [a: 1, b: 2]",
    "!!pairs [a: 1, a: 2]",
    "2020-01-01",
    "2020-01-01 10:00:00",
    ".nan",
    "-.inf",
    "1e400",
    "0x" + "f" * 4000,
    "190:20:30",
    "~",
    "[]",
    "{}",
    "[[[[1]]]]",
    "{a: {b: {c: 1}}}",
    "&self [*self]",
    "&loop {a: *loop}",
    "y" * 5000,
    "yes",
    "-1",
    '"http://[::1"',
    '"unix:/' + "a" * 200 + '"',
    '{"\\ud800": 1, "": 2, 3: x}',
]


def _key_paths(mapping: dict[str, object], prefix: str = "") -> list[str]:
    paths = []
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        paths.append(path)
        if isinstance(value, dict):
            paths.extend(_key_paths(value, f"{path}."))
    return paths


def _document(path: str, value: str) -> str:
    """A YAML document with `value` (YAML text) at the key path `path`, and a command."""
    *parents, key = path.split(".")
    text = f"{key}: {value}"
    for depth, parent in reversed(list(enumerate(parents))):
        runnable = ", command: ['{python}']" if depth == 0 and parent == "app" else ""
        text = f"{parent}: {{{text}{runnable if key != 'command' or depth else ''}}}"
    return text + "\n" + ("" if path.startswith("app") else "app: {command: ['{python}']}\n")


def test_any_odd_value_at_any_key_is_a_config_or_a_config_error(tmp_path: Path) -> None:
    """Every key (and an entry of app.env and of the webhook's headers) holding each odd
    value YAML can write: load gives a Config that check can print, or a ConfigError."""
    defaults = effective(parse({"app": {"command": ["x"]}}, tmp_path))
    defaults["alerts"]["webhook"] = {"url": None, "timeout": None, "headers": {"X-Key": None}}
    defaults["app"]["env"] = {"DB_PASSWORD": None}
    path = tmp_path / "cfg.yaml"
    outcomes: set[tuple[str, bool]] = set()
    for key_path in _key_paths(defaults):
        for value in ODD_VALUES:
            path.write_text(_document(key_path, value), encoding="utf-8")
            try:
                config = load(path, check_host=True)
            except ConfigError as exc:
                outcomes.add(("error", bool(exc.problems)))
                "\n".join(exc.problems).encode("utf-8")
            else:
                yaml.safe_dump(effective(config)).encode("utf-8")  # what check prints
                outcomes.add(("config", True))
    assert outcomes == {("error", True), ("config", True)}
