"""srmlink.endpoints: what ``host=`` accepts, for REST and WebSocket alike; the shared TLS
context."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest
from hypothesis import given, strategies as st

from srmlink import MLinkClient
from srmlink.endpoints import ENDPOINTS, resolve_address, tls_context
from srmlink.errors import InvalidHostError

_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
HOSTS = st.one_of(
    st.lists(_LABEL, min_size=1, max_size=4).map(".".join),
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda p: ".".join(map(str, p))),
    st.just("[::1]"),
)
PORTS = st.one_of(st.none(), st.integers(1, 65535))


@given(HOSTS, PORTS, st.sampled_from(["http", "https", "ws", "wss"]), st.booleans())
def test_a_url_and_its_host_port_resolve_alike(
    host: str, port: int | None, scheme: str, websocket: bool
) -> None:
    hostport = host if port is None else f"{host}:{port}"
    secure = scheme in ("https", "wss")
    from_url = resolve_address(
        f"{scheme}://{hostport}", endpoint="live", scheme=None, websocket=websocket
    )
    plain = resolve_address(
        hostport, endpoint="live", scheme="https" if secure else "http", websocket=websocket
    )
    assert from_url == plain
    assert from_url.host == hostport
    expected = ("wss", "https") if secure else ("ws", "http")
    assert from_url.scheme == expected[0 if websocket else 1]


@given(st.text(max_size=40))
def test_any_text_resolves_or_raises_invalid_host(text: str) -> None:
    try:
        address = resolve_address(text, endpoint="live", scheme=None, websocket=False)
    except InvalidHostError as exc:
        assert "HOST[:PORT]" in str(exc)
    else:
        assert address.scheme in ("http", "https")
        assert address.host and "/" not in address.host and "@" not in address.host


def test_defaults_come_from_the_environment_then_the_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SRMLINK_HOST", raising=False)
    address = resolve_address(None, endpoint="delayed", scheme=None, websocket=True)
    assert (address.scheme, address.host) == ("wss", ENDPOINTS["delayed"])
    monkeypatch.setenv("SRMLINK_HOST", "ws://127.0.0.1:8642")
    address = resolve_address(None, endpoint="live", scheme=None, websocket=False)
    assert address.url("rest/json") == "http://127.0.0.1:8642/rest/json"


def test_an_unknown_scheme_argument_is_rejected() -> None:
    with pytest.raises(InvalidHostError, match="scheme must be"):
        resolve_address("127.0.0.1", endpoint="live", scheme="ftp", websocket=False)


def test_clients_share_one_verifying_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the CA bundle is paid once per process, not by every client."""
    built: list[ssl.SSLContext] = []
    original = httpx.create_ssl_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        context = original(*args, **kwargs)
        built.append(context)
        return context

    monkeypatch.setattr(httpx, "create_ssl_context", counting)
    tls_context.cache_clear()
    try:
        for _ in range(3):
            with MLinkClient("k", host="127.0.0.1:1", scheme="http"):
                pass
        assert len(built) == 1
        (context,) = built
        assert tls_context() is context
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    finally:
        tls_context.cache_clear()
