"""A real gunicorn on the held socket, by the README's recipe, restarted under load."""

from __future__ import annotations

import importlib.util

import httpx
import pytest

from tests.conftest import free_port
from tests.served import (
    COMMANDS,
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
