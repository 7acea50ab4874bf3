"""The public API is a small, sorted ``__all__``: pinned here so changes are deliberate."""

from __future__ import annotations

import subprocess
import sys

import srmlink
import srmlink.errors
import srmlink.query
import srmlink.stream


def test_srmlink_all_is_pinned() -> None:
    assert srmlink.__all__ == sorted(srmlink.__all__)
    assert srmlink.__all__ == [
        "AsyncMLinkClient",
        "AsyncMLinkStream",
        "AuthError",
        "CallPut",
        "DecodeError",
        "EncodeError",
        "ExpiryKey",
        "FramingError",
        "InvalidHostError",
        "KeyParseError",
        "MLinkClient",
        "MLinkHTTPError",
        "MLinkQueryError",
        "MLinkStream",
        "MLinkStreamError",
        "MLinkTimeoutError",
        "MLinkTransportError",
        "OptionKey",
        "QueryError",
        "SREnum",
        "SRFlag",
        "SRMLinkError",
        "SchemaDriftWarning",
        "TickerKey",
        "UndefinedMessageError",
        "UnknownMessageError",
        "__version__",
        "parse_key",
    ]
    for name in srmlink.__all__:
        assert hasattr(srmlink, name), name
    # The public exceptions are the very classes srmlink raises.
    assert srmlink.MLinkQueryError is srmlink.errors.MLinkQueryError
    assert issubclass(srmlink.AuthError, srmlink.MLinkQueryError)
    assert issubclass(srmlink.InvalidHostError, srmlink.SRMLinkError)
    assert issubclass(srmlink.InvalidHostError, ValueError)


def test_stream_and_query_all_are_sorted_and_resolve() -> None:
    for module in (srmlink.stream, srmlink.query):
        # Sorted as ruff keeps them: CONSTANTS first, then the rest by code point.
        names = list(module.__all__)
        assert names == sorted(names, key=lambda n: (not n.isupper(), n)), module.__name__
        for name in module.__all__:
            assert hasattr(module, name), name


def test_importing_the_rest_client_loads_no_network_or_protobuf_stack() -> None:
    """Start-up (issue 11): httpx with ssl, asyncio and google.protobuf load when first used,
    not with ``from srmlink import MLinkClient``; making a client then brings httpx in."""
    code = (
        "import sys\n"
        "from srmlink import MLinkClient\n"
        "heavy = ('httpx', 'ssl', 'asyncio', 'google.protobuf', 'websockets')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "MLinkClient(host='127.0.0.1:1', scheme='http').close()\n"
        "print('httpx' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]", "True"], done.stderr
