"""The metrics endpoint on a real loopback socket, and the textfile on a real file system."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from watchdog.config.operations import ListenAddress, MetricsConfig
from watchdog.outputs import scrape as scrape_module
from watchdog.outputs.events import Event
from watchdog.outputs.metrics import Metrics
from watchdog.outputs.scrape import CONTENT_TYPE, MAX_HEAD, MetricsError

WAIT = 3.0  # every wait on the server is bounded by this, so a failure never hangs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Reports:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, /, **fields: Any) -> None:
        self.calls.append((name, fields))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def metrics_for(
    listen: ListenAddress | None = None, textfile: Path | None = None
) -> tuple[Metrics, Reports]:
    reports = Reports()
    config = MetricsConfig(listen=listen, allow_remote=False, textfile=textfile)
    return Metrics(config, "api", reports), reports


def serving(scenario: Callable[[Metrics, str], Awaitable[None]]) -> list[dict[str, Any]]:
    """Run `scenario` against a started endpoint; return what reached the loop's error hook."""
    errors: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
        port = free_port()
        metrics, _ = metrics_for(ListenAddress("127.0.0.1", port))
        await metrics.start()
        try:
            async with asyncio.timeout(WAIT * 3):
                await scenario(metrics, f"http://127.0.0.1:{port}")
        finally:
            async with asyncio.timeout(WAIT):
                await metrics.aclose()

    asyncio.run(main())
    return errors


async def raw(base: str, request: bytes) -> bytes:
    """Send `request` as is and read until the server closes the connection (b"" if reset)."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(WAIT):
            return await reader.read()
    except ConnectionResetError:  # hung up on with our bytes unread: a reset, not a FIN
        return b""
    finally:
        writer.close()


def parse(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_scrape_answers_the_exposition_text() -> None:
    """GET /metrics: 200, the 0.0.4 content type, an exact length and parseable values."""

    async def scenario(metrics: Metrics, base: str) -> None:
        metrics.on_event(Event("child_healthy", fields={"pid": 1}, wall=1.7e9))
        metrics.on_event(Event("probe_ok", fields={"latency": 0.02}))
        async with httpx.AsyncClient(timeout=WAIT) as client:
            response = await client.get(f"{base}/metrics")
            head = await client.head(f"{base}/metrics")
            query = await client.get(f"{base}/metrics?name[]=watchdog_up")
        assert response.status_code == 200
        assert response.headers["content-type"] == CONTENT_TYPE
        assert int(response.headers["content-length"]) == len(response.content)
        assert response.headers["connection"] == "close"
        families = parse(response.text)
        assert families["watchdog_child_up"].samples[0].value == 1
        assert families["watchdog_probe_duration_seconds"].samples[-1].value == 1  # _count
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == response.headers["content-length"]
        assert query.status_code == 200

    assert serving(scenario) == []


def test_other_paths_and_methods_are_refused() -> None:
    """Another path is 404, another method on /metrics is 405 with Allow."""

    async def scenario(_: Metrics, base: str) -> None:
        async with httpx.AsyncClient(timeout=WAIT) as client:
            missing = await client.get(f"{base}/")
            posted = await client.post(f"{base}/metrics")
            deleted = await client.delete(f"{base}/metrics")
        assert missing.status_code == 404
        assert posted.status_code == 405
        assert posted.headers["allow"] == "GET, HEAD"
        assert deleted.status_code == 405

    assert serving(scenario) == []


def test_garbage_and_silent_clients_never_stop_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nonsense gets a 400, a silent or oversized client is cut off, and scrapes go on."""
    monkeypatch.setattr(scrape_module, "READ_TIMEOUT", 0.3)

    async def scenario(_: Metrics, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        silent = await asyncio.open_connection(host, int(port))
        half = await asyncio.open_connection(host, int(port))
        half[1].write(b"GET /metr")
        # Clients that hang up at once: before sending a byte, and before reading the answer.
        _, gone = await asyncio.open_connection(host, int(port))
        gone.close()
        _, impatient = await asyncio.open_connection(host, int(port))
        impatient.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        impatient.transport.abort()
        async with httpx.AsyncClient(timeout=WAIT) as client:
            # Served while the silent ones still hold their connections open.
            assert (await client.get(f"{base}/metrics")).status_code == 200
            assert (await raw(base, b"\x00\xffnot http at all\r\n\r\n")).startswith(
                b"HTTP/1.1 400 "
            )
            assert (await raw(base, b"GET /metrics\r\n\r\n")).startswith(b"HTTP/1.1 400 ")
            assert await raw(base, b"X" * (MAX_HEAD * 2)) == b""
            for reader, writer in (silent, half):
                async with asyncio.timeout(WAIT):
                    assert await reader.read() == b""  # closed by the server's deadline
                writer.close()
            assert (await client.get(f"{base}/metrics")).status_code == 200

    assert serving(scenario) == []


def test_aclose_ends_open_connections_at_once() -> None:
    """Stopping does not wait for a client that holds a connection and says nothing."""

    async def scenario(metrics: Metrics, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        await asyncio.sleep(0.05)  # let the server accept it
        async with asyncio.timeout(1.0):  # well under READ_TIMEOUT
            await metrics.aclose()
            assert await reader.read() == b""
        writer.close()
        async with httpx.AsyncClient(timeout=WAIT) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"{base}/metrics")

    assert serving(scenario) == []


def test_a_port_in_use_is_a_clear_error() -> None:
    """Binding an address another socket holds raises MetricsError naming metrics.listen."""

    async def main() -> None:
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            address = ListenAddress("127.0.0.1", holder.getsockname()[1])
            metrics, _ = metrics_for(address)
            with pytest.raises(
                MetricsError, match=r"^metrics\.listen: cannot listen on "
            ) as caught:
                await metrics.start()
            assert str(address) in str(caught.value)
            assert "in use" in str(caught.value)
            await metrics.aclose()

    asyncio.run(main())


def listening_sockets() -> set[tuple[str, int]]:
    """The addresses this process listens on, as the kernel lists them."""
    return {
        (conn.laddr.ip, conn.laddr.port)
        for conn in psutil.Process().net_connections("inet")
        if conn.status == psutil.CONN_LISTEN
    }


def test_no_listen_address_starts_nothing() -> None:
    """Without metrics.listen, start opens no socket and aclose has nothing to close."""

    async def main() -> None:
        metrics, reports = metrics_for()
        before = listening_sockets()
        await metrics.start()
        assert listening_sockets() == before
        await metrics.aclose()
        assert reports.calls == []

    asyncio.run(main())


def test_a_listen_address_is_seen_listening() -> None:
    """The check above can fail: with metrics.listen, start does open a listening socket."""

    async def main() -> None:
        port = free_port()
        metrics, _ = metrics_for(ListenAddress("127.0.0.1", port))
        await metrics.start()
        try:
            assert ("127.0.0.1", port) in listening_sockets()
        finally:
            await metrics.aclose()
        assert ("127.0.0.1", port) not in listening_sockets()

    asyncio.run(main())


def test_textfile_is_replaced_atomically_with_mode_0640(tmp_path: Path) -> None:
    """Each write renames a complete new file over the old: a reader keeps a whole file."""
    path = tmp_path / "api.prom"
    metrics, reports = metrics_for(textfile=path)
    metrics.write_textfile()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    with path.open() as old:
        first_inode = os.fstat(old.fileno()).st_ino
        metrics.on_event(Event("child_healthy", fields={"pid": 1}))
        metrics.write_textfile()
        assert "watchdog_child_up{" in old.read()  # the old file, whole, still readable
    assert path.stat().st_ino != first_inode
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert parse(path.read_text())["watchdog_child_up"].samples[0].value == 1
    assert [p.name for p in tmp_path.iterdir()] == ["api.prom"]  # no temporary left behind
    assert reports.calls == []


def test_textfile_failure_reported_once_then_restored(tmp_path: Path) -> None:
    """A parent that is a regular file: reported once across writes, never raised; then back."""
    parent = tmp_path / "metrics"
    parent.write_text("not a directory")
    metrics, reports = metrics_for(textfile=parent / "api.prom")
    metrics.write_textfile()
    metrics.write_textfile()
    [(name, fields)] = reports.calls
    assert name == "metrics_textfile_failed"
    assert fields["level"] == "error"
    assert "Not a directory" in fields["error"]
    parent.unlink()
    parent.mkdir()
    metrics.write_textfile()
    metrics.write_textfile()
    assert reports.names() == ["metrics_textfile_failed", "metrics_textfile_restored"]
    assert "watchdog_up{" in (parent / "api.prom").read_text()


def test_no_textfile_writes_nothing(tmp_path: Path) -> None:
    """Without metrics.textfile, write_textfile is a no-op."""
    metrics, reports = metrics_for()
    metrics.write_textfile()
    assert reports.calls == []
    assert list(tmp_path.iterdir()) == []


def test_a_flood_of_idle_connections_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """At most MAX_CONNECTIONS are held: beyond them, the one that has waited longest for its
    request is hung up on, so a flood cannot use up the watchdog's file descriptors."""
    monkeypatch.setattr(scrape_module, "HEAD_TIMEOUT", 30.0)  # only the cap hangs up here

    async def scenario(_: Metrics, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        flood = [await asyncio.open_connection(host, int(port)) for _ in range(40)]

        async def hung_up(reader: asyncio.StreamReader) -> bool:
            try:
                async with asyncio.timeout(1.0):  # far below HEAD_TIMEOUT
                    return await reader.read() == b""
            except TimeoutError:
                return False
            except ConnectionResetError:
                return True

        closed = await asyncio.gather(*(hung_up(reader) for reader, _ in flood))
        held = scrape_module.MAX_CONNECTIONS
        assert closed == [True] * (40 - held) + [False] * held  # the newest are kept
        for _, writer in flood:
            writer.close()

    assert serving(scenario) == []


def test_idle_connections_never_keep_a_scrape_out() -> None:
    """More idle connections than MAX_CONNECTIONS, open and silent: a scrape is still
    answered at once, and each idle one is hung up on after HEAD_TIMEOUT."""

    async def scenario(_: Metrics, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        idle = [await asyncio.open_connection(host, int(port)) for _ in range(20)]
        async with httpx.AsyncClient(timeout=1.0) as client, asyncio.timeout(1.0):
            assert (await client.get(f"{base}/metrics")).status_code == 200
        for reader, writer in idle:
            async with asyncio.timeout(scrape_module.HEAD_TIMEOUT + WAIT):
                with contextlib.suppress(ConnectionResetError):
                    assert await reader.read() == b""
            writer.close()

    assert serving(scenario) == []
