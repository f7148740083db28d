"""Autovacuum: workers, their memory, how early they start and how fast they may go."""

from pgtune.tuning.sizing import Context, Decision
from pgtune.units import GB, MB, format_pg_size, nice_size

PRE17_VACUUM_CAP = 1 * GB  # before PostgreSQL 17 vacuum could not use more for dead tuples
AUTOVACUUM_MEMORY_SHARE = 0.05  # of usable memory, for all autovacuum workers together


def autovacuum_workers(ctx: Context) -> int:
    return min(ctx.profile.autovacuum_max_workers, max(3, ctx.cpus))


def autovacuum(ctx: Context, maintenance_work_mem: int) -> list[Decision]:
    workers = autovacuum_workers(ctx)
    decisions = [
        Decision(
            "autovacuum_max_workers",
            workers,
            f"{ctx.profile.name} profile, capped by {ctx.cpus} CPUs (at least the default 3)",
        )
    ]
    if ctx.facts.has("autovacuum_worker_slots"):
        slots = max(16, workers)
        decisions.append(
            Decision(
                "autovacuum_worker_slots",
                slots,
                "PostgreSQL 18: slots reserved at start, so autovacuum_max_workers can be raised "
                "with a reload",
            )
        )

    per_worker = nice_size(int(ctx.memory * AUTOVACUUM_MEMORY_SHARE) // workers)
    value = max(16 * MB, min(maintenance_work_mem, per_worker))
    if ctx.major < 17 and value > PRE17_VACUUM_CAP:
        value = PRE17_VACUUM_CAP
    why = (
        f"{AUTOVACUUM_MEMORY_SHARE:.0%} of memory shared by {workers} workers, at most "
        f"maintenance_work_mem ({format_pg_size(maintenance_work_mem)})"
    )
    why += (
        "; PostgreSQL 17+ stores dead tuples compactly, so this goes further"
        if ctx.major >= 17
        else "; vacuum cannot use more than 1GB before PostgreSQL 17"
    )
    decisions.append(Decision("autovacuum_work_mem", value, why))

    wl, st = ctx.workload, ctx.storage
    vacuum, analyze = wl.autovacuum_vacuum_scale_factor, wl.autovacuum_analyze_scale_factor
    decisions += [
        Decision(
            "autovacuum_vacuum_scale_factor",
            vacuum,
            f"vacuum after {vacuum:.0%} of a table changes (default 20%): big tables get "
            "vacuumed before bloat builds up"
            if vacuum < 0.2
            else f"vacuum after {vacuum:.0%} of a table changes, the default: few, small tables",
        ),
        Decision(
            "autovacuum_vacuum_insert_scale_factor",
            vacuum,
            f"insert-only tables vacuumed after {vacuum:.0%} new rows, like updated ones: "
            "they get frozen in small steps and index-only scans find them all-visible"
            + (" (default 20%)" if vacuum < 0.2 else ", the default"),
        ),
        Decision(
            "autovacuum_analyze_scale_factor",
            analyze,
            f"analyze after {analyze:.0%} changes (default 10%): fresher statistics on large tables"
            if analyze < 0.1
            else f"analyze after {analyze:.0%} changes, the default",
        ),
        Decision(
            "autovacuum_vacuum_cost_limit",
            st.autovacuum_vacuum_cost_limit,
            f"vacuum I/O budget per round for {st.name} storage (default 200, shared by "
            "all workers): vacuum keeps up with busy tables",
        ),
    ]
    return decisions
