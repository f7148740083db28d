"""From hardware, profile, workload and version to the full recommendation and its budget."""

from dataclasses import dataclass, replace

from pgtune.errors import UsageError
from pgtune.tuning.budget import (
    AUXILIARY_PROCESSES,
    CONNECTIONS_FLOOR,
    Budget,
    fit,
    reserve_for,
)
from pgtune.tuning.pooling import PoolPlan, plan_pools
from pgtune.tuning.settings import Setting, to_setting
from pgtune.tuning.sizing import (
    Context,
    Decision,
    autovacuum,
    bgwriter,
    connections,
    hardening,
    io,
    memory,
    parallel,
    wal,
)
from pgtune.units import format_pg_size, human_size

# Sections of the rendered file, in order, with their titles.
SECTIONS = {
    "connections": "Connections",
    "memory": "Memory",
    "wal": "Write-ahead log and checkpoints",
    "bgwriter": "Background writer",
    "planner": "Planner and I/O",
    "parallel": "Workers and parallel query",
    "autovacuum": "Autovacuum",
    "logging": "Logging",
    "security": "Security",
}


@dataclass(frozen=True)
class Recommendation:
    context: Context
    settings: tuple[Setting, ...]
    budget: Budget
    notes: tuple[str, ...]
    pool_plan: PoolPlan | None = None

    def get(self, name: str) -> Setting:
        for s in self.settings:
            if s.name == name:
                return s
        raise KeyError(name)


def _int(decision: Decision) -> int:
    assert isinstance(decision.value, int)
    return decision.value


def _pool_plan(ctx: Context) -> PoolPlan | None:
    if ctx.options.pooler is None:
        return None
    # The pools never ask for more server connections than PostgreSQL would have without them.
    direct = recommend(
        replace(ctx, options=replace(ctx.options, pooler=None, max_connections=None))
    )
    return plan_pools(
        ctx.hardware,
        ctx.storage,
        ctx.options.pooler,
        ctx.workload.idle_in_transaction_timeout,
        ctx.options.port,
        ceiling=direct.budget.connections,
    )


def _connections_wanted(ctx: Context, plan: PoolPlan | None) -> tuple[int, str | None, str]:
    """The connection count to fit, why it is fixed (None: the workload default, which is
    lowered only when it cannot fit at all), and the flag to name if it cannot fit."""
    user = ctx.options.max_connections
    if plan is None:
        return (
            user or max(CONNECTIONS_FLOOR, ctx.workload.max_connections),
            f"--max-connections {user}" if user else None,
            "--max-connections",
        )
    if user is not None:
        if user < plan.server_connections:
            raise UsageError(
                f"--max-connections {user} is below what the pgbouncer pools need "
                f"({plan.server_connections}); lower --pool-size or leave --max-connections out"
            )
        return (
            user,
            f"--max-connections {user} (pgbouncer pools need {plan.server_connections})",
            ("--max-connections"),
        )
    return plan.server_connections, plan.connections_reason, "--pool-size"


def _active_bound(ctx: Context, plan: PoolPlan | None) -> tuple[int, str]:
    """How many sessions run work_mem-sized operations at once, and why."""
    per_cpu = ctx.workload.active_sessions_per_cpu
    bound = max(1, round(per_cpu * ctx.cpus))
    if plan is not None and plan.pooled_connections < bound:
        return plan.pooled_connections, "the pgbouncer pools"
    return bound, f"{per_cpu:g} per CPU for {ctx.workload.name}"


def _reserve(ctx: Context, shared_buffers: int) -> int:
    """The memory left to the OS and page cache. When shared_buffers grows past the workload's
    share to hold the whole database, the page cache no longer needs to cache those pages too:
    the growth comes out of the reserve, down to the profile's minimum for the OS."""
    reserve = reserve_for(ctx.memory, ctx.profile.os_reserve_fraction, ctx.profile.os_reserve_min)
    growth = shared_buffers - memory.shared_buffers_share(ctx)
    if growth <= 0:
        return reserve
    floor = reserve_for(ctx.memory, 0.0, ctx.profile.os_reserve_min)
    return max(min(reserve, floor), reserve - growth)


def recommend(ctx: Context) -> Recommendation:
    sb = memory.shared_buffers(ctx)
    maint = memory.maintenance_work_mem(ctx)
    walbuf = memory.wal_buffers(ctx, _int(sb))
    hmm = memory.hash_mem_multiplier(ctx)
    av = autovacuum.autovacuum(ctx, _int(maint))
    par = parallel.parallel_workers(ctx)
    aio = io.async_io(ctx)
    by_name = {d.name: d for d in [*av, *par, *aio]}
    io_workers = by_name["io_workers"].value if "io_workers" in by_name else 0
    assert isinstance(io_workers, int)

    wl = ctx.workload
    pool_plan = _pool_plan(ctx)
    wanted, fixed_by, knob = _connections_wanted(ctx, pool_plan)
    locks = memory.max_locks_per_transaction(ctx)
    locks_value = _int(locks) if locks is not None else memory.LOCKS_DEFAULT
    shm = memory.shared_memory_estimate(_int(sb), _int(walbuf), wanted, locks_value)
    huge, huge_notes, count_page_tables = memory.huge_pages(ctx, shm)
    active_bound, active_why = _active_bound(ctx, pool_plan)
    fitted = fit(
        Budget(
            usable=ctx.memory,
            reserve=_reserve(ctx, _int(sb)),
            shared_buffers=_int(sb),
            wal_buffers=_int(walbuf),
            maintenance_work_mem=_int(maint),
            autovacuum_workers=_int(by_name["autovacuum_max_workers"]),
            autovacuum_work_mem=_int(by_name["autovacuum_work_mem"]),
            connections=0,
            parallel_workers=_int(by_name["max_parallel_workers"]),
            # a streaming replica's WAL sender is busy as long as the replica is connected
            other_processes=AUXILIARY_PROCESSES + io_workers + (ctx.options.replicas or 0),
            work_mem=0,
            hash_mem_multiplier=float(hmm.value),
            operations_per_query=wl.operations_per_query,
            active_bound=active_bound,
            active_bound_why=active_why,
            parallel_per_gather=_int(by_name["max_parallel_workers_per_gather"]),
            page_tables_per_process=(
                # the buffers, which processes touch; not the per-connection arrays, so the
                # figure does not move with the connection count being fitted
                memory.page_tables_per_process(
                    memory.shared_memory_estimate(_int(sb), _int(walbuf), 0)
                )
                if count_page_tables
                else 0
            ),
            lock_table_per_backend=memory.lock_table_per_backend(locks_value),
            jit=io.jit_on(ctx),
        ),
        wanted_connections=wanted,
        fixed_by=fixed_by,
        work_mem_min=wl.work_mem_min,
        work_mem_max=wl.work_mem_max,
        workload=wl.name,
        knob=knob,
        pooled=pool_plan is not None,
    )
    budget = fitted.budget
    notes = huge_notes
    notes += list(fitted.notes)
    if locks is not None and budget.lock_table_per_backend and budget.connections < wanted:
        per_connection = human_size(budget.lock_table_per_backend)
        notes.append(
            f"max_locks_per_transaction {locks_value} costs {per_connection} of shared lock "
            "table per connection, part of why max_connections is lowered: "
            "fewer connections (pgbouncer) or fewer partitions per query make room"
        )
    notes += list(ctx.hardware.notes)
    wal_sizes = wal.wal_sizes(ctx)
    slot_keep = wal.max_slot_wal_keep_size(ctx, _int(wal_sizes[1]))
    if ctx.hardware.wal_disk_bytes is None:
        notes.append(
            f"pg_wal's filesystem was not measured (no --data-dir): max_wal_size "
            f"{format_pg_size(_int(wal_sizes[1]))} assumes it holds at least "
            f"{human_size(_int(wal_sizes[1]) / wal.WAL_DISK_SHARE)}; give --data-dir or "
            "--wal-disk-size to size WAL to the disk and bound replication slots"
        )
    if not ctx.options.pg_stat_statements:
        notes.append(hardening.PG_STAT_STATEMENTS_NOTE)
    if pool_plan is not None:
        notes += list(pool_plan.notes)

    sections: dict[str, list[Decision]] = {
        "connections": [
            Decision("max_connections", budget.connections, fitted.connections_reason),
            connections.idle_in_transaction_timeout(ctx),
        ],
        "memory": [
            sb,
            memory.effective_cache_size(ctx),
            Decision("work_mem", budget.work_mem, fitted.work_mem_reason),
            hmm,
            maint,
            walbuf,
            huge,
            *([locks] if locks is not None else []),
        ],
        "wal": [
            *wal_sizes,
            slot_keep,
            *wal.checkpoints(ctx),
            wal.wal_compression(ctx),
            *wal.replication(ctx, _int(wal_sizes[1]), _int(slot_keep)),
        ],
        "bgwriter": bgwriter.bgwriter(ctx),
        "planner": [
            *io.planner_costs(ctx),
            wal.temp_file_limit(ctx, _int(by_name["max_parallel_workers_per_gather"])),
            *io.statistics_and_jit(ctx),
            *aio,
        ],
        "parallel": par,
        "autovacuum": av,
        "logging": hardening.logging(ctx),
        "security": [
            *hardening.authentication(ctx),
            *hardening.tls(ctx),
            *hardening.extensions(ctx),
        ],
    }
    settings = tuple(
        to_setting(d, ctx.facts, section)
        for section, decisions in sections.items()
        for d in decisions
        if ctx.facts.has(d.name)  # the version table gates every setting
    )
    return Recommendation(ctx, settings, budget, tuple(notes), pool_plan)
