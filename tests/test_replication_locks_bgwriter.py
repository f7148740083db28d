"""--replicas, --partitions / max_locks_per_transaction and the background writer: unit and
property tests of the rules (no server; tests/test_real_postgres.py boots them)."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgtune.errors import BudgetError, UsageError
from pgtune.tuning.budget import AUXILIARY_PROCESSES
from pgtune.tuning.observe import Observed
from pgtune.tuning.observed_rules import BGWRITER_MAXPAGES_MAX, adjust
from pgtune.tuning.recommend import Recommendation
from pgtune.tuning.request import TuningRequest, resolve
from pgtune.tuning.sizing import Options
from pgtune.tuning.sizing.memory import (
    LOCK_OTHER_BACKENDS,
    LOCK_SLOT_BYTES,
    shared_memory_estimate,
)
from pgtune.tuning.sizing.wal import WAL_DISK_SLOT_SHARE
from pgtune.units import GB, MB, TB, parse_size
from pgtune.versions import SUPPORTED_MAJORS
from tuning_helpers import make


def _names(rec: Recommendation) -> set[str]:
    return {s.name for s in rec.settings}


def _size(rec: Recommendation, name: str) -> int:
    return parse_size(rec.get(name).value)


# --- --replicas ------------------------------------------------------------------------------


def test_without_replicas_nothing_changes() -> None:
    rec = make(16 * GB, 4, "ssd", "oltp", 15, wal_disk=20 * GB)
    assert not _names(rec) & {"wal_level", "max_replication_slots", "wal_keep_size"}
    desktop = make(8 * GB, 4, "ssd", "desktop", 15)
    assert desktop.get("wal_level").value == "minimal"
    assert desktop.get("max_wal_senders").value == "0"


def test_replicas_size_senders_slots_and_wal_kept_within_the_disk() -> None:
    rec = make(16 * GB, 4, "ssd", "oltp", 15, wal_disk=20 * GB, replicas=2)
    assert rec.get("wal_level").value == "replica"
    # 2 + 2 for pg_basebackup = 4: the default 10 already covers it and is kept
    assert rec.get("max_wal_senders").value == "10"
    assert rec.get("max_replication_slots").value == "10"
    assert "2 replica(s) + 2 for pg_basebackup -X stream = 4" in rec.get("max_wal_senders").reason
    # max_wal_size 12GB (60% of 20GB), slot bound 6GB, a quarter of the disk 5GB
    assert rec.get("max_wal_size").value == "12GB"
    assert rec.get("max_slot_wal_keep_size").value == "6GB"
    assert rec.get("wal_keep_size").value == "5GB"
    reason = rec.get("wal_keep_size").reason
    assert "max_wal_size (12GB" in reason and "max_slot_wal_keep_size (6GB)" in reason
    # each replica's WAL sender is a busy process in the budget
    plain = make(16 * GB, 4, "ssd", "oltp", 15, wal_disk=20 * GB)
    assert rec.budget.other_processes == plain.budget.other_processes + 2


def test_many_replicas_raise_senders_and_slots_past_the_default() -> None:
    rec = make(16 * GB, 4, "ssd", "web", 17, replicas=12)
    assert rec.get("max_wal_senders").value == "14"
    assert rec.get("max_replication_slots").value == "14"
    assert rec.get("max_wal_senders").reason.startswith("--replicas 12: one WAL sender per")
    # pg_wal's disk unknown: a quarter of max_wal_size, which the note's assumption covers
    assert _size(rec, "wal_keep_size") == _size(rec, "max_wal_size") // 4


def test_desktop_with_replicas_streams_and_zero_replicas_keep_no_wal() -> None:
    rec = make(8 * GB, 4, "ssd", "desktop", 16, replicas=1)
    assert rec.get("wal_level").value == "replica"
    assert int(rec.get("max_wal_senders").value) >= 3
    none = make(8 * GB, 4, "ssd", "oltp", 16, replicas=0)
    assert none.get("wal_level").value == "replica"
    assert "wal_keep_size" not in _names(none)


@pytest.mark.parametrize("flag", [{"replicas": -1}, {"replicas": 1001}, {"partitions": 0}])
def test_out_of_range_counts_are_usage_errors(flag: dict[str, int]) -> None:
    req = TuningRequest(memory="4GB", cpus=2, storage="ssd", options=Options(**flag))  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        resolve(req)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1 * GB, max_value=1 * TB),
    st.sampled_from(["web", "oltp", "dw", "mixed", "desktop"]),
    st.sampled_from(SUPPORTED_MAJORS),
    st.integers(min_value=0, max_value=40),
    st.one_of(st.none(), st.integers(min_value=128 * MB, max_value=16 * TB)),
)
def test_replicas_stay_within_the_wal_disk_rule(
    memory: int, workload: str, major: int, replicas: int, disk: int | None
) -> None:
    rec = make(memory, 8, "ssd", workload, major, wal_disk=disk, temp_disk=disk, replicas=replicas)
    senders = int(rec.get("max_wal_senders").value)
    assert senders >= replicas + 2 and int(rec.get("max_replication_slots").value) >= replicas + 2
    assert rec.get("wal_level").value == "replica"
    if replicas == 0:
        assert "wal_keep_size" not in _names(rec)
        return
    keep, high = _size(rec, "wal_keep_size"), _size(rec, "max_wal_size")
    assert 0 < keep <= high
    if disk is not None:
        # WAL kept is the larger of wal_keep_size, a slot's and the checkpoint's: with
        # max_wal_size on top it stays within what the slot rule allows of the disk
        assert keep <= _size(rec, "max_slot_wal_keep_size")
        assert keep + high <= max(WAL_DISK_SLOT_SHARE * disk, 3 * 32 * MB)


# --- max_locks_per_transaction -----------------------------------------------------------


def test_dw_raises_locks_by_default_others_do_not() -> None:
    dw = make(64 * GB, 16, "nvme", "dw", 17)
    assert dw.get("max_locks_per_transaction").value == "256"
    assert "dw: plans over partitioned tables" in dw.get("max_locks_per_transaction").reason
    web = make(64 * GB, 16, "nvme", "web", 17)
    assert "max_locks_per_transaction" not in _names(web)
    assert "lock table" not in [name for name, _, _ in web.budget.components()]


def test_partitions_size_locks_as_a_power_of_two() -> None:
    rec = make(16 * GB, 4, "ssd", "web", 18, partitions=1000)
    setting = rec.get("max_locks_per_transaction")
    assert setting.value == "2048" and setting.applies == "restart"
    assert "--partitions 1000" in setting.reason and "2000 locks" in setting.reason
    assert "fast-path" in setting.reason  # PostgreSQL 18
    small = make(16 * GB, 4, "ssd", "web", 15, partitions=10)
    assert small.get("max_locks_per_transaction").value == "64"
    assert "default is enough" in small.get("max_locks_per_transaction").reason
    dw = make(16 * GB, 4, "ssd", "dw", 15, partitions=10)
    assert dw.get("max_locks_per_transaction").value == "256"
    assert "--partitions 10 needs no more" in dw.get("max_locks_per_transaction").reason


def test_the_budget_and_shared_memory_count_the_lock_table() -> None:
    rec = make(16 * GB, 4, "ssd", "web", 15, partitions=5000)
    b = rec.budget
    locks = int(rec.get("max_locks_per_transaction").value)
    assert locks == 10240
    per_backend = (locks - 64) * LOCK_SLOT_BYTES
    assert b.lock_table_per_backend == per_backend
    (table,) = [c for c in b.components() if c[0] == "lock table"]
    others = b.parallel_workers + b.autovacuum_workers + b.other_processes
    assert table[1] == (b.connections + others) * per_backend
    assert b.peak <= b.limit
    plain = make(16 * GB, 4, "ssd", "web", 15)
    assert b.work_mem <= plain.budget.work_mem  # the lock table's memory comes from somewhere
    base = shared_memory_estimate(4 * GB, 16 * MB, 200)
    grown = shared_memory_estimate(4 * GB, 16 * MB, 200, locks)
    assert grown - base == per_backend * (200 + LOCK_OTHER_BACKENDS)


def test_a_lock_table_that_cannot_fit_is_refused_not_hidden() -> None:
    with pytest.raises(BudgetError):
        make(1 * GB, 2, "ssd", "web", 15, partitions=1_000_000, max_connections=100)


# --- background writer ---------------------------------------------------------------------


@pytest.mark.parametrize(("storage", "pages"), [("hdd", 200), ("ssd", 800), ("nvme", 1600)])
def test_oltp_sizes_the_background_writer_by_storage(storage: str, pages: int) -> None:
    rec = make(16 * GB, 4, storage, "oltp", 15)  # type: ignore[arg-type]
    assert rec.get("bgwriter_delay").value == "100ms"
    assert rec.get("bgwriter_lru_maxpages").value == str(pages)
    assert rec.get("bgwriter_lru_multiplier").value == "4"
    assert f"up to {pages} pages per round" in rec.get("bgwriter_lru_maxpages").reason
    assert all(rec.get(n).section == "bgwriter" for n in ("bgwriter_delay",))


@pytest.mark.parametrize("workload", ["web", "dw", "mixed", "desktop"])
def test_other_workloads_keep_the_background_writer_defaults(workload: str) -> None:
    rec = make(16 * GB, 4, "ssd", workload, 15)
    assert not {n for n in _names(rec) if n.startswith("bgwriter_")}


def _observed(**figures: object) -> Observed:
    base = Observed(
        window=300.0,
        mode="5m",
        wal_bytes=None,
        transactions=0,
        checkpoints_timed=None,
        checkpoints_requested=None,
        blks_hit=0,
        blks_read=0,
        temp_files=0,
        temp_bytes=0,
        buffers_clean=None,
        maxwritten_clean=None,
        buffers_backend=None,
        peak_sessions=None,
    )
    return replace(base, **figures)  # type: ignore[arg-type]


def test_observed_bgwriter_raises_maxpages_and_cites_the_figures() -> None:
    rec = make(16 * GB, 4, "ssd", "oltp", 15)
    # 300 s at 100ms = 3000 rounds; 3 000 000 buffers dirty at eviction = 1000 per round
    done = adjust(
        rec, _observed(buffers_clean=1_000_000, maxwritten_clean=900, buffers_backend=2_000_000)
    )
    setting = done.recommendation.get("bgwriter_lru_maxpages")
    assert setting.value == "2000"  # x2 for peaks
    assert "stopped 900 times" in setting.reason and "2000000" in setting.reason
    assert "1000.0 per 100ms round" in setting.reason
    assert "bgwriter_lru_maxpages" in done.changed
    assert done.recommendation.get("bgwriter_lru_multiplier").value == "4"  # already 4
    assert "bgwriter_lru_multiplier" not in done.changed


def test_observed_bgwriter_on_a_default_workload_adds_the_settings() -> None:
    rec = make(16 * GB, 4, "ssd", "web", 16)
    done = adjust(rec, _observed(buffers_clean=100, maxwritten_clean=3, buffers_backend=50_000))
    # default 100 pages per 200ms round: stopped at the cap, so at least doubled
    assert done.recommendation.get("bgwriter_lru_maxpages").value == "200"
    assert done.recommendation.get("bgwriter_lru_multiplier").value == "4"
    assert done.recommendation.get("bgwriter_lru_maxpages").section == "bgwriter"
    huge = adjust(rec, _observed(buffers_clean=0, maxwritten_clean=1, buffers_backend=10**10))
    assert huge.recommendation.get("bgwriter_lru_maxpages").value == str(BGWRITER_MAXPAGES_MAX)


def test_observed_bgwriter_that_keeps_up_changes_nothing() -> None:
    rec = make(16 * GB, 4, "ssd", "oltp", 15)
    done = adjust(rec, _observed(buffers_clean=50_000, maxwritten_clean=0, buffers_backend=200))
    assert not [n for n in done.changed if n.startswith("bgwriter")]
    assert any("bgwriter: backends wrote 200 buffers" in f for f in done.findings)


def test_walsenders_are_counted_like_auxiliary_processes() -> None:
    rec = make(16 * GB, 4, "ssd", "web", 15, replicas=5)
    assert rec.budget.other_processes == AUXILIARY_PROCESSES + 5
