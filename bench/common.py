"""What every benchmark shares: the machine and commit it ran on, how pgtune is started, the CPU
accounting that tells a quiet run from a noisy one (others' CPU from /proc/stat, our own and the
server's from the process table), waiting for quiet, measuring noisy runs again, and adding rows
to a section of ``bench/RESULTS.md``."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import psutil

if TYPE_CHECKING:
    from pgcluster import Cluster

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "RESULTS.md"
# Start-up instrumentation that would distort a measured pgtune process.
_STARTUP_ENV = ("PYTHONPROFILEIMPORTTIME", "PYTHONDEVMODE", "PYTHONTRACEMALLOC", "PYTHONINSPECT")


class BenchError(Exception):
    """A program, query or check of a benchmark failed; the message says what."""


# --------------------------------------------------------------------------- environment


def machine(runtime: str | None = None) -> str:
    """CPU model, cores, RAM and ``runtime`` (default: this Python)."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    core_text = f"{cores} cores" + (f" ({usable} usable)" if usable != cores else "")
    ram = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f", {int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass
    runtime = runtime or f"{platform.python_implementation()} {platform.python_version()}"
    return f"{model}, {core_text}{ram}, {runtime}"


def git_commit() -> str:
    """Short HEAD, with ``-dirty`` when the package has uncommitted changes; or
    ``$PGTUNE_BENCH_COMMIT``, set when the pgtune measured is a snapshot of that commit (e.g.
    ``git archive`` on ``PYTHONPATH``, while others edit the working tree)."""
    pinned = os.environ.get("PGTUNE_BENCH_COMMIT")
    if pinned:
        return pinned

    def git(*args: str) -> str:
        return subprocess.run(
            ("git", *args), cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "pgtune", "profiles", "templates")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _STARTUP_ENV}


def pgtune_argv() -> list[str]:
    """The ``pgtune`` console script next to this interpreter, else ``python -m pgtune``."""
    script = Path(sys.executable).parent / "pgtune"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "pgtune"]


def progress(enabled: bool) -> Callable[[str], None]:
    """A progress logger to stderr (a no-op when not ``enabled``)."""

    def log(msg: str) -> None:
        if enabled:
            print(msg, file=sys.stderr, flush=True)

    return log


# --------------------------------------------------------------------------- CPU accounting


@dataclass(frozen=True)
class CpuStat:
    """/proc/stat "cpu" line, in seconds."""

    busy: float  # user + nice + system: process time (guest time is inside user/nice)
    irq: float  # irq + softirq: charged to no process; mostly a benchmark's own I/O completions
    steal: float
    total: float  # busy + irq + steal + idle + iowait


def read_cpu_stat() -> CpuStat | None:
    try:
        with open("/proc/stat") as f:
            fields_ = f.readline().split()
    except OSError:
        return None
    if not fields_ or fields_[0] != "cpu":
        return None
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields_[1:9])
    busy = user + nice + system
    total = busy + irq + softirq + steal + idle + iowait
    return CpuStat(busy / hz, (irq + softirq) / hz, steal / hz, total / hz)


def own_cpu() -> float:
    """CPU seconds of this process and of its reaped children (pgbench, pgtune)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def server_cpu(cluster: Cluster) -> float:
    """CPU seconds of the postmaster, its reaped children (backends, parallel workers) and its
    live children; 0 when the server is not running."""
    pid = cluster.postmaster_pid()
    if pid is None:
        return 0.0
    try:
        postmaster = psutil.Process(pid)
        children = postmaster.children()
        t = postmaster.cpu_times()
    except psutil.Error:
        return 0.0
    total = t.user + t.system + t.children_user + t.children_system
    for child in children:
        with contextlib.suppress(psutil.Error):
            c = child.cpu_times()
            total += c.user + c.system + c.children_user + c.children_system
    return total


@dataclass(frozen=True)
class Load:
    """CPU over an interval, in seconds of the whole machine (cores x wall)."""

    total_s: float
    others_s: float  # other processes and steal (other VMs); interrupts are nobody's
    steal_s: float
    irq_s: float
    server_s: float  # the postmaster's process tree
    client_s: float  # this process and its reaped children

    def pct(self, seconds: float) -> float:
        """``seconds`` as % of the machine over the interval."""
        return 100 * seconds / self.total_s if self.total_s > 0 else 0.0

    @property
    def others_pct(self) -> float:
        return self.pct(self.others_s)

    def as_dict(self) -> dict[str, float]:
        """For the JSON dumps: shares of the machine, and the server's and client's seconds."""
        return {
            "others_pct": self.others_pct,
            "steal_pct": self.pct(self.steal_s),
            "irq_pct": self.pct(self.irq_s),
            "server_pct": self.pct(self.server_s),
            "client_pct": self.pct(self.client_s),
            "server_cpu_s": self.server_s,
            "client_cpu_s": self.client_s,
        }


class LoadMeter:
    """Started on creation; ``stop()`` gives the Load since (None without /proc/stat). Without
    a cluster, the server's share is 0 (nothing to tell apart from the others)."""

    def __init__(self, cluster: Cluster | None = None) -> None:
        self.cluster = cluster
        self.stat = read_cpu_stat()
        self.own = own_cpu()
        self.server = server_cpu(cluster) if cluster else 0.0

    def stop(self) -> Load | None:
        end, own = read_cpu_stat(), own_cpu()
        server = server_cpu(self.cluster) if self.cluster else 0.0
        if self.stat is None or end is None or end.total <= self.stat.total:
            return None
        client, srv = own - self.own, max(0.0, server - self.server)
        steal = end.steal - self.stat.steal
        others = max(0.0, end.busy - self.stat.busy - client - srv) + steal
        irq = end.irq - self.stat.irq
        return Load(end.total - self.stat.total, others, steal, irq, srv, client)


def combined(loads: Sequence[Load]) -> Load | None:
    if not loads:
        return None
    return Load(*(sum(getattr(x, f.name) for x in loads) for f in fields(Load)))


def is_noisy(load: Load | None, limit: float) -> bool:
    return load is not None and load.others_pct > limit


def others_text(load: Load | None, limit: float | None = None) -> str:
    """Others' share of the machine, ``noisy`` above ``limit``."""
    if load is None:
        return "n/a"
    noisy = limit is not None and is_noisy(load, limit)
    return f"{load.others_pct:.1f} %" + (" noisy" if noisy else "")


def others_spread(values: Sequence[float], limit: float | None = None) -> str:
    """Median and max of per-run shares (with ``limit``: how many runs were noisy)."""
    if not values:
        return "n/a"
    n = sum(1 for x in values if limit is not None and x > limit)
    return f"median {statistics.median(values):.1f} %, max {max(values):.1f} %" + (
        f", {n}/{len(values)} runs noisy" if n else ""
    )


def wait_for_quiet(
    cluster: Cluster | None, limit: float, max_wait: float, window: float = 2.0
) -> float:
    """Wait (at most ``max_wait`` s) for a ``window`` in which other processes used at most
    ``limit`` % of the machine; returns the seconds waited."""
    start = time.monotonic()
    while True:
        if max_wait <= 0:
            return 0.0
        meter = LoadMeter(cluster)
        time.sleep(window)
        load = meter.stop()
        waited = time.monotonic() - start
        if load is None or load.others_pct <= limit or waited >= max_wait:
            return waited


# --------------------------------------------------------------------------- noisy runs


@dataclass
class Quiet:
    """Before a measurement: wait (at most ``wait`` s, ``budget`` s in all) for other tenants to
    use at most ``limit`` % of the machine; ``limit`` also tells a noisy run."""

    limit: float
    wait: float
    budget: float
    window: float = 2.0
    log: Callable[[str], None] | None = None  # says waits above 5 s
    waited: float = 0.0

    def __call__(self, cluster: Cluster | None) -> float:
        """Wait; the seconds waited."""
        left = self.budget - self.waited
        if self.wait <= 0 or left <= 0:
            return 0.0
        waited = wait_for_quiet(cluster, self.limit, min(self.wait, left), self.window)
        self.waited += waited
        if self.log and waited > 5:
            self.log(f"    waited {waited:.0f} s for other processes to go quiet")
        return waited


class Retries:
    """How many noisy measurements may still be measured again."""

    def __init__(self, budget: int) -> None:
        self.left, self.used = budget, 0

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        self.used += 1
        return True


class Measurement(Protocol):
    load: Load | None
    noisy: bool


class Flagged(Protocol):
    @property
    def noisy(self) -> bool: ...


M = TypeVar("M", bound=Measurement)
F = TypeVar("F", bound=Flagged)


def measure_quiet(
    run: Callable[[], M],
    cluster: Cluster | None,
    quiet: Quiet,
    retries: Retries,
    *,
    again: int | None = None,
    log: Callable[[str], None] | None = None,
) -> list[M]:
    """``run()`` after waiting for quiet; a noisy one is measured again at once (at most
    ``again`` times, None: until quiet) while ``retries`` lasts. Every run in order, noisy ones
    flagged; the last is the one to use."""
    runs: list[M] = []
    while True:
        quiet(cluster)
        r = run()
        r.noisy = is_noisy(r.load, quiet.limit)
        runs.append(r)
        if not r.noisy or (again is not None and len(runs) > again) or not retries.take():
            return runs
        if log and r.load:
            log(f"    noisy ({r.load.others_pct:.1f} % others): measuring again")


def another_run(done: int, quiet: int, wanted: int, need_quiet: int, retries: Retries) -> bool:
    """Whether to measure once more: fewer than ``wanted`` runs, or fewer than ``need_quiet``
    quiet ones while the retry budget lasts (each extra run takes from it)."""
    return done < wanted or (quiet < need_quiet and retries.take())


def used_runs(runs: Sequence[F], min_quiet: int) -> list[F]:
    """The quiet runs when at least ``min_quiet`` are quiet (or all are), else every run."""
    quiet = [r for r in runs if not r.noisy]
    return quiet if len(quiet) >= min(min_quiet, len(runs)) else list(runs)


@dataclass(frozen=True)
class Summary:
    median: float
    low: float
    high: float
    n: int
    noisy_used: bool  # fewer than two quiet runs: medians include noisy ones


def summarise(values: Sequence[tuple[float, bool]]) -> Summary | None:
    """Median, min and max of the quiet values when at least two are quiet, else of all."""
    if not values:
        return None
    quiet = [v for v, noisy in values if not noisy]
    use = quiet if len(quiet) >= 2 else [v for v, _ in values]
    return Summary(statistics.median(use), min(use), max(use), len(use), len(quiet) < 2)


class BenchParser(argparse.ArgumentParser):
    """A benchmark's command line: ``--smoke`` (``smoke`` says what it runs) and ``--record``,
    never together, ``-q`` (unless ``quiet`` is False), and the benchmark's own options."""

    def __init__(self, doc: str | None, smoke: str, *, quiet: bool = True) -> None:
        super().__init__(description=(doc or "").split("\n\n")[0])
        self.add_argument("--smoke", action="store_true", help=smoke)
        self.add_argument("--record", action="store_true", help=f"add rows to {RESULTS.name}")
        if quiet:
            self.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")

    def parse(self, argv: Sequence[str] | None, min_runs: int = 0) -> argparse.Namespace:
        """The arguments; ``min_runs``: the least ``--runs`` outside ``--smoke``."""
        args = self.parse_args(argv)
        if args.smoke and args.record:
            self.error("--smoke runs are too short to record")
        if min_runs and not args.smoke and args.runs < min_runs:
            self.error(f"--runs must be at least {min_runs}")
        return args


def noise_options(
    p: argparse.ArgumentParser,
    *,
    quiet_wait: float,
    quiet_budget: float,
    retries: int | None,
    retries_help: str = "noisy runs measured again, in all",
) -> None:
    """--max-others, --retries, --quiet-wait and --quiet-budget (``retries`` None: the
    benchmark's ``--runs``)."""
    p.add_argument(
        "--max-others",
        type=float,
        default=5.0,
        metavar="PCT",
        help="a run is noisy when other processes used more than PCT %% of the machine (5)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=retries,
        help=f"{retries_help} (default {'--runs' if retries is None else retries})",
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=quiet_wait,
        metavar="S",
        help=f"before each measurement wait up to S s for others to go quiet ({quiet_wait:g})",
    )
    p.add_argument(
        "--quiet-budget",
        type=float,
        default=quiet_budget,
        metavar="S",
        help=f"...at most S s in all ({quiet_budget:g})",
    )


# --------------------------------------------------------------------------- RESULTS.md

RESULTS_HEAD = """# Benchmark results

What is recorded here, newest first, one row per `--record` run: when it ran, the commit (with
`-dirty` when `pgtune/`, `profiles/` or `templates/` had uncommitted changes), the machine (CPU
model, cores, RAM, Python), and **medians** in milliseconds. The machines these run on are
shared 2-core VMs (see `/work/shared/BENCHMARKING.md`): a row whose *others' CPU* is above 5 %
was measured while another workload competed for the CPU and is marked *noisy*; compare rows by
their medians and by the distance to the floor, never by one sample.

How to reproduce: `bench/README.md` lists each benchmark and its command; add `--record` to
append a row here.
"""


def date_cell(started: float | None = None) -> str:
    """``started`` (default: now) as the date column of RESULTS.md, UTC."""
    when = time.time() if started is None else started
    return datetime.datetime.fromtimestamp(when, datetime.UTC).strftime("%Y-%m-%d %H:%M")


def table_row(cells: Sequence[str]) -> str:
    """A Markdown table row; a ``|`` inside a cell becomes ``/``."""
    return "| " + " | ".join(c.replace("|", "/") for c in cells) + " |"


def _is_rule(line: str) -> bool:
    return line.startswith("|") and set(line.replace(" ", "")) <= set("|-:")


def record_rows(
    section_heading: str, section_text: str, rows: list[str], *, refresh: bool = False
) -> None:
    """Insert ``rows`` first under the table header of ``section_heading`` in RESULTS.md (read
    just before writing). ``section_text`` is the whole section as it starts: the heading, its
    description, the table header and rule; a missing section is added at the end as it, a
    section without a table gets its table. ``refresh``: the section's description (up to its
    table) is replaced by ``section_text``'s."""
    text = RESULTS.read_text() if RESULTS.exists() else RESULTS_HEAD
    lines = text.rstrip("\n").splitlines()
    if section_heading not in lines:
        lines += ["", *section_text.rstrip("\n").splitlines()]
    start = lines.index(section_heading)
    table = [ln for ln in section_text.splitlines() if ln.startswith("|")]
    if refresh:
        after = range(start + 1, len(lines))
        first = next((i for i in after if lines[i].startswith(("|", "## "))), None)
        if first is not None and lines[first].startswith("|"):
            lines[start:first] = section_text.split(table[0])[0].splitlines()  # ends in a blank
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    rule = next((i for i in range(start + 1, end) if _is_rule(lines[i])), None)
    if rule is None:
        lines[end:end] = ["", *table, *rows, ""]
    else:
        lines[rule + 1 : rule + 1] = rows
    RESULTS.write_text("\n".join(lines) + "\n")
