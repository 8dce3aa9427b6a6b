"""End to end: app.env_file, app.user, app.group and app.umask reach the real child."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
from pathlib import Path

import psutil
import pytest

from tests.conftest import (
    FAULT_APP,
    WatchdogProcess,
    fast_config,
    free_port,
    poll,
    watchdog_command,
)

SECRET = "s3cr3t-from-the-file"


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().rstrip(b"\0").split(b"\0")
    return dict(entry.decode().partition("=")[::2] for entry in raw)


def _everything_said(watchdog: WatchdogProcess) -> str:
    logs = Path(watchdog.log_path).parent
    texts = [watchdog.output()]
    texts += [path.read_text(errors="replace") for path in logs.rglob("*") if path.is_file()]
    return "\n".join(texts)


def test_env_file_reaches_the_child_and_an_edit_applies_on_restart(
    run_watchdog, tmp_path: Path
) -> None:
    """app.env wins over the file; the file is read again at the next start; a reload
    checks it; no value is ever logged."""
    env_file = tmp_path / "app.env"
    env_file.write_text(f"# secrets\nTOKEN={SECRET}\nSHARED=from-file\n")
    config = fast_config(
        free_port(),
        [],
        app={"env_file": "app.env", "env": {"SHARED": "from-config"}},
        restart={"min_interval": "1h"},
    )
    watchdog = run_watchdog(config)
    [first] = watchdog.wait_for("child_healthy")
    seen = _environ(first["pid"])
    assert (seen["TOKEN"], seen["SHARED"]) == (SECRET, "from-config")
    env_file.write_text(f"TOKEN={SECRET}-2\n")
    done = watchdog_command(watchdog.config_path, "restart", "--force")
    assert done.returncode == 0, done.stderr
    [_, second] = watchdog.wait_for("child_healthy", count=2)
    seen = _environ(second["pid"])
    assert (seen["TOKEN"], seen["SHARED"]) == (f"{SECRET}-2", "from-config")
    assert watchdog_command(watchdog.config_path, "status").returncode == 0
    env_file.unlink()  # gone at run time: a reload is refused, the next start fails, named
    watchdog.send(signal.SIGHUP)
    [refused] = watchdog.wait_for("reload_failed")
    readable = "app.env_file: expected a readable file"
    assert any(error.startswith(readable) for error in refused["errors"])
    os.kill(second["pid"], signal.SIGKILL)
    [failed] = watchdog.wait_for("spawn_failed")
    assert f"app.env_file {env_file} (no such file)" in failed["error"]
    env_file.write_text("TOKEN=back\n")
    [*_, third] = watchdog.wait_for("child_healthy", count=3, timeout=15)
    assert _environ(third["pid"])["TOKEN"] == "back"
    assert SECRET not in _everything_said(watchdog)


def _runs_as_nobody(program: str) -> bool:
    """Whether the user nobody may run `program` from the fault app's folder."""
    try:
        done = subprocess.run(
            [program, "-c", f"open({str(FAULT_APP)!r}).close()"],
            user="nobody",
            cwd="/",
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _ids(pid: int) -> dict[str, list[str]]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    return {name: fields[name].split() for name in ("Uid", "Gid", "Groups", "Umask")}


@pytest.mark.skipif(os.geteuid() != 0, reason="only a watchdog run as root changes users")
def test_the_app_and_its_tree_run_as_the_user_with_its_umask(run_watchdog) -> None:
    """app.user: nobody, app.umask: "027": the child and its worker carry both; the
    watchdog's own log files stay root's, 0640."""
    python = next((p for p in ("/usr/bin/python3", shutil.which("python3") or "")
                   if p and _runs_as_nobody(p)), None)
    if python is None:
        pytest.skip("no Python that the user nobody may run")
    port = free_port()
    config = fast_config(port, ["--tree-workers", "1", "--worker-mb", "1"])
    config["app"]["command"][0] = python
    config["app"].update(user="nobody", umask="027", cwd="/")
    watchdog = run_watchdog(config)
    [healthy] = watchdog.wait_for("child_healthy")
    main, user = psutil.Process(healthy["pid"]), pwd.getpwnam("nobody")
    workers = poll(lambda: main.children(recursive=True), timeout=10)
    for process in [main, *workers]:
        ids = _ids(process.pid)
        assert ids["Uid"] == ["65534"] * 4, ids
        assert ids["Gid"] == [str(user.pw_gid)] * 4, ids
        assert sorted(ids["Groups"]) == sorted(map(str, os.getgrouplist("nobody", user.pw_gid)))
        assert ids["Umask"] == ["0027"], ids
    log = os.stat(watchdog.log_path)
    assert (log.st_uid, stat.S_IMODE(log.st_mode)) == (0, 0o640)
