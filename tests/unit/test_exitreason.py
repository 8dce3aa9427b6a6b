"""Exit decoding for a person, and the cgroup's OOM-kill counter read from fake files."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from watchdog.process.exits import decode_exit
from watchdog.sensors.cgroup import oom_kill_count, parse_oom_kill

V2_EVENTS = "low 0\nhigh 0\nmax 12\noom 3\noom_kill {count}\noom_group_kill 0\n"
V1_CONTROL = "oom_kill_disable 0\nunder_oom 0\noom_kill {count}\n"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ((0, None, False, None, None), "exit code 0"),
        ((1, None, False, None, None), "exit code 1"),
        (
            (137, None, False, None, None),
            "exit code 137 (128+9: how a shell reports a SIGKILL death)",
        ),
        ((None, signal.SIGTERM, False, None, None), "killed by SIGTERM"),
        (
            (None, signal.SIGSEGV, False, None, None),
            "killed by SIGSEGV (a crash in native code: an extension module or the interpreter)",
        ),
        ((None, 99, False, None, None), "killed by signal 99"),
        (
            (None, signal.SIGKILL, True, 0, 1),
            "killed by SIGKILL (sent by the watchdog: the stop timeout ran out)",
        ),
        (
            (None, signal.SIGKILL, False, None, None),
            "SIGKILL from outside: perhaps the kernel OOM killer",
        ),
        (
            (None, signal.SIGKILL, False, 4, None),
            "SIGKILL from outside: perhaps the kernel OOM killer",
        ),
        (
            (None, signal.SIGKILL, False, 2, 3),
            "SIGKILL from outside: the kernel OOM killer (cgroup oom_kill counter rose by 1)",
        ),
        (
            (None, signal.SIGKILL, False, 3, 3),
            "SIGKILL from outside, not the OOM killer (cgroup oom_kill counter unchanged):"
            " perhaps `kill -9` by a person or another program",
        ),
    ],
)
def test_decode_exit(arguments: tuple, expected: str) -> None:
    """Codes, signal names, and the SIGKILL's likely sender from the OOM counter."""
    assert decode_exit(*arguments) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (V2_EVENTS.format(count=2), 2),
        (V1_CONTROL.format(count=0), 0),
        ("oom_kill_disable 0\nunder_oom 0\n", None),  # v1 before Linux 4.13
        ("oom_kill many\n", None),
        ("", None),
    ],
)
def test_parse_oom_kill(text: str, expected: int | None) -> None:
    """The oom_kill line's count, and None where the kernel has none."""
    assert parse_oom_kill(text) == expected


def _fake(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_count_from_our_v2_group(tmp_path: Path) -> None:
    """cgroup v2: memory.events of the group /proc/self/cgroup names."""
    root = tmp_path / "cgroup"
    _fake(
        root,
        {
            "cgroup.controllers": "memory pids\n",
            "memory.events": V2_EVENTS.format(count=9),
            "system.slice/api.service/memory.events": V2_EVENTS.format(count=2),
        },
    )
    _fake(tmp_path, {"self": "0::/system.slice/api.service\n"})
    assert oom_kill_count(root, tmp_path / "self") == 2


def test_count_from_a_v1_memory_hierarchy(tmp_path: Path) -> None:
    """cgroup v1 (and hybrid hosts): memory.oom_control in the memory hierarchy."""
    root = tmp_path / "cgroup"
    _fake(
        root,
        {
            "unified/cgroup.controllers": "",  # a hybrid host's v2 holds no memory controller
            "memory/docker/abc/memory.oom_control": V1_CONTROL.format(count=5),
        },
    )
    _fake(tmp_path, {"self": "9:memory:/docker/abc\n0::/\n"})
    assert oom_kill_count(root, tmp_path / "self") == 5


def test_count_in_a_container_without_its_own_namespace(tmp_path: Path) -> None:
    """A listed path missing under the mount: the group mounted at the root is ours."""
    root = tmp_path / "cgroup"
    _fake(root, {"memory/memory.oom_control": V1_CONTROL.format(count=1)})
    _fake(tmp_path, {"self": "4:memory:/host/path/not/mounted\n"})
    assert oom_kill_count(root, tmp_path / "self") == 1


def test_no_counter_anywhere_is_none(tmp_path: Path) -> None:
    """No cgroup file system (or no readable counter): None, never an error."""
    _fake(tmp_path, {"self": "0::/\n"})
    assert oom_kill_count(tmp_path / "missing", tmp_path / "self") is None
    assert oom_kill_count(tmp_path / "missing", tmp_path / "no-such-file") is None


def test_count_on_this_host_is_a_whole_number_where_there_is_one() -> None:
    """The real files read without error; where the kernel keeps a counter, it is a count."""
    count = oom_kill_count()
    if count is None:
        pytest.skip("no readable OOM-kill counter for this process's cgroup here")
    assert isinstance(count, int)
    assert count >= 0
