"""Planner costs and I/O: storage-dependent costs, prefetching, statistics, JIT, PG18 AIO."""

from pgtune.errors import UsageError
from pgtune.tuning.budget import JIT_OVERHEAD
from pgtune.tuning.sizing import Context, Decision
from pgtune.units import GB, MB, format_pg_size

IO_WORKERS_MIN, IO_WORKERS_MAX = 3, 32


def planner_costs(ctx: Context) -> list[Decision]:
    st = ctx.storage
    label = {"hdd": "HDD", "ssd": "SSD", "nvme": "NVMe"}[st.name]
    if st.name == "hdd":
        prefetch = "spinning disks gain little from deep prefetching; a few reads in flight"
        maint = "modest prefetching for VACUUM on spinning disks"
    else:
        prefetch = f"{label} serves many reads at once: deep prefetch for bitmap heap scans"
        maint = f"{label}: deep prefetch for VACUUM and other maintenance reads"
    eic, mic = st.effective_io_concurrency, st.maintenance_io_concurrency
    floor = int(ctx.facts.param("effective_io_concurrency").default)
    if eic < floor:  # PostgreSQL 18's asynchronous I/O: its default 16 suits spinning disks too
        eic = floor
        prefetch = (
            f"PostgreSQL {ctx.major}'s default: asynchronous reads keep {floor} in flight, "
            "which the disk's command queue reorders"
        )
    maint_floor = int(ctx.facts.param("maintenance_io_concurrency").default)
    if mic < maint_floor:
        mic = maint_floor
        maint = f"PostgreSQL {ctx.major}'s default for VACUUM and other maintenance reads"
    return [
        Decision(
            "random_page_cost",
            st.random_page_cost,
            f"{label} storage ({ctx.hardware.storage_source}): random reads cost "
            f"{st.random_page_cost:g}x a sequential read",
        ),
        Decision("effective_io_concurrency", eic, prefetch),
        Decision("maintenance_io_concurrency", mic, maint),
    ]


# Below this, JIT's per-process LLVM code (JIT_OVERHEAD) costs more memory than its CPU saving
# is worth: it would push a 512MB-1GB dw or mixed server under its 100 connections.
JIT_MIN_MEMORY = 2 * GB


def jit_on(ctx: Context) -> bool:
    """The workload wants JIT and the machine has the memory for its code."""
    return bool(ctx.workload.jit) and ctx.memory >= JIT_MIN_MEMORY


def statistics_and_jit(ctx: Context) -> list[Decision]:
    wl = ctx.workload
    stats_why = (
        "more detailed statistics for complex analytic plans (ANALYZE takes longer)"
        if wl.default_statistics_target > 100
        else "the default detail suits short queries; raise per column where plans go wrong"
    )
    if not wl.jit:
        jit_why = (
            f"{wl.name}: off; a short query the planner misestimates above jit_above_cost "
            "(100000) pays tens of milliseconds of compile time, a latency spike for no gain "
            "(PGTune turns it off here too)"
        )
    elif not jit_on(ctx):
        jit_why = (
            f"off below {format_pg_size(JIT_MIN_MEMORY)} of memory: every process that compiles "
            f"keeps {format_pg_size(JIT_OVERHEAD)} of LLVM code (bench/backend_memory), memory "
            "that work_mem and connections need more here"
        )
    else:
        jit_why = (
            "on, as by default: only queries costlier than jit_above_cost (100000) compile, so "
            "short queries never pay; long aggregates use ~13% less CPU (bench/RESULTS.md); "
            f"each process that compiles keeps {format_pg_size(JIT_OVERHEAD)} (in the budget)"
        )
    return [
        Decision("default_statistics_target", wl.default_statistics_target, stats_why),
        Decision("jit", jit_on(ctx), jit_why),
        track_io_timing(ctx),
    ]


# Clock sources read through the vDSO in tens of nanoseconds; others (xen, hpet, acpi_pm) trap
# into the kernel or hardware for every read, which pg_test_timing shows as microseconds.
FAST_CLOCKS = ("tsc", "kvm-clock", "arch_sys_counter", "hyperv_clocksource_tsc_page")


def track_io_timing(ctx: Context) -> Decision:
    clock = ctx.hardware.clocksource
    if clock is None:
        return Decision(
            "track_io_timing",
            True,
            "I/O time in EXPLAIN (BUFFERS) and pg_stat_statements; cheap on modern clocks "
            "(this host's clock source was not read: check with pg_test_timing)",
        )
    if clock in FAST_CLOCKS:
        return Decision(
            "track_io_timing",
            True,
            f"I/O time in EXPLAIN (BUFFERS) and pg_stat_statements; the {clock} clock source "
            "is read without a system call, so timing every I/O is cheap",
        )
    return Decision(
        "track_io_timing",
        False,
        f"off: the {clock} clock source makes every timing call slow (pg_test_timing shows "
        "it); turn it on per session for EXPLAIN (ANALYZE, BUFFERS) instead",
    )


def async_io(ctx: Context) -> list[Decision]:
    """PostgreSQL 18 asynchronous I/O; io_uring only when asked (needs kernel + build support)."""
    if not ctx.facts.has("io_method"):
        return []
    method = ctx.options.io_method or "worker"
    allowed = ctx.facts.param("io_method").values
    if method not in allowed:
        raise UsageError(f"invalid --io-method {method!r}: choose one of {', '.join(allowed)}")
    if method == "io_uring" and ctx.build.liburing is False:
        raise UsageError(
            f"--io-method io_uring: this server is built without liburing ({ctx.build.source})"
        )
    decisions = [
        Decision(
            "io_method",
            method,
            "asked for with --io-method"
            if ctx.options.io_method
            else "worker processes issue reads ahead; io_uring only on request "
            "(kernel and build support)",
        )
    ]
    if method == "worker":
        per_cpu = ctx.storage.io_workers_per_cpu
        by_memory = max(IO_WORKERS_MIN, ctx.memory // (256 * MB))
        workers = min(IO_WORKERS_MAX, by_memory, max(IO_WORKERS_MIN, round(ctx.cpus * per_cpu)))
        decisions.append(
            Decision(
                "io_workers",
                workers,
                f"{per_cpu:g} per CPU for {ctx.storage.name} ({ctx.cpus} CPUs), "
                f"between {IO_WORKERS_MIN} and {IO_WORKERS_MAX}",
            )
        )
    return decisions
