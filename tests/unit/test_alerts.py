"""Alerts, the pure part: which events alert, the per-minute limit, the body, redaction."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from urllib.parse import quote, quote_plus

import pytest

from tests.conftest import Reports
from watchdog.config.operations import ALERT_KINDS, AlertsConfig, WebhookConfig
from watchdog.outputs.alertrules import AlertRules, RateLimit, alert_kind
from watchdog.outputs.alerts import Alerter
from watchdog.outputs.events import Event
from watchdog.outputs.redaction import REDACTED, redact, secrets_of

URL = "https://user:pa55word-x@hooks.example.com/services/T0123/XyZsecretTOKEN?key=querysecret9"
HEADER = "Bearer sekrit-token-9"
WALL = datetime(2025, 3, 4, 5, 6, 7, 890000, tzinfo=UTC).timestamp()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def config(
    events: tuple[str, ...] = ALERT_KINDS,
    per_minute: int = 6,
    webhook: bool = False,
    command: tuple[str, ...] | None = None,
) -> AlertsConfig:
    hook = WebhookConfig(URL, 1.0, MappingProxyType({"Authorization": HEADER}))
    return AlertsConfig(
        webhook=hook if webhook else None,
        command=command,
        command_timeout=1.0,
        events=events,
        max_per_minute=per_minute,
    )


def restart(reason: str = "health probe failed 3 times in a row: connection refused") -> Event:
    return Event(
        "restart_triggered", "warning", fields={"reason": reason, "pid": 42}, at=5.0, wall=WALL
    )


ALERTS = [
    ("restart", restart()),
    ("crash", Event("child_exited", "error", fields={"exit": "exit code 1", "code": 1})),
    ("crash_loop", Event("crash_loop", "error", fields={"reason": "5 crashes", "action": "exit"})),
    ("restart_recommended", Event("RESTART_RECOMMENDED", "warning", fields={"reason": "leak"})),
    ("critical", Event("level_changed", "error", fields={"status": "critical", "metric": "cpu"})),
    ("recovered", Event("child_healthy", fields={"pid": 7, "startup": 0.4, "downtime": 3.5})),
    ("restart", Event("restart_failed", "error", fields={"reason": "new child exited"})),
    (
        "critical",  # the host's, when resources.host.alert makes it count
        Event(
            "level_changed",
            "error",
            fields={"status": "critical", "metric": "host_cpu", "context": False},
        ),
    ),
]

NOT_ALERTS = [
    # A busy host is no alert unless resources.host.alert says so.
    Event(
        "level_changed",
        "warning",
        fields={"status": "critical", "metric": "host_cpu", "context": True},
    ),
    Event("level_changed", "warning", fields={"status": "warning", "metric": "memory"}),
    Event("level_changed", fields={"status": "normal", "metric": "memory"}),
    Event("child_healthy", fields={"pid": 7, "startup": 0.4, "downtime": None}),
    Event("probe_failed", "warning", fields={"consecutive": 1}),
    Event("resource_sample", category="performance", fields={"rss_mb": 10.0}),
    Event("restart_scheduled", fields={"delay": 1.0}),
    Event("child_started", fields={"pid": 7}),
]


@pytest.mark.parametrize(("kind", "event"), ALERTS, ids=[kind for kind, _ in ALERTS])
def test_each_kind_is_recognised(kind: str, event: Event) -> None:
    """Each configured kind picks out its own event."""
    assert alert_kind(event, ALERT_KINDS) == kind


@pytest.mark.parametrize(("kind", "event"), ALERTS, ids=[kind for kind, _ in ALERTS])
def test_a_kind_not_configured_is_no_alert(kind: str, event: Event) -> None:
    """An event of a kind left out of `events` is no alert."""
    others = tuple(other for other in ALERT_KINDS if other != kind)
    assert alert_kind(event, others) is None


@pytest.mark.parametrize("event", NOT_ALERTS, ids=[event.name for event in NOT_ALERTS])
def test_other_events_are_no_alert(event: Event) -> None:
    """Warnings, a first healthy answer, probes and samples never alert."""
    assert alert_kind(event, ALERT_KINDS) is None


def test_rate_limit_slides_over_sixty_seconds() -> None:
    """Six pass in a minute; the seventh passes once the first is 60 s old, not before."""
    limit = RateLimit(6)
    assert [limit.allow(float(t)) for t in range(8)] == [True] * 6 + [False] * 2
    assert limit.allow(59.9) is False
    assert limit.allow(60.0) is True
    assert limit.take_dropped() == 3
    assert limit.take_dropped() == 0


def test_ten_alerts_in_a_minute_send_six_and_count_four() -> None:
    """Of 10 alerts within a minute 6 make bodies; after the window slides alerts flow again."""
    clock = FakeClock()
    rules = AlertRules(config(), "demo_api", "web1", clock)
    bodies = []
    for _ in range(10):
        bodies.append(rules.consider(restart()))
        clock.now += 5.0

    assert sum(body is not None for body in bodies) == 6
    assert rules.limit.dropped == 4
    clock.now = 1000.0 + 60.0  # the first alert has left the window
    assert rules.consider(restart()) is not None


def test_dropped_alerts_are_reported_once_when_alerts_flow_again() -> None:
    """One alerts_dropped with the count, made by the first alert after the limit lifts."""
    clock, reports = FakeClock(), Reports()
    alerter = Alerter(config(command=("true",)), "demo_api", reports, clock=clock, host="web1")
    for _ in range(10):
        alerter.on_event(restart())
        clock.now += 1.0
    assert reports.named("alerts_dropped") == []

    clock.now += 60.0
    alerter.on_event(restart())
    alerter.on_event(restart())

    assert reports.named("alerts_dropped") == [{"level": "warning", "count": 4, "per_minute": 6}]


def test_dropped_alerts_are_reported_at_aclose() -> None:
    """Alerts still dropped when the watchdog stops are reported by aclose, once."""
    reports = Reports()
    alerting = config(per_minute=1, command=("true",))
    alerter = Alerter(alerting, "demo_api", reports, clock=FakeClock(), host="web1")
    for _ in range(3):
        alerter.on_event(restart())

    asyncio.run(alerter.aclose(timeout=10.0))  # the one let through is sent meanwhile
    alerter.on_event(restart())  # after aclose: ignored

    assert reports.named("alerts_dropped") == [{"level": "warning", "count": 2, "per_minute": 1}]


def test_with_no_target_nothing_is_counted_as_dropped() -> None:
    """No webhook and no command: there is nothing to drop, so no alerts_dropped is logged."""
    reports = Reports()
    alerter = Alerter(config(per_minute=1), "demo_api", reports, clock=FakeClock(), host="web1")
    for _ in range(10):
        alerter.on_event(restart())
    asyncio.run(alerter.aclose(timeout=0.1))
    assert reports.calls == []


def test_body_carries_event_context_and_a_slack_line() -> None:
    """The body names the kind, app, host, reason and time, with the latest sample and probe."""
    rules = AlertRules(config(), "demo_api", "web1", FakeClock())
    sample = {"rss_mb": 120.5, "cpu_percent": 3.0, "disks": {"/": 40.0}}
    assert rules.consider(Event("resource_sample", fields={"rss_mb": 1.0})) is None
    assert rules.consider(Event("resource_sample", fields={**sample, "also": ("memory",)})) is None
    assert rules.consider(Event("probe_ok", fields={"status": 200, "latency": 0.01})) is None
    assert rules.consider(Event("probe_failed", fields={"status": 503, "latency": 0.2})) is None

    body = rules.consider(restart("probe failed <3> times & more\nsecond line"))

    assert body is not None
    assert body["event"] == "restart"
    assert body["name"] == "restart_triggered"
    assert (body["app"], body["host"], body["level"]) == ("demo_api", "web1", "warning")
    assert body["reason"] == "probe failed <3> times & more\nsecond line"
    assert body["time"] == "2025-03-04T05:06:07.890Z"
    assert body["fields"] == {"reason": body["reason"], "pid": 42}
    assert body["metrics"] == sample
    assert body["last_probe"] == {"ok": False, "status": 503, "latency": 0.2}
    assert body["text"] == (
        "[demo_api@web1] restart: probe failed &lt;3&gt; times &amp; more second line"
    )


def test_reason_falls_back_to_message_then_exit() -> None:
    """Without a reason the body uses the message, then the exit; recovery says how long."""
    rules = AlertRules(config(per_minute=100), "demo_api", "web1", FakeClock())
    [crash, critical, recovered] = [
        rules.consider(event) for _, event in (ALERTS[1], ALERTS[4], ALERTS[5])
    ]
    leveled = rules.consider(
        Event("level_changed", fields={"status": "critical", "message": "CPU at 97%"})
    )

    assert crash is not None
    assert crash["reason"] == "exit code 1"
    assert (crash["metrics"], crash["last_probe"]) == ({}, {})
    assert critical is not None
    assert critical["reason"] is None
    assert critical["text"] == "[demo_api@web1] critical: level_changed"
    assert leveled is not None
    assert leveled["text"] == "[demo_api@web1] critical: CPU at 97%"
    assert recovered is not None
    assert recovered["reason"] is None
    assert recovered["text"] == "[demo_api@web1] recovered: healthy again after 3.5s down"


def test_odd_field_values_are_serialised_as_text() -> None:
    """A field no JSON encoder knows still reaches the receiver, as its text."""
    rules = AlertRules(config(), "demo_api", "web1", FakeClock())
    body = rules.consider(
        Event("child_exited", fields={"exit": "signal 9", "path": Path("/srv/app")})
    )

    decoded = json.loads(json.dumps(body, default=str))

    assert decoded["fields"]["path"] == "/srv/app"


def test_on_event_never_raises() -> None:
    """An event whose fields cannot be encoded at all is reported as a failed alert."""
    reports = Reports()
    alerting = config(command=("true",))
    alerter = Alerter(alerting, "demo_api", reports, clock=FakeClock(), host="web1")

    alerter.on_event(Event("child_exited", fields={"exit": "x", "bad": {(1, 2): "tuple key"}}))

    [failed] = reports.named("alert_failed")
    assert failed["kind"] == "child_exited"
    assert "TypeError" in failed["error"]


def test_redact_replaces_every_secret_longest_first() -> None:
    """Each secret becomes <redacted>, a longer one before any part of it; empty is skipped."""
    text = "GET /a/token-123456 failed; token-123456 again; /a/ stays"

    assert redact(text, ["token-123456", "", "/a/token-123456"]) == (
        f"GET {REDACTED} failed; {REDACTED} again; /a/ stays"
    )
    assert redact("nothing secret", []) == "nothing secret"


def test_secrets_are_the_url_beyond_its_host_and_the_header_values() -> None:
    """The path, token, query, user info and header value are secrets; the host is not."""
    secrets = secrets_of(config(webhook=True))
    message = (
        f"ConnectError for {URL}: path /services/T0123/XyZsecretTOKEN, "
        f"token XyZsecretTOKEN, query querysecret9, header {HEADER}, alone sekrit-token-9, "
        "password pa55word-x, host hooks.example.com"
    )

    redacted = redact(message, secrets)

    for secret in ("XyZsecretTOKEN", "querysecret9", "sekrit-token-9", "pa55word-x", "T0123"):
        assert secret not in redacted
    assert "hooks.example.com" in redacted
    assert secrets_of(config()) == []


def _hooked(headers: dict[str, str], url: str = URL) -> AlertsConfig:
    return AlertsConfig(WebhookConfig(url, 1.0, MappingProxyType(headers)), None, 1.0, (), 6)


def _h11_error(value: str) -> str:
    """What httpx reports for a header value HTTP does not allow: h11's own message."""
    import h11

    with pytest.raises(h11.LocalProtocolError) as caught:
        h11.Request(method="POST", target="/", headers=[("Host", "h"), ("X-Auth", value)])
    return f"LocalProtocolError: {caught.value}"


def test_a_header_quoted_escaped_is_redacted() -> None:
    """h11 quotes a bad header value as a bytes repr (\\r\\n escaped): redacted all the same."""
    value = "Bearer SECRET1\r\nX-Evil: SECRET2"
    error = _h11_error(value)
    assert "SECRET1\\r\\n" in error  # the form that leaked into the log
    redacted = redact(error, secrets_of(_hooked({"Authorization": value})))
    assert "SECRET" not in redacted
    assert redacted.startswith("LocalProtocolError: Illegal header value ")
    logged = json.dumps({"error": redacted})  # and as the log line writes it
    assert "SECRET" not in logged


SPELLINGS = [
    pytest.param(repr, id="repr"),
    pytest.param(lambda s: repr(repr(s)), id="repr-of-repr"),
    pytest.param(lambda s: repr(s.encode()), id="bytes-repr"),
    pytest.param(json.dumps, id="json"),
    pytest.param(lambda s: json.dumps(s, ensure_ascii=False), id="json-unicode"),
    pytest.param(lambda s: quote(s, safe=""), id="percent"),
    pytest.param(
        lambda s: re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(s, safe="")),
        id="percent-lower",
    ),
    pytest.param(quote_plus, id="plus"),
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_a_secret_is_redacted(spelling: Callable[[str], str]) -> None:
    """A secret escaped the way Python, JSON or a URL escapes it is still a secret."""
    secret = "Zq9tok\tén/€ 'x\"\x01W7"
    message = f"failed: {spelling(secret)} (while sending)"
    redacted = redact(message, secrets_of(_hooked({"X-Key": secret})))
    # What is left around the marker is at most the quotes of a repr or a JSON string.
    frame = r"""failed: b?[\\'"]{0,3}<redacted>[\\'"]{0,3} \(while sending\)"""
    assert re.fullmatch(frame, redacted), redacted


def test_short_pieces_of_a_secret_are_redacted() -> None:
    """The token after "Bearer", and a short path segment, are redacted on their own too."""
    config = _hooked({"Authorization": "Bearer ab12c"}, "https://hooks.example.com/h/T01/x9z")
    secrets = secrets_of(config)
    message = "token ab12c refused for segment T01 and x9z at hooks.example.com"
    assert redact(message, secrets) == (
        f"token {REDACTED} refused for segment {REDACTED} and {REDACTED} at hooks.example.com"
    )


def test_redaction_does_not_redact_its_own_marker() -> None:
    """A short secret that also occurs in "<redacted>" leaves the markers already put whole."""
    assert redact("the key act-now-123, then act", ["act-now-123", "act", "red"]) == (
        f"the key {REDACTED}, then {REDACTED}"
    )


def test_a_planned_restart_alerts_only_when_asked_for() -> None:
    """A restart on a schedule is no news by default: it is its own kind, `planned`."""
    reason = "planned: uptime 24h \u2265 max_uptime 24h"
    event = Event("restart_triggered", fields={"reason": reason})
    assert alert_kind(event, ("restart", "crash")) is None
    assert alert_kind(event, ("planned",)) == "planned"
    sick = Event("restart_triggered", fields={"reason": "3 consecutive failed probes (refused)"})
    assert alert_kind(sick, ("restart",)) == "restart"


def test_a_failed_remedy_alerts_only_when_asked_for() -> None:
    """The restart rules go on after it; whoever wants to know the gentle way failed asks."""
    event = Event("remedy_failed", fields={"metric": "memory", "error": "no answer"})
    assert alert_kind(event, ("restart", "crash", "critical")) is None
    assert alert_kind(event, ("remedy_failed",)) == "remedy_failed"
    worked = Event("remedy_applied", fields={"metric": "memory"})
    assert alert_kind(worked, ("remedy_failed",)) is None
