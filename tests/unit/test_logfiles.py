"""The rotating log file handler, the log directory, and the retention sweep."""

from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from watchdog.outputs import logfiles
from watchdog.outputs.logfiles import (
    LogDirError,
    SafeRotatingFileHandler,
    clean_old_logs,
    prepare_log_dir,
)

_names = itertools.count()


@pytest.fixture
def umask_022() -> Iterator[None]:
    """A permissive umask, so that the modes seen are the ones the code asks for."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def make_logger() -> Iterator:
    """A private logging.Logger wired to one handler; handlers are closed afterwards."""
    made: list[tuple[logging.Logger, logging.Handler]] = []

    def make(handler: logging.Handler) -> logging.Logger:
        logger = logging.getLogger(f"test_logfiles.{next(_names)}")
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        made.append((logger, handler))
        return logger

    yield make
    for logger, handler in made:
        logger.removeHandler(handler)
        handler.close()


def _lines(path: Path) -> list[str]:
    return path.read_text("utf-8").split("\n")[:-1]


def _record_numbers(path: Path) -> list[int]:
    return [int(line.split()[1]) for line in _lines(path)]


def test_rotates_at_max_bytes_keeping_backup_count(tmp_path: Path, make_logger) -> None:
    """200 records through a 1000-byte handler leave X, X.1, X.2, each at most 1000 bytes."""
    path = tmp_path / "app.log"
    logger = make_logger(SafeRotatingFileHandler(path, max_bytes=1000, backup_count=2))
    for number in range(200):
        logger.info("record %05d some padding to fill the file", number)

    assert path.is_file()
    assert (tmp_path / "app.log.1").is_file()
    assert (tmp_path / "app.log.2").is_file()
    assert not (tmp_path / "app.log.3").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.log", "app.log.1", "app.log.2"]
    for name in ("app.log", "app.log.1", "app.log.2"):
        size = (tmp_path / name).stat().st_size
        assert 0 < size <= 1000, (name, size)
    # The newest record is in the live file, and the three files are one unbroken tail.
    assert _lines(path)[-1].startswith("record 00199 ")
    kept = [_record_numbers(tmp_path / n) for n in ("app.log.2", "app.log.1", "app.log")]
    tail = [number for numbers in kept for number in numbers]
    assert tail == list(range(200 - len(tail), 200))
    # A file is full: the next record would not have fitted.
    record_size = len(_lines(path)[0]) + 1
    assert (tmp_path / "app.log.1").stat().st_size + record_size > 1000


def test_backup_count_zero_never_exceeds_max_bytes(tmp_path: Path, make_logger) -> None:
    """With no copies kept the file is started afresh and never grows past max_bytes."""
    path = tmp_path / "app.log"
    logger = make_logger(SafeRotatingFileHandler(path, max_bytes=1000, backup_count=0))
    for number in range(200):
        logger.info("record %05d some padding to fill the file", number)
        assert path.stat().st_size <= 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.log"]
    assert _lines(path)[-1].startswith("record 00199 ")


def test_files_are_created_0640(tmp_path: Path, make_logger, umask_022: None) -> None:
    """The live file and every rotated copy are 0640 even under a permissive umask."""
    path = tmp_path / "app.log"
    logger = make_logger(SafeRotatingFileHandler(path, max_bytes=200, backup_count=2))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # opened at construction
    for number in range(60):  # 13 bytes each: three files' worth and more
        logger.info("record %05d", number)
    for name in ("app.log", "app.log.1", "app.log.2"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name


def test_prepare_log_dir_creates_nested_dir_0750(tmp_path: Path, umask_022: None) -> None:
    """A missing nested log directory is created 0750 and the write probe leaves nothing."""
    directory = tmp_path / "var" / "log" / "watchdog"
    prepare_log_dir(directory)
    assert directory.is_dir()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o750
    assert list(directory.iterdir()) == []
    prepare_log_dir(directory)  # an existing directory is fine
    assert stat.S_IMODE(directory.stat().st_mode) == 0o750


def test_prepare_log_dir_rejects_a_file_in_the_way(tmp_path: Path) -> None:
    """A regular file where the directory should be is a LogDirError naming the path."""
    blocker = tmp_path / "logs"
    blocker.write_text("not a directory")
    with pytest.raises(LogDirError, match=r"^logging\.dir: cannot write to .*logs \(") as info:
        prepare_log_dir(blocker)
    assert str(blocker) in str(info.value)
    assert blocker.read_text() == "not a directory"


def test_prepare_log_dir_rejects_a_file_as_parent(tmp_path: Path) -> None:
    """A regular file standing where a parent directory should be is a LogDirError too."""
    blocker = tmp_path / "logs"
    blocker.write_text("")
    with pytest.raises(LogDirError, match="Not a directory"):
        prepare_log_dir(blocker / "app")


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_failing_write_is_survived_and_reported_once(
    tmp_path: Path, make_logger, capfd: pytest.CaptureFixture[str]
) -> None:
    """Writes to /dev/full fail silently after one report; a writable file is reported once."""
    path = tmp_path / "app.log"
    path.symlink_to("/dev/full")
    logger = make_logger(SafeRotatingFileHandler(path, max_bytes=1000, backup_count=2))

    logger.info("first failing record")
    fds = _open_fds()
    for number in range(49):
        logger.info("failing record %d", number)
    assert _open_fds() == fds  # a dropped stream is closed, not leaked
    err = capfd.readouterr().err
    assert len(re.findall(r"^watchdog: cannot write .*app\.log: .*$", err, re.M)) == 1, err
    assert "No space left on device" in err
    assert "again" not in err

    path.unlink()  # the symlink goes; nothing else is done
    logger.info("back on disk")
    assert not path.is_symlink()
    assert _lines(path) == ["back on disk"]
    err = capfd.readouterr().err
    assert len(re.findall(r"^watchdog: writing .*app\.log again$", err, re.M)) == 1, err
    assert "cannot write" not in err

    logger.info("still on disk")
    assert _lines(path) == ["back on disk", "still on disk"]
    assert capfd.readouterr().err == ""


def test_a_file_moved_away_is_followed_by_path(
    tmp_path: Path, make_logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After logrotate's move-and-create, the next record goes to a new file at the path."""
    monkeypatch.setattr(logfiles, "IDENTITY_CHECK_INTERVAL", 0)
    path = tmp_path / "app.log"
    logger = make_logger(SafeRotatingFileHandler(path, max_bytes=10_000, backup_count=2))
    logger.info("before the move")
    moved = tmp_path / "app.log.moved"
    path.rename(moved)
    logger.info("after the move")
    assert _lines(moved) == ["before the move"]
    assert _lines(path) == ["after the move"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_replaced_file_is_followed_after_the_check_interval(
    tmp_path: Path, make_logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within IDENTITY_CHECK_INTERVAL the open file is kept; after it the path is reopened."""
    monkeypatch.setattr(logfiles, "IDENTITY_CHECK_INTERVAL", 3600)
    path = tmp_path / "app.log"
    logger = make_logger(SafeRotatingFileHandler(path, max_bytes=10_000, backup_count=2))
    moved = tmp_path / "app.log.moved"
    path.rename(moved)
    logger.info("within the interval")
    assert _lines(moved) == ["within the interval"]
    assert not path.exists()
    monkeypatch.setattr(logfiles, "IDENTITY_CHECK_INTERVAL", 0)
    logger.info("after the interval")
    assert _lines(path) == ["after the interval"]


def test_copytruncate_restarts_the_count_from_the_real_size(tmp_path: Path, make_logger) -> None:
    """After logrotate's copytruncate the file is empty again: no early rotation follows."""
    path = tmp_path / "app.log"
    logger = make_logger(SafeRotatingFileHandler(path, max_bytes=1000, backup_count=2))
    for number in range(20):  # 43 bytes each: 860 of the 1000
        logger.info("record %05d some padding to fill the file", number)
    shutil.copy(path, tmp_path / "app.log-copied")
    os.truncate(path, 0)  # what copytruncate does, in place: the open file stays open
    for number in range(20, 40):
        logger.info("record %05d some padding to fill the file", number)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.log", "app.log-copied"]
    assert _record_numbers(path) == list(range(20, 40))
    for number in range(40, 60):  # past 1000 by the real size: rotated then, not before
        logger.info("record %05d some padding to fill the file", number)
    assert (tmp_path / "app.log.1").is_file()
    assert _record_numbers(tmp_path / "app.log.1")[0] == 20
    assert (tmp_path / "app.log.1").stat().st_size + 43 > 1000


class _CountingStream:
    """Delegates to a real stream and counts write calls."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.writes: list[str] = []

    def write(self, data: str) -> int:
        self.writes.append(data)
        return self.stream.write(data)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def test_write_lines_writes_at_once_and_counts_toward_rotation(tmp_path: Path) -> None:
    """write_lines writes a batch with one write call and its bytes count toward max_bytes."""
    path = tmp_path / "app.log"
    handler = SafeRotatingFileHandler(path, max_bytes=100, backup_count=3)
    try:
        counting = _CountingStream(handler.stream)
        handler.stream = counting
        first = ["a" * 39, "b" * 39]  # 80 bytes with newlines
        handler.write_lines(first)
        assert counting.writes == ["".join(line + "\n" for line in first)]
        assert _lines(path) == first

        second = ["c" * 39, "d" * 39]  # 160 bytes in all: the batch goes to a new file
        handler.write_lines(second)
        assert _lines(tmp_path / "app.log.1") == first
        assert _lines(path) == second

        handler.emit(logging.makeLogRecord({"msg": "e" * 29}))  # 110 bytes: rotates again
        assert _lines(tmp_path / "app.log.2") == first
        assert _lines(tmp_path / "app.log.1") == second
        assert _lines(path) == ["e" * 29]
    finally:
        handler.close()


def test_write_lines_counts_an_existing_file(tmp_path: Path) -> None:
    """A file that already holds data when the handler opens it counts toward max_bytes."""
    path = tmp_path / "app.log"
    path.write_text("x" * 90 + "\n")
    handler = SafeRotatingFileHandler(path, max_bytes=100, backup_count=1)
    try:
        handler.write_lines(["y" * 20])
    finally:
        handler.close()
    assert _lines(tmp_path / "app.log.1") == ["x" * 90]
    assert _lines(path) == ["y" * 20]


def test_clean_old_logs_removes_only_old_rotated_copies(tmp_path: Path) -> None:
    """Only rotated copies (name.N) of the named logs older than the retention are removed."""
    now = time.time()
    ages = {
        "api.log": 31,  # live: never removed, however old
        "api.log.1": 1,
        "api.log.2": 31,
        "api.log.3": 45,
        "api_health.log": 31,
        "api_health.log.1": 31,
        "api_health.log.2": 1,
        "api2.log.1": 31,  # another app's log
        "api.log.notanumber": 31,
        "api.log.1.gz": 31,
        "unrelated.txt": 31,
    }
    for name, days in ages.items():
        path = tmp_path / name
        path.write_text(name)
        os.utime(path, (now - days * 86400, now - days * 86400))
    (tmp_path / "api.log.4").mkdir()  # a directory is not a log file
    old = now - 40 * 86400
    os.utime(tmp_path / "api.log.4", (old, old))

    removed = clean_old_logs(tmp_path, ["api.log", "api_health.log"], 30)

    expected = {"api.log.2", "api.log.3", "api_health.log.1"}
    assert sorted(path.name for path in removed) == sorted(expected)
    assert all(path.parent == tmp_path for path in removed)
    remaining = {path.name for path in tmp_path.iterdir()}
    assert remaining == (set(ages) | {"api.log.4"}) - expected


def test_clean_old_logs_tolerates_a_missing_directory(tmp_path: Path) -> None:
    """A log directory that does not exist yet has nothing to clean."""
    assert clean_old_logs(tmp_path / "missing", ["api.log"], 30) == []


def test_clean_old_logs_uses_the_given_now(tmp_path: Path) -> None:
    """The cutoff is `now` minus retention_days, so a file just past it is removed."""
    path = tmp_path / "api.log.1"
    path.write_text("")
    os.utime(path, (1_000_000, 1_000_000))
    assert clean_old_logs(tmp_path, ["api.log"], 1, now=1_000_000 + 86400) == []
    assert clean_old_logs(tmp_path, ["api.log"], 1, now=1_000_001 + 86400) == [path]
    assert not path.exists()
