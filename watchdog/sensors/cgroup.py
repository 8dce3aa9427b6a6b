"""The memory limit the child lives under: the tightest cgroup limit on our path, else the host.

Under systemd (`MemoryMax=`) or in a container the kernel's OOM killer acts at the
cgroup's limit, not at the host's total, so that is what memory percentages are of.
cgroup v2 (`memory.max`) and v1 (`memory.limit_in_bytes`, also on hybrid hosts that
mount v2 at /sys/fs/cgroup/unified) are both read; a limit set on any ancestor applies.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import psutil

CGROUP_ROOT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")
V2_FILES = ("memory.max", "memory.current")
V1_FILES = ("memory.limit_in_bytes", "memory.usage_in_bytes")
V2_EVENTS = "memory.events"  # its oom_kill line counts the group's OOM kills
V1_OOM_CONTROL = "memory.oom_control"


@dataclass(frozen=True, slots=True)
class MemoryLimit:
    """Bytes the child may use, where that figure comes from, and the limiting group's usage."""

    size: int
    source: str  # "host", or e.g. "cgroup v2 /system.slice/api.service memory.max"
    usage_file: Path | None = None


def memory_limit(
    root: Path = CGROUP_ROOT, self_cgroup: Path = SELF_CGROUP, host_total: int | None = None
) -> MemoryLimit:
    host = host_total if host_total is not None else psutil.virtual_memory().total
    found = _tightest_cgroup_limit(root, self_cgroup)
    # v1 spells "no limit" as a number near 2**63: the host's total is the real bound then.
    if found is not None and 0 < found.size < host:
        return found
    return MemoryLimit(host, "host")


def usage_percent(limit: MemoryLimit) -> float | None:
    """The limiting cgroup's own usage as a percentage of its limit, where it can be read."""
    if limit.usage_file is None or limit.size <= 0:
        return None
    with contextlib.suppress(OSError, ValueError):
        return 100.0 * int(limit.usage_file.read_text()) / limit.size
    return None


def _memberships(self_cgroup: Path) -> tuple[str | None, str | None]:
    """Our cgroup path in the v2 hierarchy and in v1's memory hierarchy."""
    v2 = v1 = None
    with contextlib.suppress(OSError):
        for line in self_cgroup.read_text().splitlines():
            hierarchy, controllers, path = [*line.split(":", 2), "", ""][:3]
            if hierarchy == "0" and not controllers:
                v2 = path
            elif "memory" in controllers.split(","):
                v1 = path
    return v2, v1


def _tightest_cgroup_limit(root: Path, self_cgroup: Path) -> MemoryLimit | None:
    v2, v1 = _memberships(self_cgroup)
    found: list[MemoryLimit] = []
    if v2 is not None:
        mounts = [root, root / "unified"]  # unified: a hybrid host's v2, beside v1
        mount = next((m for m in mounts if (m / "cgroup.controllers").is_file()), None)
        if mount is not None:
            found += _limits_up_the_path(mount, v2, V2_FILES, "cgroup v2")
    if v1 is not None:
        found += _limits_up_the_path(root / "memory", v1, V1_FILES, "cgroup v1")
    return min(found, key=lambda limit: limit.size, default=None)


def _limits_up_the_path(
    mount: Path, relative: str, files: tuple[str, str], version: str
) -> list[MemoryLimit]:
    limit_name, usage_name = files
    directory = _group_directory(mount, relative)
    limits: list[MemoryLimit] = []
    while True:
        with contextlib.suppress(OSError, ValueError):
            text = (directory / limit_name).read_text().strip()
            if text != "max":
                where = "/" + "/".join(directory.relative_to(mount).parts)
                source = f"{version} {where} {limit_name}"
                limits.append(MemoryLimit(int(text), source, directory / usage_name))
        if directory == mount or mount not in directory.parents:
            return limits
        directory = directory.parent


def parse_oom_kill(text: str) -> int | None:
    """The `oom_kill N` line of memory.events (v2) or memory.oom_control (v1)."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            with contextlib.suppress(ValueError):
                return int(value.strip())
    return None  # v1 kernels before 4.13 have no such line


def _group_directory(mount: Path, relative: str) -> Path:
    parts = Path(relative).relative_to("/").parts if relative.startswith("/") else ()
    directory = mount.joinpath(*parts)
    if ".." in parts or not directory.is_dir():
        # A container without its own cgroup namespace lists the host's path, yet has its
        # own group mounted at the root.
        return mount
    return directory


def oom_kill_count(root: Path = CGROUP_ROOT, self_cgroup: Path = SELF_CGROUP) -> int | None:
    """OOM kills counted in our own cgroup so far, or None where no counter can be read."""
    v2, v1 = _memberships(self_cgroup)
    candidates: list[Path] = []
    if v2 is not None:
        for mount in (root, root / "unified"):  # unified: a hybrid host's v2, beside v1
            if (mount / "cgroup.controllers").is_file():
                candidates.append(_group_directory(mount, v2) / V2_EVENTS)
    if v1 is not None:
        candidates.append(_group_directory(root / "memory", v1) / V1_OOM_CONTROL)
    for path in candidates:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            count = parse_oom_kill(path.read_text())
            if count is not None:
                return count
    return None
