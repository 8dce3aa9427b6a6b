"""One watchdog per app: an exclusive flock on `<state.dir>/<name>.lock` for the life of `run`.

The lock also says who the running watchdog is. A pid in a state file can be forged by
whoever owns the state directory (the app's user); the kernel's own table of locks
(/proc/locks) cannot. So the control commands signal only the process that holds this
lock, holds the file open, and runs `watchdog run` with the same config.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from watchdog.process.environ import command_line

LOCK_FILE_MODE = 0o640


def lock_path(state_dir: Path, app_name: str) -> Path:
    return state_dir / f"{app_name}.lock"


class LockHeldError(Exception):
    """Another process holds the app's lock."""

    def __init__(self, path: Path, holder: int | None) -> None:
        self.path, self.holder = path, holder
        who = "another process" if holder is None else f"pid {holder} ({command_line(holder)})"
        super().__init__(f"{who} already supervises this app: it holds {path}")


class InstanceLock:
    """The held lock; the descriptor is not inherited, so no child or leftover keeps it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise LockHeldError (or OSError when the file cannot be made)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, LOCK_FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeldError(self.path, lock_holder(self.path)) from None
        except OSError:
            os.close(fd)
            raise
        # For a person reading it; the proof is the lock itself.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None


def flocks() -> list[tuple[int, int]]:
    """(pid, inode) of every lock /proc/locks lists (waiters left out)."""
    found = []
    with contextlib.suppress(OSError), open("/proc/locks", encoding="ascii") as locks:
        for line in locks:
            fields = line.split()
            if len(fields) < 6 or fields[1] == "->":
                continue
            # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF": major:minor:inode. The
            # device is not compared: btrfs and overlayfs report another one to stat().
            with contextlib.suppress(ValueError):
                found.append((int(fields[4]), int(fields[5].rsplit(":", 1)[-1])))
    return found


def _locking_pids(inode: int) -> list[int]:
    """Pids /proc/locks names for a lock on a file with `inode`."""
    return [pid for pid, locked in flocks() if locked == inode]


def open_lock_files(pid: int) -> list[Path]:
    """The `.lock` files `pid` holds open, as its descriptors name them."""
    locked = {inode for holder, inode in flocks() if holder == pid}
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(entry.path)
                if target.endswith(".lock") and os.stat(entry.path).st_ino in locked:
                    found.append(Path(target))
    return found


def holds_open(pid: int, path: Path) -> bool:
    """Whether `pid` has `path` itself open (same device and inode), not just a pid match."""
    try:
        wanted = os.stat(path)
        for entry in os.scandir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                found = os.stat(entry.path)
                if (found.st_dev, found.st_ino) == (wanted.st_dev, wanted.st_ino):
                    return True
    except OSError:
        return False
    return False


def lock_holder(path: Path) -> int | None:
    """The process holding the lock on `path`, proven by its open descriptor, or None.

    /proc/locks names the process that took a flock; if it exited and left the lock to a
    process it forked, that pid may since belong to a bystander: it must hold the file.
    """
    try:
        inode = os.stat(path).st_ino
    except OSError:
        return None
    return next((pid for pid in _locking_pids(inode) if holds_open(pid, path)), None)
