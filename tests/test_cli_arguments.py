"""The number arguments of ``srmlink query`` and ``srmlink stream``: argparse refuses a bad
value with the reason, before anything connects (exit status 2, the message on stderr)."""

from __future__ import annotations

import pytest

from srmlink.cli import main


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["query", "Q", "--limit", "0"], "argument --limit: must be at least 1"),
        (["query", "Q", "--limit", "10001"], "argument --limit: at most 10,000, not 10,001"),
        (["query", "Q", "--limit", "-3"], "argument --limit: must not be negative: -3"),
        (["query", "Q", "--limit", "2.5"], "argument --limit: not a whole number: '2.5'"),
        (["stream", "Q", "--count", "0"], "argument --count: must be at least 1"),
        (["stream", "Q", "--active-latency", "-1"], "--active-latency: must not be negative: -1"),
        (["stream", "Q", "--active-latency", "x"], "--active-latency: not a whole number: 'x'"),
        (["stream", "Q", "--seconds", "0"], "--seconds: must be a positive number of seconds: 0"),
        (["stream", "Q", "--seconds", "inf"], "must be a positive number of seconds: inf"),
        (["stream", "Q", "--seconds", "nan"], "must be a positive number of seconds: nan"),
        (["stream", "Q", "--seconds", "soon"], "argument --seconds: not a number: 'soon'"),
    ],
)
def test_bad_numbers_are_refused_with_the_reason(
    capsys: pytest.CaptureFixture[str], args: list[str], reason: str
) -> None:
    with pytest.raises(SystemExit) as ended:
        main(args)
    assert ended.value.code == 2
    assert reason in capsys.readouterr().err
