"""RFC 3339 timestamps, also for years before 1000 (strftime("%Y") writes "621")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shieldx.timestamps import rfc3339


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(621, 2, 12, 8, 0, tzinfo=UTC), "0621-02-12T08:00:00.000000Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000000Z"),
        (datetime(2026, 12, 7, 19, 45, 13, 120, tzinfo=UTC), "2026-12-07T19:45:13.000120Z"),
        (datetime(2026, 12, 7, 21, 0, tzinfo=timezone(timedelta(hours=2))), "2026-12-07T19:00:00.000000Z"),
    ],
)
def test_timestamps_are_utc_rfc3339_with_four_digit_years(moment, expected):
    assert rfc3339(moment) == expected
    assert datetime.fromisoformat(rfc3339(moment)) == moment
