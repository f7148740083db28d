"""Observed tuning as pure functions (no server): the window, and the per-table rule."""

import pytest

from pgtune.errors import UsageError
from pgtune.tuning.observe import TableStats, parse_window
from pgtune.tuning.observed_rules import _table


def test_window_parses_durations_and_since_reset() -> None:
    assert parse_window("5m") == 300 and parse_window("since-reset") is None
    with pytest.raises(UsageError):
        parse_window("soon")


def _t(name: str, rows: int, changes: int) -> TableStats:
    return TableStats("public", name, rows, 0, changes, 0, 0, None)


def test_hot_and_large_tables_get_autovacuum_settings_quiet_and_small_do_not() -> None:
    [hot] = _table(_t("hot", 50_000, 100_000), 10, 0.05)
    assert dict(hot.options)["autovacuum_vacuum_scale_factor"] == "0.01"
    assert "100000 updated or deleted in 10 s" in hot.reason
    assert _table(_t("quiet", 50_000, 3), 10, 0.05) == []
    assert _table(_t("tiny", 500, 100_000), 10, 0.05) == []
    [large] = _table(_t("large", 2_000_000, 10), 10, 0.05)
    assert dict(large.options)["autovacuum_vacuum_scale_factor"] == "0.025"
