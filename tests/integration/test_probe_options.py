"""health.headers, health.method and health.expect_body against a real loopback server."""

from __future__ import annotations

import dataclasses
import gzip
import json
from types import MappingProxyType
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.integration.test_probe import health, run_probes
from watchdog.config import HealthConfig
from watchdog.sensors.probe import BODY_SHOWN, body_problem

TOKEN = "Bearer s3cr3t-t0ken"


def configured(server: HTTPServer, **fields: Any) -> HealthConfig:
    return dataclasses.replace(health(server.url_for("/health")), **fields)


def test_headers_are_sent_with_every_probe(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/health", headers={"Authorization": TOKEN}).respond_with_data("ok")
    config = configured(httpserver, headers=MappingProxyType({"Authorization": TOKEN}))
    results = run_probes(config, count=2)
    assert [result.ok for result in results] == [True, True]
    # Without them the server has no answer for the probe (pytest-httpserver's 500).
    [bare] = run_probes(configured(httpserver))
    assert bare.status == 500


def test_head_asks_with_head(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/health", method="HEAD").respond_with_data("")
    [result] = run_probes(configured(httpserver, method="HEAD"))
    assert (result.ok, result.status) == (True, 200)
    [as_get] = run_probes(configured(httpserver))
    assert as_get.status == 500


@pytest.mark.parametrize(
    ("body", "expected", "error"),
    [
        ("all good", "good", None),
        ("degraded", "good", 'body without "good": got "degraded"'),
        ("", "good", 'body without "good": got an empty body'),
        ('{"status": "ok", "db": true}', {"status": "ok"}, None),
        ('{"status": "ok", "db": true}', {"status": "ok", "db": True}, None),
        ('{"n": 1}', {"n": 1.0}, None),
        ('{"status": "down"}', {"status": "ok"}, 'body has "status": "down", expected "ok"'),
        ('{"db": "true"}', {"db": True}, 'body has "db": "true", expected true'),
        ('{"n": true}', {"n": 1}, 'body has "n": true, expected 1'),
        (
            '{"other": 1}',
            {"status": "ok"},
            'body without "status" (expected {"status": "ok"}): got "{\\"other\\": 1}"',
        ),
        (
            "<html>busy</html>",
            {"status": "ok"},
            'body is not a JSON object with {"status": "ok"}: got "<html>busy</html>"',
        ),
        ('["ok"]', {"status": "ok"}, 'body is not a JSON object with {"status": "ok"}: got'),
    ],
)
def test_the_body_is_judged_and_an_unexpected_one_is_described(
    httpserver: HTTPServer, body: str, expected: object, error: str | None
) -> None:
    httpserver.expect_request("/health").respond_with_data(body)
    if isinstance(expected, dict):
        expected = MappingProxyType(expected)
    [result] = run_probes(configured(httpserver, expect_body=expected))
    assert result.ok is (error is None)
    assert result.status == 200
    if error is None:
        assert result.error is None
    else:
        assert result.error is not None
        assert result.error.startswith(error)


def test_a_long_body_is_shown_cut_short() -> None:
    error = body_problem(b"x" * 100_000, "ok")
    assert error is not None
    assert len(error) < BODY_SHOWN + 40
    assert error == f'body without "ok": got "{"x" * (BODY_SHOWN - 4)}...'


def test_a_gzipped_body_is_judged_decoded(httpserver: HTTPServer) -> None:
    packed = gzip.compress(json.dumps({"status": "ok"}).encode())
    httpserver.expect_request("/health").respond_with_response(
        Response(packed, headers={"Content-Encoding": "gzip"})
    )
    [result] = run_probes(configured(httpserver, expect_body=MappingProxyType({"status": "ok"})))
    assert result.ok is True, result.error


def test_a_header_value_never_shows_in_an_error_even_echoed(httpserver: HTTPServer) -> None:
    """An app that echoes the request's headers into a failed answer's body: the probe's
    error quotes the body, and the secret is redacted from it."""

    def echo(request: Request) -> Response:
        return Response(f"denied for {request.headers['Authorization']}", status=200)

    httpserver.expect_request("/health").respond_with_handler(echo)
    config = configured(
        httpserver, headers=MappingProxyType({"Authorization": TOKEN}), expect_body="ok"
    )
    [result] = run_probes(config)
    assert result.ok is False
    assert result.error is not None
    assert "s3cr3t" not in result.error
    assert "<redacted>" in result.error
