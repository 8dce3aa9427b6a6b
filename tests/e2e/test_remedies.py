"""End to end: a remedy asked of a real app holding memory, checked against its real RSS."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.conftest import fast_config, free_port
from watchdog.sensors.cgroup import memory_limit

MB = 2**20
# The fault app holds 20 MB or so by itself, 140 MB with its ballast of 120 MB: warning and
# critical sit well between, so that neither a busy machine nor another Python moves them.
BALLAST_MB = 120
WARNING_MB, CRITICAL_MB = 50, 100
SUSTAIN = 2.0


def _percent(megabytes: float) -> float:
    """`megabytes` as a share of the memory limit, the way the sampler grades memory."""
    return 100 * megabytes * MB / memory_limit().size


def _config(app_args: list[str], remedy: dict[str, Any]) -> dict[str, Any]:
    memory = {
        "warning": _percent(WARNING_MB),
        "critical": _percent(CRITICAL_MB),
        "sustain": f"{SUSTAIN}s",
    }
    return fast_config(
        free_port(),
        ["--ballast-mb", str(BALLAST_MB), *app_args],
        resources={"interval": "100ms", "memory": memory},
        restart={"min_interval": "100ms", "backoff_initial": "100ms"},
        remedies={"memory": {"level": "warning", "cooldown": "1m", "settle": "300ms", **remedy}},
    )


def _at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"]).timestamp()


Event = dict[str, Any]


def _remedied(run_watchdog: Any, app_args: list[str], remedy: Event) -> tuple[Any, Event, Event]:
    """The watchdog, the child's healthy event and the remedy sent to it, at critical."""
    watchdog = run_watchdog(_config(app_args, remedy))
    [healthy] = watchdog.wait_for("child_healthy")
    [started] = watchdog.wait_for("remedy_started")
    assert (started["pid"], started["at_level"]) == (healthy["pid"], "warning")
    assert started["before"] >= _percent(CRITICAL_MB)  # the ballast made it critical
    return watchdog, healthy, started


def test_a_signal_that_frees_memory_is_remedy_applied_and_spares_the_restart(
    run_watchdog,
) -> None:
    remedy = {"signal": "USR1"}
    watchdog, healthy, started = _remedied(run_watchdog, ["--on-usr1", "free"], remedy)
    assert started["action"] == "SIGUSR1"
    [applied] = watchdog.wait_for("remedy_applied", timeout=5)
    assert applied["before"] == started["before"]
    assert applied["after"] < _percent(WARNING_MB) <= applied["threshold"] + 0.001
    assert applied["measured_after"] >= 0.3
    # The sample it was judged on: the app's own RSS, without its ballast.
    judged = [e for e in watchdog.events("resource_sample") if _at(e) <= _at(applied)][-1]
    assert judged["rss_mb"] < WARNING_MB
    # Critical came to an end with the remedy: its sustain time passes with no restart.
    watchdog.wait_for(
        "resource_sample", count=len(watchdog.events("resource_sample")) + int(SUSTAIN / 0.1) + 5
    )
    latest = watchdog.events("resource_sample")[-1]
    assert _at(latest) - _at(started) > SUSTAIN
    assert watchdog.events("restart_triggered") == []
    assert watchdog.events("remedy_failed") == []
    assert watchdog.child_pid() == healthy["pid"]
    assert len(watchdog.events("remedy_started")) == 1  # once per cooldown


def test_a_signal_the_app_ignores_is_remedy_failed_and_the_sustain_restart_follows(
    run_watchdog,
) -> None:
    remedy = {"signal": "USR1"}
    watchdog, healthy, started = _remedied(run_watchdog, ["--on-usr1", "ignore"], remedy)
    [failure] = watchdog.wait_for("remedy_failed", timeout=5)
    assert failure["after"] >= _percent(CRITICAL_MB)
    assert failure["message"].startswith("memory ")
    assert "after SIGUSR1: still at or above warning" in failure["message"]
    [restart] = watchdog.wait_for("restart_triggered", timeout=10)
    assert restart["pid"] == healthy["pid"]
    assert restart["reason"].startswith("memory critical for "), restart["reason"]
    assert _at(started) < _at(failure) < _at(restart)


def test_a_post_to_the_apps_cleanup_route_is_remedy_applied(run_watchdog) -> None:
    watchdog, healthy, started = _remedied(run_watchdog, [], {"post": "/admin/cleanup"})
    url = f"{watchdog_url(watchdog)}/admin/cleanup"
    assert started["message"].endswith(f": POST {url}")
    [applied] = watchdog.wait_for("remedy_applied", timeout=5)
    assert applied["action"] == "POST /admin/cleanup"
    assert applied["after"] < _percent(WARNING_MB)
    assert watchdog.events("restart_triggered") == []
    assert watchdog.child_pid() == healthy["pid"]


def watchdog_url(watchdog: Any) -> str:
    """The scheme, host and port of the health URL the watchdog was given."""
    url: str = watchdog.events("watchdog_started")[0]["url"]
    return url.removesuffix("/health")
