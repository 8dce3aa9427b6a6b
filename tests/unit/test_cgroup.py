"""The memory limit, read from cgroup trees laid out as v2, v1, hybrid and container hosts."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchdog.sensors.cgroup import MemoryLimit, memory_limit, usage_percent

GB = 2**30
HOST = 16 * GB
V1_UNLIMITED = "9223372036854771712"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def read_limit(root: Path, membership: str) -> MemoryLimit:
    write(root.parent / "self_cgroup", membership)
    return memory_limit(root, root.parent / "self_cgroup", host_total=HOST)


def test_v2_takes_the_tightest_limit_on_the_path(tmp_path: Path) -> None:
    """A slice's MemoryMax caps the service below it, even when the service sets a looser one."""
    root = tmp_path / "cgroup"
    write(root / "cgroup.controllers", "cpu memory")
    write(root / "system.slice" / "memory.max", str(2 * GB))
    write(root / "system.slice" / "api.service" / "memory.max", str(4 * GB))
    write(root / "system.slice" / "api.service" / "memory.current", str(GB))
    write(root / "system.slice" / "memory.current", str(GB // 2))
    limit = read_limit(root, "0::/system.slice/api.service\n")
    assert (limit.size, limit.source) == (2 * GB, "cgroup v2 /system.slice memory.max")
    assert usage_percent(limit) == 25.0  # the limiting group's own usage


def test_v2_max_means_no_limit(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    write(root / "cgroup.controllers", "memory")
    write(root / "app" / "memory.max", "max\n")
    limit = read_limit(root, "0::/app\n")
    assert limit == MemoryLimit(HOST, "host")
    assert usage_percent(limit) is None


def test_hybrid_host_reads_v1_memory_hierarchy(tmp_path: Path) -> None:
    """v2 at /unified without a memory controller, the limit in v1's memory path."""
    root = tmp_path / "cgroup"
    write(root / "unified" / "cgroup.controllers", "")
    write(root / "memory" / "memory.limit_in_bytes", V1_UNLIMITED)
    write(root / "memory" / "jobs" / "memory.limit_in_bytes", V1_UNLIMITED)
    write(root / "memory" / "jobs" / "42" / "memory.limit_in_bytes", str(3 * GB))
    write(root / "memory" / "jobs" / "42" / "memory.usage_in_bytes", str(GB))
    limit = read_limit(root, "4:memory:/jobs/42\n1:cpu,cpuacct:/\n0::/jobs/42\n")
    assert (limit.size, limit.source) == (3 * GB, "cgroup v1 /jobs/42 memory.limit_in_bytes")
    assert usage_percent(limit) == pytest.approx(100 / 3)


def test_container_without_cgroup_namespace_reads_the_mount_root(tmp_path: Path) -> None:
    """The listed path is the host's; the container's own group is mounted at the root."""
    root = tmp_path / "cgroup"
    write(root / "memory" / "memory.limit_in_bytes", str(GB))
    limit = read_limit(root, "9:memory:/docker/0123abcd\n")
    assert (limit.size, limit.source) == (GB, "cgroup v1 / memory.limit_in_bytes")


@pytest.mark.parametrize("membership", ["", "garbage\n", "0::/..\n", "4:memory:relative/path\n"])
def test_unreadable_or_odd_memberships_fall_back_to_the_host(
    tmp_path: Path, membership: str
) -> None:
    root = tmp_path / "cgroup"
    write(root / "cgroup.controllers", "memory")
    write(tmp_path / "memory.max", str(GB))  # outside the mount: must never be read
    assert read_limit(root, membership) == MemoryLimit(HOST, "host")


def test_limit_above_the_host_total_is_no_limit(tmp_path: Path) -> None:
    root = tmp_path / "cgroup"
    write(root / "cgroup.controllers", "memory")
    write(root / "memory.max", str(2 * HOST))
    assert read_limit(root, "0::/\n") == MemoryLimit(HOST, "host")
