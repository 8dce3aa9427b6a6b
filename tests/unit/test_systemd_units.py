"""The systemd units in systemd/ are valid and match what `watchdog run` does and needs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from watchdog.config import Config, load, parse
from watchdog.process.tree import KILL_WAIT

SYSTEMD_DIR = Path(__file__).resolve().parents[2] / "systemd"
SINGLE = SYSTEMD_DIR / "watchdog.service"
TEMPLATE = SYSTEMD_DIR / "watchdog@.service"
SOCKET = SYSTEMD_DIR / "watchdog.socket"
EXAMPLE = SYSTEMD_DIR / "watchdog.example.yaml"
UNITS = pytest.mark.parametrize("unit", [SINGLE, TEMPLATE], ids=["single", "template"])

# The directives allowed to differ between the single unit and the template.
PER_INSTANCE = {"Description", "ExecStart", "StateDirectory", "LogsDirectory", "SyslogIdentifier"}
# Unit file sections: name -> list of (key, value) in file order (systemd allows repeats).
Sections = dict[str, list[tuple[str, str]]]
SPAN_UNITS = {
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
}


def read_unit(path: Path) -> Sections:
    """A unit file as systemd reads it: comments skipped, repeated keys kept in order."""
    sections: Sections = {}
    current: list[tuple[str, str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"{path.name}: continuation lines are not read here"
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a key=value line: {raw!r}"
        assert current is not None, f"{path.name}: {key} before any [section]"
        current.append((key.strip(), value.strip()))
    return sections


def values(sections: Sections, key: str, section: str = "Service") -> list[str]:
    """Every assignment of `key` in effect; an empty assignment resets the list, as in systemd."""
    found: list[str] = []
    for name, value in sections.get(section, []):
        if name == key:
            found = [*found, value] if value else []
    return found


def one(sections: Sections, key: str, section: str = "Service") -> str:
    """The value of a single-valued directive (the last assignment wins, as in systemd)."""
    assigned = [value for name, value in sections.get(section, []) if name == key]
    assert assigned, f"{key}= is missing from [{section}]"
    return assigned[-1]


def seconds(span: str) -> float:
    """A systemd time span such as 30s, 10min or 1min 30s, in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", span)
    assert parts, f"not a time span: {span!r}"
    return sum(float(number) * SPAN_UNITS[unit or "s"] for number, unit in parts)


def defaults() -> Config:
    """The config every default applies to: what the units must allow for."""
    return parse({"app": {"command": ["api"]}}, Path("/etc/watchdog"))


def test_seconds_reads_systemd_time_spans() -> None:
    """The span reader used below understands the forms the units use."""
    assert [seconds(span) for span in ("30s", "10min", "90", "1min 30s", "500ms")] == [
        30.0,
        600.0,
        90.0,
        90.0,
        0.5,
    ]


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root for `systemd-analyze verify --root` with the units installed, unchanged.

    The only stand-ins are the two programs the units run, /opt/watchdog/bin/watchdog and
    /bin/kill (verify checks that they exist and are executable): tiny shell scripts at those
    exact paths. The targets the units depend on are copied from this host's systemd.
    """
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package: systemd)")
    usage = subprocess.run([analyze, "--help"], capture_output=True, text=True, check=False).stdout
    if "--root" not in usage:
        pytest.skip("this systemd-analyze has no --root option (systemd >= 250 needed)")
    host_units = next(
        (d for d in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if d.is_dir()),
        None,
    )
    if host_units is None:
        pytest.skip("no systemd unit directory on this host (Debian package: systemd)")
    root = tmp_path_factory.mktemp("root")
    shutil.copytree(host_units, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in (SINGLE, TEMPLATE, SOCKET):
        shutil.copy2(unit, root / "etc/systemd/system" / unit.name)
    for program in ("opt/watchdog/bin/watchdog", "bin/kill"):
        stub = root / program
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    return root


def verify(root: Path, *units: str) -> tuple[int, str]:
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", *units],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": ""},
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("unit", ["watchdog.service", "watchdog@demo.service", "watchdog.socket"])
def test_systemd_analyze_verify_passes(fake_root: Path, unit: str) -> None:
    """`systemd-analyze verify` accepts each unit with no warning about it."""
    code, output = verify(fake_root, unit)
    complaints = [line for line in output.splitlines() if "watchdog" in line]
    assert code == 0, f"systemd-analyze verify {unit} exited {code}:\n{output}"
    assert not complaints, f"systemd-analyze verify {unit}:\n{output}"


def test_verify_reports_a_broken_unit(fake_root: Path, tmp_path: Path) -> None:
    """The verify check is not vacuous: a bad value and an unknown key are reported."""
    root = tmp_path / "root"
    shutil.copytree(fake_root, root, symlinks=True)
    unit = root / "etc/systemd/system/watchdog.service"
    unit.write_text(unit.read_text().replace("KillMode=mixed", "KillMode=mixd\nKilMode=mixed"))
    _, output = verify(root, "watchdog.service")
    assert "mixd" in output, output
    assert "KilMode" in output, output


@UNITS
def test_unit_speaks_the_watchdogs_protocol(unit: Path) -> None:
    """Notify with reload by SIGHUP, only the main process notifies, a watchdog timer is set."""
    sections = read_unit(unit)
    assert one(sections, "Type") == "notify"
    assert one(sections, "NotifyAccess") == "main"
    assert re.fullmatch(r"/bin/kill -(s )?(SIG)?HUP \$MAINPID", one(sections, "ExecReload"))
    assert seconds(one(sections, "WatchdogSec")) > 0


@UNITS
def test_unit_restarts_on_failure_but_not_on_a_bad_config(unit: Path) -> None:
    """Restart=on-failure, never for exit 2 (bad config), and a start limit is set."""
    sections = read_unit(unit)
    assert one(sections, "Restart") == "on-failure"
    prevented = " ".join(values(sections, "RestartPreventExitStatus")).split()
    assert "2" in prevented
    assert seconds(one(sections, "RestartSec")) > 0
    assert int(one(sections, "StartLimitBurst", "Unit")) > 0
    assert seconds(one(sections, "StartLimitIntervalSec", "Unit")) > 0


@UNITS
def test_unit_timeouts_leave_room_for_the_watchdog(unit: Path) -> None:
    """KillMode=mixed; stop and start timeouts exceed the default stop and startup timeouts."""
    sections = read_unit(unit)
    config = defaults()
    assert one(sections, "KillMode") == "mixed"
    # stop_timeout, then SIGKILL and up to KILL_WAIT for the tree to go, then reaping.
    assert seconds(one(sections, "TimeoutStopSec")) >= config.app.stop_timeout + KILL_WAIT + 5
    # READY=1 waits for the first healthy answer; the watchdog needs a moment to start itself.
    assert seconds(one(sections, "TimeoutStartSec")) >= config.health.startup_timeout + 10


@UNITS
def test_unit_runs_unprivileged_and_sandboxed(unit: Path) -> None:
    """A named non-root user, no capabilities, and the sandbox a Python API can live in."""
    sections = read_unit(unit)
    assert one(sections, "User") not in {"", "root", "0"}
    assert one(sections, "Group") not in {"", "root", "0"}
    assert values(sections, "DynamicUser") in ([], ["no"])
    assert values(sections, "CapabilityBoundingSet") == []
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "PrivateDevices": "yes",
        "RestrictSUIDSGID": "yes",
        "UMask": "0027",
    }
    assert {key: one(sections, key) for key in expected} == expected
    # W^X memory breaks cffi callbacks and other run-time generated code in Python extensions.
    assert values(sections, "MemoryDenyWriteExecute") in ([], ["no"])


def test_units_run_the_installed_command() -> None:
    """The single unit reads /etc/watchdog/watchdog.yaml, the template /etc/watchdog/%i.yaml."""
    command = "/opt/watchdog/bin/watchdog run --config /etc/watchdog/{}.yaml"
    assert one(read_unit(SINGLE), "ExecStart") == command.format("watchdog")
    assert one(read_unit(TEMPLATE), "ExecStart") == command.format("%i")
    assert one(read_unit(TEMPLATE), "StateDirectory") == "watchdog/%i"
    assert one(read_unit(TEMPLATE), "LogsDirectory") == "watchdog/%i"


def test_template_matches_the_single_unit() -> None:
    """Apart from the per-instance directives, the template sets exactly what the unit sets."""
    single, template = read_unit(SINGLE), read_unit(TEMPLATE)
    assert single.keys() == template.keys()
    for section in single:
        ours = [item for item in single[section] if item[0] not in PER_INSTANCE]
        theirs = [item for item in template[section] if item[0] not in PER_INSTANCE]
        assert sorted(ours) == sorted(theirs), section


def test_example_config_uses_the_directories_the_unit_grants() -> None:
    """The example config loads, and logs and state go to LogsDirectory and StateDirectory."""
    sections = read_unit(SINGLE)
    config = load(EXAMPLE)
    assert config.logging.dir == Path("/var/log") / one(sections, "LogsDirectory")
    assert config.state.dir == Path("/var/lib") / one(sections, "StateDirectory")
    assert config.app.stop_timeout + KILL_WAIT + 5 <= seconds(one(sections, "TimeoutStopSec"))
    assert config.health.startup_timeout + 10 <= seconds(one(sections, "TimeoutStartSec"))
