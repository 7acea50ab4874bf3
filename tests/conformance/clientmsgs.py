"""The client messages of both WebSocket flows, written from the spec for raw clients.

Each is a :class:`Request`: the JSON object with the wire names of ``mlink-api.md`` /
``protocol-notes.md`` and a function filling Google's protobuf object of the snapshot.
Only the members given are sent.
"""

from __future__ import annotations

from typing import Any

from .conftest import Request, Schema, set_ticker


def _present(**members: Any) -> dict[str, Any]:
    return {k: v for k, v in members.items() if v is not None}


def logon(
    flow: str, *, api_key: str | None = None, password: str | None = None, jwt: str | None = None
) -> Request:
    """MLinkLogon (2026: ``password``; 2023: ``apiPassword``)."""
    secret_name, secret_proto = ("password", "password")
    if flow == "query":
        secret_name, secret_proto = ("apiPassword", "api_password")
    message = _present(apiKey=api_key, jwtToken=jwt, **{secret_name: password})

    def fill(record: Any, schema: Schema) -> None:
        if api_key is not None:
            record.api_key = api_key
        if password is not None:
            setattr(record, secret_proto, password)
        if jwt is not None:
            record.jwt_token = jwt

    return Request("MLinkLogon", message, fill)


def stream(
    msg_name: str,
    *,
    where: str | None = None,
    view: str | None = None,
    query_id: int | None = None,
    label: str | None = None,
    latency: int | None = None,
    highwater: int | None = None,
    stripe: str | None = None,
) -> Request:
    """MLinkStream (2026); ``latency`` 0 = wait for SignalReady."""
    message = _present(
        msgName=msg_name,
        where=where,
        view=view,
        queryID=query_id,
        queryLabel=label,
        activeLatency=latency,
        highwaterTs=highwater,
        stripeFilter=stripe,
    )

    def fill(record: Any, schema: Schema) -> None:
        record.msg_name = msg_name
        for name, value in (
            ("where", where),
            ("view", view),
            ("query_iD", query_id),
            ("query_label", label),
            ("active_latency", latency),
            ("highwater_ts", highwater),
            ("stripe_filter", stripe),
        ):
            if value is not None:
                setattr(record, name, value)

    return Request("MLinkStream", message, fill)


def signal_ready(signal_id: int | str, *, full_scan: bool = False) -> Request:
    """MLinkSignalReady (2026). SpiderRock's clients send ``"signalID": ""``."""
    scan = "FullScan" if full_scan else "Incremental"
    message = {"signalID": signal_id, "readyScan": scan}
    if signal_id == "":
        message["sesionID"] = ""  # sic, as their clients send it

    def fill(record: Any, schema: Schema) -> None:
        record.signal_iD = int(signal_id or 0)
        record.ready_scan = schema.enum(
            "READYSCAN_FULL_SCAN" if full_scan else "READYSCAN_INCREMENTAL"
        )

    return Request("MLinkSignalReady", message, fill)


def subscribe(
    subscribe_id: int, msg_name: str, pkeys: list[str], *, view: str | None = None
) -> Request:
    """MLinkSubscribe (2026): subscribe to primary keys, with a View of the same type."""
    message: dict[str, Any] = {
        "subscribeID": subscribe_id,
        "activeLatency": 1,
        "Subscribe": [{"msgName": msg_name, "msgPKey": key} for key in pkeys],
    }
    if view is not None:
        message["View"] = [{"msgName": msg_name, "view": view}]

    def fill(record: Any, schema: Schema) -> None:
        record.subscribe_iD = subscribe_id
        record.active_latency = 1
        for key in pkeys:
            record.subscribe.add(msg_name=msg_name, msg_pKey=key)
        if view is not None:
            record.view.add(msg_name=msg_name, view=view)

    return Request("MLinkSubscribe", message, fill)


def query(
    schema: Schema,
    msg_name: str,
    *,
    label: str,
    kind: str = "FullQuery",
    latency: int = -1,
    tickers: tuple[str, ...] = (),
    filters_name: str = "TKeyFilters",
) -> Request:
    """MLinkQuery (2023), as in the spec's example: ``MsgTypes`` and ``TKeyFilters``."""
    number = schema.mnum(msg_name)
    message: dict[str, Any] = {
        "queryLabel": label,
        "queryType": kind,
        "activeLatency": latency,
        "MsgTypes": [{"msgType": number, "msgName": msg_name}],
    }
    if tickers:
        message[filters_name] = [
            {"tickerKey": {"at": "EQT", "ts": "NMS", "tk": symbol}} for symbol in tickers
        ]
    proto_kind = (
        "MLINKQUERYTYPE_"
        + "".join("_" + c if c.isupper() and i else c for i, c in enumerate(kind)).upper()
    )

    def fill(record: Any, schema: Schema) -> None:
        record.query_label = label
        record.query_type = schema.enum(proto_kind)
        record.active_latency = latency
        # 2023-07: repeated MsgTypes msg_types (name and number); 2023-05: MsgType msg_type.
        if "msg_types" in record.DESCRIPTOR.fields_by_name:
            record.msg_types.add(msg_type=number, msg_name=msg_name)
        else:
            record.msg_type.add(msg_type=number)
        for symbol in tickers:
            set_ticker(record.tkey_filters.add().ticker_key, schema, symbol)

    return Request("MLinkQuery", message, fill)


def query_signal_ready(label: str) -> Request:
    """MLinkSignalReady (2023): names the query it paces."""

    def fill(record: Any, schema: Schema) -> None:
        record.query_label = label

    return Request("MLinkSignalReady", {"queryLabel": label}, fill)
