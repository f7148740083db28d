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


def test_observed_statements_keep_hostile_names_on_one_line() -> None:
    """Role and table names come from the catalog: each statement and its reason stay one line
    (a newline in a name must not start a line of its own in `--format sql | psql`)."""
    from types import SimpleNamespace

    from pgtune.tuning.observe_run import statements

    run = SimpleNamespace(
        adjusted=SimpleNamespace(
            roles=[
                SimpleNamespace(
                    role="evil\nDROP TABLE x; --", name="work_mem", value="64MB", reason="r\nx"
                )
            ],
            tables=[
                SimpleNamespace(
                    schema="s",
                    table="t\u2028x",
                    options=[("autovacuum_vacuum_scale_factor", 0.02)],
                    reason="hot",
                )
            ],
        )
    )
    lines = statements(run)  # type: ignore[arg-type]
    assert lines == [
        '-- role "evil\\nDROP TABLE x; --": r\\nx',
        'ALTER ROLE U&"evil\\000aDROP TABLE x; --" SET "work_mem" = \'64MB\';',
        '-- table "s"."t\\u2028x": hot',
        'ALTER TABLE "s".U&"t\\2028x" SET ("autovacuum_vacuum_scale_factor" = 0.02);',
    ]
