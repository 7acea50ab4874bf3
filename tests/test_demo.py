"""``srmlink demo``, the README's main job: a typed session against a local demo server."""

from __future__ import annotations

import re

import pytest

from srmlink.cli import main


def test_demo_session_queries_and_streams(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--seconds", "2"]) == 0
    out = capsys.readouterr().out
    rest = [line for line in out.splitlines() if line.startswith("  AAPL-NMS-EQT-")]
    assert len(rest) == 5  # the where clause keeps AAPL; limit 5
    sizes = [int(m) for m in re.findall(r"size (\d+) x", "\n".join(rest))]
    assert sizes and all(size >= 20 for size in sizes)
    bids = [float(m) for m in re.findall(r"bid +([\d.]+)", "\n".join(rest))]
    assert bids == sorted(bids, reverse=True)  # order bidPrice DESC
    assert "snapshot complete: 20 SPY options cached" in out
    live = int(re.search(r"(\d+) live updates received", out).group(1))  # type: ignore[union-attr]
    assert live > 0
    assert any(line.startswith("  SPY-NMS-EQT-") for line in out.splitlines())
