"""The memory budget: an explicit model of PostgreSQL's peak memory, and fitting work_mem into it.

    peak = shared_buffers + wal_buffers
         + maintenance_work_mem                       (one manual CREATE INDEX / VACUUM)
         + autovacuum workers x autovacuum_work_mem
         + (connections + parallel workers) x work_mem x hash_mem_multiplier x operations per query
         + (connections + parallel workers + autovacuum workers + other processes)
           x backend overhead

The query term is a worst case (every connection running its heaviest plan at once, every node a
hash), which is what keeps the OOM killer away. pgtune never emits a configuration whose peak
exceeds usable memory minus the profile's reserve for the OS and page cache.
"""

from dataclasses import dataclass, replace

from pgtune.errors import BudgetError
from pgtune.units import KB, format_pg_size, human_size, nice_size

# Private memory of one backend besides work_mem: catalog and plan caches, stack, buffers for
# sockets and sorting metadata. Measured idle backends use 2-3MB; busy ones more.
BACKEND_OVERHEAD = 4 * 1024 * KB
# checkpointer, background writer, WAL writer, autovacuum launcher, logical replication launcher
AUXILIARY_PROCESSES = 5
WORK_MEM_MIN = 64 * KB  # PostgreSQL's minimum
CONNECTIONS_FLOOR = 20  # the workload default is lowered below this only on tiny machines
CONNECTIONS_MIN = 10  # superuser_reserved_connections (3) must stay below max_connections


@dataclass(frozen=True)
class Budget:
    usable: int
    reserve: int
    shared_buffers: int
    wal_buffers: int
    maintenance_work_mem: int
    autovacuum_workers: int
    autovacuum_work_mem: int
    connections: int
    parallel_workers: int
    other_processes: int  # auxiliary processes and PostgreSQL 18 I/O workers
    work_mem: int
    hash_mem_multiplier: float
    operations_per_query: int

    @property
    def limit(self) -> int:
        return self.usable - self.reserve

    @property
    def query_slots(self) -> float:
        """How many work_mem allocations the worst case holds at once."""
        return (
            (self.connections + self.parallel_workers)
            * self.hash_mem_multiplier
            * self.operations_per_query
        )

    def components(self) -> list[tuple[str, int, str]]:
        """(label, bytes, how it was computed), largest terms of the model in order."""
        processes = (
            self.connections
            + self.parallel_workers
            + self.autovacuum_workers
            + self.other_processes
        )
        return [
            ("shared_buffers", self.shared_buffers, "shared_buffers"),
            ("wal_buffers", self.wal_buffers, "wal_buffers"),
            ("maintenance", self.maintenance_work_mem, "1 x maintenance_work_mem"),
            (
                "autovacuum",
                self.autovacuum_workers * self.autovacuum_work_mem,
                f"{self.autovacuum_workers} workers x {format_pg_size(self.autovacuum_work_mem)}",
            ),
            (
                "queries",
                int(self.query_slots * self.work_mem),
                f"({self.connections} connections + {self.parallel_workers} parallel workers) x "
                f"{format_pg_size(self.work_mem)} x {self.hash_mem_multiplier:g} "
                f"hash_mem_multiplier x {self.operations_per_query} operations",
            ),
            (
                "backends",
                processes * BACKEND_OVERHEAD,
                f"{processes} processes x {format_pg_size(BACKEND_OVERHEAD)} overhead",
            ),
        ]

    @property
    def peak(self) -> int:
        return sum(size for _, size, _ in self.components())

    def summary(self) -> str:
        return (
            f"modelled peak {human_size(self.peak)} of {human_size(self.usable)} "
            f"(limit {human_size(self.limit)} after a {human_size(self.reserve)} reserve "
            "for the OS and page cache)"
        )


def reserve_for(usable: int, fraction: float, minimum: int) -> int:
    """The share of memory left to the OS; the minimum never takes more than a quarter."""
    return max(int(usable * fraction), min(minimum, usable // 4))


def work_mem_that_fits(b: Budget, connections: int) -> int:
    """The largest work_mem (bytes, whole kB) at which the model fits with ``connections``."""
    trial = replace(b, connections=connections, work_mem=0)
    spare = trial.limit - trial.peak
    if spare <= 0:
        return 0
    return int(spare / trial.query_slots) // KB * KB


def connections_that_fit(b: Budget, work_mem: int) -> int:
    """The most connections for which the model fits at ``work_mem``."""
    base = replace(b, connections=0, work_mem=work_mem)
    spare = base.limit - base.peak
    per_connection = BACKEND_OVERHEAD + b.hash_mem_multiplier * b.operations_per_query * work_mem
    return max(0, int(spare // per_connection))


@dataclass(frozen=True)
class Fit:
    budget: Budget
    work_mem_reason: str
    connections_reason: str


def fit(
    b: Budget,
    *,
    wanted_connections: int,
    fixed_by: str | None,
    work_mem_min: int,
    work_mem_max: int,
    workload: str,
    knob: str = "--max-connections",
) -> Fit:
    """Choose work_mem (and, unless ``fixed_by`` says why the count is fixed, the connection
    count) so the model fits; ``knob`` is the flag to name when even 64kB cannot fit."""
    conns = wanted_connections
    user_connections = fixed_by is not None
    conn_why = fixed_by or f"{workload} default; put pgbouncer in front for more clients"
    room = work_mem_that_fits(b, conns)

    if room < work_mem_min and not user_connections:
        fitted = max(CONNECTIONS_FLOOR, connections_that_fit(b, work_mem_min))
        if fitted < conns:
            conn_why = (
                f"lowered from the {workload} default of {conns} so each can have "
                f"work_mem {format_pg_size(work_mem_min)} in {human_size(b.usable)}; "
                "use pgbouncer for more clients"
            )
            conns = fitted
            room = work_mem_that_fits(b, conns)

    if room < WORK_MEM_MIN and not user_connections:
        fitted = connections_that_fit(b, WORK_MEM_MIN)
        if CONNECTIONS_MIN <= fitted < conns:
            conn_why = (
                f"the most that fit in {human_size(b.usable)} of memory; "
                "use pgbouncer for more clients"
            )
            conns = fitted
            room = work_mem_that_fits(b, conns)

    if room < WORK_MEM_MIN:
        _fail(b, conns, knob if user_connections else None, workload)

    if room >= work_mem_max:
        work_mem = nice_size(work_mem_max)
        wm_why = f"the {workload} ceiling; the budget would allow {format_pg_size(room)}"
    else:
        work_mem = nice_size(room)
        wm_why = (
            f"what the memory budget leaves for ({conns} connections + "
            f"{b.parallel_workers} parallel workers) x {b.operations_per_query} operations "
            f"x hash_mem_multiplier {b.hash_mem_multiplier:g}"
        )
        if work_mem < work_mem_min:
            wm_why += (
                f"; below the usual {format_pg_size(work_mem_min)} because of "
                f"{conns} connections: sorts will spill to disk"
            )
    return Fit(replace(b, connections=conns, work_mem=work_mem), wm_why, conn_why)


def _fail(b: Budget, conns: int, knob: str | None, workload: str) -> None:
    at_min = replace(b, connections=conns, work_mem=WORK_MEM_MIN)
    if knob is not None:
        most = connections_that_fit(b, WORK_MEM_MIN)
        raise BudgetError(
            f"max_connections {conns} does not fit in {human_size(b.usable)}: even at the minimum "
            f"work_mem (64kB) the modelled peak is {human_size(at_min.peak)}, over the "
            f"{human_size(b.limit)} limit; lower {knob} so that max_connections is at most "
            f"{most}, give more memory (--memory)"
            + (", or put pgbouncer in front" if knob == "--max-connections" else "")
        )
    raise BudgetError(
        f"{human_size(b.usable)} of memory cannot hold even {conns} connections: the modelled "
        f"peak is {human_size(at_min.peak)}, over the {human_size(b.limit)} limit; give more "
        "memory (--memory)" + (" or choose --workload desktop" if workload != "desktop" else "")
    )
