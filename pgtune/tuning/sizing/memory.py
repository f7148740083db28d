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
HUGE_PAGES_ON = 8 * GB  # from here 4kB page tables cost each process 16MB or more


# When the whole database fits, shared_buffers holds it (with room to grow) up to this share of
# memory; beyond it the page cache serves the rest (the PostgreSQL docs: "unlikely that an
# allocation of more than 40% of RAM to shared_buffers will work better than a smaller amount").
SHARED_BUFFERS_DATA_MAX = 0.40
DATA_GROWTH = 1.2
# The measured size is rounded up to 1/32 of memory before anything uses it, so the output (and
# a restart-context setting) changes only when the data grows by a step, not with every MB:
# config management re-running pgtune must not restart the server for a day's inserts.
DATA_STEPS = 32


def database_bucket(database_bytes: int, memory: int) -> int:
    """``database_bytes`` rounded up to the next 1/32 of ``memory`` (at least one step)."""
    step = max(MB, memory // DATA_STEPS // MB * MB)
    return max(1, math.ceil(database_bytes / step)) * step


def shared_buffers_share(ctx: Context) -> int:
    """The workload's share of memory, what shared_buffers is without a known database size."""
    share = int(ctx.memory * ctx.workload.shared_buffers_fraction)
    return max(SHARED_BUFFERS_MIN, nice_size(share))


def shared_buffers(ctx: Context) -> Decision:
    """The workload's share, or enough to hold the whole database when that fits in 40%.

    Memory beyond the share comes out of the budget's page-cache reserve (recommend.py): the
    page cache would otherwise hold a second copy of the same pages.
    """
    fraction = ctx.workload.shared_buffers_fraction
    value = shared_buffers_share(ctx)
    why = (
        f"{fraction:.0%} of {human_size(ctx.memory)} usable memory; the OS page cache holds the "
        "rest of the hot data (more invites double buffering)"
    )
    measured = ctx.hardware.database_bytes
    if measured is None:
        return Decision("shared_buffers", value, why)
    data = database_bucket(measured, ctx.memory)
    size = (
        f"the databases (at most {human_size(data)}, {ctx.hardware.database_source}, "
        f"in 1/{DATA_STEPS}-of-memory steps)"
    )
    cap = int(ctx.memory * SHARED_BUFFERS_DATA_MAX)
    wanted = nice_size(min(int(data * DATA_GROWTH), cap))
    if wanted < data:
        return Decision(
            "shared_buffers",
            value,
            f"{why}; {size} do not fit in {SHARED_BUFFERS_DATA_MAX:.0%} of memory, so the page "
            "cache serves what shared_buffers cannot hold",
        )
    if wanted <= value:
        return Decision("shared_buffers", value, f"{why}; holds {size} with room to grow")
    return Decision(
        "shared_buffers",
        wanted,
        f"holds {size} with up to {DATA_GROWTH - 1:.0%} growth ({wanted / ctx.memory:.0%} of "
        "memory): reads are served here, not copied in from the page cache (its reserve shrinks "
        f"by as much); {fraction:.0%} would not hold them",
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


# The shared lock table: max_locks_per_transaction x (max_connections + autovacuum workers +
# worker processes + WAL senders + max_prepared_transactions) slots, ~390 bytes each with its
# PROCLOCK entries and hash overhead (PostgreSQL 15: shared_memory_size grows 43MB from 64 to
# 1024 locks at 100 connections, 79MB at 200).
LOCKS_DEFAULT = 64
LOCK_SLOT_BYTES = 400
LOCK_OTHER_BACKENDS = 30  # autovacuum, worker processes, WAL senders beyond max_connections
# A query planned over a partitioned table locks each partition it cannot prune at plan time and
# that partition's indexes: about two locks per partition on average.
LOCKS_PER_PARTITION = 2


def shared_memory_estimate(
    shared_buffers_bytes: int,
    wal_buffers_bytes: int,
    connections: int,
    locks_per_transaction: int = LOCKS_DEFAULT,
) -> int:
    """A generous estimate of PostgreSQL's whole shared memory segment.

    Besides the buffers, the lock table, proc array and buffer descriptors grow with
    shared_buffers (~2%) and with connections; a max_locks_per_transaction above the default
    adds its lock slots for every backend. Tests compare it with the server's own
    `shared_memory_size`.
    """
    return (
        int(shared_buffers_bytes * 1.03)
        + wal_buffers_bytes
        + 64 * MB
        + connections * 96 * KB
        + lock_table_per_backend(locks_per_transaction) * (connections + LOCK_OTHER_BACKENDS)
    )


def lock_table_per_backend(locks_per_transaction: int) -> int:
    """Shared memory each backend slot adds beyond the default max_locks_per_transaction."""
    return max(0, locks_per_transaction - LOCKS_DEFAULT) * LOCK_SLOT_BYTES


def round_locks(locks: int) -> int:
    """Up to a power of two, or a multiple of 1024 beyond 1024 (what a person writes).

    >>> round_locks(2000), round_locks(6000), round_locks(100)
    (2048, 6144, 128)
    """
    if locks <= 1024:
        return 1 << max(0, (locks - 1).bit_length())
    return -(-locks // 1024) * 1024


def max_locks_per_transaction(ctx: Context) -> Decision | None:
    """Raised for partition-heavy work (--partitions N, or the workload's own value, dw's 256);
    None: the default 64 stays. The budget counts the extra lock slots (budget.py)."""
    wl, partitions = ctx.workload, ctx.options.partitions
    own = wl.max_locks_per_transaction
    if partitions is None and own <= LOCKS_DEFAULT:
        return None
    value = own
    why = (
        f"{wl.name}: plans over partitioned tables lock every partition not pruned at plan "
        f"time and its indexes (about {LOCKS_PER_PARTITION} each): {own} leaves room for "
        f"queries over {own // LOCKS_PER_PARTITION} partitions in every session at once "
        "(default 64); give --partitions N for more"
    )
    if partitions is not None:
        locks = partitions * LOCKS_PER_PARTITION
        wanted = max(LOCKS_DEFAULT, round_locks(locks))
        if wanted > own or own <= LOCKS_DEFAULT:
            value = max(own, wanted)
            why = (
                f"--partitions {partitions}: a query over all of them locks each partition and "
                f"its indexes (about {LOCKS_PER_PARTITION} each, {locks} locks): {value} per "
                "transaction" + (" (the default is enough)" if value == LOCKS_DEFAULT else "")
            )
        else:
            why += f"; --partitions {partitions} needs no more"
    why += (
        f"; the shared lock table costs about {LOCK_SLOT_BYTES} bytes per slot for every "
        "backend, counted in the budget (a restart applies it; replicas need at least as many)"
    )
    if ctx.major >= 18:
        why += "; on PostgreSQL 18 it also sizes each backend's fast-path lock slots"
    return Decision("max_locks_per_transaction", value, why)


def page_tables_per_process(shared_memory_bytes: int) -> int:
    """Page-table memory of one process that touched all of the shared memory in 4kB pages:
    one 8-byte entry per page, 0.2% of the segment (16MB per process for 8GB)."""
    return shared_memory_bytes // (4 * KB) * 8


def huge_pages(ctx: Context, shared_memory_bytes: int) -> tuple[Decision, list[str], bool]:
    """huge_pages, notes, and whether the budget must count 4kB page tables per process.

    With huge pages reserved on this host for the whole segment: on. Above HUGE_PAGES_ON of
    shared memory, page tables of 4kB pages cost each process 0.2% of the segment (16MB at 8GB,
    over 1.6GB for 100 processes): on, and the note gives the reservation to make before the
    restart (without it the server refuses to start instead of spending that memory quietly).
    Below: try, and the budget counts the page tables as if no huge pages were reserved.
    """
    notes: list[str] = []
    pages = math.ceil(shared_memory_bytes / HUGE_PAGE)
    reserved = ctx.hardware.huge_pages_bytes
    per_process = page_tables_per_process(shared_memory_bytes)
    if reserved is not None and reserved >= pages * HUGE_PAGE:
        why = (
            f"{human_size(reserved)} of huge pages are reserved on this host, enough for the "
            f"{human_size(shared_memory_bytes)} of shared memory: on makes sure they are used"
        )
        return Decision("huge_pages", "on", why), notes, False
    reservation = (
        f"set `sysctl -w vm.nr_hugepages={pages}` (about {human_size(pages * HUGE_PAGE)} of "
        "shared memory) and persist it in /etc/sysctl.d; the exact figure: `postgres -D $PGDATA "
        "-C shared_memory_size_in_huge_pages` (PostgreSQL 15+)"
    )
    if shared_memory_bytes >= HUGE_PAGES_ON:
        notes.append(
            f"huge pages: {reservation}, BEFORE restarting with this configuration: huge_pages = "
            "on refuses to start without them rather than spend "
            f"{human_size(per_process)} of page tables per process"
        )
        why = (
            f"{human_size(shared_memory_bytes)} of shared memory: in 4 kB pages each process's "
            f"page tables would cost up to {human_size(per_process)}; reserve "
            f"vm.nr_hugepages={pages} first (see notes)"
        )
        return Decision("huge_pages", "on", why), notes, False
    if shared_memory_bytes >= HUGE_PAGES_WORTH_IT:
        notes.append(
            f"huge pages: {reservation}. Then huge_pages = on makes a missing reservation fail "
            "loudly."
        )
    why = (
        "uses huge pages if the kernel has them reserved, starts without them otherwise; the "
        f"budget counts {human_size(per_process)} of page tables per busy process (4 kB pages)"
    )
    return Decision("huge_pages", "try", why), notes, True
