"""TLS in our HTTP clients: a CA bundle loaded only for an https URL, and https verified."""

from __future__ import annotations

import asyncio
import gc
import json
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.conftest import Reports
from tests.integration.test_alerts import alerts_config, outcome, restart, until
from tests.integration.test_probe import health, run_probes
from watchdog.outputs.alerts import Alerter
from watchdog.runtime.remedies import post

# Every SSL context alive once a Prober is built, in a fresh interpreter: how many CAs
# each trusts, and whether it verifies.
CONTEXTS = """
import gc, json, ssl, sys
from watchdog.config import HealthConfig
from watchdog.sensors.probe import Prober
config = HealthConfig(url=sys.argv[1], interval=1.0, timeout=0.5, max_failures=3,
                      startup_timeout=5.0, startup_interval=0.1, expect_status=(200,))
prober = Prober(config)
gc.collect()
contexts = [o for o in gc.get_objects() if isinstance(o, ssl.SSLContext)]
print(json.dumps([[c.cert_store_stats()["x509_ca"], c.verify_mode == ssl.CERT_REQUIRED,
                   c.check_hostname] for c in contexts]))
"""


def contexts_for(url: str) -> list[list[object]]:
    done = subprocess.run(
        [sys.executable, "-c", CONTEXTS, url],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_an_http_probe_loads_no_ca_bundle() -> None:
    """The bundle costs ~2 MiB resident for the client's life; plain http never uses it."""
    contexts = contexts_for("http://127.0.0.1:8000/health")
    assert contexts  # httpx wants one; it is the one that trusts nobody
    assert all(cas == 0 for cas, _, _ in contexts)
    assert all(verifies and hostname for _, verifies, hostname in contexts)


def test_an_https_probe_verifies_against_the_ca_bundle() -> None:
    contexts = contexts_for("https://127.0.0.1:8443/health")
    assert contexts
    assert all(cas > 0 and verifies and hostname for cas, verifies, hostname in contexts)


def reachable_contexts(root: object, limit: int = 100_000) -> list[ssl.SSLContext]:
    """The SSL contexts held by `root`'s objects, not by classes, modules or functions."""
    skip = (type, type(gc), type(reachable_contexts), type(print))
    seen, todo, found = {id(root)}, [root], []
    while todo and len(seen) < limit:
        for child in gc.get_referents(todo.pop()):
            if id(child) in seen or isinstance(child, skip):
                continue
            seen.add(id(child))
            if isinstance(child, ssl.SSLContext):
                found.append(child)
            todo.append(child)
    return found


def test_an_alert_client_for_an_http_webhook_holds_no_ca_bundle(httpserver: HTTPServer) -> None:
    """Made on the first alert, the client lives as long as the watchdog."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    reports = Reports()

    async def scenario() -> list[ssl.SSLContext]:
        alerter = Alerter(alerts_config(httpserver.url_for("/hook")), "demo_api", reports)
        alerter.on_event(restart())
        await until(outcome(reports))
        try:
            return reachable_contexts(alerter)
        finally:
            await alerter.aclose()

    contexts = asyncio.run(scenario())
    assert reports.named("alert_sent")
    assert contexts
    assert all(c.cert_store_stats()["x509_ca"] == 0 for c in contexts)
    assert all(c.verify_mode == ssl.CERT_REQUIRED and c.check_hostname for c in contexts)


@pytest.fixture
def self_signed_server(tmp_path: Path) -> Iterator[str]:
    """An https server on loopback whose certificate no CA signed."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        capture_output=True,
        timeout=30,
        check=True,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/health"
    finally:
        server.shutdown()
        thread.join(timeout=5.0)
        server.server_close()


def test_an_https_probe_refuses_a_certificate_no_ca_signed(self_signed_server: str) -> None:
    [result] = run_probes(health(self_signed_server, timeout=2.0))
    assert not result.ok
    assert "CERTIFICATE_VERIFY_FAILED" in (result.error or "")


def test_an_https_remedy_post_refuses_a_certificate_no_ca_signed(self_signed_server: str) -> None:
    error = asyncio.run(post(self_signed_server, 2.0))
    assert "CERTIFICATE_VERIFY_FAILED" in (error or "")
