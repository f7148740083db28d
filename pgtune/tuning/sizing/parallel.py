"""Background workers and parallel query."""

from pgtune.tuning.sizing import Context, Decision
from pgtune.units import MB

# Worker slots kept free beyond parallel query: logical replication's default 4 apply workers
# plus extensions that start background workers (pg_cron, TimescaleDB, autoprewarm).
SPARE_WORKER_SLOTS = 6
MEMORY_PER_PARALLEL_WORKER = 256 * MB


def parallel_workers(ctx: Context) -> list[Decision]:
    cpus = ctx.cpus
    by_memory = max(1, ctx.memory // MEMORY_PER_PARALLEL_WORKER)
    total = min(cpus, by_memory)
    total_why = (
        f"one per CPU ({cpus})"
        if total == cpus
        else f"one per 256MB of memory ({by_memory}), fewer than the {cpus} CPUs"
    )
    if cpus == 1:
        total, total_why = 0, "a single CPU: no parallel workers (a worker would only queue)"
        per_gather, maint = 0, 0
        gather_why = "a single CPU gains nothing from parallel query"
        maint_why = "a single CPU gains nothing from parallel index builds"
    else:
        cap = ctx.workload.parallel_per_gather_max
        per_gather = max(1, min(cap, total // 2))
        maint = max(1, min(4, total // 2))
        gather_why = (
            f"half the parallel workers, at most {cap} for {ctx.workload.name}, so "
            "concurrent queries still get workers"
        )
        maint_why = "half the parallel workers, at most 4, for CREATE INDEX and VACUUM"
    processes = max(8, total + SPARE_WORKER_SLOTS)
    return [
        Decision(
            "max_worker_processes",
            processes,
            f"{total} parallel workers + {SPARE_WORKER_SLOTS} spare slots for logical "
            "replication and extension workers (at least the default 8)",
        ),
        Decision("max_parallel_workers", total, total_why),
        Decision("max_parallel_workers_per_gather", per_gather, gather_why),
        Decision("max_parallel_maintenance_workers", maint, maint_why),
    ]
