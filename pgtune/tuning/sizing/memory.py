"""Memory: shared_buffers, effective_cache_size, maintenance_work_mem, wal_buffers, huge pages.

work_mem is not here: it is what the memory budget (budget.py) leaves over.
"""

import math

from pgtune.tuning.sizing import Context, Decision
from pgtune.units import GB, KB, MB, format_pg_size, human_size, nice_size

SHARED_BUFFERS_MIN = 32 * MB  # a floor for tiny containers; 25% of 512MB is already 128MB
WAL_SEGMENT = 16 * MB
HUGE_PAGE = 2 * MB
HUGE_PAGES_WORTH_IT = 2 * GB  # below this the page-table savings are small


def shared_buffers(ctx: Context) -> Decision:
    fraction = ctx.workload.shared_buffers_fraction
    value = max(SHARED_BUFFERS_MIN, nice_size(int(ctx.memory * fraction)))
    return Decision(
        "shared_buffers",
        value,
        f"{fraction:.0%} of {human_size(ctx.memory)} usable memory; the OS page cache holds the "
        "rest of the hot data (more invites double buffering)",
    )


def effective_cache_size(ctx: Context) -> Decision:
    fraction = ctx.workload.effective_cache_size_fraction
    value = nice_size(int(ctx.memory * fraction))
    return Decision(
        "effective_cache_size",
        value,
        f"{fraction:.0%} of usable memory: shared_buffers plus the page cache the planner "
        "may count on (a hint, allocates nothing)",
    )


def maintenance_work_mem(ctx: Context) -> Decision:
    cap = ctx.profile.maintenance_work_mem_max
    value = max(16 * MB, min(cap, nice_size(ctx.memory // 16)))
    return Decision(
        "maintenance_work_mem",
        value,
        f"1/16 of usable memory, capped at {format_pg_size(cap)} for the {ctx.profile.name} "
        "profile: faster CREATE INDEX and VACUUM, one at a time in the budget",
    )


def wal_buffers(ctx: Context, shared_buffers_bytes: int) -> Decision:
    value = max(64 * KB, min(WAL_SEGMENT, shared_buffers_bytes // 32 // (8 * KB) * (8 * KB)))
    if value == WAL_SEGMENT:
        why = "one WAL segment (16MB); larger buys nothing (guides that say 64-256MB waste memory)"
    else:
        why = "1/32 of shared_buffers, PostgreSQL's own rule below one 16MB WAL segment"
    return Decision("wal_buffers", value, why)


def hash_mem_multiplier(ctx: Context) -> Decision:
    default = ctx.facts.param("hash_mem_multiplier").default
    if ctx.major >= 15:
        why = "PostgreSQL 15+ default: hash joins/aggregates may use 2x work_mem (in the budget)"
    else:
        why = (
            f"PostgreSQL 15's default (this version's is {default}): hashing spills less; "
            "the budget counts 2x work_mem"
        )
    return Decision("hash_mem_multiplier", 2.0, why)


def shared_memory_estimate(
    shared_buffers_bytes: int, wal_buffers_bytes: int, connections: int
) -> int:
    """A generous estimate of PostgreSQL's whole shared memory segment.

    Besides the buffers, the lock table, proc array and buffer descriptors grow with
    shared_buffers (~2%) and with connections; tests compare it with the server's own
    `shared_memory_size`.
    """
    return int(shared_buffers_bytes * 1.03) + wal_buffers_bytes + 64 * MB + connections * 96 * KB


def huge_pages(ctx: Context, shared_memory_bytes: int) -> tuple[Decision, list[str]]:
    """huge_pages = try, and the vm.nr_hugepages to reserve when it is worth it."""
    notes: list[str] = []
    if shared_memory_bytes >= HUGE_PAGES_WORTH_IT:
        pages = math.ceil(shared_memory_bytes / HUGE_PAGE)
        notes.append(
            f"huge pages: set `sysctl -w vm.nr_hugepages={pages}` (about "
            f"{human_size(pages * HUGE_PAGE)} of shared memory) and persist it in /etc/sysctl.d; "
            "the exact figure: `postgres -D $PGDATA -C shared_memory_size_in_huge_pages` "
            "(PostgreSQL 15+). Then huge_pages = on makes a missing reservation fail loudly."
        )
        why = (
            f"{human_size(shared_memory_bytes)} of shared memory: huge pages cut page-table "
            f"memory per backend; reserve vm.nr_hugepages={pages} (see notes)"
        )
    else:
        why = "uses huge pages if the kernel has them reserved, starts without them otherwise"
    return Decision("huge_pages", "try", why), notes
