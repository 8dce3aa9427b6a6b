"""A real gunicorn on the held socket, by the README's recipe, restarted under load."""

from __future__ import annotations

import importlib.util
import signal
from datetime import datetime

import httpx
import pytest

from tests.conftest import free_port, poll
from tests.loadgen import Load
from tests.served import (
    COMMANDS,
    IN_FLIGHT,
    LONGEST_LOAD,
    RATE,
    assert_nothing_lost,
    held_config,
    restarts_under_load,
)

pytest.importorskip("gunicorn")

RESTARTS = 2


@pytest.mark.parametrize("strategy", ["stop_start", "overlap"])
def test_gunicorn_gthread_restarts_under_load_fail_nothing(run_watchdog, strategy: str) -> None:
    """gunicorn finds the socket through LISTEN_FDS; its threaded workers drop nothing."""
    port = free_port()
    watchdog = run_watchdog(held_config(port, COMMANDS["gunicorn-gthread"], strategy))
    report = restarts_under_load(watchdog, port, RESTARTS)
    assert report.counts == {"ok": len(report.outcomes)}, report.counts
    assert not watchdog.events("child_exited"), "no child may die on its own"
    if strategy == "overlap":
        assert len(watchdog.events("child_accepting")) == RESTARTS
    answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5, trust_env=False)
    assert answer.json()["status"] == "ok"


@pytest.mark.skipif(
    importlib.util.find_spec("uvicorn") is None, reason="uvicorn's gunicorn worker is not here"
)
@pytest.mark.parametrize("strategy", ["stop_start", "overlap"])
def test_gunicorn_with_uvicorn_workers_restarts_under_load(run_watchdog, strategy: str) -> None:
    """uvicorn's worker under gunicorn: nothing refused, nothing lost once quiesced."""
    port = free_port()
    watchdog = run_watchdog(held_config(port, COMMANDS["gunicorn-uvicorn"], strategy))
    report = restarts_under_load(watchdog, port, RESTARTS)
    assert not watchdog.events("child_exited"), "no child may die on its own"
    assert_nothing_lost(report.counts, watchdog.events("child_quiesced"), RESTARTS)


def test_gunicorn_reloads_in_place_on_hup_and_serves_throughout(run_watchdog) -> None:
    """restart.method signal: the master gets HUP and replaces its own workers; no stop, no
    new master, nothing lost, and the reload is confirmed by new workers and a good answer."""
    port = free_port()
    config = held_config(port, COMMANDS["gunicorn-gthread"], "stop_start")
    config["restart"]["method"] = "signal"
    watchdog = run_watchdog(config)
    [first] = watchdog.wait_for("child_healthy", timeout=30)
    load = Load(port, RATE, LONGEST_LOAD, IN_FLIGHT).start()
    try:
        poll(lambda: load.answered() >= 20, timeout=10)  # requests flowing
        watchdog.send(signal.SIGUSR1)
        [reloaded] = watchdog.wait_for("child_reloaded", timeout=30)
        [_, again] = watchdog.wait_for("child_healthy", count=2, timeout=30)
        done = load.answered()
        poll(lambda: load.answered() >= done + 20, timeout=10)  # and after it
    finally:
        load.stop()
    report = load.join(timeout=30)
    assert again["pid"] == first["pid"], "the same master serves on"
    assert set(reloaded["workers_after"]) - set(reloaded["workers_before"]), "new workers"
    assert watchdog.events("child_stopping") == []
    assert report.counts == {"ok": len(report.outcomes)}, report.counts


def test_a_reload_in_place_is_confirmed_by_a_new_workers_answer(run_watchdog) -> None:
    """On HUP gunicorn forks new workers and SIGTERMs the old ones at once. Here the new
    workers take 1.5 s to load the app and the old ones serve on for 3 s after their
    SIGTERM (uvicorn's worker does for up to 0.1 s): an answer in the first 1.5 s after the
    signal is an old worker's, and cannot confirm that the new ones serve."""
    port = free_port()
    env = {"BOOT_DELAY": "1.5", "LINGER_AFTER_TERM": "3"}
    config = held_config(port, COMMANDS["gunicorn-gthread"], "stop_start", env)
    config["restart"]["method"] = "signal"
    watchdog = run_watchdog(config)
    watchdog.wait_for("child_healthy", timeout=30)
    watchdog.send(signal.SIGUSR1)
    [reloading] = watchdog.wait_for("child_reloading", timeout=30)
    [reloaded] = watchdog.wait_for("child_reloaded", timeout=30)
    [_, healthy] = watchdog.wait_for("child_healthy", count=2, timeout=30)
    assert not set(reloaded["workers_after"]) & set(reloaded["workers_before"])
    waited = _wall(healthy) - _wall(reloading)
    assert waited >= 1.5, f"healthy {waited:.3f}s after the signal: an old worker answered"


def _wall(event: dict) -> float:
    return datetime.fromisoformat(event["timestamp"]).timestamp()
