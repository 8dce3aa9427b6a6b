"""Secrets of the alert targets (the webhook URL beyond its host, header values) and of the
health probe (its header values), found and replaced in whatever a message quotes them as."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

import httpx

from watchdog.config.operations import AlertsConfig

MIN_PIECE = 3  # shorter pieces of a URL or header cannot hide a secret worth the name
REDACTED = "<redacted>"


def _spellings(text: str) -> set[str]:
    """`text` as an error message may quote it: as is, and escaped the ways Python, JSON and
    URLs escape (a header value shows in h11's error as a bytes repr: b'Bearer x\\r\\n...')."""
    found = {text}
    for _ in range(2):  # a quoted text may be quoted once more (a repr of a repr)
        for form in list(found):
            percent = quote(form, safe="")
            found.update(
                (
                    repr(form)[1:-1],
                    repr(form.encode("utf-8", "backslashreplace"))[2:-1],
                    json.dumps(form)[1:-1],
                    json.dumps(form, ensure_ascii=False)[1:-1],
                    percent,
                    re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), percent),
                    quote(form),
                    quote_plus(form),
                )
            )
    return found


def secrets_of(config: AlertsConfig) -> list[str]:
    """Texts never to report: the webhook URL beyond scheme://host, and header values."""
    hook = config.webhook
    if hook is None:
        return []
    url = httpx.URL(hook.url)
    private = [url.raw_path.decode("ascii"), url.path, url.fragment, *hook.headers.values()]
    private.append(url.userinfo.decode("ascii"))
    return spelled_secrets(private, whole=(hook.url, str(url)))


def spelled_secrets(private: Iterable[str], whole: Iterable[str] = ()) -> list[str]:
    """Every way a message may quote the `private` texts (and pieces of them), longest first."""
    private = list(private)
    # Pieces too: a message may quote one path segment or the token after "Bearer".
    pieces = [p for text in private for p in re.split(r"[/?&=#:@\s]+", text) if len(p) >= MIN_PIECE]
    found = {*whole, *pieces, *(text for text in private if text not in ("", "/"))}
    spelled = {form for text in found for form in _spellings(text)}
    return sorted(spelled, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced, longest first so that no part of one survives.

    One pass: a short secret ("act") must not match inside a <redacted> already put in.
    """
    ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
    if not ordered:
        return text
    return re.sub("|".join(map(re.escape, ordered)), REDACTED, text)
