"""The fixtures srmlink ships to users' test suites (entry point ``pytest11``)."""

from __future__ import annotations

from srmlink import MLinkClient
from srmlink.stream import CheckPoint, MLinkStream, Record
from srmlink.testing import ServerProcess


def test_fixtures_give_a_running_server_and_connected_clients(
    mlink_server: ServerProcess, mlink_client: MLinkClient, mlink_stream: MLinkStream
) -> None:
    assert mlink_server.process.poll() is None
    count = mlink_client.getcount("OptionNbboQuote").messages[0]
    assert count.count == 60  # type: ignore[union-attr]
    assert mlink_stream.protocol.logged_on
    records = mlink_stream.query("OptionNbboQuote", where="okey.tk:eq:QQQ")
    assert len(records) == 20
    mlink_stream.subscribe("OptionNbboQuote")
    for event in mlink_stream:
        if isinstance(event, CheckPoint) and event.state == "Complete":
            break
        assert not isinstance(event, Record) or event.message.MSG_NAME == "OptionNbboQuote"
