#!/usr/bin/env python3
"""What a backend costs in memory on PostgreSQL 15: the constants of pgtune's memory budget,
measured.

pgtune's budget (``pgtune/tuning/budget.py``, ``sizing/memory.py``) counts, besides
shared_buffers and work_mem:

* ``IDLE_BACKEND_OVERHEAD`` (2MB): an idle connection's private memory;
* ``BACKEND_OVERHEAD`` (4MB): a busy backend's private memory besides work_mem (catalog and
  plan caches of the tables it used, stack, executor state);
* ``JIT_OVERHEAD`` (10MB): what a process keeps once it JIT-compiled a query (jit = on);
* ``page_tables_per_process``: 8 bytes of page table per 4kB page of shared memory a process
  touched (0.195 % of what it touched), which decides ``huge_pages`` (``HUGE_PAGES_ON`` = 8GB:
  16MB per process from there).

A throwaway cluster (``$PGTUNE_PG_TMPDIR``, default /var/tmp; ``huge_pages = off`` so that
the page tables are those of 4kB pages) gets a table that fits in shared_buffers and ``--tables``
small indexed tables (an application's schema). Then, per backend (``/proc/PID/smaps``, the
shared-memory mappings left out: the main segment, SysV and /dev/shm segments):

1. **idle**: ``--connections`` sessions connect and run ``SELECT 1``: private dirty memory
   (the pages the backend wrote after the fork: heap, stack, caches) and page tables;
2. **busy**: each session reads every small table by key (prepared statements, plan and
   catalog caches filled) with ``work_mem`` at 64kB so no sort or hash buffer is counted;
3. **scan**: ``--scanners`` sessions count the big table (in shared_buffers, no parallel
   workers, JIT off): page-table growth per process against the bytes of shared memory they
   touched;
4. **jit**: the same sessions run one query that JIT compiles (``jit_above_cost = 0``): the
   private memory LLVM adds, which the session keeps until it ends (the library is loaded
   once per process, its relocated pages are private).

The report puts each figure beside the constant pgtune uses. Exit status 1 only when
something failed.

Usage::

    python bench/backend_memory/run.py [--shared-buffers 2GB] [--connections 40] [--record]
    python bench/backend_memory/run.py --smoke      # small and quick, what the tests run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "bench")]  # pgcluster.py; common.py

import common  # noqa: E402
import pgload  # noqa: E402
import psycopg  # noqa: E402

from pgcluster import Cluster, PgBinaries, PgHarnessError, check_accessible  # noqa: E402
from pgtune.errors import UsageError  # noqa: E402
from pgtune.tuning.budget import BACKEND_OVERHEAD, IDLE_BACKEND_OVERHEAD, JIT_OVERHEAD  # noqa: E402
from pgtune.tuning.sizing.memory import HUGE_PAGES_ON, page_tables_per_process  # noqa: E402
from pgtune.units import human_size, parse_size  # noqa: E402

SECTION = "## backend_memory"
# Mappings that are shared memory, not the backend's own: PostgreSQL's main segment (an
# anonymous shared mapping, shown as /dev/zero), its small SysV segment and DSM segments.
SHARED_MAPPINGS = ("/dev/zero", "/SYSV", "/dev/shm/")


@dataclass(frozen=True)
class Mem:
    private_dirty: int  # bytes written by this process outside shared memory
    shared_rss: int  # bytes of shared memory this process has touched (mapped)
    page_tables: int  # VmPTE


def backend_memory(pid: int) -> Mem:
    private = shared = 0
    shared_mapping = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(None, 1)
        if "-" in head[0] and not head[0].endswith(":"):  # a mapping's header line
            name = line.split(None, 5)[5] if len(line.split(None, 5)) == 6 else ""
            shared_mapping = name.startswith(SHARED_MAPPINGS)
        elif head[0] == "Private_Dirty:" and not shared_mapping:
            private += int(head[1].split()[0]) * 1024
        elif head[0] == "Rss:" and shared_mapping:
            shared += int(head[1].split()[0]) * 1024
    pte = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmPTE:"):
            pte = int(line.split()[1]) * 1024
    return Mem(private, shared, pte)


def median_mem(mems: Sequence[Mem]) -> Mem:
    return Mem(
        int(statistics.median(m.private_dirty for m in mems)),
        int(statistics.median(m.shared_rss for m in mems)),
        int(statistics.median(m.page_tables for m in mems)),
    )


@dataclass
class Result:
    shared_buffers: str
    connections: int
    tables: int
    big_table: int
    idle: Mem
    busy: Mem
    scan_before: Mem
    scan_after: Mem
    jit_after: Mem
    scanners: int


def execute(args: argparse.Namespace, log: Callable[[str], None]) -> Result:
    binaries = PgBinaries.for_major(15)
    check_accessible(binaries)
    pgload.prepare_tmpdir()  # on the real disk, like every cluster benchmark (never /dev/shm)
    cluster = Cluster(binaries)
    conns: list[psycopg.Connection[tuple[object, ...]]] = []
    try:
        cluster.initdb()
        cluster.write_conf(
            f"shared_buffers = '{args.shared_buffers}'\nhuge_pages = off\n"
            f"max_connections = {args.connections + 10}\nmax_parallel_workers_per_gather = 0\n",
            mode="include",
        )
        cluster.start(timeout=300)
        rows = max(1000, parse_size(args.table_size) // 130)  # ~130 bytes per row on disk
        with cluster.connect() as setup:
            setup.execute("CREATE EXTENSION pg_prewarm")
            setup.execute(
                "CREATE TABLE big AS SELECT g AS id, repeat('x', 90) AS pad "
                "FROM generate_series(1, %s) g",
                [rows],
            )
            for i in range(args.tables):
                setup.execute(
                    f"CREATE TABLE app_{i} (id int PRIMARY KEY, name text, amount numeric, "
                    f"created timestamptz DEFAULT now());"
                    f"INSERT INTO app_{i} (id, name, amount) "
                    f"SELECT g, 'n' || g, g FROM generate_series(1, 100) g"
                )
            setup.execute("VACUUM ANALYZE")
            big = setup.execute("SELECT pg_relation_size('big')").fetchone()
            setup.execute("SELECT pg_prewarm('big')")
        big_bytes = int(big[0]) if big else 0
        log(f"big table {human_size(big_bytes)}, {args.tables} small tables")

        for _ in range(args.connections):
            conns.append(cluster.connect())
        pids = []
        for c in conns:
            row = c.execute("SELECT pg_backend_pid()").fetchone()
            assert row is not None
            pids.append(int(str(row[0])))
        time.sleep(0.5)
        idle = median_mem([backend_memory(p) for p in pids])
        log(f"idle: {idle}")

        for c in conns:
            c.execute("SET work_mem = '64kB'")
            for i in range(args.tables):
                for key in (1, 50):  # twice: the second execution uses the cached plan
                    c.execute(
                        f"SELECT a.name, a.amount FROM app_{i} a WHERE a.id = %s", [key]
                    ).fetchall()
                c.execute(f"UPDATE app_{i} SET amount = amount + 1 WHERE id = %s", [key])
        busy = median_mem([backend_memory(p) for p in pids])
        log(f"busy: {busy}")

        scanners = pids[: args.scanners]
        before = median_mem([backend_memory(p) for p in scanners])
        for c in conns[: args.scanners]:
            c.execute("SET jit = off")
            c.execute("SELECT count(*) FROM big").fetchone()
        after = median_mem([backend_memory(p) for p in scanners])
        log(f"scan: {before} -> {after}")
        for c in conns[: args.scanners]:
            c.execute("SET jit = on")
            c.execute("SET jit_above_cost = 0")
            c.execute("SELECT sum(id) FROM app_0").fetchone()
        jit = median_mem([backend_memory(p) for p in scanners])
        log(f"jit: {jit}")
        return Result(
            args.shared_buffers,
            args.connections,
            args.tables,
            big_bytes,
            idle,
            busy,
            before,
            after,
            jit,
            len(scanners),
        )
    finally:
        for c in conns:
            c.close()
        cluster.cleanup()


def verdicts(r: Result) -> list[tuple[str, str]]:
    """(figure, verdict against pgtune's constant) per constant."""
    touched = r.scan_after.shared_rss - r.scan_before.shared_rss
    pte = r.scan_after.page_tables - r.scan_before.page_tables
    model = page_tables_per_process(touched)
    at_on = page_tables_per_process(HUGE_PAGES_ON)
    jit = r.jit_after.private_dirty - r.scan_after.private_dirty
    return [
        (
            f"idle backend: {human_size(r.idle.private_dirty)} private",
            f"pgtune counts {human_size(IDLE_BACKEND_OVERHEAD)}: "
            + ("holds" if r.idle.private_dirty <= IDLE_BACKEND_OVERHEAD else "TOO LOW"),
        ),
        (
            f"busy backend ({r.tables} tables read and updated, work_mem 64kB): "
            f"{human_size(r.busy.private_dirty)} private",
            f"pgtune counts {human_size(BACKEND_OVERHEAD)}: "
            + ("holds" if r.busy.private_dirty <= BACKEND_OVERHEAD else "TOO LOW"),
        ),
        (
            f"page tables: +{human_size(pte)} per process for {human_size(touched)} of shared "
            f"memory touched ({100 * pte / touched:.3f} %)"
            if touched
            else "page tables: n/a",
            f"pgtune's model {human_size(model)} (0.195 %): "
            # page-table pages map 2MB each, and some exist before the scan
            + ("holds (within 20 %)" if touched and abs(pte - model) <= 0.2 * model else "DIFFERS")
            + f"; at HUGE_PAGES_ON ({human_size(HUGE_PAGES_ON)}) that is {human_size(at_on)}"
            " per process",
        ),
        (
            f"JIT: +{human_size(jit)} private per session after its first compiled query, "
            "kept until it ends",
            f"pgtune counts {human_size(JIT_OVERHEAD)} per busy process with jit = on: "
            + ("holds" if jit <= JIT_OVERHEAD else "TOO LOW"),
        ),
    ]


def report(r: Result) -> str:
    lines = [
        f"backend_memory: PostgreSQL 15, shared_buffers {r.shared_buffers}, huge_pages off, "
        f"{r.connections} connections, big table {human_size(r.big_table)}",
        f"machine: {common.machine()}; commit {common.git_commit()}",
        "",
    ]
    lines += [f"{fig}\n    {ver}" for fig, ver in verdicts(r)]
    return "\n".join(lines)


SECTION_TEXT = f"""{SECTION}

What a PostgreSQL 15 backend costs, measured by `python bench/backend_memory/run.py --record`
(see `bench/README.md`) from `/proc/PID/smaps` (private dirty pages outside the shared-memory
mappings: what each backend adds to the machine's memory) and `VmPTE`, beside the constant
pgtune's memory budget uses. *idle*: a session after `SELECT 1`; *busy*: after reading and
updating every table of an application schema by key (work_mem 64kB, so no sort buffer is
counted); *page tables*: growth per process after a scan of a table held in shared_buffers, with
huge_pages off; *JIT*: after one JIT-compiled query. Medians over the sessions.

| date (UTC) | commit | machine | shared_buffers x connections | idle | busy | page tables | JIT |
|---|---|---|---|---|---|---|---|
"""


def row(r: Result, started: float) -> str:
    cells = [
        common.date_cell(started),
        f"`{common.git_commit()}`",
        common.machine(),
        f"{r.shared_buffers} x {r.connections}",
    ]
    return common.table_row(cells + [f"{fig}; {ver}" for fig, ver in verdicts(r)])


def main(argv: Sequence[str] | None = None) -> int:
    p = common.BenchParser(__doc__, "128MB, 5 connections, 5 tables")
    p.add_argument("--shared-buffers", default="2GB")
    p.add_argument("--table-size", default="1GB", help="the scanned table (fits shared_buffers)")
    p.add_argument("--connections", type=int, default=40)
    p.add_argument("--tables", type=int, default=50, help="the application schema's tables")
    p.add_argument("--scanners", type=int, default=5)
    args = p.parse(argv)
    if args.smoke:
        args.shared_buffers, args.table_size = "128MB", "32MB"
        args.connections, args.tables, args.scanners = 5, 5, 2
    try:
        too_big = parse_size(args.table_size) > parse_size(args.shared_buffers) * 9 // 10
    except UsageError as exc:
        p.error(str(exc))
    if too_big:
        p.error("--table-size must fit in --shared-buffers (at most 90 %)")
    started = time.time()
    try:
        result = execute(args, common.progress(not args.quiet))
    except (PgHarnessError, psycopg.Error, OSError) as exc:
        print(f"backend_memory: FAIL: {exc}", file=sys.stderr)
        return 1
    print(report(result))
    if args.record:
        common.record_rows(SECTION, SECTION_TEXT, [row(result, started)])
        print(f"recorded in {common.RESULTS.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
