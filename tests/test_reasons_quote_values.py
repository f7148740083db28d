"""Reasons quote what is emitted: every size written the way postgresql.conf writes it (``16MB``)
and every count of connections, sessions, workers or CPUs in a reason is an emitted value, an
input, a figure of the printed budget, a value from the profile / workload / storage data files,
a PostgreSQL default, or one of a few named constants. (1 GB dw once said "so each can have
work_mem 16MB" and emitted 1664kB.) Sizes for people (``213.3 GB``, with a space) describe the
machine and are not checked here."""

import re
from dataclasses import fields

from hypothesis import given, settings
from hypothesis import strategies as st

from pgtune.errors import BudgetError
from pgtune.tuning.budget import BACKEND_OVERHEAD, IDLE_BACKEND_OVERHEAD, JIT_OVERHEAD
from pgtune.tuning.recommend import Recommendation
from pgtune.units import GB, KB, MB, TB, parse_size
from pgtune.versions import SUPPORTED_MAJORS
from tuning_helpers import make

PG_SIZE = re.compile(r"(?<![\w.])(\d+)(kB|MB|GB|TB)(?![\w])")
COUNT = re.compile(
    r"(?<![\w.])(\d+) (connections|active sessions|parallel workers|CPUs|workers|processes|"
    r"idle connections)\b"
)
# Named constants a reason may quote: a WAL segment, the minimum work_mem, the busy and idle
# backend overhead, JIT's per-process code and the memory below which JIT is off, PostgreSQL's
# max_wal_size default and pre-17 vacuum cap, the guides' range.
CONSTANTS = {
    16 * MB,
    64 * KB,
    BACKEND_OVERHEAD,
    IDLE_BACKEND_OVERHEAD,
    JIT_OVERHEAD,
    1 * GB,
    2 * GB,
    64 * MB,
    256 * MB,
}


def _allowed(rec: Recommendation) -> tuple[set[int], set[int]]:
    ctx, b = rec.context, rec.budget
    sizes, counts = set(CONSTANTS), set()
    for s in rec.settings:
        for match in PG_SIZE.finditer(s.value):
            sizes.add(parse_size(match.group(0)))
        if s.value.lstrip("-").isdigit():
            counts.add(int(s.value))
        param = ctx.facts.param(s.name)
        default = str(param.default)
        if default.lstrip("-").isdigit():
            counts.add(int(default))
            unit = {"kB": KB, "8kB": 8 * KB, "MB": MB}.get(param.unit or "")
            if unit:
                sizes.add(int(default) * unit)
    hw = ctx.hardware
    for value in (hw.memory_bytes, hw.database_bytes, hw.wal_disk_bytes, hw.temp_disk_bytes):
        if value is not None:
            sizes.add(value)
    for data in (ctx.profile, ctx.workload, ctx.storage):
        for f in fields(data):
            value = getattr(data, f.name)
            if isinstance(value, int) and not isinstance(value, bool):
                sizes.add(value)
                counts.add(value)
    factor = ctx.workload.wal_size_factor
    sizes |= {int(ctx.profile.min_wal_size * factor), int(ctx.profile.max_wal_size * factor)}
    counts |= {
        hw.cpus,
        b.connections,
        b.active_sessions,
        b.idle_connections,
        b.busy_workers,
        b.autovacuum_workers,
        b.active_sessions + b.busy_workers + b.autovacuum_workers + b.other_processes,
        b.active_sessions + b.busy_workers,  # the processes that JIT-compile
    }
    # one query's processes: the leader and its parallel workers
    counts.add(1 + int(rec.get("max_parallel_workers_per_gather").value))
    if ctx.options.max_connections is not None:
        counts.add(ctx.options.max_connections)
    return sizes, counts


def _check(rec: Recommendation) -> None:
    sizes, counts = _allowed(rec)
    texts = [(s.name, s.reason) for s in rec.settings]
    texts += [("budget", formula) for _, _, formula in rec.budget.components()]
    texts += [("note", n) for n in rec.notes]
    for name, text in texts:
        for match in PG_SIZE.finditer(text):
            assert parse_size(match.group(0)) in sizes, (name, match.group(0), text)
        for match in COUNT.finditer(text):
            assert int(match.group(1)) in counts, (name, match.group(0), text)


def test_the_reported_cases_quote_their_values() -> None:
    for memory, workload in [(1 * GB, "dw"), (512 * MB, "mixed"), (1 * GB, "web")]:
        rec = make(memory, 1, "ssd", workload, 17)
        _check(rec)
        assert rec.get("work_mem").value in rec.get("work_mem").reason or "budget leaves" in (
            rec.get("work_mem").reason
        )


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=512 * MB, max_value=2 * TB),
    st.integers(min_value=1, max_value=128),
    st.sampled_from(["hdd", "ssd", "nvme"]),
    st.sampled_from(["web", "oltp", "dw", "mixed", "desktop"]),
    st.sampled_from(SUPPORTED_MAJORS),
    st.one_of(st.none(), st.integers(min_value=4, max_value=5000)),
    st.one_of(st.none(), st.integers(min_value=128 * MB, max_value=16 * TB)),
    st.one_of(st.none(), st.integers(min_value=0, max_value=1024 * GB)),
    st.one_of(st.none(), st.integers(min_value=0, max_value=30)),
    st.one_of(st.none(), st.integers(min_value=1, max_value=20_000)),
)
def test_every_quoted_size_and_count_is_emitted_or_an_input(
    memory: int,
    cpus: int,
    storage: str,
    workload: str,
    major: int,
    max_connections: int | None,
    disk: int | None,
    database: int | None,
    replicas: int | None,
    partitions: int | None,
) -> None:
    try:
        rec = make(
            memory,
            cpus,
            storage,  # type: ignore[arg-type]
            workload,
            major,
            database=database,
            wal_disk=disk,
            temp_disk=disk,
            max_connections=max_connections,
            replicas=replicas,
            partitions=partitions,
        )
    except BudgetError:
        return
    _check(rec)
