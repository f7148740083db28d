"""Property tests: over the whole input space the memory budget holds and every value is valid."""

from hypothesis import given, settings
from hypothesis import strategies as st

from pgtune.errors import BudgetError
from pgtune.tuning.budget import WORK_MEM_MIN
from pgtune.units import GB, MB, parse_size
from pgtune.versions import SUPPORTED_MAJORS, version_facts
from tuning_helpers import make

memories = st.integers(min_value=1 * GB, max_value=2048 * GB)
cpus = st.integers(min_value=1, max_value=256)
storages = st.sampled_from(["hdd", "ssd", "nvme"])
workloads = st.sampled_from(["web", "oltp", "dw", "mixed", "desktop"])
majors = st.sampled_from(SUPPORTED_MAJORS)
connections = st.one_of(st.none(), st.integers(min_value=4, max_value=20_000))
databases = st.one_of(st.none(), st.integers(min_value=0, max_value=4096 * GB))


@settings(max_examples=400, deadline=None)
@given(memories, cpus, storages, workloads, majors, connections, databases)
def test_budget_holds_and_values_are_in_range(
    memory: int,
    ncpu: int,
    storage: str,
    workload: str,
    major: int,
    max_connections: int | None,
    database: int | None,
) -> None:
    try:
        rec = make(
            memory,
            ncpu,
            storage,
            workload,
            major,  # type: ignore[arg-type]
            database=database,
            max_connections=max_connections,
        )
    except BudgetError as exc:
        # Only an explicit connection count may be impossible, and the error says what to change.
        assert max_connections is not None
        assert "--max-connections" in str(exc)
        return

    b = rec.budget
    assert b.peak <= b.limit <= memory
    assert parse_size(rec.get("work_mem").value) >= WORK_MEM_MIN
    conns = int(rec.get("max_connections").value)
    if max_connections is not None:
        assert conns == max_connections
    elif conns < max(100, rec.context.workload.max_connections):
        # never silently below the workload's count (at least PostgreSQL's 100)
        assert any(f"max_connections is {conns}, not the" in n for n in rec.notes)
    # the concurrency model: active sessions bounded, parallel workers only for them
    assert b.active_sessions <= min(conns, max(1, round(ncpu * 2)))
    assert b.busy_workers <= b.active_sessions * int(
        rec.get("max_parallel_workers_per_gather").value
    )

    facts = version_facts(major)
    for s in rec.settings:
        param = facts.param(s.name)  # a KeyError here = a setting this version lacks
        if param.type in ("integer", "real"):
            number = float(s.setting)
            assert param.min is None or number >= param.min, s
            assert param.max is None or number <= param.max, s
        if param.type == "enum":
            assert s.setting in param.values, s

    # Memory the model does not count must still be sane against the machine.
    assert parse_size(rec.get("effective_cache_size").value) <= memory
    assert parse_size(rec.get("shared_buffers").value) <= memory // 2
    # the OS keeps at least the profile's minimum (a quarter of memory on tiny machines)
    assert b.reserve >= min(rec.context.profile.os_reserve_min, memory // 4)
    assert parse_size(rec.get("min_wal_size").value) < parse_size(rec.get("max_wal_size").value)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=256 * MB, max_value=1 * GB), cpus, workloads, majors)
def test_tiny_machines_get_a_config_or_a_clear_error(
    memory: int, ncpu: int, workload: str, major: int
) -> None:
    try:
        rec = make(memory, ncpu, "ssd", workload, major)
    except BudgetError as exc:
        assert "--memory" in str(exc)
        return
    assert rec.budget.peak <= rec.budget.limit
