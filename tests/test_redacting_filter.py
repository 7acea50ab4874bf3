"""RedactingFilter with every argument form logging accepts: nothing is lost, nothing leaks.

Each test logs through a real logger and handler (the filter on the logger, as
:func:`srmlink.auth.protect_logs` attaches it) and reads the text the handler wrote.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from decimal import Decimal

import pytest

from srmlink.auth import RedactingFilter, protect_logs

SECRET = "s3cr3t-key"
URL = f"https://mlink.example/rest/json?cmd=getmsgs&apikey={SECRET}&msgType=Quote"
SAFE_URL = "https://mlink.example/rest/json?cmd=getmsgs&apikey=***&msgType=Quote"
BEARER = f"Authorization: Bearer {SECRET}"


class Captured:
    """A logger whose records pass the filter, formatted by ``fmt`` into a buffer."""

    def __init__(self, name: str, fmt: str) -> None:
        self.logger = logging.getLogger(name)
        self.buffer = io.StringIO()
        self.handler = logging.StreamHandler(self.buffer)
        self.handler.setFormatter(logging.Formatter(fmt))
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        self.filter = RedactingFilter()
        self.logger.addFilter(self.filter)

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def close(self) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.removeFilter(self.filter)
        self.logger.propagate = True


@pytest.fixture
def log(request: pytest.FixtureRequest) -> Iterator[Captured]:
    captured = Captured(f"srmlink.test.redact.{request.node.name}", "%(message)s")
    yield captured
    captured.close()


def test_message_text_itself_is_redacted(log: Captured) -> None:
    log.logger.info(f"GET {URL}")
    log.logger.info(BEARER)
    assert log.text == f"GET {SAFE_URL}\nAuthorization: Bearer ***\n"


def test_no_args_keeps_a_literal_percent(log: Captured) -> None:
    log.logger.info(f"100% done, apikey={SECRET}")
    assert log.text == "100% done, apikey=***\n"


def test_tuple_args(log: Captured) -> None:
    log.logger.info("fetch %s: %d records in %.2f s (%r)", URL, 12, 0.5, "x")
    assert log.text == f"fetch {SAFE_URL}: 12 records in 0.50 s ('x')\n"


def test_tuple_args_keep_their_type_for_formatting(log: Captured) -> None:
    # Formatting happens before redaction, so a non-float still takes %f and %x sees an int.
    log.logger.info("%.1f %x %s", Decimal("2.25"), 255, BEARER)
    assert log.text == "2.2 ff Authorization: Bearer ***\n"


def test_a_single_mapping_argument(log: Captured) -> None:
    log.logger.info("%(url)s took %(ms)d ms", {"url": URL, "ms": 7})
    assert log.text == f"{SAFE_URL} took 7 ms\n"


def test_a_secret_in_a_non_string_argument(log: Captured) -> None:
    class Request:
        def __str__(self) -> str:
            return f"<Request {URL}>"

    log.logger.warning("failed: %s", Request())
    assert log.text == f"failed: <Request {SAFE_URL}>\n"


def test_exc_info_traceback_is_redacted(log: Captured) -> None:
    try:
        raise ConnectionError(f"cannot reach {URL}")
    except ConnectionError:
        log.logger.exception("request %s failed", URL)
    text = log.text
    assert text.startswith(f"request {SAFE_URL} failed\nTraceback (most recent call last):")
    assert f"ConnectionError: cannot reach {SAFE_URL}" in text
    assert SECRET not in text


def test_stack_info_is_redacted(log: Captured) -> None:
    token = URL  # a local whose value would not appear; the frame text is what is checked
    log.logger.info("here %s", token, stack_info=True)
    text = log.text
    assert text.startswith(f"here {SAFE_URL}\nStack (most recent call last):")
    assert "test_stack_info_is_redacted" in text

    # Stack text that carries a secret itself (a frame's source line) is scrubbed too.
    record = log.logger.makeRecord(log.logger.name, logging.INFO, "f", 1, "m", None, None)
    record.stack_info = f"Stack:\n  fetch('{URL}')"
    assert log.filter.filter(record)
    assert record.stack_info == f"Stack:\n  fetch('{SAFE_URL}')"


def test_extra_attributes_are_redacted() -> None:
    captured = Captured("srmlink.test.redact.extra", "%(message)s [%(url)s %(attempt)d]")
    try:
        captured.logger.info("retrying", extra={"url": URL, "attempt": 2})
        assert captured.text == f"retrying [{SAFE_URL} 2]\n"
    finally:
        captured.close()


@pytest.mark.parametrize(
    ("msg", "args"),
    [
        ("%s and %s", (URL,)),  # too few arguments
        ("%d", (URL,)),  # wrong type
        ("%(missing)s", ({"url": URL},)),  # missing key (a single mapping)
        ("no placeholder", (URL,)),  # too many arguments
    ],
)
def test_formatting_errors_are_reported_without_the_secret(
    log: Captured, capsys: pytest.CaptureFixture[str], msg: str, args: tuple[object, ...]
) -> None:
    # Logging reports a bad format on stderr ("--- Logging error ---") with the message and
    # its arguments; the report stays, the secret does not. (Handled here by the test's own
    # handler: pytest's capture handler, attached to every logger, raises on such errors.)
    record = log.logger.makeRecord(log.logger.name, logging.INFO, "f", 1, msg, args, None)
    assert log.filter.filter(record)
    log.handler.handle(record)
    err = capsys.readouterr().err
    assert "--- Logging error ---" in err
    assert f"Message: {msg!r}" in err
    assert "apikey=***" in err
    assert SECRET not in err
    assert SECRET not in log.text


def test_filtering_twice_changes_nothing(log: Captured) -> None:
    second = RedactingFilter()
    log.handler.addFilter(second)
    log.logger.info("%s at 100%%", URL)
    assert log.text == f"{SAFE_URL} at 100%\n"


def test_protect_logs_attaches_one_filter_per_logger() -> None:
    name = "srmlink.test.redact.protected"
    logger = logging.getLogger(name)
    protect_logs([name])
    protect_logs([name])
    try:
        assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1
    finally:
        for found in list(logger.filters):
            logger.removeFilter(found)
