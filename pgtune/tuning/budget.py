"""The memory budget: an explicit model of PostgreSQL's peak memory, and fitting work_mem into it.

    peak = shared_buffers + wal_buffers
         + maintenance_work_mem                       (one manual CREATE INDEX / VACUUM)
         + autovacuum workers x autovacuum_work_mem
         + (active sessions x operations per query
            + parallel workers x operations per worker) x work_mem x hash_mem_multiplier
         + idle connections x idle backend overhead
         + (active sessions + parallel workers + autovacuum workers + other processes)
           x busy backend overhead
         + backends x lock slots beyond the default max_locks_per_transaction (shared)

The concurrency model is explicit. Sessions that run work_mem-sized sorts and hashes at the same
time are bounded: by the CPUs (``active_bound`` = the workload's active sessions per CPU x CPUs;
more only wait for a CPU, a sort or hash being CPU work) or, with pgbouncer in front, by the
pools (pgbouncer enforces it). Every other connection is idle and costs its backend overhead
only. Parallel workers serve the active queries (at most ``per_gather`` each, at most
max_parallel_workers in all) and run the part of a plan below Gather: joins and partial
aggregates, not the final sort or aggregate above it, so a worker counts half the operations of
a query. pgtune never emits a configuration whose peak exceeds usable memory minus the
profile's reserve for the OS and page cache.
"""

from dataclasses import dataclass, replace

from pgtune.errors import BudgetError
from pgtune.units import KB, MB, format_pg_size, human_size, nice_size

# Private memory of a busy backend besides work_mem: catalog and plan caches, stack, sort
# metadata, page tables for the shared memory it touched.
BACKEND_OVERHEAD = 4 * MB
# An idle connection: its catalog cache and stack (measured ~1.3-2MB private per idle backend,
# e.g. Andres Freund, "Measuring the Memory Overhead of a Postgres Connection", 2020).
IDLE_BACKEND_OVERHEAD = 2 * MB
# What a process adds once it has JIT-compiled a query: LLVM's relocated library pages and
# the compiled code, private to each process and kept until it exits (bench/backend_memory
# measured 1.0MB idle, 1.9MB busy and +9.7MB after one compiled query on PostgreSQL 15).
JIT_OVERHEAD = 10 * MB
# checkpointer, background writer, WAL writer, autovacuum launcher, logical replication launcher
AUXILIARY_PROCESSES = 5
WORK_MEM_MIN = 64 * KB  # PostgreSQL's minimum
CONNECTIONS_FLOOR = 100  # PostgreSQL's default: the workload default is never lowered below it
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
    parallel_workers: int  # max_parallel_workers
    other_processes: int  # auxiliary processes and PostgreSQL 18 I/O workers
    work_mem: int
    hash_mem_multiplier: float
    operations_per_query: int
    # sessions running work_mem-sized operations at once (None: every connection, worst case)
    active_bound: int | None = None
    active_bound_why: str = "every connection"
    # max_parallel_workers_per_gather (None: every parallel worker, whole queries each)
    parallel_per_gather: int | None = None
    # page tables each process may build for the shared memory without huge pages (0: huge
    # pages are used)
    page_tables_per_process: int = 0
    # shared lock-table memory per backend slot beyond the default max_locks_per_transaction
    lock_table_per_backend: int = 0
    # jit = on: busy sessions and parallel workers compile their expensive queries
    jit: bool = False

    @property
    def limit(self) -> int:
        return self.usable - self.reserve

    @property
    def active_sessions(self) -> int:
        if self.active_bound is None:
            return self.connections
        return min(self.connections, self.active_bound)

    @property
    def idle_connections(self) -> int:
        return self.connections - self.active_sessions

    @property
    def busy_workers(self) -> int:
        """Parallel workers the active queries can hold at once."""
        if self.parallel_per_gather is None:
            return self.parallel_workers
        return min(self.parallel_workers, self.active_sessions * self.parallel_per_gather)

    @property
    def worker_operations(self) -> int:
        if self.parallel_per_gather is None:
            return self.operations_per_query
        return max(1, self.operations_per_query // 2)

    @property
    def query_slots(self) -> float:
        """How many work_mem allocations the model holds at once."""
        return (
            self.active_sessions * self.operations_per_query
            + self.busy_workers * self.worker_operations
        ) * self.hash_mem_multiplier

    def components(self) -> list[tuple[str, int, str]]:
        """(label, bytes, how it was computed), largest terms of the model in order."""
        busy = (
            self.active_sessions
            + self.busy_workers
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
                f"({self.active_sessions} active sessions ({self.active_bound_why}) x "
                f"{self.operations_per_query} operations + {self.busy_workers} parallel workers "
                f"x {self.worker_operations}) x {format_pg_size(self.work_mem)} x "
                f"{self.hash_mem_multiplier:g} hash_mem_multiplier",
            ),
            (
                "idle connections",
                self.idle_connections * IDLE_BACKEND_OVERHEAD,
                f"{self.idle_connections} of {self.connections} connections x "
                f"{format_pg_size(IDLE_BACKEND_OVERHEAD)} overhead",
            ),
            (
                "busy processes",
                busy * BACKEND_OVERHEAD,
                f"{busy} processes x {format_pg_size(BACKEND_OVERHEAD)} overhead",
            ),
            *self._page_tables(),
            *self._jit(),
            *self._lock_table(),
        ]

    def _jit(self) -> list[tuple[str, int, str]]:
        if not self.jit:
            return []
        # Active sessions and their parallel workers run the queries costly enough to compile
        # (each worker compiles its own copy).
        processes = self.active_sessions + self.busy_workers
        return [
            (
                "jit",
                processes * JIT_OVERHEAD,
                f"{processes} processes x {format_pg_size(JIT_OVERHEAD)} of LLVM code once they "
                "JIT-compile (jit = on)",
            )
        ]

    def _lock_table(self) -> list[tuple[str, int, str]]:
        if not self.lock_table_per_backend:
            return []
        # every backend slot gets its share: connections, workers, autovacuum, WAL senders
        others = self.parallel_workers + self.autovacuum_workers + self.other_processes
        return [
            (
                "lock table",
                (self.connections + others) * self.lock_table_per_backend,
                f"({self.connections} connections + {others} other backends) x "
                f"{human_size(self.lock_table_per_backend)} of shared lock slots "
                "(max_locks_per_transaction above the default 64)",
            )
        ]

    def _page_tables(self) -> list[tuple[str, int, str]]:
        if not self.page_tables_per_process:
            return []
        # Busy processes scan much of shared_buffers and map it; an idle connection's few
        # mapped pages are part of its measured idle overhead.
        processes = (
            self.active_sessions
            + self.busy_workers
            + self.autovacuum_workers
            + self.other_processes
        )
        return [
            (
                "page tables",
                processes * self.page_tables_per_process,
                f"{processes} processes x {human_size(self.page_tables_per_process)} for "
                "the shared memory in 4 kB pages (no huge pages)",
            )
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

    def fits(n: int) -> bool:
        trial = replace(b, connections=n, work_mem=work_mem)
        return trial.peak <= trial.limit

    if not fits(0):
        return 0
    low, high = 0, 1
    while fits(high) and high < 262143:
        low, high = high, high * 2
    if fits(high):
        return high
    while high - low > 1:  # fits(low), not fits(high)
        mid = (low + high) // 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low


@dataclass(frozen=True)
class Fit:
    budget: Budget
    work_mem_reason: str
    connections_reason: str
    notes: tuple[str, ...] = ()


def fit(
    b: Budget,
    *,
    wanted_connections: int,
    fixed_by: str | None,
    work_mem_min: int,
    work_mem_max: int,
    workload: str,
    knob: str = "--max-connections",
    pooled: bool = False,
) -> Fit:
    """Choose work_mem so the model fits with ``wanted_connections``.

    A count the user fixed (``fixed_by`` says why) is kept and work_mem shrinks to fit, down to
    64kB; beyond that pgtune fails and names ``knob``. The workload's count is kept too, at
    least PostgreSQL's 100 (connections beyond the active ones cost only their idle overhead);
    only when even 64kB of work_mem cannot fit is it lowered, and a note says so.
    """
    conns = wanted_connections
    user_connections = fixed_by is not None
    notes: list[str] = []
    conn_why = fixed_by or ""
    room = work_mem_that_fits(b, conns)
    default = conns

    def lower(to: int, because: str) -> None:
        nonlocal conns, room, conn_why
        to = to // 10 * 10 if to >= 20 else to  # 160, not 167: what a person writes
        conn_why = (
            f"lowered from the {workload} default of {default}: {because} in "
            f"{human_size(b.usable)}; give --max-connections to choose"
        )
        notes.append(
            f"max_connections is {to}, not the {workload} default of {default}: {because} in "
            f"{human_size(b.usable)}; an application that opens more fails with 'too many "
            "clients' (give --max-connections, more --memory, or use pgbouncer)"
        )
        conns = to
        room = work_mem_that_fits(b, conns)

    floor = min(CONNECTIONS_FLOOR, conns)
    if room < work_mem_min and not user_connections and conns > floor:
        fitted = max(floor, connections_that_fit(b, work_mem_min))
        if fitted < conns:
            lower(fitted, f"more leave less than work_mem {format_pg_size(work_mem_min)}")
    if room < WORK_MEM_MIN and not user_connections:
        fitted = connections_that_fit(b, WORK_MEM_MIN)
        if CONNECTIONS_MIN <= fitted < conns:
            lower(fitted, "more do not fit even at the minimum work_mem (64kB)")

    if room < WORK_MEM_MIN:
        _fail(b, conns, knob if user_connections else None, workload)

    fitted_budget = replace(b, connections=conns, work_mem=0)
    if not conn_why:
        conn_why = (
            f"the {workload} default (never below PostgreSQL's {CONNECTIONS_FLOOR}); beyond the "
            f"{fitted_budget.active_sessions} that run queries at once, each costs only its "
            f"idle backend overhead ({format_pg_size(IDLE_BACKEND_OVERHEAD)}) in the budget"
        )
    if room >= work_mem_max:
        work_mem = nice_work_mem(work_mem_max)
        wm_why = f"the {workload} ceiling; the budget would allow {human_size(room)}"
    else:
        work_mem = nice_work_mem(room)
        wm_why = (
            f"what the memory budget leaves for {fitted_budget.active_sessions} active sessions "
            f"({fitted_budget.active_bound_why}) x {b.operations_per_query} operations + "
            f"{fitted_budget.busy_workers} parallel workers x {fitted_budget.worker_operations}, "
            f"x hash_mem_multiplier {b.hash_mem_multiplier:g}"
        )
        if work_mem < work_mem_min:
            wm_why += f"; below the usual {format_pg_size(work_mem_min)}: sorts will spill to disk"
        # Would fewer server connections (pgbouncer) free memory for work_mem?
        if not pooled and fitted_budget.idle_connections > 0:
            pooled_room = work_mem_that_fits(b, fitted_budget.active_sessions)
            better = nice_work_mem(min(pooled_room, work_mem_max))
            if better >= work_mem * 5 // 4:
                wm_why += (
                    f"; {fitted_budget.idle_connections} idle connections hold memory: "
                    "pgbouncer would free it (see notes)"
                )
                notes.append(
                    f"connections limit work_mem: {fitted_budget.idle_connections} of the "
                    f"{conns} connections are beyond the {fitted_budget.active_sessions} that "
                    "run queries at once and hold their backend memory; with pgbouncer in front "
                    "(--pgbouncer) max_connections follows the pools and work_mem could be "
                    f"about {human_size(better)} instead of {format_pg_size(work_mem)}"
                )
    return Fit(replace(b, connections=conns, work_mem=work_mem), wm_why, conn_why, tuple(notes))


def nice_work_mem(nbytes: int) -> int:
    """Down to what a person writes: whole MB from 2MB, 64kB steps from 256kB, else 16kB steps
    (2056kB reads 2MB, 605kB reads 576kB)."""
    if nbytes >= 4 * MB:
        return nice_size(nbytes)
    step = MB if nbytes >= 2 * MB else 64 * KB if nbytes >= 256 * KB else 16 * KB
    return max(WORK_MEM_MIN, nbytes // step * step)


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
