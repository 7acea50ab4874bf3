"""Text forms of SpiderRock's time types on the JSON wire.

- DateTime: ``2023-11-09 15:26:23.464116`` (UTC, microseconds), as MLink writes ``sTim`` /
  ``encT``; decoding also accepts ISO 8601 with ``T`` and an offset. Values are aware UTC
  datetimes.
- DateKey: ``YYYY-MM-DD``.
- TimeSpan: ``[-][d.]hh:mm:ss[.fffffff]`` (the .NET ``TimeSpan`` form; SpiderRock's server is
  .NET). Inferred, not documented: decoding also accepts a plain number of seconds.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

__all__ = [
    "format_date",
    "format_datetime",
    "format_timespan",
    "parse_date",
    "parse_datetime",
    "parse_timespan",
]

_TIMESPAN = re.compile(r"(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?")


def parse_datetime(text: str) -> datetime:
    """A DateTime value; naive text is UTC. Raises ValueError when malformed."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: before year 1 in UTC
        raise ValueError(f"{text!r} is out of range in UTC") from None


def format_datetime(value: datetime) -> str:
    """MLink's form: UTC, space separated, always six fractional digits."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    # Not strftime: its %Y does not pad years before 1000 to four digits on every platform.
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


def parse_date(text: str) -> date:
    """A DateKey value (strictly ``YYYY-MM-DD``). Raises ValueError when malformed."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError(f"expected YYYY-MM-DD, got {text!r}")
    return date.fromisoformat(text)


def format_date(value: date) -> str:
    return value.isoformat()


def parse_timespan(text: str | float) -> timedelta:
    """A TimeSpan value. Raises ValueError when malformed."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        try:
            return timedelta(seconds=text)
        except OverflowError:  # beyond timedelta's +-999999999 days
            raise ValueError(f"TimeSpan of {text!r} seconds is out of range") from None
    if not isinstance(text, str):
        raise ValueError(f"expected a TimeSpan string, got {type(text).__name__}")
    match = _TIMESPAN.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"expected [-][d.]hh:mm:ss[.fffffff], got {text!r}")
    sign, days, hours, minutes, seconds, fraction = match.groups()
    ticks = int((fraction or "").ljust(7, "0"))  # 100 ns units
    try:
        value = timedelta(
            days=int(days or 0),
            hours=int(hours),
            minutes=int(minutes),
            seconds=int(seconds),
            microseconds=ticks // 10,
        )
    except OverflowError:  # beyond timedelta's +-999999999 days
        raise ValueError(f"TimeSpan {text!r} is out of range") from None
    return -value if sign else value


def format_timespan(value: timedelta) -> str:
    """The .NET form with microseconds: ``1.02:03:04.500000`` / ``-00:00:01``."""
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if value.days:
        text = f"{value.days}.{text}"
    if value.microseconds:
        text += f".{value.microseconds:06d}"
    return sign + text
