#!/usr/bin/env python3
"""Cold-process latency of the pgtune CLI.

Every command runs as a fresh subprocess of the interpreter running this script, both as
``python -m pgtune ...`` and through the ``pgtune`` console script installed next to it. The
commands are interleaved (floor, A, B, C, ..., floor, A, B, C, ...) so that a burst of load from
another tenant of this shared machine hits all of them alike. ``python -c pass`` is the floor: the
cost of starting the interpreter at all.

Besides wall time it records, per command, the CPU time of the child (``RUSAGE_CHILDREN``), which
host contention disturbs less, and the CPU that *other* processes used during the run (from
/proc/stat, minus our own and our children's CPU time). A run in which others used more than
``--max-others`` percent of the machine is flagged as noisy.

In the same run it checks that ``pgtune --help`` and ``pgtune generate`` never import psycopg:
they run under ``python -X importtime`` through a small wrapper that executes the ``pgtune``
package as ``__main__`` and, from an ``atexit`` hook registered before anything else, writes the
psycopg modules present in ``sys.modules`` to a file. Both signals (``sys.modules`` at exit and
the import-time log) must be clean, and the hook must have run. The import-time log of
``generate`` also gives the slowest imports.

Usage::

    python bench/cli_latency/run.py              # 30 rounds, print the report
    python bench/cli_latency/run.py --record     # ... and add a row to bench/RESULTS.md
    python bench/cli_latency/run.py --smoke      # 3 rounds; fails only on errors or psycopg

Exit status: 0, or 1 when a command failed or psycopg was imported. Timing never fails the run:
the target (generate median <= 10x the ``python -c pass`` floor measured in the same run) is
reported, and recorded with ``--record``.
"""

from __future__ import annotations

import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))  # common.py

from common import (  # noqa: E402
    RESULTS,
    BenchError,
    BenchParser,
    Load,
    LoadMeter,
    child_env,
    date_cell,
    git_commit,
    machine,
    others_text,
    progress,
    record_rows,
    table_row,
)

SECTION = "## cli_latency"

TARGET_RATIO = 10.0  # generate median <= 10x the floor (python -c pass), same run
DEFAULT_ROUNDS = 30
MIN_ROUNDS = 20
SMOKE_ROUNDS = 3
PROFILE_RUNS = 5  # -X importtime runs of generate (medians per module); 1 with --smoke

GENERATE = ("generate", "--memory", "16GB", "--cpus", "4", "--storage", "ssd", "-q")
CASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("generate", GENERATE),
    ("generate (detect)", ("generate", "-q")),
    ("detect", ("detect",)),
    ("--help", ("--help",)),
)
# Commands that must not import psycopg, and what their stdout must contain.
NO_PSYCOPG: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("--help", ("--help",), "Usage"),
    ("generate", GENERATE, "shared_buffers"),
    ("generate (detect)", ("generate", "-q"), "shared_buffers"),
)
PSYCOPG_ROOTS = frozenset({"psycopg", "psycopg_binary", "psycopg_c", "psycopg_pool", "psycopg2"})

# Runs the pgtune package as __main__ (like `python -m pgtune`). The atexit hook is registered
# first, so it runs last, after any other exit handler, and also when pgtune calls sys.exit().
WRAPPER = """\
import atexit, json, os, sys
def _report():
    roots = set(os.environ["PGTUNE_BENCH_ROOTS"].split(","))
    found = sorted(m for m in list(sys.modules) if m.split(".")[0] in roots)
    with open(os.environ["PGTUNE_BENCH_OUT"], "w") as f:
        json.dump({"psycopg_modules": found, "modules": len(sys.modules)}, f)
atexit.register(_report)
import runpy
sys.argv = ["pgtune", *sys.argv[1:]]
runpy.run_module("pgtune", run_name="__main__", alter_sys=True)
"""

# One line of `python -X importtime`: self us, cumulative us, indented module name.
_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)\s*$")


@dataclass(frozen=True)
class Command:
    label: str
    argv: tuple[str, ...]


@dataclass
class Samples:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Stats:
    median: float
    p10: float
    p90: float


@dataclass
class ImportCheck:
    label: str
    ok: bool
    problems: list[str]


@dataclass(frozen=True)
class ImportEntry:
    self_us: int
    cumulative_us: int
    depth: int
    name: str


# --------------------------------------------------------------------------- environment


def console_script() -> Path | None:
    """The ``pgtune`` console script next to this interpreter, if installed."""
    script = Path(sys.executable).parent / "pgtune"
    return script if script.is_file() and os.access(script, os.X_OK) else None


def script_interpreter_note(script: Path) -> str | None:
    """A warning when the script's shebang is not this interpreter."""
    try:
        first = script.read_bytes().split(b"\n", 1)[0].decode(errors="replace")
    except OSError as exc:
        return f"cannot read {script}: {exc}"
    if not first.startswith("#!"):
        return None
    interp = first[2:].strip().split()[0]
    if os.path.realpath(interp) != os.path.realpath(sys.executable):
        return f"{script} runs {interp}, not {sys.executable}"
    return None


def commands() -> tuple[Command, list[Command]]:
    """The floor and the interleaved commands (each case as -m and, if present, as script)."""
    floor = Command("python -c pass (floor)", (sys.executable, "-c", "pass"))
    script = console_script()
    cmds: list[Command] = []
    for name, args in CASES:
        cmds.append(Command(f"{name} [-m]", (sys.executable, "-m", "pgtune", *args)))
        if script is not None:
            cmds.append(Command(f"{name} [script]", (str(script), *args)))
    return floor, cmds


# --------------------------------------------------------------------------- running


def run_timed(cmd: Command, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU milliseconds of one cold run; BenchError when it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter_ns()
    proc = subprocess.run(
        cmd.argv,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    wall = (time.perf_counter_ns() - start) / 1e6
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise BenchError(f"{cmd.label} exited {proc.returncode}: {' '.join(cmd.argv)}\n{err}")
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu


def stats(values: Sequence[float]) -> Stats:
    if len(values) < 2:
        v = values[0] if values else float("nan")
        return Stats(v, v, v)
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return Stats(statistics.median(values), deciles[0], deciles[-1])


def parse_importtime(stderr: str) -> list[ImportEntry]:
    entries = []
    for line in stderr.splitlines():
        m = _IMPORTTIME.match(line)
        if m:
            entries.append(ImportEntry(int(m[1]), int(m[2]), (len(m[3]) - 1) // 2, m[4]))
    return entries


def few(names: Sequence[str], n: int = 4) -> str:
    more = f", ... ({len(names)} modules)" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def check_imports(
    label: str, args: tuple[str, ...], expect: str, env: dict[str, str]
) -> tuple[ImportCheck, list[ImportEntry]]:
    """Run one command under the wrapper with -X importtime; psycopg must stay out."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pgtune-bench-") as tmp:
        out = Path(tmp) / "modules.json"
        wenv = dict(env, PGTUNE_BENCH_OUT=str(out), PGTUNE_BENCH_ROOTS=",".join(PSYCOPG_ROOTS))
        proc = subprocess.run(
            (sys.executable, "-X", "importtime", "-c", WRAPPER, *args),
            cwd=REPO,
            env=wenv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        report = json.loads(out.read_text()) if out.exists() else None
    entries = parse_importtime(proc.stderr)
    if proc.returncode != 0:
        problems.append(
            f"exited {proc.returncode}: "
            + "\n".join(ln for ln in proc.stderr.splitlines() if not ln.startswith("import time:"))
        )
    if expect not in proc.stdout:
        problems.append(f"stdout lacks {expect!r}")
    if report is None:
        problems.append("the sys.modules check did not run (no atexit report)")
    elif report["psycopg_modules"]:
        problems.append(f"psycopg in sys.modules: {few(report['psycopg_modules'])}")
    if not entries:
        problems.append("no -X importtime output")
    logged = sorted({e.name for e in entries if e.name.split(".")[0] in PSYCOPG_ROOTS})
    if logged:
        problems.append(f"psycopg imported (importtime): {few(logged)}")
    return ImportCheck(label, not problems, problems), entries


def psycopg_installed() -> bool:
    proc = subprocess.run(
        (
            sys.executable,
            "-c",
            "import importlib.util as u, sys; sys.exit(u.find_spec('psycopg') is None)",
        ),
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


# --------------------------------------------------------------------------- import profile


def median_by_key(runs: Iterable[dict[str, float]]) -> dict[str, float]:
    runs = list(runs)
    keys = {k for r in runs for k in r}
    return {k: statistics.median(r.get(k, 0.0) for r in runs) for k in keys}


def top(values: dict[str, float], n: int = 5) -> list[tuple[str, float]]:
    return sorted(values.items(), key=lambda kv: -kv[1])[:n]


def profile_views(runs: list[list[ImportEntry]]) -> dict[str, list[tuple[str, float]]]:
    """Top-5 lists, in ms, each a median over the runs."""

    def agg(fn: Callable[[list[ImportEntry]], dict[str, float]]) -> dict[str, float]:
        return median_by_key(fn(r) for r in runs)

    def first_level(r: list[ImportEntry]) -> dict[str, float]:
        out: dict[str, float] = {}
        for e in r:
            if e.depth == 0:
                out[e.name] = out.get(e.name, 0.0) + e.cumulative_us / 1000
        return out

    def by_package(r: list[ImportEntry]) -> dict[str, float]:
        out: dict[str, float] = {}
        for e in r:
            root = e.name.split(".")[0]
            out[root] = out.get(root, 0.0) + e.self_us / 1000
        return out

    def by_self(r: list[ImportEntry]) -> dict[str, float]:
        out: dict[str, float] = {}
        for e in r:
            out[e.name] = out.get(e.name, 0.0) + e.self_us / 1000
        return out

    def total(r: list[ImportEntry]) -> dict[str, float]:
        return {"all imports": sum(e.self_us for e in r) / 1000}

    return {
        "total": top(agg(total), 1),
        "first-level imports (cumulative; these do not overlap)": top(agg(first_level)),
        "packages (sum of self time of their modules)": top(agg(by_package)),
        "modules (self time)": top(agg(by_self)),
    }


# --------------------------------------------------------------------------- recording


TABLE_HEADER = (
    "| date (UTC) | commit | machine | rounds | floor | generate -m / script "
    "| generate (detect) -m / script | detect -m / script | --help -m / script "
    "| generate - floor | others' CPU | heaviest packages (self ms) | target |"
)
TABLE_RULE = "|" + "---|" * TABLE_HEADER.count(" |")

SECTION_TEXT = f"""{SECTION}

Cold-process latency of the CLI, measured by `python bench/cli_latency/run.py --record`: each
command is a fresh process of the same interpreter, started as `python -m pgtune ...` (-m) and
through the `pgtune` console script (script); all commands are interleaved round by round.
`generate` is `generate --memory 16GB --cpus 4 --storage ssd -q`; `generate (detect)` is
`generate -q` (real hardware detection). *floor* is `python -c pass`; *generate - floor* is the
difference of the medians (-m). *others' CPU* is the CPU used by every other process (and steal)
during the run as a share of the whole machine, from /proc/stat. The target: generate median
≤ 10x the floor measured in the same run (both ways of starting it; *target* shows the worse
ratio); rows before 2026-11-25 05:00 held generate to ≤ 250 ms instead.

{TABLE_HEADER}
{TABLE_RULE}
"""


# --------------------------------------------------------------------------- main


@dataclass
class Result:
    floor: Command
    cmds: list[Command]
    samples: dict[str, Samples]
    load: Load | None
    round_loads: list[Load]
    checks: list[ImportCheck]
    profile: dict[str, list[tuple[str, float]]]
    notes: list[str]


def fmt(ms: float) -> str:
    return f"{ms:.0f}"


def pair(res: Result, name: str) -> str:
    parts = [
        fmt(stats(res.samples[f"{name} [{how}]"].wall_ms).median)
        for how in ("-m", "script")
        if f"{name} [{how}]" in res.samples
    ]
    return " / ".join(parts)


def generate_medians(res: Result) -> list[float]:
    return [
        stats(res.samples[f"generate [{how}]"].wall_ms).median
        for how in ("-m", "script")
        if f"generate [{how}]" in res.samples
    ]


def result_row(res: Result, rounds: int, limit: float) -> str:
    floor = stats(res.samples[res.floor.label].wall_ms).median
    gen_m = stats(res.samples["generate [-m]"].wall_ms).median
    heavy = ", ".join(
        f"{name} {ms:.0f}"
        for name, ms in res.profile["packages (sum of self time of their modules)"]
    )
    ratio = max(generate_medians(res)) / floor
    target = f"≤ {TARGET_RATIO:g}x floor: {'yes' if ratio <= TARGET_RATIO else 'NO'} ({ratio:.1f}x)"
    cells = [
        date_cell(),
        f"`{git_commit()}`",
        machine(),
        str(rounds),
        fmt(floor),
        pair(res, "generate"),
        pair(res, "generate (detect)"),
        pair(res, "detect"),
        pair(res, "--help"),
        fmt(gen_m - floor),
        others_text(res.load, limit),
        heavy,
        target,
    ]
    return table_row(cells)


def measure(rounds: int, warmup: bool, profile_runs: int, log: Callable[[str], None]) -> Result:
    env = child_env()
    floor, cmds = commands()
    order = [floor, *cmds]
    notes: list[str] = []
    script = console_script()
    if script is None:
        notes.append(f"no pgtune console script next to {sys.executable}: only -m is measured")
    else:
        note = script_interpreter_note(script)
        if note:
            notes.append(note)

    if warmup:  # byte-compile caches, page cache; not recorded
        log("warm-up round ...")
        for cmd in order:
            run_timed(cmd, env)

    samples = {cmd.label: Samples() for cmd in order}
    round_loads: list[Load] = []
    run_meter = LoadMeter()
    for i in range(rounds):
        round_meter = LoadMeter()
        for cmd in order:
            wall, cpu = run_timed(cmd, env)
            samples[cmd.label].wall_ms.append(wall)
            samples[cmd.label].cpu_ms.append(cpu)
        load = round_meter.stop()
        if load is not None:
            round_loads.append(load)
        gen = samples["generate [-m]"].wall_ms[-1]
        others = f", others {load.others_pct:.1f} %" if load else ""
        log(f"round {i + 1}/{rounds}: generate [-m] {gen:.0f} ms{others}")
    run_load = run_meter.stop()

    checks: list[ImportCheck] = []
    profiles: list[list[ImportEntry]] = []
    for label, args, expect in NO_PSYCOPG:
        reps = profile_runs if args == GENERATE else 1
        for _ in range(reps):
            check, entries = check_imports(label, args, expect, env)
            checks.append(check)
            if args == GENERATE:
                profiles.append(entries)
    return Result(
        floor, cmds, samples, run_load, round_loads, checks, profile_views(profiles), notes
    )


def report(res: Result, rounds: int, limit: float, installed: bool) -> str:
    floor_med = stats(res.samples[res.floor.label].wall_ms).median
    out = [
        f"cold-process latency, {rounds} interleaved rounds, {sys.executable}",
        f"machine: {machine()}",
        f"commit: {git_commit()}",
        "",
    ]
    width = max(len(c.label) for c in [res.floor, *res.cmds])
    out.append(
        f"{'command':<{width}}  {'median':>7} {'p10':>7} {'p90':>7} {'-floor':>7}"
        f" {'cpu med':>8}   (ms)"
    )
    for cmd in [res.floor, *res.cmds]:
        s, c = res.samples[cmd.label], stats(res.samples[cmd.label].cpu_ms)
        w = stats(s.wall_ms)
        out.append(
            f"{cmd.label:<{width}}  {w.median:7.1f} {w.p10:7.1f} {w.p90:7.1f}"
            f" {w.median - floor_med:7.1f} {c.median:8.1f}"
        )
    out.append("")
    worst = max(generate_medians(res))
    ratio = worst / floor_med
    verdict = "holds" if ratio <= TARGET_RATIO else "MISSED"
    out.append(
        f"target generate median <= {TARGET_RATIO:g}x floor: {verdict} "
        f"(worst {worst:.0f} ms = {ratio:.1f}x the {floor_med:.0f} ms floor)"
    )
    if res.load is None:
        out.append("others' CPU: unknown (no /proc/stat)")
    else:
        noisy = [ld for ld in res.round_loads if ld.others_pct > limit]
        flag = "  ** NOISY: results disturbed **" if res.load.others_pct > limit else ""
        load = res.load
        out.append(
            f"others' CPU: {load.others_pct:.1f} % of the machine (steal "
            f"{load.pct(load.steal_s):.1f} %), ours {load.pct(load.client_s):.1f} %; "
            f"{len(noisy)}/{len(res.round_loads)} rounds above {limit:g} %{flag}"
        )
        quiet = [i for i, ld in enumerate(res.round_loads) if ld.others_pct <= limit]
        if noisy and quiet and len(res.round_loads) == len(res.samples[res.floor.label].wall_ms):
            meds = ", ".join(
                f"{label} {statistics.median(res.samples[label].wall_ms[i] for i in quiet):.0f}"
                for label in (res.floor.label, "generate [-m]", "generate [script]")
                if label in res.samples
            )
            out.append(f"medians over the {len(quiet)} quiet rounds only: {meds} ms")
    out.append("")
    out.append(
        "psycopg import check"
        + ("" if installed else " (psycopg is NOT installed: the check proves nothing)")
    )
    seen: set[str] = set()
    for chk in res.checks:
        if chk.ok and chk.label in seen:
            continue
        seen.add(chk.label)
        out.append(f"  {chk.label:<18} {'ok' if chk.ok else 'FAIL: ' + '; '.join(chk.problems)}")
    out.append("")
    runs = sum(1 for c in res.checks if c.label == "generate")
    out.append(f"import profile of generate (-X importtime, median of {runs} run(s), ms):")
    for title, rows in res.profile.items():
        if title == "total":
            out.append(f"  all imports: {rows[0][1]:.1f}" if rows else "  all imports: n/a")
            continue
        out.append(f"  top 5 {title}:")
        out.extend(f"    {ms:7.1f}  {name}" for name, ms in rows)
    for note in res.notes:
        out.append(f"note: {note}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    smoke_help = f"{SMOKE_ROUNDS} rounds, no warm-up; fail only on errors or psycopg"
    parser = BenchParser(__doc__, smoke_help, quiet=False)
    parser.add_argument(
        "--runs",
        type=int,
        default=DEFAULT_ROUNDS,
        help=f"interleaved rounds (default {DEFAULT_ROUNDS}, at least {MIN_ROUNDS})",
    )
    parser.add_argument(
        "--max-others",
        type=float,
        default=5.0,
        metavar="PCT",
        help="flag the run when other processes used more than PCT %% of the machine (default 5)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log each round")
    args = parser.parse(argv, min_runs=MIN_ROUNDS)
    rounds = SMOKE_ROUNDS if args.smoke else args.runs

    log = progress(args.verbose)

    if not args.smoke:
        n = len(commands()[1]) + 1
        print(
            f"cli_latency: {rounds} rounds of {n} commands after a warm-up round "
            f"(-v logs each round) ...",
            file=sys.stderr,
            flush=True,
        )
    try:
        res = measure(
            rounds, warmup=not args.smoke, profile_runs=1 if args.smoke else PROFILE_RUNS, log=log
        )
    except BenchError as exc:
        print(f"cli_latency: FAIL: {exc}", file=sys.stderr)
        return 1
    installed = psycopg_installed()
    print(report(res, rounds, args.max_others, installed))
    failed = [c for c in res.checks if not c.ok]
    if failed:
        print("cli_latency: FAIL: psycopg import check failed", file=sys.stderr)
        return 1
    if args.record:
        record_rows(SECTION, SECTION_TEXT, [result_row(res, rounds, args.max_others)])
        print(f"recorded in {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
