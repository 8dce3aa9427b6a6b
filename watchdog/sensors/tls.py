"""The TLS context an HTTP client of ours is built with: a CA bundle only for https."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def _trusts_nobody() -> ssl.SSLContext:
    # Still CERT_REQUIRED with hostname checks, and no CA at all: any TLS server is refused.
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def plain_http_context(url: str) -> ssl.SSLContext | None:
    """For an http URL, a context that is never used; None for https (verify as usual).

    httpx builds a client's context when the client is made, whatever its URLs, and the
    CA bundle it loads stays resident (about 2 MiB) as long as the client. Our clients
    never follow a redirect to another origin, so an http URL never meets TLS; were one
    to, this context fails closed rather than trusting the server.
    """
    return _trusts_nobody() if httpx.URL(url).scheme == "http" else None
